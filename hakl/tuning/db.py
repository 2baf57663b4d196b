"""The tuning database: every measurement the tuner makes, each verification verdict,
and the choice per key.

SQLite in WAL mode, so several processes can tune at once without losing rows.
Entries carry the device fingerprint, the variant's source hash and hakl's
version; `lookup` ignores an entry when any of them changed.

An unusable database never stops a call and never loses recorded data:
- a file that cannot be written (read-only directory or file, a user without
  write access) is read into memory: its choices still serve, new rows stay in
  memory for the process;
- a file that is not a database, or fails SQLite's quick_check, is moved aside
  (kept) and a new one started; when it cannot be moved, an empty in-memory
  database serves;
- a path that cannot be created (HAKL_CACHE_DIR under a regular file) gives an
  in-memory database;
- tables of another schema are renamed (kept) and hakl's created beside them.
Each case warns once and `problem` says in one line what is wrong and where.
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
import time
import urllib.parse
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

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
CREATE TABLE IF NOT EXISTS verdicts (
    op TEXT, backend TEXT, fingerprint TEXT, dtype TEXT, bucket TEXT, flags TEXT,
    variant TEXT, config TEXT, source_hash TEXT, version TEXT, status TEXT, error TEXT,
    seconds REAL, created REAL,
    PRIMARY KEY (op, backend, fingerprint, dtype, bucket, flags, variant, config, source_hash, version)
);
CREATE TABLE IF NOT EXISTS devices (
    fingerprint TEXT PRIMARY KEY, backend TEXT, kind TEXT, description TEXT, created REAL
);
"""
COLUMNS = {  # hakl's tables and their columns, in order: anything else is another schema
    "measurements": ("id", "op", "backend", "fingerprint", "dtype", "bucket", "flags", "shape", "variant",
                     "config", "source_hash", "version", "seconds", "gbps", "status", "error", "created"),
    "choices": ("op", "backend", "fingerprint", "dtype", "bucket", "flags", "variant", "config",
                "source_hash", "version", "seconds", "created"),
    "verdicts": ("op", "backend", "fingerprint", "dtype", "bucket", "flags", "variant", "config",
                 "source_hash", "version", "status", "error", "seconds", "created"),
    "devices": ("fingerprint", "backend", "kind", "description", "created"),
}


class _NotADatabase(Exception):
    """The file holds something other than a healthy SQLite database."""


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


EXPORT_FORMAT = "hakl-tuning-export/1"
_TEXT = {"op", "backend", "fingerprint", "dtype", "bucket", "flags", "shape", "variant", "config", "source_hash",
         "version", "status", "error", "kind", "description"}


def _export_rows(doc: Any) -> dict[str, list[tuple]]:
    """The rows of an export document, per table in column order (measurements without
    their id); raises ValueError naming the first thing that is wrong."""
    if not isinstance(doc, dict) or doc.get("format", EXPORT_FORMAT) != EXPORT_FORMAT:
        raise ValueError(f"not a hakl tuning export (expected a JSON object with format {EXPORT_FORMAT!r})")
    out = {}
    for table, columns in COLUMNS.items():
        entries = doc.get(table, [])
        if not isinstance(entries, list):
            raise ValueError(f"{table!r} must be a list of rows")
        wanted = columns[1:] if table == "measurements" else columns
        rows = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not set(wanted) <= set(entry):
                raise ValueError(f"{table}[{i}] lacks columns {sorted(set(wanted) - set(entry or {}))}")
            for c in wanted:
                v = entry[c]
                ok = (v is None or isinstance(v, str)) if c in _TEXT else \
                    (v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)))
                if not ok:
                    raise ValueError(f"{table}[{i}].{c} = {v!r} has the wrong type")
            for c in ("config", "shape", "description"):
                if c in wanted and entry[c] is not None:
                    try:
                        json.loads(entry[c])
                    except ValueError:
                        raise ValueError(f"{table}[{i}].{c} is not JSON: {entry[c]!r}") from None
            rows.append(tuple(entry[c] for c in wanted))
        out[table] = rows
    return out


# How far a tuned bucket's choice reaches: 256x in one extent, or 16x in each of two. Past
# that a choice speaks for another regime: the 4M-element cast's oneDNN reorder (tuned) served
# a 4x8 cast at 13.6 us where the heuristic's serial numba kernel takes 3.8 (the primitive's
# call costs more than the whole small conversion).
NEAREST_OCTAVES = 8


def _log_extents(bucket: str) -> tuple[float, ...]:
    return tuple(math.log2(max(int(d), 1)) for d in bucket.split("x")) if bucket else ()


@dataclass(frozen=True)
class Choice:
    variant: str
    config: dict
    source_hash: str
    version: str
    seconds: float


@dataclass(frozen=True)
class Verdict:
    status: str  # "ok" or "rejected"
    error: str | None
    seconds: float | None  # what the verification cost


class TuningDB:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else cache_dir() / "tuning.sqlite"
        self._conn: sqlite3.Connection | None = None
        self.problem: str | None = None  # one line: why the file itself is not what serves
        self.generation = 0  # bumped whenever a choice changes: dispatch's memo is then stale

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    @property
    def in_memory(self) -> bool:
        return self.problem is not None

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return self._memory(f"cannot be created ({exc.strerror or exc}): an empty in-memory "
                                "database serves this process")
        try:
            return self._open()
        except _NotADatabase as exc:
            try:
                aside = self._move_aside()
            except OSError as move_exc:
                return self._memory(f"is not a usable database ({exc}) and cannot be moved aside "
                                    f"({move_exc.strerror or move_exc}): an empty in-memory database serves "
                                    "this process")
            self._warn(f"tuning database {self.path} is unreadable ({exc}); moved it to {aside} "
                       "and started a new one")
            return self._open()
        except (sqlite3.Error, OSError) as exc:  # cannot write it: read its choices into memory
            return self._read_into_memory(exc)

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout = 30000")
            try:
                healthy = conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            except sqlite3.OperationalError:
                raise  # cannot read or lock it: not a verdict on its contents
            except sqlite3.DatabaseError as exc:  # "file is not a database"
                raise _NotADatabase(str(exc)) from None
            if not healthy:
                raise _NotADatabase("quick_check failed")
            conn.execute("PRAGMA journal_mode = WAL")  # needs write access to the file and its folder
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Rename tables whose columns are not hakl's (kept, never dropped), then create hakl's."""
        for table, columns in COLUMNS.items():
            have = tuple(row[1] for row in conn.execute(f"PRAGMA table_info({table})"))
            if have and have != columns:
                kept = f"{table}_other_schema_{time.strftime('%Y%m%d%H%M%S')}"
                conn.execute(f'ALTER TABLE {table} RENAME TO "{kept}"')
                self._warn(f"tuning database {self.path}: table {table!r} has another schema; kept it as "
                           f"{kept!r} and started hakl's")
        conn.executescript(SCHEMA)

    def _read_into_memory(self, why: Exception) -> sqlite3.Connection:
        memory = sqlite3.connect(":memory:", isolation_level=None)
        source = None
        if self.path.is_file():
            quoted = urllib.parse.quote(str(self.path.resolve()))
            # immutable=1 reads a WAL database whose folder allows no -shm file.
            for uri in (f"file:{quoted}?mode=ro", f"file:{quoted}?immutable=1"):
                try:
                    source = sqlite3.connect(uri, uri=True)
                    source.backup(memory)
                    break
                except sqlite3.Error:
                    source = None
                finally:
                    if source is not None:
                        source.close()
        self._migrate(memory)
        kept = memory.execute("SELECT count(*) FROM choices").fetchone()[0]
        what = (f"is read-only here ({why}): its {kept} choices serve, new measurements stay in memory "
                "for this process") if source is not None else (
            f"cannot be read or written ({why}): an empty in-memory database serves this process")
        return self._memory(what, memory)

    def _memory(self, what: str, conn: sqlite3.Connection | None = None) -> sqlite3.Connection:
        self.problem = f"tuning database {self.path} {what}"
        self._warn(self.problem)
        if conn is None:
            conn = sqlite3.connect(":memory:", isolation_level=None)
            self._migrate(conn)
        return conn

    def _move_aside(self) -> Path:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        self.path.rename(aside)
        for suffix in ("-wal", "-shm"):
            extra = Path(str(self.path) + suffix)
            if extra.exists():
                extra.rename(Path(str(aside) + suffix))
        return aside

    @staticmethod
    def _warn(message: str) -> None:
        warnings.warn(f"hakl: {message}", RuntimeWarning, stacklevel=4)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ---- writing -----------------------------------------------------------

    def _write(self, sql: str, args: tuple) -> None:
        """One statement; a file that stops taking writes (disk full, permissions changed)
        is copied into memory, which takes this and every later write."""
        try:
            self.conn.execute(sql, args)
        except sqlite3.Error as exc:
            if self.in_memory:
                raise
            memory = sqlite3.connect(":memory:", isolation_level=None)
            self.conn.backup(memory)
            self._conn.close()
            self._conn = self._memory(f"stopped taking writes ({exc}): its choices serve, new rows stay "
                                      "in memory for this process", memory)
            self._conn.execute(sql, args)

    def record(self, key: Key, shape: tuple, variant: str, config: dict, source_hash: str,
               version: str, seconds: float | None, gbps: float | None, status: str,
               error: str | None = None) -> None:
        self._write(
            "INSERT INTO measurements (op, backend, fingerprint, dtype, bucket, flags, shape, variant,"
            " config, source_hash, version, seconds, gbps, status, error, created)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (*key.row(), json.dumps(list(shape)), variant, json.dumps(config, sort_keys=True),
             source_hash, version, seconds, gbps, status, error, time.time()),
        )

    def choose(self, key: Key, choice: Choice) -> None:
        self.generation += 1
        self._write(
            "INSERT OR REPLACE INTO choices VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (*key.row(), choice.variant, json.dumps(choice.config, sort_keys=True),
             choice.source_hash, choice.version, choice.seconds, time.time()),
        )

    def describe(self, fingerprint: str, backend: str, kind: str, description: dict) -> None:
        """Which device a fingerprint is, and its machine kind (Backend.machine_kind): what
        makes another device's choices this one's siblings."""
        row = self.conn.execute("SELECT kind FROM devices WHERE fingerprint=?", (fingerprint,)).fetchone()
        if row is None or row[0] != kind:
            self._write("INSERT OR REPLACE INTO devices VALUES (?,?,?,?,?)",
                        (fingerprint, backend, kind, json.dumps(description, sort_keys=True), time.time()))

    def record_verdict(self, key: Key, variant: str, config: dict, source_hash: str, version: str,
                       verdict: Verdict) -> None:
        self._write(
            "INSERT OR REPLACE INTO verdicts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (*key.row(), variant, json.dumps(config, sort_keys=True), source_hash, version,
             verdict.status, verdict.error, verdict.seconds, time.time()),
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

    def neighbours(self, key: Key, kind: str | None = None) -> list[tuple[str, Choice]]:
        """(bucket, choice) of the tuned buckets near `key`'s on the same op, backend, dtypes
        and flags, nearest first (distance: the sum over extents of |log2 a - log2 b|, at
        most NEAREST_OCTAVES; buckets of another rank never match). Without `kind`: this
        device's other buckets; with it: every bucket, `key`'s own first, of the other
        devices of that machine kind (its siblings), the latest tuned first among equals."""
        where, args = ("fingerprint=? AND bucket != ?", (key.fingerprint, key.bucket)) if kind is None else (
            "fingerprint != ? AND fingerprint IN (SELECT fingerprint FROM devices WHERE kind=? AND backend=?)",
            (key.fingerprint, kind, key.backend))
        rows = self.conn.execute(
            "SELECT bucket, variant, config, source_hash, version, seconds, created FROM choices WHERE op=? AND"
            f" backend=? AND dtype=? AND flags=? AND {where}", (key.op, key.backend, key.dtype, key.flags, *args),
        ).fetchall()
        here = _log_extents(key.bucket)
        near = []
        for bucket, variant, config, source_hash, version, seconds, created in rows:
            there = _log_extents(bucket)
            distance = sum(abs(a - b) for a, b in zip(here, there))
            if len(there) == len(here) and distance <= NEAREST_OCTAVES:
                near.append((distance, -created, bucket, Choice(variant, json.loads(config), source_hash, version,
                                                                 seconds)))
        near.sort(key=lambda n: n[:2])
        return [(bucket, choice) for _, _, bucket, choice in near]

    def devices(self) -> Iterator[dict[str, Any]]:
        return self._rows("SELECT * FROM devices ORDER BY backend, kind, fingerprint")

    def verdict(self, key: Key, variant: str, config: dict, source_hash: str, version: str) -> Verdict | None:
        row = self.conn.execute(
            "SELECT status, error, seconds FROM verdicts WHERE op=? AND backend=? AND fingerprint=? AND dtype=?"
            " AND bucket=? AND flags=? AND variant=? AND config=? AND source_hash=? AND version=?",
            (*key.row(), variant, json.dumps(config, sort_keys=True), source_hash, version),
        ).fetchone()
        return None if row is None else Verdict(*row)

    def _rows(self, sql: str) -> Iterator[dict[str, Any]]:
        cur = self.conn.execute(sql)
        names = [d[0] for d in cur.description]
        for row in cur:
            yield dict(zip(names, row))

    def choices(self) -> Iterator[dict[str, Any]]:
        return self._rows("SELECT * FROM choices ORDER BY op, backend, dtype, bucket")

    def measured(self, key: Key, version: str) -> list[dict[str, Any]]:
        """The measurements recorded for `key` by hakl `version`, oldest first."""
        cur = self.conn.execute(
            "SELECT * FROM measurements WHERE op=? AND backend=? AND fingerprint=? AND dtype=? AND bucket=?"
            " AND flags=? AND version=? ORDER BY id", (*key.row(), version))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur]

    def measurements(self) -> Iterator[dict[str, Any]]:
        return self._rows("SELECT * FROM measurements ORDER BY id")

    def verdicts(self) -> Iterator[dict[str, Any]]:
        return self._rows("SELECT * FROM verdicts ORDER BY op, backend, dtype, bucket, variant")

    # ---- moving rows between machines -----------------------------------------

    def export(self, tables: Sequence[str] = tuple(COLUMNS)) -> dict[str, Any]:
        """Every row of `tables` (default all), as `merge` on another machine takes it."""
        return {"format": EXPORT_FORMAT, "path": str(self.path),
                **{table: list(self._rows(f"SELECT * FROM {table}")) for table in COLUMNS if table in tables}}

    def merge(self, doc: Any) -> dict[str, int]:
        """Add the rows of another database's `export` (a machine with no shared
        filesystem); returns the rows added per table. Rows are keyed by device
        fingerprint, so another device's rows never touch this device's; for the same
        key a choice or verdict replaces this one only when it was made later, and a
        measurement already here is not added twice. The whole document is checked
        before anything is written, and written in one transaction: a malformed one
        raises ValueError saying what is wrong and changes nothing."""
        rows = _export_rows(doc)
        added = dict.fromkeys(COLUMNS, 0)
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            for row in rows["measurements"]:
                columns = COLUMNS["measurements"][1:]  # a new id here
                match = " AND ".join(f"{c} IS ?" for c in columns)
                if conn.execute(f"SELECT 1 FROM measurements WHERE {match}", row).fetchone() is None:
                    conn.execute(f"INSERT INTO measurements ({', '.join(columns)}) VALUES "
                                 f"({', '.join('?' * len(columns))})", row)
                    added["measurements"] += 1
            for table, key_columns in (("choices", 6), ("verdicts", 10), ("devices", 1)):
                columns = COLUMNS[table]
                keys = ", ".join(columns[:key_columns])
                update = ", ".join(f"{c}=excluded.{c}" for c in columns[key_columns:])
                for row in rows[table]:
                    before = conn.total_changes
                    conn.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))}) ON CONFLICT "
                                 f"({keys}) DO UPDATE SET {update} WHERE excluded.created > {table}.created", row)
                    added[table] += conn.total_changes - before
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise ValueError(f"the tuning database {self.path} did not take the rows ({exc}); nothing changed") \
                from None
        self.generation += 1
        return added

    def clear(self) -> None:
        self.generation += 1
        for table in COLUMNS:
            self._write(f"DELETE FROM {table}", ())

    def size_bytes(self) -> int:
        try:
            return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        except OSError:
            return 0


_current: TuningDB | None = None


def current() -> TuningDB:
    """The database dispatch and the tuner use: <cache dir>/tuning.sqlite unless `use` said otherwise."""
    global _current
    if _current is None:
        _current = TuningDB()
    return _current


def use(db: TuningDB | None) -> None:
    """Use another tuning database (tests, `hakl tune --db`); None: the default again."""
    global _current
    if _current is not None and _current is not db:
        _current.close()
    _current = db
