"""`hakl tune --suite --ray ADDRESS`: the suite's candidates measured by Ray actors.

One actor per device: each GPU (`num_gpus=1`), and on every machine's CPU a few
actors pinned to disjoint cores (their timings do not collide; numba and oneDNN
get one thread per pinned core). Each actor reports its device fingerprint, and
the actors of one fingerprint share that device's work: the suite's keys (read by
one of them, on its own device) times each key's candidates. The driver hands
each idle actor the next candidate, records what comes back in the central tuning
database under the actor's fingerprint, and chooses a key's best once all its
candidates are in. A candidate already measured (by this or an earlier run) is not
measured again, and a key with a current choice is skipped unless `force`: a run
that was stopped, ran out of time or lost a worker resumes where it ended. A
worker that dies loses only its in-flight candidate.
"""
from __future__ import annotations

import json
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .. import __version__
from ..op import OPS
from . import db as tuning_db, dispatch, tuner
from .db import Key


def _ray():
    try:
        import ray
    except ImportError:
        raise RuntimeError("hakl tune --ray needs Ray: pip install 'hakl[distributed]'") from None
    return ray


class Worker:
    """A Ray actor measuring candidates on one device (its CPU cores, or one GPU)."""

    def __init__(self, device: str, cores: tuple[int, ...] = ()):
        if cores:
            os.sched_setaffinity(0, cores)
            import numba

            numba.set_num_threads(len(cores))
        import hakl.kernels  # noqa: F401  (registers every family)
        from ..backends import get

        self.device, self.backend = device, get(device)
        self.trial: tuner.Trial | None = None

    def device(self) -> tuple[str, str, str, dict]:
        """This worker's device row (keys.device_row): its fingerprint hash first."""
        from .keys import device_row

        return device_row(self.device)

    def items(self, ops: Sequence[str], quick: bool) -> list[tuple[str, str, Any, Key]]:
        """(case label, op, problem, key) of every suite key on this worker's device."""
        from . import suite
        from .keys import key_for

        return [(i.label, i.op.name, i.problem, key_for(i.op, i.problem))
                for i in suite.items([self.device], ops, quick)]

    def measure(self, op_name: str, problem: Any, variant_name: str, config: dict) -> tuner.Measurement:
        op = OPS[op_name]
        if self.trial is None or self.trial.problem != problem:
            self.trial = tuner.Trial(op, problem)
        return self.trial.measure(op.variant(problem.backend, variant_name), config)


@dataclass
class Job:
    """One key on one fingerprint's device, and its candidates still to measure."""

    label: str
    op_name: str
    problem: Any
    key: Key
    todo: deque = field(default_factory=deque)
    in_flight: int = 0
    status: str = "pending"  # tuned, already tuned, incomplete, no candidate verified

    @property
    def op(self):
        return OPS[self.op_name]


def cpu_groups(workers: int) -> list[tuple[int, ...]]:
    """`workers` disjoint sets of this machine's cores, as even as they divide."""
    cores = sorted(os.sched_getaffinity(0))
    workers = max(1, min(workers, len(cores)))
    return [tuple(cores[i::workers]) for i in range(workers)]


def start(devices: Sequence[str], cpu_workers: int) -> list[tuple[Any, str]]:
    """The actors: `cpu_workers` pinned CPU actors, one per GPU, one for OpenCL."""
    ray = _ray()
    actor = ray.remote(max_restarts=0, max_task_retries=0)(Worker)
    actors = []
    for device in devices:
        if device == "cpu":
            for cores in cpu_groups(cpu_workers):
                threads = {"OMP_NUM_THREADS": str(len(cores)), "NUMBA_NUM_THREADS": str(len(cores))}
                actors.append((actor.options(num_cpus=len(cores), runtime_env={"env_vars": threads})
                               .remote(device, cores), device))
        elif device == "cuda":
            gpus = int(ray.cluster_resources().get("GPU", 0))
            actors.extend((actor.options(num_gpus=1, num_cpus=0).remote(device), device) for _ in range(gpus))
        else:
            actors.append((actor.options(num_cpus=0).remote(device), device))
    return actors


def sweep(devices: Sequence[str], ops: Sequence[str] = (), quick: bool = False, minutes: float = 5.0,
          budget: int = 8, force: bool = False, cpu_workers: int = 2, actors: list | None = None,
          on_result: Callable[[Job, tuner.Measurement], None] | None = None) -> list[Job]:
    """Measure every suite key's candidates on the actors (started here unless given)
    until `minutes` have passed; returns the jobs and what became of each."""
    ray = _ray()
    actors = actors if actors is not None else start(devices, cpu_workers)
    db = tuning_db.current()
    by_fp: dict[str, list] = {}
    for handle, _ in actors:
        device = ray.get(handle.device.remote())
        db.describe(*device)
        by_fp.setdefault(device[0], []).append(handle)
    jobs: dict[str, deque] = {}
    every: list[Job] = []
    for fp, handles in by_fp.items():
        queue = jobs[fp] = deque()
        for label, op_name, problem, key in ray.get(handles[0].items.remote(list(ops), quick)):
            job = Job(label, op_name, problem, key)
            every.append(job)
            if not force and dispatch.stored_choice(key, job.op.for_backend(problem.backend)) is not None:
                job.status = "already tuned"
                continue
            done = {(m["variant"], m["config"]) for m in db.measured(key, __version__)
                    if m["status"] in ("ok", "rejected") and m["source_hash"] ==
                    job.op.variant(problem.backend, m["variant"]).source_hash()} if not force else set()
            job.todo.extend((v, c) for v, c in tuner.plan(job.op, problem, budget)
                            if (v.name, _json(c)) not in done)
            queue.append(job)
    deadline = time.monotonic() + 60 * minutes
    running: dict[Any, tuple[Any, str, Job, Any, dict]] = {}  # ref -> (actor, fp, job, variant, config)
    idle = [(h, fp) for fp, handles in by_fp.items() for h in handles]
    while True:
        while idle and time.monotonic() < deadline:
            handle, fp = idle.pop()
            job = next((j for j in jobs[fp] if j.todo), None)
            if job is None:
                continue  # nothing left for this device: the actor rests
            variant, config = job.todo.popleft()
            job.in_flight += 1
            ref = handle.measure.remote(job.op_name, job.problem, variant.name, config)
            running[ref] = (handle, fp, job, variant, config)
        if not running:
            break
        (ref,), _ = ray.wait(list(running), num_returns=1)
        handle, fp, job, variant, config = running.pop(ref)
        job.in_flight -= 1
        try:
            m = ray.get(ref)
        except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError):
            job.status = "incomplete"  # the worker died: its candidate is lost, the next run measures it
            continue
        tuner.record(db, job.key, job.problem, variant, config, m)
        if on_result is not None:
            on_result(job, m)
        idle.append((handle, fp))
        if not job.todo and job.in_flight == 0 and job.status == "pending":
            _finish(db, job)
    for queue in jobs.values():
        for job in queue:
            if job.status == "pending":
                if job.todo or job.in_flight:
                    job.status = "incomplete"
                else:
                    _finish(db, job)
    return every


def _json(config: dict) -> str:
    return json.dumps(config, sort_keys=True)


def _finish(db, job: Job) -> None:
    """The key's choice from every measurement of its current candidates, this run's and earlier ones'."""
    rows = [r for r in db.measured(job.key, __version__) if r["status"] == "ok"
            and r["source_hash"] == job.op.variant(job.problem.backend, r["variant"]).source_hash()]
    measurements = [tuner.Measurement(r["variant"], json.loads(r["config"]), "ok", r["seconds"]) for r in rows]
    job.status = "tuned" if tuner.choose(db, job.key, job.op, job.problem, measurements) else "no candidate verified"


def connect(address: str) -> None:
    """Join the cluster at `address`, or start a local one ("local")."""
    ray = _ray()
    if ray.is_initialized():
        return
    if address == "local":
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"HAKL_CACHE_DIR": os.environ.get("HAKL_CACHE_DIR", "")}}
                 if os.environ.get("HAKL_CACHE_DIR") else None)
    else:
        ray.init(address=address, log_to_driver=False)

