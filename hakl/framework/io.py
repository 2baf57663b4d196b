"""paddle.io (Dataset, TensorDataset, BatchSampler, DataLoader) and paddle.save / paddle.load."""
from __future__ import annotations

import math
import os
import pickle
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .tensor import Tensor, to_tensor


class Dataset:
    """Map-style: __getitem__(i) -> a sample (a tuple of fields), __len__."""

    def __getitem__(self, index: int):
        raise NotImplementedError(f"{type(self).__name__} defines no __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} defines no __len__")


class TensorDataset(Dataset):
    """Samples are the i-th rows of the given tensors (or arrays), which share a first extent."""

    def __init__(self, tensors: Sequence[Any]):
        self._host = [t.numpy() if isinstance(t, Tensor) else np.asarray(t) for t in tensors]
        if not self._host or any(len(h) != len(self._host[0]) for h in self._host):
            raise ValueError("TensorDataset: the tensors must share their first extent")
        self.tensors = list(tensors)

    def __getitem__(self, index: int):
        return tuple(h[index] for h in self._host)

    def __len__(self) -> int:
        return len(self._host[0])

    def batch(self, indices: np.ndarray) -> list[np.ndarray]:
        """Every field's rows at `indices` at once (what DataLoader's default collation would give)."""
        return [h[indices] for h in self._host]


class BatchSampler:
    """Index batches over a dataset: shuffle (from the framework's generator, paddle.seed),
    drop_last."""

    def __init__(self, dataset=None, sampler=None, shuffle: bool = False, batch_size: int = 1, drop_last: bool = False):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"BatchSampler: batch_size = {batch_size!r} must be a positive int")
        self.n = len(dataset) if dataset is not None else len(sampler)
        self.shuffle, self.batch_size, self.drop_last = bool(shuffle), batch_size, bool(drop_last)

    def __iter__(self) -> Iterator[np.ndarray]:
        from .ops import generator

        order = generator().permutation(self.n) if self.shuffle else np.arange(self.n)
        stop = self.n - self.n % self.batch_size if self.drop_last else self.n
        for start in range(0, stop, self.batch_size):
            yield order[start:start + self.batch_size]

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else math.ceil(self.n / self.batch_size)


def default_collate_fn(samples: list) -> list:
    """A batch from samples: each field stacked along a new first axis (numbers become arrays)."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return [np.stack([np.asarray(s[i].numpy() if isinstance(s[i], Tensor) else s[i]) for s in samples])
                for i in range(len(first))]
    return [np.stack([np.asarray(s.numpy() if isinstance(s, Tensor) else s) for s in samples])]


class DataLoader:
    """Batches of a Dataset as lists of Tensors on the current device (return_list=True).
    Single-process: num_workers is accepted and ignored."""

    def __init__(self, dataset: Dataset, feed_list=None, places=None, return_list: bool = True,
                 batch_sampler: BatchSampler | None = None, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, collate_fn: Callable | None = None, num_workers: int = 0,
                 use_buffer_reader: bool = True, use_shared_memory: bool = True, timeout: int = 0,
                 worker_init_fn=None):
        self.dataset = dataset
        self.batch_sampler = batch_sampler or BatchSampler(dataset, shuffle=shuffle, batch_size=batch_size,
                                                           drop_last=drop_last)
        self.collate_fn = collate_fn
        self.places = places

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def __iter__(self) -> Iterator[list]:
        fast = self.collate_fn is None and isinstance(self.dataset, TensorDataset)
        for indices in self.batch_sampler:
            if fast:
                fields = self.dataset.batch(indices)
            else:
                fields = (self.collate_fn or default_collate_fn)([self.dataset[int(i)] for i in indices])
            yield [f if isinstance(f, Tensor) else to_tensor(f, place=self.places) for f in fields]


# ---- save / load ---------------------------------------------------------------------


def _to_host(obj: Any) -> Any:
    if isinstance(obj, Tensor):
        return obj.numpy()
    if isinstance(obj, dict):
        return type(obj)((k, _to_host(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_host(v) for v in obj)
    return obj


def _to_tensors(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return to_tensor(obj)
    if isinstance(obj, dict):
        return type(obj)((k, _to_tensors(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_tensors(v) for v in obj)
    return obj


# Pickle protocols 2 and 3 frame a bytes object with a 4-byte length, so no array of 4 GiB
# or more fits in one. paddle.save (2.0.1) splits each top-level array of a dict into
# slices under 1 GiB for those protocols and paddle.load joins them again; an array it
# cannot split (one nested deeper) is refused here with the reason, before anything is written.
_SLICE_BYTES = 2 ** 30 - 1
_PROTOCOL3_LIMIT = 2 ** 32
_UNPACK_INFO = "UnpackBigParamInfor@@"


def _largest_array(obj: Any) -> int:
    """The most bytes any one array (or Tensor) in `obj` holds."""
    if isinstance(obj, Tensor):
        return int(obj.data.nbytes)
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, dict):
        return max((_largest_array(v) for v in obj.values()), default=0)
    if isinstance(obj, (list, tuple)):
        return max((_largest_array(v) for v in obj), default=0)
    return 0


def _split_big_arrays(obj: dict) -> dict:
    """obj with each top-level array over _SLICE_BYTES as slices "key@@.i" and the shapes to
    rebuild them under _UNPACK_INFO (PaddlePaddle's layout, so either side reads the other's)."""
    out, info = {}, {}
    for key, value in obj.items():
        if not (isinstance(value, np.ndarray) and value.nbytes > _SLICE_BYTES):
            out[key] = value
            continue
        per_slice = max(_SLICE_BYTES // value.dtype.itemsize, 1)
        flat = value.reshape(-1)
        info[key] = {"OriginShape": value.shape, "slices": []}
        for i, start in enumerate(range(0, flat.size, per_slice)):
            part = f"{key}@@.{i}"
            out[part] = flat[start:start + per_slice]
            info[key]["slices"].append(part)
    if info:
        out[_UNPACK_INFO] = info
    return out


def _join_big_arrays(obj: Any) -> Any:
    if not (isinstance(obj, dict) and _UNPACK_INFO in obj):
        return obj
    obj = dict(obj)
    for key, spec in obj.pop(_UNPACK_INFO).items():
        obj[key] = np.concatenate([obj.pop(part) for part in spec["slices"]]).reshape(spec["OriginShape"])
    return obj


def save(obj: Any, path: str, protocol: int = 4, **configs: Any) -> None:
    """Pickle `obj` (a state dict, an optimizer's state, nested dicts / lists, Tensors as
    NumPy arrays) to `path` with pickle `protocol` 2, 3 or 4 (2.0.1: selectable). With
    protocol 2 or 3 a dict's arrays over 1 GiB are saved in slices (load joins them), and
    an array of 4 GiB or more elsewhere raises ValueError: those protocols cannot hold it."""
    if not isinstance(protocol, int) or not 1 < protocol < 5:
        raise ValueError(f"save: protocol = {protocol!r}; expected 2, 3 or 4")
    host = _to_host(obj)
    if protocol < 4:
        if isinstance(host, dict):
            host = _split_big_arrays(host)
        big = _largest_array(host)
        if big >= _PROTOCOL3_LIMIT:
            raise ValueError(f"save: an array of {big} bytes (4 GiB or more) cannot be pickled with protocol "
                             f"{protocol}, which frames an object with a 4-byte length, and only a dict's own "
                             "arrays are saved in slices; use protocol=4 (the default)")
    if isinstance(path, str) and os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(host, f, protocol=protocol)


def load(path: str, return_numpy: bool = False, **configs: Any) -> Any:
    """What `save` wrote, arrays as Tensors on the current device (NumPy with return_numpy=True)."""
    if not os.path.exists(path):
        raise ValueError(f"load: {path!r} does not exist")
    with open(path, "rb") as f:
        obj = _join_big_arrays(pickle.load(f))
    return obj if return_numpy else _to_tensors(obj)


__all__ = ["Dataset", "TensorDataset", "BatchSampler", "DataLoader", "default_collate_fn", "save", "load"]
