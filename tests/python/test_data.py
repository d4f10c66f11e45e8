"""dt.utils.data and dt.datasets: TensorDataset, samplers, DataLoader batching / shuffling /
drop_last (compared with torch.utils.data where the behaviour is deterministic), default_collate,
the MNIST / Fashion-MNIST readers (against an independent idx parse, gzipped and not), their
errors for missing and corrupt files, and the progress bar."""

from __future__ import annotations

import gzip
import io
import shutil
import struct
from collections import namedtuple

import numpy as np
import pytest
import torch

import dumbtorch as dt
from dumbtorch.utils.data import DataLoader, Subset, TensorDataset, default_collate

FMNIST = "/usr/share/datasets/fashion-mnist"


# --- TensorDataset and DataLoader -----------------------------------------------------------


def _tensor_data(n=10):
    x = dt.arange(n * 3).reshape(n, 3).to(dt.float32)
    y = dt.arange(n)
    return TensorDataset(x, y)


def test_tensor_dataset_items_and_errors():
    ds = _tensor_data()
    assert len(ds) == 10
    x, y = ds[4]
    assert x.tolist() == [12.0, 13.0, 14.0] and y.item() == 4 and y.dtype == dt.int64
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(dt.zeros(3, 2), dt.zeros(4))


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("batch_size", [1, 3, 4, 10, 11])
def test_sequential_batches_match_torch(batch_size, drop_last):
    ds = _tensor_data()
    tds = torch.utils.data.TensorDataset(torch.arange(30).reshape(10, 3).float(), torch.arange(10))
    ours = list(DataLoader(ds, batch_size=batch_size, drop_last=drop_last))
    theirs = list(torch.utils.data.DataLoader(tds, batch_size=batch_size, drop_last=drop_last))
    assert len(ours) == len(theirs) == len(DataLoader(ds, batch_size=batch_size, drop_last=drop_last))
    for (xb, yb), (txb, tyb) in zip(ours, theirs):
        assert xb.dtype == dt.float32 and yb.dtype == dt.int64
        assert xb.tolist() == txb.tolist() and yb.tolist() == tyb.tolist()


def test_per_item_path_equals_batched_fast_path():
    ds = _tensor_data()

    class Plain(dt.utils.data.Dataset):  # no _get_batch: per-item fetch + default_collate
        def __len__(self):
            return len(ds)

        def __getitem__(self, i):
            return ds[i]

    a = [[t.tolist() for t in b] for b in DataLoader(ds, batch_size=4)]
    b = [[t.tolist() for t in b] for b in DataLoader(Plain(), batch_size=4)]
    assert a == b


def test_shuffle_is_a_permutation_seeded_by_manual_seed():
    ds = _tensor_data(50)

    def order(loader):
        return [int(v) for _, yb in loader for v in yb.tolist()]

    dt.manual_seed(3)
    loader = DataLoader(ds, batch_size=8, shuffle=True)
    e1, e2 = order(loader), order(loader)
    assert sorted(e1) == list(range(50)) and sorted(e2) == list(range(50))
    assert e1 != list(range(50)) and e1 != e2  # shuffled, and reshuffled each epoch
    dt.manual_seed(3)
    assert order(DataLoader(ds, batch_size=8, shuffle=True)) == e1
    g1 = np.random.default_rng(9)
    g2 = np.random.default_rng(9)
    assert order(DataLoader(ds, batch_size=8, shuffle=True, generator=g1)) == \
        order(DataLoader(ds, batch_size=8, shuffle=True, generator=g2))
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        list(DataLoader(ds, shuffle=True, generator=torch.Generator()))


def test_drop_last_with_shuffle_and_sampler_options():
    ds = _tensor_data(10)
    batches = list(DataLoader(ds, batch_size=4, shuffle=True, drop_last=True))
    assert [len(b[1]) for b in batches] == [4, 4]
    custom = list(DataLoader(ds, batch_size=3, sampler=[9, 8, 7, 0]))
    assert [b[1].tolist() for b in custom] == [[9, 8, 7], [0]]
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, sampler=[0], shuffle=True)
    unbatched = list(DataLoader(ds, batch_size=None))
    assert len(unbatched) == 10 and unbatched[2][1].item() == 2


def test_subset_and_random_split():
    ds = _tensor_data(10)
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3 and sub[0][1].item() == 7
    assert [b[1].tolist() for b in DataLoader(sub, batch_size=2)] == [[7, 2], [5]]
    a, b = dt.utils.data.random_split(ds, [7, 3], generator=np.random.default_rng(0))
    ids = sorted([a[i][1].item() for i in range(7)] + [b[i][1].item() for i in range(3)])
    assert ids == list(range(10))


def test_default_collate_structures():
    Pair = namedtuple("Pair", "a b")
    batch = [{"x": dt.ones(2), "n": 1, "f": 0.5, "s": "u", "p": Pair(dt.zeros(1), 3)},
             {"x": dt.zeros(2), "n": 2, "f": 1.5, "s": "v", "p": Pair(dt.ones(1), 4)}]
    out = default_collate(batch)
    assert out["x"].shape == (2, 2) and out["n"].dtype == dt.int64 and out["n"].tolist() == [1, 2]
    assert out["f"].dtype == dt.float64 and out["s"] == ["u", "v"]
    assert isinstance(out["p"], Pair) and out["p"].b.tolist() == [3, 4]
    arrays = default_collate([np.ones((2, 2), np.float32), np.zeros((2, 2), np.float32)])
    assert arrays.shape == (2, 2, 2) and arrays.dtype == dt.float32
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([object()])


# --- Fashion-MNIST --------------------------------------------------------------------------


def _parse_idx(path):
    """An independent reader: gzip + struct, no shared code with dt.datasets."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    nd = raw[3]
    dims = struct.unpack(">" + "I" * nd, raw[4:4 + 4 * nd])
    return np.frombuffer(raw[4 + 4 * nd:], np.uint8).reshape(dims)


def test_fashion_mnist_reads_debians_files():
    test = dt.datasets.FashionMNIST(train=False)
    train = dt.datasets.FashionMNIST()
    assert len(test) == 10000 and len(train) == 60000
    images = _parse_idx(f"{FMNIST}/t10k-images-idx3-ubyte.gz")
    labels = _parse_idx(f"{FMNIST}/t10k-labels-idx1-ubyte.gz")
    for i in (0, 1, 4321, 9999):
        img, label = test[i]
        assert img.shape == (1, 28, 28) and img.dtype == dt.float32
        assert label.dtype == dt.int64 and label.dim() == 0 and label.item() == labels[i]
        # torchvision's ToTensor: uint8 / 255 in float32.
        expected = torch.from_numpy(images[i].copy()).to(torch.float32).div(255).unsqueeze(0)
        np.testing.assert_array_equal(img.numpy(), expected.numpy())
    v = test[0][0].numpy()
    assert v.min() >= 0.0 and v.max() <= 1.0
    assert test.classes[0] == "T-shirt/top" and test.targets.shape == (10000,)


def test_fashion_mnist_loader_batches_and_transform():
    ds = dt.datasets.FashionMNIST(train=False)
    x, y = next(iter(DataLoader(ds, batch_size=32)))
    assert x.shape == (32, 1, 28, 28) and x.dtype == dt.float32 and y.shape == (32,) and y.dtype == dt.int64
    np.testing.assert_array_equal(x.numpy()[5], ds[5][0].numpy())
    flat = dt.datasets.FashionMNIST(train=False, transform=lambda t: t.reshape(-1), target_transform=lambda t: t * 0)
    img, label = flat[3]
    assert img.shape == (784,) and label.item() == 0
    x2, y2 = next(iter(DataLoader(flat, batch_size=4)))
    assert x2.shape == (4, 784) and y2.tolist() == [0, 0, 0, 0]
    with pytest.raises(IndexError):
        ds[10000]


def _copy_split(tmp_path, gz=True):
    root = tmp_path / "data"
    root.mkdir()
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        src = f"{FMNIST}/{name}.gz"
        if gz:
            shutil.copy(src, root / f"{name}.gz")
        else:
            with gzip.open(src, "rb") as f:
                (root / name).write_bytes(f.read())
    return root


def test_uncompressed_files_and_mnist_class(tmp_path):
    root = _copy_split(tmp_path, gz=False)
    a = dt.datasets.FashionMNIST(root, train=False)
    b = dt.datasets.MNIST(root, train=False)  # same file format and names
    assert len(a) == len(b) == 10000
    np.testing.assert_array_equal(a[7][0].numpy(), dt.datasets.FashionMNIST(train=False)[7][0].numpy())
    with pytest.raises(ValueError, match="root is required"):
        dt.datasets.MNIST()


def test_missing_file_error_names_it_and_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        dt.datasets.FashionMNIST(tmp_path, train=True)
    msg = str(e.value)
    assert "train-images-idx3-ubyte" in msg and str(tmp_path) in msg and "apt-get install dataset-fashion-mnist" in msg


@pytest.mark.parametrize("damage", ["truncated-gzip", "garbage", "bad-magic", "short-data", "label-count"])
def test_corrupt_file_error_names_it(tmp_path, damage):
    root = _copy_split(tmp_path, gz=damage != "bad-magic" and damage != "short-data" and damage != "label-count")
    if damage == "truncated-gzip":
        p = root / "t10k-images-idx3-ubyte.gz"
        p.write_bytes(p.read_bytes()[:100000])
    elif damage == "garbage":
        p = root / "t10k-labels-idx1-ubyte.gz"
        p.write_bytes(b"this is not gzip data at all")
    elif damage == "bad-magic":
        p = root / "t10k-images-idx3-ubyte"
        raw = bytearray(p.read_bytes())
        raw[2] = 0x0D  # float32 type code
        p.write_bytes(bytes(raw))
    elif damage == "short-data":
        p = root / "t10k-images-idx3-ubyte"
        p.write_bytes(p.read_bytes()[:-1])
    else:
        p = root / "t10k-labels-idx1-ubyte"
        raw = p.read_bytes()
        p.write_bytes(raw[:4] + struct.pack(">I", 9999) + raw[8:-1])
    with pytest.raises(dt.datasets.DatasetFileError) as e:
        dt.datasets.FashionMNIST(root, train=False)
    msg = str(e.value)
    assert ("idx" in msg or str(root) in msg) and "dataset-fashion-mnist" in msg
    if damage != "label-count":
        assert str(p) in msg


# --- progress bar ---------------------------------------------------------------------------


def test_progress_bar_reports_step_loss_and_throughput():
    buf = io.StringIO()
    loader = DataLoader(_tensor_data(40), batch_size=8)
    bar = dt.utils.progress.progress(loader, desc="epoch 1/2", file=buf)
    seen = 0
    for x, y in bar:
        seen += x.shape[0]
        bar.set(loss=0.25)
    lines = buf.getvalue().strip().splitlines()
    assert seen == 40 and bar.samples == 40 and bar.step == 5
    last = lines[-1]
    assert last.startswith("epoch 1/2") and "5/5" in last and "loss 0.2500" in last and "samples/s" in last
    assert 1 <= len(lines) <= 5  # not a terminal: a few lines, not one per step
    tty = io.StringIO()
    tty.isatty = lambda: True
    for _ in dt.utils.progress.progress(range(3), file=tty, min_interval=0.0):
        pass
    assert tty.getvalue().count("\r") >= 3 and tty.getvalue().endswith("\n")


def test_row_indexing_copies_rows_like_numpy():
    """x[idx] on a contiguous tensor with no gradient to record (a DataLoader batch) copies the
    rows directly; it must equal numpy's fancy indexing (negative and repeated indices, a 2-D
    index, zero rows), give a tensor of its own, and still raise for an index out of range. With
    requires_grad it records a gather as before."""
    base = np.arange(5 * 3 * 2, dtype=np.float32).reshape(5, 3, 2)
    x = dt.from_numpy(base.copy())
    for idx in ([4, 0, -1, 0], [[1, 2], [-5, 3]], []):
        i = np.array(idx, dtype=np.int64)
        got = x[dt.from_numpy(i)]
        np.testing.assert_array_equal(got.numpy(), base[i])
    r = x[dt.tensor([1])]
    r.fill_(-1.0)
    np.testing.assert_array_equal(x.numpy(), base)  # the source is untouched
    with pytest.raises(IndexError, match="out of bounds"):
        x[dt.tensor([5])]
    w = dt.from_numpy(base.copy()).requires_grad_()
    w[dt.tensor([1, 1])].sum().backward()
    assert w.grad.numpy()[1].sum() == 12 and w.grad.numpy().sum() == 12
    xt = x.transpose(0, 1)  # not contiguous: the general gather
    np.testing.assert_array_equal(xt[dt.tensor([2, 0])].numpy(), base.transpose(1, 0, 2)[[2, 0]])
