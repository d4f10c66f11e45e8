"""dt.utils.data: Dataset, TensorDataset, Subset, samplers, default_collate and DataLoader.

Behaviour follows torch.utils.data in a single process: a DataLoader draws batches of indices
from a sampler (sequential, or a permutation when shuffle=True), fetches the samples and collates
them (tensors are stacked, numbers become int64/float64 tensors, tuples and dicts are collated
field by field). Shuffling uses a numpy Generator: the one passed as ``generator``, or one seeded
from dumbtorch's default generator each epoch, so dt.manual_seed makes the order reproducible.

A dataset may define ``_get_batch(indices)`` returning an already collated batch; the DataLoader
uses it when collate_fn is the default (TensorDataset and the MNIST datasets do, which avoids one
Python call and one stack per sample).
"""

from __future__ import annotations

import collections.abc
import math
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from .. import _C
from .._C import Tensor


def _dt():
    import dumbtorch as dt

    return dt


# --- datasets -------------------------------------------------------------------------------


class Dataset:
    """A map-style dataset: subclasses define __getitem__(index) and __len__()."""

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Sample i is (t[i] for t in tensors); every tensor must have the same first dimension."""

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        for t in tensors:
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: expected Tensors, got {type(t).__name__}")
            if t.dim() == 0:
                raise ValueError("TensorDataset: tensors must have a first (sample) dimension, got a 0-d tensor")
        n = tensors[0].shape[0]
        if any(t.shape[0] != n for t in tensors):
            raise ValueError(
                "Size mismatch between tensors: first dimensions "
                + ", ".join(str(t.shape[0]) for t in tensors)
            )
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def _get_batch(self, indices: np.ndarray):
        idx = _dt().from_numpy(np.ascontiguousarray(indices, dtype=np.int64))
        return [t[idx] for t in self.tensors]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)

    def __getattr__(self, name):
        if name == "_get_batch" and hasattr(self.__dict__.get("dataset"), "_get_batch"):
            inner = self.dataset._get_batch
            table = np.asarray(self.indices, dtype=np.int64)
            return lambda indices: inner(table[np.asarray(indices, dtype=np.int64)])
        raise AttributeError(f"'Subset' object has no attribute '{name}'")


class ConcatDataset(Dataset):
    """The samples of several datasets one after the other."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]))

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, idx: int):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        d = int(np.searchsorted(self.cumulative_sizes, idx, side="right"))
        start = 0 if d == 0 else int(self.cumulative_sizes[d - 1])
        return self.datasets[d][idx - start]


def random_split(dataset: Dataset, lengths: Sequence[int | float], generator=None) -> list[Subset]:
    """Splits into non-overlapping Subsets of the given lengths (or fractions summing to 1)."""
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    perm = _generator(generator).permutation(n)
    out, offset = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[offset:offset + length].tolist()))
        offset += length
    return out


# --- samplers -------------------------------------------------------------------------------


def _generator(generator) -> np.random.Generator:
    """The numpy Generator to draw from: the given one, or a fresh one seeded from dumbtorch's
    default generator (as PyTorch seeds a sampler's generator from the global one)."""
    if generator is None:
        from .._creation import default_generator

        seed = int(default_generator().integers(0, 2**63 - 1))
        return np.random.default_rng(seed)
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(
        f"generator must be a numpy.random.Generator (dumbtorch's generator type), got {type(generator).__name__}"
    )


class Sampler:
    """Yields dataset indices."""

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError


class SequentialSampler(Sampler):
    def __init__(self, data_source) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A new permutation of range(len(data_source)) each epoch (or num_samples draws with
    replacement)."""

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None, generator=None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={self.num_samples}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        g = _generator(self.generator)
        if self.replacement:
            return iter(g.integers(0, n, size=self.num_samples).tolist())
        out: list[int] = []
        for _ in range(self.num_samples // n):
            out += g.permutation(n).tolist()
        out += g.permutation(n).tolist()[: self.num_samples % n]
        return iter(out)

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups a sampler's indices into lists of batch_size (the last one shorter unless drop_last)."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else (n + self.batch_size - 1) // self.batch_size


# --- collation ------------------------------------------------------------------------------


def default_collate(batch: list):
    """Stacks a list of samples into a batch, as torch.utils.data.default_collate: tensors and
    ndarrays are stacked along a new dim 0, ints become an int64 tensor, floats a float64 one,
    strings stay a list, and tuples/lists/dicts are collated field by field."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _dt().stack(list(batch), 0)
    if isinstance(elem, np.ndarray):
        return _dt().stack([_dt().from_numpy(np.ascontiguousarray(b)) for b in batch], 0)
    if isinstance(elem, (bool, np.bool_)):
        return _dt().tensor([bool(b) for b in batch])
    if isinstance(elem, (int, np.integer)):
        return _dt().tensor([int(b) for b in batch], dtype=_C.int64)
    if isinstance(elem, (float, np.floating)):
        return _dt().tensor([float(b) for b in batch], dtype=_C.float64)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(
        f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {type(elem).__name__}"
    )


def default_convert(data):
    return data


# --- the loader -----------------------------------------------------------------------------


class DataLoader:
    """Iterates over ``dataset`` in batches (torch.utils.data.DataLoader's arguments).

    shuffle=True draws a new permutation each epoch from ``generator`` (a numpy Generator) or, by
    default, from a generator seeded by dumbtorch's default one. Loading runs in the calling
    process: num_workers, pin_memory and the worker options are accepted and have no effect.
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable | None = None, batch_sampler: Iterable | None = None,
                 num_workers: int = 0, collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor=None, persistent_workers: bool = False,
                 pin_memory_device: str = "") -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.generator = generator
        self._default_collate = collate_fn is None
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn

    def __iter__(self) -> Iterator[Any]:
        if self.batch_sampler is None:
            for idx in self.sampler:
                yield self.collate_fn(self.dataset[idx])
            return
        fast = self._default_collate and hasattr(self.dataset, "_get_batch")
        for indices in self.batch_sampler:
            if fast:
                yield self.dataset._get_batch(np.asarray(indices, dtype=np.int64))
            else:
                yield self.collate_fn([self.dataset[i] for i in indices])

    def __len__(self) -> int:
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)


__all__ = [
    "Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "Sampler", "SequentialSampler",
    "RandomSampler", "BatchSampler", "default_collate", "DataLoader",
]
