"""paddle.save / paddle.load and paddle.io's datasets and DataLoader."""
from __future__ import annotations

import pickle
import shutil

import numpy as np
import pytest

import hakl.framework as paddle
from hakl.framework import io, nn
from tests.conftest import free_memory


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_save_load_round_trips_model_and_optimizer_state(tmp_path, protocol):
    paddle.seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = paddle.optimizer.AdamW(parameters=model.parameters())
    model(paddle.to_tensor(np.ones((2, 3), np.float32))).sum().backward()
    opt.step()
    paddle.save(model.state_dict(), str(tmp_path / "m.pdparams"), protocol=protocol)
    paddle.save(opt.state_dict(), str(tmp_path / "m.pdopt"), protocol=protocol)
    with open(tmp_path / "m.pdparams", "rb") as f:
        assert f.read(2)[1] == protocol  # the pickle header names the protocol
    loaded = paddle.load(str(tmp_path / "m.pdparams"))
    assert list(loaded) == list(model.state_dict()) and isinstance(loaded["0.weight"], paddle.Tensor)
    other = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    other.set_state_dict(loaded)
    for a, b in zip(other.parameters(), model.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    fresh = paddle.optimizer.AdamW(parameters=model.parameters())  # state is keyed by parameter name
    fresh.set_state_dict(paddle.load(str(tmp_path / "m.pdopt")))
    assert fresh.state_dict().keys() == opt.state_dict().keys()
    assert isinstance(paddle.load(str(tmp_path / "m.pdparams"), return_numpy=True)["0.bias"], np.ndarray)


def test_save_rejects_a_bad_protocol_and_load_a_missing_file(tmp_path):
    with pytest.raises(ValueError, match="protocol"):
        paddle.save({}, str(tmp_path / "x"), protocol=1)
    with pytest.raises(ValueError, match="does not exist"):
        paddle.load(str(tmp_path / "nothing"))
    assert pickle.HIGHEST_PROTOCOL >= 4


def test_dataloader_batches_shuffles_with_the_seed_and_drops_the_last():
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    y = np.arange(10)
    data = io.TensorDataset([x, y])
    assert len(data) == 10 and data[3][1] == 3
    batches = list(io.DataLoader(data, batch_size=4))
    assert [b[0].shape for b in batches] == [[4, 1], [4, 1], [2, 1]]
    assert len(io.DataLoader(data, batch_size=4, drop_last=True)) == 2

    def order(seed):
        paddle.seed(seed)
        return np.concatenate([b[1].numpy() for b in io.DataLoader(data, batch_size=3, shuffle=True)])

    first = order(1)
    assert sorted(first) == list(range(10)) and list(first) != list(range(10))
    np.testing.assert_array_equal(first, order(1))

    class Squares(io.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i], np.float32), i * i

    (xb, yb), = list(io.DataLoader(Squares(), batch_size=5))
    np.testing.assert_array_equal(yb.numpy(), [0, 1, 4, 9, 16])


@pytest.mark.parametrize("protocol", [2, 3])
def test_protocols_2_and_3_save_a_dicts_big_arrays_in_slices_and_load_joins_them(tmp_path, monkeypatch, protocol):
    monkeypatch.setattr(io, "_SLICE_BYTES", 64)  # 1 GiB in earnest: 16 float32 per slice here
    w = np.arange(100, dtype=np.float32).reshape(10, 10)
    paddle.save({"w": paddle.to_tensor(w), "b": np.ones(3)}, str(tmp_path / "m"), protocol=protocol)
    with open(tmp_path / "m", "rb") as f:
        raw = pickle.load(f)
    assert raw["UnpackBigParamInfor@@"]["w"]["OriginShape"] == (10, 10)  # PaddlePaddle's layout
    assert sorted(k for k in raw if k.startswith("w@@.")) == [f"w@@.{i}" for i in range(7)]
    loaded = paddle.load(str(tmp_path / "m"))
    assert sorted(loaded) == ["b", "w"]
    np.testing.assert_array_equal(loaded["w"].numpy(), w)


def test_an_array_of_4_gib_that_cannot_be_sliced_is_refused_below_protocol_4(tmp_path):
    huge = np.broadcast_to(np.zeros(1, np.uint8), (2 ** 32,))  # 4 GiB by nbytes, one byte of memory
    with pytest.raises(ValueError, match="protocol=4"):
        paddle.save({"nested": [huge]}, str(tmp_path / "m"), protocol=3)
    assert not (tmp_path / "m").exists()  # refused before anything is written


@pytest.mark.big_memory
@pytest.mark.skipif(free_memory() < 12 << 30, reason="needs 12 GiB of free memory")
def test_a_state_dict_past_4_gib_round_trips_with_protocol_3_in_slices(tmp_path):
    """2.0.1's fix, at full size: an array of 2**32 + 16 bytes, which protocol 3 cannot frame
    in one piece, saved in 1 GiB slices and joined on load; marks at the slice bounds."""
    if shutil.disk_usage(tmp_path).free < 6 << 30:
        pytest.skip("needs 6 GiB of free disk")
    n = 2 ** 32 + 16
    w = np.zeros(n, np.uint8)
    marks = {0: 1, 2 ** 30 - 2: 2, 2 ** 30 - 1: 3, 2 ** 31: 4, 2 ** 32 - 1: 5, n - 1: 6}
    for i, v in marks.items():
        w[i] = v
    path = str(tmp_path / "big.pdparams")
    paddle.save({"w": w, "b": np.ones(3, np.float32)}, path, protocol=3)
    del w
    loaded = paddle.load(path, return_numpy=True)
    big = loaded["w"]
    assert big.shape == (n,) and big.dtype == np.uint8 and loaded["b"].tolist() == [1, 1, 1]
    assert {i: int(big[i]) for i in marks} == marks
    assert sum(int(np.count_nonzero(big[lo:lo + (1 << 30)])) for lo in range(0, n, 1 << 30)) == len(marks)
