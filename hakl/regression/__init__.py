"""Benchmark results, release-note targets, regression detection and the dashboard.

    report(results_dirs, records_dir, out_dir) -> [<out_dir>/<machine>/index.html, ...]
    compare(base_dir, new_dir, threshold=1.1)  -> (exit_code, text)

`results` reads asv result folders (with the suite's dispatch log) and `hakl bench`
records; `targets` evaluates asv_bench/targets.json; `detect` finds regressions with
asv's noise rule; `dashboard` writes the pages.
"""
from __future__ import annotations

import json
from pathlib import Path

from .dashboard import report
from .detect import THRESHOLD, compare


def default_results_dir() -> Path:
    """The results_dir of asv_bench/asv.conf.json in the source tree (else the cwd's)."""
    conf = Path(__file__).resolve().parents[2] / "asv_bench" / "asv.conf.json"
    if not conf.is_file():
        conf = Path("asv_bench") / "asv.conf.json"
    try:
        results = json.loads(conf.read_text()).get("results_dir", "results")
    except (OSError, ValueError):
        results = "results"
    return conf.parent / results


__all__ = ["report", "compare", "THRESHOLD", "default_results_dir"]
