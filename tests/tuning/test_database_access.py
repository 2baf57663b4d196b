"""A tuning database that cannot be written, cannot be created or has another schema:
calls go on (HAKL_AUTOTUNE=1 included), stored choices still serve, nothing recorded
is lost, and `hakl info` / `hakl cache list` say what is wrong in one line.

The read-only cases run in a child process without write permission: root passes
every `chmod`, so as root the child drops its capabilities with setpriv."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CALL = textwrap.dedent("""
    import json, warnings
    import numpy as np
    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as caught:
        import hakl
        from hakl.kernels.softmax import SOFTMAX
        from hakl.op import Problem
        from hakl.tuning import dispatch
        y = hakl.softmax(np.ones((4, 8), np.float32))
        selection = dispatch.select(SOFTMAX, Problem("softmax", "cpu", "float32", (4, 8, 1), (("log", False),)))
        db = dispatch.database()
    print(json.dumps({"sum": float(y.sum()), "source": selection.source, "variant": selection.variant.name,
                      "problem": db.problem, "warnings": [str(w.message) for w in caught
                                                          if "tuning database" in str(w.message)]}))
""")


def _unprivileged() -> list[str]:
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot drop the capability that bypasses chmod")
    return [setpriv, "--inh-caps=-all", "--bounding-set=-all", "--"]


def _run(args: list[str], cache: Path, autotune: bool = True, privileged: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "HAKL_CACHE_DIR": str(cache), "HAKL_AUTOTUNE": "1" if autotune else "0"}
    prefix = [] if privileged else _unprivileged()
    return subprocess.run(prefix + args, env=env, capture_output=True, text=True, timeout=300)


def _call(cache: Path, **kw) -> dict:
    done = _run([sys.executable, "-c", CALL], cache, **kw)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _hakl(*args: str, cache: Path) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "hakl", *args], cache, autotune=False)


@pytest.fixture
def tuned_cache(tmp_path):
    """A cache folder whose database holds a tuned choice for softmax 4x8."""
    cache = tmp_path / "cache"
    first = _call(cache, privileged=True)
    assert first["source"] == "tuned" and first["problem"] is None
    sqlite3.connect(cache / "tuning.sqlite").close()  # the last connection's close removes -wal and -shm
    assert [p.name for p in cache.iterdir()] == ["tuning.sqlite"]
    yield cache
    cache.chmod(0o755)


def _counts(path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)  # creates no -wal / -shm beside it
    try:
        return tuple(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("choices", "measurements"))
    finally:
        conn.close()


def test_read_only_folder_keeps_serving_its_choices(tuned_cache):
    db = tuned_cache / "tuning.sqlite"
    before = _counts(db)
    tuned_cache.chmod(0o555)
    out = _call(tuned_cache)
    assert out["sum"] == pytest.approx(4.0)
    assert out["source"] == "tuned"  # the stored choice, not a fresh tuning
    assert "read-only" in out["problem"] and str(db) in out["problem"]
    assert len(out["warnings"]) == 1
    assert not list(tuned_cache.glob("*.corrupt-*")), "a readable database was moved aside"
    assert _counts(db) == before


def test_read_only_database_file_keeps_serving(tuned_cache):
    db = tuned_cache / "tuning.sqlite"
    before = _counts(db)
    for p in tuned_cache.iterdir():
        p.chmod(0o444)
    tuned_cache.chmod(0o555)
    out = _call(tuned_cache)
    assert out["source"] == "tuned" and "read-only" in out["problem"]
    assert _counts(db) == before


def test_cache_dir_under_a_regular_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    out = _call(blocker / "cache")
    assert out["sum"] == pytest.approx(4.0) and out["source"] == "tuned"  # tuned into memory
    assert "cannot be created" in out["problem"] and len(out["warnings"]) == 1


def test_another_schema_is_kept_and_hakls_tables_created(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    with sqlite3.connect(cache / "tuning.sqlite") as conn:
        conn.execute("CREATE TABLE choices (name TEXT, value INTEGER)")
        conn.execute("INSERT INTO choices VALUES ('theirs', 42)")
    out = _call(cache, privileged=True)
    assert out["source"] == "tuned" and out["problem"] is None
    assert any("another schema" in w for w in out["warnings"])
    with sqlite3.connect(cache / "tuning.sqlite") as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        kept = [t for t in tables if t.startswith("choices_other_schema_")]
        assert len(kept) == 1 and conn.execute(f'SELECT * FROM "{kept[0]}"').fetchall() == [("theirs", 42)]
        assert conn.execute("SELECT count(*) FROM choices").fetchone()[0] >= 1


@pytest.mark.parametrize("command", [["info"], ["cache", "list"]])
def test_cli_says_what_is_wrong_in_one_line(tuned_cache, tmp_path, command):
    tuned_cache.chmod(0o555)
    blocker = tmp_path / "file"
    blocker.write_text("")
    for cache, words in ((tuned_cache, "read-only"), (blocker / "cache", "cannot be created")):
        done = _hakl(*command, cache=cache)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        lines = [line for line in (done.stdout + done.stderr).splitlines() if words in line]
        assert lines, done.stdout + done.stderr


def test_a_database_that_stops_taking_writes_moves_to_memory_and_keeps_its_rows(tmp_path):
    from hakl.tuning.db import Choice, Key, TuningDB

    path = tmp_path / "tuning.sqlite"
    db = TuningDB(path)
    kept, later = Key("a", "cpu", "f", "float32", "1", "()"), Key("b", "cpu", "f", "float32", "2", "()")
    db.choose(kept, Choice("v", {"k": 1}, "h", "0", 1.0))
    real = db.conn

    class FullDisk:  # the file stops taking writes mid-run (disk full, permissions changed)
        def execute(self, sql, args=()):
            if sql.lstrip().startswith("INSERT"):
                raise sqlite3.OperationalError("database or disk is full")
            return real.execute(sql, args)

        def backup(self, target):
            real.backup(target)

        def close(self):
            real.close()

    db._conn = FullDisk()
    with pytest.warns(RuntimeWarning, match="stopped taking writes"):
        db.record(later, (2,), "v", {}, "h", "0", 1e-3, 1.0, "ok")
    assert db.in_memory and "stopped taking writes" in db.problem
    assert db.lookup(kept).config == {"k": 1}  # what was there still serves
    assert [r["op"] for r in db.measurements()] == ["b"]  # the new row, in memory
    on_disk = sqlite3.connect(path)
    try:
        assert on_disk.execute("SELECT count(*) FROM choices").fetchone()[0] == 1  # nothing lost
    finally:
        on_disk.close()


def test_an_export_merges_into_another_machines_database_and_a_bad_one_changes_nothing(tmp_path):
    """Rows of another device land beside this one's; the same key keeps the later choice;
    measurements are not doubled; a malformed export is refused whole."""
    import hakl
    from hakl.tuning.db import Choice, Key, TuningDB

    here, there = TuningDB(tmp_path / "here.sqlite"), TuningDB(tmp_path / "there.sqlite")
    mine = Key("softmax", "cpu", "fp-here", "float32", "64x64", "()")
    theirs = Key("softmax", "cpu", "fp-there", "float32", "64x64", "()")
    here.choose(mine, Choice("numba_rows", {"grain": 1}, "h1", hakl.__version__, 1e-3))
    here.record(mine, (64, 64), "numba_rows", {"grain": 1}, "h1", hakl.__version__, 1e-3, 1.0, "ok")
    there.choose(theirs, Choice("onednn", {}, "h2", hakl.__version__, 5e-4))
    there.record(theirs, (64, 64), "onednn", {}, "h2", hakl.__version__, 5e-4, 2.0, "ok")
    there.choose(mine, Choice("numpy", {}, "h3", hakl.__version__, 9e-3))  # made later than here's
    there.describe("fp-there", "cpu", "xeon-avx512-2core", {"device": "a Xeon"})
    doc = there.export()

    before = here.export()
    bad = json.loads(json.dumps(doc))
    bad["choices"][0]["seconds"] = "fast"
    with pytest.raises(ValueError, match=r"choices\[0\].seconds"):
        here.merge(bad)
    with pytest.raises(ValueError, match="not a hakl tuning export"):
        here.merge([1, 2, 3])
    assert here.export() == before  # nothing changed

    added = here.merge(doc)
    assert added == {"measurements": 1, "choices": 2, "verdicts": 0, "devices": 1}
    assert here.lookup(theirs).variant == "onednn"  # another device's row, beside this one's
    assert here.lookup(mine).variant == "numpy"  # the later choice for the same key
    assert here.merge(doc) == {"measurements": 0, "choices": 0, "verdicts": 0, "devices": 0}  # idempotent
    assert len(list(here.measurements())) == 2
    # the choices and their devices alone (what make bench keeps in reports/<machine>/tuning.json)
    shipped = there.export(("choices", "devices"))
    assert set(shipped) == {"format", "path", "choices", "devices"} and len(shipped["choices"]) == 2
    fresh = TuningDB(tmp_path / "fresh.sqlite")
    assert fresh.merge(shipped) == {"measurements": 0, "choices": 2, "verdicts": 0, "devices": 1}
    assert fresh.lookup(theirs).variant == "onednn"
    (device,) = fresh.devices()
    assert (device["fingerprint"], device["kind"], json.loads(device["description"])) == (
        "fp-there", "xeon-avx512-2core", {"device": "a Xeon"})
    # a file written before devices were kept (no "devices" list) still imports
    assert TuningDB(tmp_path / "old.sqlite").merge(there.export(("choices",)))["choices"] == 2


def test_cache_import_refuses_a_corrupt_file_with_a_clear_error(tmp_path):
    from typer.testing import CliRunner

    from hakl.cli import app

    broken = tmp_path / "export.json"
    broken.write_text('{"format": "hakl-tuning-export/1", "choices": [')
    result = CliRunner().invoke(app, ["cache", "import", str(broken)])
    assert result.exit_code == 2 and "refused, nothing changed" in result.output
    out = tmp_path / "good.json"
    assert CliRunner().invoke(app, ["cache", "export", str(out)]).exit_code == 0
    result = CliRunner().invoke(app, ["cache", "import", str(out)])
    assert result.exit_code == 0 and "added" in result.output
