"""The tuning key of a problem: what dispatch, the tuner and verification look choices up by,
and the device row a key's fingerprint stands for."""
from __future__ import annotations

from ..backends import get as get_backend
from ..op import Op, Problem
from .db import Key


def key_for(op: Op, problem: Problem) -> Key:
    backend = get_backend(problem.backend)
    return Key(op.name, problem.backend, backend.fingerprint_hash(), ",".join(problem.input_dtypes),
               "x".join(map(str, op.bucket(problem))), repr(problem.flags))


def device_row(backend_name: str) -> tuple[str, str, str, dict]:
    """(fingerprint hash, backend, machine kind, fingerprint) of this process's device: what
    TuningDB.describe records beside the choices tuned on it."""
    backend = get_backend(backend_name)
    return backend.fingerprint_hash(), backend_name, backend.machine_kind(), backend.fingerprint()
