"""The tuning database: every measurement the tuner makes, and the choice per key.

SQLite in WAL mode, so several processes can tune at once without losing rows.
Entries carry the device fingerprint, the variant's source hash and hakl's
version; `lookup` ignores an entry when any of them changed. A file that is not
a readable database is moved aside (kept, never deleted) with a warning, and a
fresh one is started.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS measurements (
    id INTEGER PRIMARY KEY,
    op TEXT, backend TEXT, fingerprint TEXT, dtype TEXT, bucket TEXT, flags TEXT,
    shape TEXT, variant TEXT, config TEXT, source_hash TEXT, version TEXT,
    seconds REAL, gbps REAL, status TEXT, error TEXT, created REAL
);
CREATE TABLE IF NOT EXISTS choices (
    op TEXT, backend TEXT, fingerprint TEXT, dtype TEXT, bucket TEXT, flags TEXT,
    variant TEXT, config TEXT, source_hash TEXT, version TEXT, seconds REAL, created REAL,
    PRIMARY KEY (op, backend, fingerprint, dtype, bucket, flags)
);
"""


def cache_dir() -> Path:
    env = os.environ.get("HAKL_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("hakl"))


@dataclass(frozen=True)
class Key:
    op: str
    backend: str
    fingerprint: str
    dtype: str
    bucket: str
    flags: str

    def row(self) -> tuple[str, ...]:
        return (self.op, self.backend, self.fingerprint, self.dtype, self.bucket, self.flags)


@dataclass(frozen=True)
class Choice:
    variant: str
    config: dict
    source_hash: str
    version: str
    seconds: float


class TuningDB:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else cache_dir() / "tuning.sqlite"
        self._conn: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._conn = self._open()
            except sqlite3.DatabaseError as exc:
                self._move_aside(exc)
                self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA journal_mode = WAL")
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("quick_check failed")
            conn.executescript(SCHEMA)
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def _move_aside(self, exc: Exception) -> None:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        self.path.rename(aside)
        for suffix in ("-wal", "-shm"):
            extra = Path(str(self.path) + suffix)
            if extra.exists():
                extra.rename(Path(str(aside) + suffix))
        warnings.warn(
            f"hakl: tuning database {self.path} is unreadable ({exc}); moved it to {aside} "
            "and started a new one",
            RuntimeWarning,
            stacklevel=3,
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ---- writing -----------------------------------------------------------

    def record(self, key: Key, shape: tuple, variant: str, config: dict, source_hash: str,
               version: str, seconds: float | None, gbps: float | None, status: str,
               error: str | None = None) -> None:
        self.conn.execute(
            "INSERT INTO measurements (op, backend, fingerprint, dtype, bucket, flags, shape, variant,"
            " config, source_hash, version, seconds, gbps, status, error, created)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (*key.row(), json.dumps(list(shape)), variant, json.dumps(config, sort_keys=True),
             source_hash, version, seconds, gbps, status, error, time.time()),
        )

    def choose(self, key: Key, choice: Choice) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO choices VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (*key.row(), choice.variant, json.dumps(choice.config, sort_keys=True),
             choice.source_hash, choice.version, choice.seconds, time.time()),
        )

    # ---- reading -----------------------------------------------------------

    def lookup(self, key: Key) -> Choice | None:
        row = self.conn.execute(
            "SELECT variant, config, source_hash, version, seconds FROM choices WHERE op=? AND backend=?"
            " AND fingerprint=? AND dtype=? AND bucket=? AND flags=?",
            key.row(),
        ).fetchone()
        if row is None:
            return None
        return Choice(row[0], json.loads(row[1]), row[2], row[3], row[4])

    def choices(self) -> Iterator[dict[str, Any]]:
        cur = self.conn.execute("SELECT * FROM choices ORDER BY op, backend, dtype, bucket")
        names = [d[0] for d in cur.description]
        for row in cur:
            yield dict(zip(names, row))

    def measurements(self) -> Iterator[dict[str, Any]]:
        cur = self.conn.execute("SELECT * FROM measurements ORDER BY id")
        names = [d[0] for d in cur.description]
        for row in cur:
            yield dict(zip(names, row))

    def clear(self) -> None:
        self.conn.execute("DELETE FROM choices")
        self.conn.execute("DELETE FROM measurements")

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
