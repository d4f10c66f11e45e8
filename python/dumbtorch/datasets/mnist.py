"""dt.datasets.MNIST and FashionMNIST: read the idx files (gzipped or not) into memory.

Each item is (image, label): the image a float32 tensor [1, 28, 28] in [0, 1] (uint8 / 255, as
torchvision's ToTensor), the label an int64 0-d tensor (torchvision gives a Python int; both
collate to the same int64 batch). ``transform`` / ``target_transform`` are applied per item.

The idx format (http://yann.lecun.com/exdb/mnist/): two zero bytes, a type byte (0x08 = uint8),
a byte with the number of dims, each dim as a big-endian uint32, then the data. Every size is
checked against the file; a missing or corrupt file raises an error that names it and says how
to get a good copy.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib

import numpy as np

from .. import _C
from ..utils.data import Dataset

FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist"


class DatasetFileError(RuntimeError):
    """A dataset file is corrupt (bad header, wrong size, bad gzip stream, labels out of range)."""


_CACHE: dict[tuple, np.ndarray] = {}


def _read_idx(path: str, ndim: int, hint: str) -> np.ndarray:
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns)
    if key in _CACHE:
        return _CACHE[key]
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if path.endswith(".gz"):
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetFileError(f"{path}: cannot read or decompress ({e}). {hint}") from None
    if len(raw) < 4:
        raise DatasetFileError(f"{path}: truncated: {len(raw)} bytes, an idx header needs at least 4. {hint}")
    zero, dtype_code, nd = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DatasetFileError(
            f"{path}: not an idx file of uint8 (header bytes {raw[:4].hex()}, expected 0000 08 0{ndim}). {hint}"
        )
    if nd != ndim:
        raise DatasetFileError(f"{path}: has {nd} dims, expected {ndim}. {hint}")
    header = 4 + 4 * nd
    if len(raw) < header:
        raise DatasetFileError(f"{path}: truncated header ({len(raw)} bytes, needs {header}). {hint}")
    dims = struct.unpack(">" + "I" * nd, raw[4:header])
    count = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != count:
        raise DatasetFileError(
            f"{path}: {len(raw) - header} data bytes but the header's dims {list(dims)} need {count} "
            f"(truncated or corrupt). {hint}"
        )
    arr = np.frombuffer(raw, dtype=np.uint8, count=count, offset=header).reshape(dims)
    _CACHE[key] = arr
    return arr


class MNIST(Dataset):
    """The MNIST digits from the four idx files in ``root`` (no download: pass the directory)."""

    files = {
        True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]
    default_root: str | None = None

    def _how_to_get(self) -> str:
        return (
            "Get the four MNIST idx files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
            "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) and pass their directory as root=."
        )

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True, transform=None,
                 target_transform=None, download: bool = False) -> None:
        name = type(self).__name__
        if root is None:
            if self.default_root is None:
                raise ValueError(f"{name}: root is required (the directory holding the idx files). {self._how_to_get()}")
            root = self.default_root
        self.root = os.fspath(root)
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        image_file, label_file = self.files[self.train]
        hint = self._how_to_get()
        images = _read_idx(self._find(image_file, download), 3, hint)
        labels = _read_idx(self._find(label_file, download), 1, hint)
        if images.shape[0] != labels.shape[0]:
            raise DatasetFileError(
                f"{name}: {images.shape[0]} images but {labels.shape[0]} labels in {self.root}. {hint}"
            )
        if labels.size and int(labels.max()) >= len(self.classes):
            raise DatasetFileError(
                f"{name}: label {int(labels.max())} out of range for {len(self.classes)} classes in {self.root}. {hint}"
            )
        self.data = images  # uint8 [N, H, W] (numpy: dumbtorch has no uint8 dtype)
        self._labels = labels.astype(np.int64)
        import dumbtorch as dt

        self.targets = dt.from_numpy(self._labels)

    def _find(self, base: str, download: bool) -> str:
        """root/base[.gz], or torchvision's layout root/<Class>/raw/base[.gz]."""
        candidates = []
        for d in (self.root, os.path.join(self.root, type(self).__name__, "raw")):
            for suffix in (".gz", ""):
                candidates.append(os.path.join(d, base + suffix))
        for c in candidates:
            if os.path.isfile(c):
                return c
        extra = " (download=True is not supported: dumbtorch never downloads)" if download else ""
        raise FileNotFoundError(
            f"{type(self).__name__}: {os.path.join(self.root, base)}.gz not found (nor {base} uncompressed, nor under "
            f"{type(self).__name__}/raw){extra}. {self._how_to_get()}"
        )

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def _image(self, index) -> np.ndarray:
        return (self.data[index].astype(np.float32) / np.float32(255.0))

    def __getitem__(self, index: int):
        import dumbtorch as dt

        index = int(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for {len(self)} samples")
        img = dt.from_numpy(self._image(index)[None])
        target = dt.tensor(int(self._labels[index]), dtype=_C.int64)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __getattribute__(self, name):
        # The DataLoader's batched fast path only applies without per-item transforms.
        if name == "_get_batch":
            d = object.__getattribute__(self, "__dict__")
            if d.get("transform") is not None or d.get("target_transform") is not None:
                raise AttributeError(name)
        return object.__getattribute__(self, name)

    def _get_batch(self, indices: np.ndarray):
        import dumbtorch as dt

        images = self._image(indices)[:, None]
        return [dt.from_numpy(np.ascontiguousarray(images)), dt.from_numpy(self._labels[indices])]

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}", f"    Split: {'Train' if self.train else 'Test'}"]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        return "\n".join(lines)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST, by default from Debian's dataset-fashion-mnist
    (/usr/share/datasets/fashion-mnist)."""

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
    default_root = FASHION_MNIST_ROOT

    def _how_to_get(self) -> str:
        return (
            "Install Debian's package with `apt-get install dataset-fashion-mnist` (it puts the four files in "
            f"{FASHION_MNIST_ROOT}; `make setup` does this), or pass root= a directory holding "
            "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
            "t10k-labels-idx1-ubyte.gz from the Fashion-MNIST release."
        )
