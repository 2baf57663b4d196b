"""Regression detection between two result sets (hakl.regression.compare)."""
from __future__ import annotations

import json
import re
import shutil

import pytest

from hakl.regression import compare, results as res
from hakl.regression.detect import compare_results, worse_by

from .synth import result_files, write_record, write_suite

PLANTED = ("softmax", "(16384, 1000) axis=-1", "hakl")


def test_planted_2x_slowdown_is_a_regression(tmp_path):
    base = write_suite(tmp_path / "base", seed=1)
    new = write_suite(tmp_path / "new", seed=2, commit="b" * 40, slow={PLANTED: 2.0})
    code, text = compare(base, new)
    assert code == 1, text
    regressions = text.split("REGRESSIONS (")[1].split("\n\n")[0]
    assert regressions.startswith("1):")
    assert "bench_softmax.Softmax.time_softmax(device=cpu, dtype=float32, shape=(16384, 1000) axis=-1, impl=hakl)" \
        in regressions
    ratio = float(re.match(r"\s*([\d.]+)x worse", regressions.splitlines()[1]).group(1))
    assert 1.8 < ratio < 2.2
    assert "same variant (numba_rows)" in regressions


def test_regression_names_a_changed_variant(tmp_path):
    base = write_suite(tmp_path / "base", seed=1)
    new = write_suite(tmp_path / "new", seed=2, commit="b" * 40, slow={PLANTED: 2.0},
                      variants={PLANTED[:2]: "numpy"})
    code, text = compare(base, new)
    assert code == 1
    assert "dispatched variant changed: numba_rows -> numpy" in text


def test_noisy_sets_from_one_distribution_are_not_regressions(tmp_path):
    # 20% spread: some medians differ by more than the 1.1x threshold, and the 99%
    # intervals of asv's statistics tell that apart from a slowdown.
    base = write_suite(tmp_path / "base", seed=3, noise=0.20)
    new = write_suite(tmp_path / "new", seed=4, noise=0.20, commit="b" * 40)
    old, cur = res.load(base), {r.key: r for r in res.load(new)}
    assert max(worse_by(r, cur[r.key]) for r in old if r.unit == "seconds") > 1.1
    code, text = compare(base, new)
    assert code == 0, text
    assert "0 regressions" in text
    shutil.copytree(base, tmp_path / "copy")
    assert compare(base, tmp_path / "copy")[0] == 0


def test_planted_slowdown_stands_out_of_noise(tmp_path):
    # With 10 samples asv's 99% interval of the median spans nearly all of them,
    # so a 2x change is told from 10% noise; from 20% noise it would not be.
    base = write_suite(tmp_path / "base", seed=3, noise=0.10)
    new = write_suite(tmp_path / "new", seed=4, noise=0.10, commit="b" * 40, slow={PLANTED: 2.0})
    c = compare_results(res.load(base), res.load(new))
    assert [x.new.params for x in c.regressions] == [(("device", "cpu"), ("dtype", "float32"),
                                                      ("shape", PLANTED[1]), ("impl", "hakl"))]
    assert c.regressions[0].significant


def test_single_samples_are_judged_by_the_threshold_alone(tmp_path):
    # A --quick run has one sample and no interval: asv compare's rule is the factor.
    a = write_suite(tmp_path / "a", seed=7, samples=1, noise=0.0)
    b = write_suite(tmp_path / "b", seed=8, samples=1, noise=0.0, commit="b" * 40, slow={PLANTED: 1.2})
    c = compare_results(res.load(a), res.load(b))
    assert [x.new.param("shape") for x in c.regressions] == ["(16384, 1000) axis=-1"]
    assert compare_results(res.load(a), res.load(b), threshold=1.3).regressions == []


def test_failing_benchmark_and_nothing_to_compare(tmp_path):
    base = write_suite(tmp_path / "base", seed=1)
    new = write_suite(tmp_path / "new", seed=2, commit="b" * 40)
    (path,) = result_files(new)
    data = json.loads(path.read_text())
    name = "bench_cast.Cast.time_cast"
    data["results"][name][0] = [None] * len(data["results"][name][0])
    path.write_text(json.dumps(data))
    code, text = compare(base, new)
    assert code == 1 and "NOW FAILING (6)" in text
    with pytest.warns(res.ResultWarning, match="does not exist"):
        assert compare(base, tmp_path / "missing")[0] == 2
    assert compare(base, write_record(tmp_path / "records", machine="other"))[0] == 2


def test_corrupt_and_truncated_files_are_skipped_with_a_warning(tmp_path):
    base = write_suite(tmp_path / "base", seed=1)
    new = write_suite(tmp_path / "new", seed=2, commit="b" * 40, slow={PLANTED: 2.0})
    (good,) = result_files(new)
    text = good.read_text()
    (good.parent / "cccccccc-truncated.json").write_text(text[: len(text) // 2])
    (good.parent / "dddddddd-garbage.json").write_text("\x00\x01 not json")
    (good.parent / "eeeeeeee-old.json").write_text(json.dumps({"version": 1, "results": {}}))
    (new / "dispatch" / "broken.jsonl").write_text('{"t": 1}\nnot json\n')
    with pytest.warns(res.ResultWarning) as caught:
        code, out = compare(base, new)
    messages = " ".join(str(w.message) for w in caught)
    for name in ("cccccccc-truncated.json", "dddddddd-garbage.json", "eeeeeeee-old.json", "broken.jsonl"):
        assert name in messages
    assert code == 1 and "REGRESSIONS (1)" in out


def test_bench_records_compare_too(tmp_path):
    a = write_record(tmp_path / "a", speedup=3.5)
    b = write_record(tmp_path / "b", speedup=1.5)
    code, text = compare(a.parent, b.parent)
    assert code == 1
    assert "hakl-bench.softmax.track_speedup" in text and "2.33x worse" in text
