"""`hakl tune --suite`: every declared benchmark case's keys, tuned within a time budget,
and resumed where a stopped run ended."""
from __future__ import annotations

import pytest

from hakl import bench
from hakl.tuning import dispatch, suite
from hakl.tuning.keys import key_for


@pytest.fixture
def small_cases(monkeypatch):
    """The quick cumsum cases at a few thousand elements: a suite run of seconds."""
    monkeypatch.setattr(bench, "ELEMENTS_QUICK_CPU", 1 << 12)


def test_the_suite_holds_each_key_of_the_declared_cases_once(small_cases):
    items = list(suite.items(["cpu"], ["cumsum"], quick=True))
    cases = bench.cases("cpu", ["cumsum"], quick=True)
    assert len(cases) >= 2 and {i.label for i in items} <= {f"{b.op} {c.label} {d}" for b, d, c in cases}
    keys = [key_for(i.op, i.problem) for i in items]
    assert len(set(keys)) == len(keys) and all(i.op.name == "cumsum" for i in items)


def test_a_stopped_suite_resumes_where_it_ended(small_cases):
    first = suite.run(["cpu"], ["cumsum"], quick=True, minutes=0.0, budget=1)
    # out of time before the first case: nothing prepared or tuned, every case left for the next run
    assert {i.status for i in first} == {"not reached"}
    assert len(first) == len(bench.cases("cpu", ["cumsum"], quick=True))
    second = suite.run(["cpu"], ["cumsum"], quick=True, minutes=5.0, budget=1)
    assert {i.status for i in second} == {"tuned"} and all(i.choice for i in second)
    for item in second:
        chosen = dispatch.select(item.op, item.problem)
        assert chosen.source == "tuned" and chosen.variant.name == item.choice
    third = suite.run(["cpu"], ["cumsum"], quick=True, minutes=5.0, budget=1)
    assert {i.status for i in third} == {"already tuned"}
    forced = suite.run(["cpu"], ["cumsum"], quick=True, minutes=5.0, budget=1, force=True)
    assert {i.status for i in forced} == {"tuned"}


def test_cases_past_the_deadline_are_not_prepared(small_cases, monkeypatch):
    """Preparing a case runs it (PoCL compiles its kernels): a run out of time must not."""
    def refuse(*args, **kwargs):
        raise AssertionError("a case was prepared after the deadline")

    monkeypatch.setattr(bench, "Prepared", refuse)
    items = list(suite.items(["cpu"], ["cumsum"], quick=True, until=0.0))
    assert items and all(i.status == "not reached" and i.op is None for i in items)
