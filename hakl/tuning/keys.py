"""The tuning key of a problem: what dispatch, the tuner and verification look choices up by."""
from __future__ import annotations

from ..backends import get as get_backend
from ..op import Op, Problem
from .db import Key


def key_for(op: Op, problem: Problem) -> Key:
    backend = get_backend(problem.backend)
    return Key(op.name, problem.backend, backend.fingerprint_hash(), ",".join(problem.input_dtypes),
               "x".join(map(str, op.bucket(problem))), repr(problem.flags))
