"""`hakl tune --suite --ray`: a local Ray cluster of two CPU workers, each pinned to its
own core, sweeps the quick cumsum cases; a killed worker loses only its in-flight
candidate, and the next run measures just what is missing."""
from __future__ import annotations

import os

import pytest

from hakl.tuning import dispatch, distributed, tuner

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'hakl[distributed]')")
# One xdist worker runs the module: one local cluster, started once.
pytestmark = pytest.mark.xdist_group("ray")

ELEMENTS = str(1 << 12)  # a few thousand elements per case: a sweep of seconds


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cache = tmp_path_factory.mktemp("workers")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"HAKL_CACHE_DIR": str(cache), "HAKL_BENCH_ELEMENTS": ELEMENTS}})
    yield
    ray.shutdown()


@pytest.fixture
def small(monkeypatch):
    monkeypatch.setenv("HAKL_BENCH_ELEMENTS", ELEMENTS)


def test_two_pinned_workers_sweep_the_suite_into_the_central_database(cluster, small):
    actors = distributed.start(["cpu"], cpu_workers=2)
    assert len(actors) == 2 and sorted(c for g in distributed.cpu_groups(2) for c in g) == sorted(
        os.sched_getaffinity(0))
    jobs = distributed.sweep(["cpu"], ["cumsum"], quick=True, budget=1, actors=actors)
    assert jobs and {j.status for j in jobs} == {"tuned"}
    fingerprint, backend, kind, _ = ray.get(actors[0][0].device.remote())
    db = dispatch.database()
    choices = list(db.choices())
    assert len(choices) == len(jobs) and {c["fingerprint"] for c in choices} == {fingerprint}
    # the workers' device (pinned: fewer threads than the driver's) is described for siblings
    assert {(d["fingerprint"], d["backend"], d["kind"]) for d in db.devices()} == {(fingerprint, "cpu", kind)}
    planned = sum(len(tuner.plan(j.op, j.problem, 1)) for j in jobs)
    assert len(list(db.measurements())) == planned
    for actor, _ in actors:
        ray.kill(actor)


def test_a_killed_worker_loses_its_candidate_and_the_next_run_resumes(cluster, small):
    actors = distributed.start(["cpu"], cpu_workers=2)
    killed = []

    def kill_the_first_that_reports(job, measurement):
        if not killed:
            # the actor that just reported is idle: its next candidate is the one lost
            killed.append(actors[0][0])
            ray.kill(actors[0][0])

    first = distributed.sweep(["cpu"], ["cumsum"], quick=True, budget=1, actors=actors,
                              on_result=kill_the_first_that_reports)
    db = dispatch.database()
    planned = sum(len(tuner.plan(j.op, j.problem, 1)) for j in first)
    measured = len(list(db.measurements()))
    assert killed and measured == planned - 1 and "incomplete" in {j.status for j in first}
    ray.kill(actors[1][0])
    again = distributed.sweep(["cpu"], ["cumsum"], quick=True, budget=1, cpu_workers=2)
    assert {j.status for j in again} <= {"tuned", "already tuned"}
    assert len(list(db.measurements())) == planned  # each candidate measured once over both runs
    assert len(list(db.choices())) == len(again)


def test_the_command_sweeps_on_a_local_cluster(cluster, small):
    from typer.testing import CliRunner

    from hakl.cli import app

    result = CliRunner().invoke(app, ["tune", "--suite", "--ray", "local", "--device", "cpu", "--only", "cumsum",
                                      "--quick", "--budget", "1", "--cpu-workers", "2"])
    assert result.exit_code == 0, result.output
    assert "ray sweep" in result.output and "tuned" in result.output
