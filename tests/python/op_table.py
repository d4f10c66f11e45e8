"""The op table of issue 3: every op of the IR registry and every Python-level composite, once.

Each entry gives a name, one function ``fn(m, *tensors, **kwargs)`` that is called with
``m = dumbtorch`` and with ``m = torch`` (the APIs are the same, so one spelling serves both),
its cases (argument shapes and value domains, keyword arguments), the dtypes it supports, the
registry ops it exercises and whether it is differentiable. Both test_ops_vs_torch.py (forward
and gradients against PyTorch) and test_gradcheck.py (finite differences in f64) walk it, so
adding an op here adds all its tests.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

F = ("float32", "float64")
NUM = ("float32", "float64", "int64")
ANY = ("float32", "float64", "int64", "bool")
NP_DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "bool": np.bool_}


# --- values -----------------------------------------------------------------------------------

def values(rng: np.random.Generator, shape: tuple, dtype: str, domain: str) -> np.ndarray:
    """Random values of one domain:
    default   floats in [-2, 2); ints in [-9, 9]
    positive  floats in [0.2, 3); ints in [1, 9]       (log, sqrt, pow bases)
    nonzero   |floats| in [0.5, 2); ints in +-[1, 9]   (denominators)
    ties      small integers, so that equal values occur (comparisons, max/min ties)
    nan       default floats, about a third NaN        (NaN propagation)
    frac      n + f with f in [0.1, 0.9)               (floor: away from the jumps)
    zeros     default values, about a third exactly 0  (casts to bool)
    classes   ints in [0, 5)                           (one_hot)
    """
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype == "int64":
        lo, hi = {"positive": (1, 10), "ties": (-2, 3), "classes": (0, 5)}.get(domain, (-9, 10))
        v = rng.integers(lo, hi, size=shape)
        if domain == "nonzero":
            v = np.where(v == 0, 1, v)
        if domain == "zeros":
            v = np.where(rng.random(shape) < 0.3, 0, v)
        return np.asarray(v, dtype=np.int64)
    if domain == "positive":
        v = rng.uniform(0.2, 3.0, size=shape)
    elif domain == "nonzero":
        v = rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 2.0, size=shape)
    elif domain == "ties":
        v = rng.integers(-2, 3, size=shape).astype(np.float64)
    elif domain == "frac":
        v = rng.integers(-3, 3, size=shape) + rng.uniform(0.1, 0.9, size=shape)
    else:
        v = rng.uniform(-2.0, 2.0, size=shape)
        if domain == "nan":
            v = np.where(rng.random(shape) < 0.35, np.nan, v)
        elif domain == "zeros":
            v = np.where(rng.random(shape) < 0.35, 0.0, v)
    return np.asarray(v, dtype=NP_DTYPES[dtype])


@dataclass(frozen=True)
class Arg:
    """One tensor argument: its shape and where its values come from. kind "x" takes the
    entry's dtype under test; "bool" a random mask; "index" int64 in [0, high)."""

    shape: tuple
    kind: str = "x"
    domain: str | None = None
    high: int = 1
    low: int = 0

    def make(self, rng, dtype: str, entry_domain: str) -> np.ndarray:
        if self.kind == "bool":
            return rng.random(self.shape) < 0.5
        if self.kind == "index":
            return rng.integers(self.low, self.high, size=self.shape).astype(np.int64)
        return values(rng, self.shape, dtype, self.domain or entry_domain)


def X(*shape, domain=None) -> Arg:
    return Arg(tuple(shape), "x", domain)


def B(*shape) -> Arg:
    return Arg(tuple(shape), "bool")


def I(*shape, high, low=0) -> Arg:
    return Arg(tuple(shape), "index", high=high, low=low)


@dataclass(frozen=True)
class Case:
    args: tuple
    kwargs: dict = field(default_factory=dict)
    smooth: bool = True   # False at ties/kinks: PyTorch's convention is tested, not finite differences
    grad: bool = True     # False: forward only (NaN inputs)
    label: str = ""

    def id(self) -> str:
        if self.label:
            return self.label
        parts = ["x".join(_shape_str(a.shape) for a in self.args)]
        parts += [f"{k}={_kw_str(v)}" for k, v in self.kwargs.items()]
        return "-".join(parts)

    def arrays(self, entry: "Entry", dtype: str, seed_text: str) -> list[np.ndarray]:
        rng = np.random.default_rng(zlib.crc32(seed_text.encode()))
        return [a.make(rng, dtype, entry.domain) for a in self.args]


def _shape_str(s: tuple) -> str:
    return "(" + ",".join(str(d) for d in s) + ")"


def _kw_str(v) -> str:
    if isinstance(v, (tuple, list)):
        return "(" + ",".join(_kw_str(x) for x in v) + ")"
    if isinstance(v, slice):
        return ":".join("" if p is None else str(p) for p in (v.start, v.stop, v.step))
    if v is Ellipsis:
        return "..."
    return str(v)


@dataclass(frozen=True)
class Entry:
    name: str
    fn: Callable
    cases: tuple
    dtypes: tuple
    covers: tuple = ()      # registry ops this entry exercises (forward or backward)
    grad: bool = True       # differentiable (for its float dtypes)
    domain: str = "default"
    grad_dtypes: tuple = F  # the float dtypes whose gradients are tested (see softmax_large)


# --- shapes -----------------------------------------------------------------------------------

def _random_shape(rng, max_rank=4, max_numel=48) -> tuple:
    while True:
        rank = int(rng.integers(0, max_rank + 1))
        shape = tuple(int(d) for d in rng.integers(1, 5, size=rank))
        if int(np.prod(shape)) <= max_numel:
            return shape


def _random_broadcast_pair(rng) -> tuple:
    """Two shapes that broadcast: b is a suffix of a common full shape, and each side turns
    some dims into 1 independently."""
    while True:
        rank = int(rng.integers(1, 5))
        full = tuple(int(d) for d in rng.integers(2, 6, size=rank))
        if int(np.prod(full)) <= 120:
            break
    a = tuple(1 if rng.random() < 0.35 else d for d in full)
    b = tuple(1 if rng.random() < 0.35 else d for d in full[int(rng.integers(0, rank)):])
    return a, b


def _add_random(fixed: list, make, count: int) -> list:
    """`fixed` followed by `count` more distinct random items (one fixed seed)."""
    rng = np.random.default_rng(20240603)
    out = list(fixed)
    while len(out) < len(fixed) + count:
        item = make(rng)
        if item not in out:
            out.append(item)
    return out


# Odd lengths past a vector width ((67,), (3, 45), (5, 33)) exercise the JIT's vector loops and
# their remainders.
UNARY_SHAPES = _add_random([(), (1,), (5,), (3, 4), (2, 1, 3), (2, 3, 1, 2), (0, 3), (67,), (3, 45)],
                           _random_shape, 3)
BINARY_SHAPES = _add_random([((), ()), ((4,), ()), ((), (3, 2)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)),
                             ((1,), (2, 3)), ((2, 1, 3), (2, 4, 1)), ((5,), (5,)), ((0, 3), (3,)),
                             ((5, 33), (33,)), ((67,), (1,)), ((2, 17, 1), (1, 1, 19))],
                            _random_broadcast_pair, 6)
TERNARY_SHAPES = [((), (), ()), ((3, 4), (3, 4), (3, 4)), ((3, 1), (1, 4), ()), ((4,), (2, 1, 4), (2, 3, 1)),
                  ((2, 3), (3,), (1, 1))]


def unary_cases(extra=()) -> tuple:
    return tuple(Case((X(*s),)) for s in UNARY_SHAPES) + tuple(extra)


def binary_cases(domains=(None, None), extra=()) -> tuple:
    return tuple(Case((X(*a, domain=domains[0]), X(*b, domain=domains[1]))) for a, b in BINARY_SHAPES) + tuple(extra)


NAN_UNARY = (Case((X(3, 4, domain="nan"),), grad=False, label="(3,4)-nan"),)
NAN_BINARY = (Case((X(3, 4, domain="nan"), X(4, domain="nan")), grad=False, label="(3,4)x(4)-nan"),)
TIES_BINARY = (Case((X(3, 4, domain="ties"), X(3, 4, domain="ties")), smooth=False, label="(3,4)x(3,4)-ties"),)


def _reduce_cases(dims=True, zero_size=True, scalar_dim=True) -> tuple:
    cases = [Case((X(2, 3, 4),)), Case((X(),)), Case((X(5),))]
    if dims:
        cases += [Case((X(2, 3, 4),), {"dim": 0}), Case((X(2, 3, 4),), {"dim": -1, "keepdim": True}),
                  Case((X(2, 3, 4),), {"dim": (0, 2)}), Case((X(2, 3, 4),), {"dim": (0, 2), "keepdim": True}),
                  Case((X(3, 1, 4),), {"dim": 1}), Case((X(5),), {"dim": 0})]
        if scalar_dim:
            cases.append(Case((X(),), {"dim": 0}))
        if zero_size:
            cases.append(Case((X(0, 3),), {"dim": 0}))
        # Long reductions: accumulation order, vector loops, strided (dim=0) access.
        cases += [Case((X(40, 50),), {"dim": 1}), Case((X(40, 50),), {"dim": 0}), Case((X(1000),))]
    return tuple(cases)


def _dim_cases(with_keepdim=True) -> tuple:
    cases = [Case((X(3, 4),), {"dim": 1}), Case((X(2, 3, 4),), {"dim": 0}), Case((X(5),), {"dim": 0}),
             Case((X(2, 3, 4),), {"dim": -1})]
    if with_keepdim:
        cases.append(Case((X(2, 3, 4),), {"dim": 1, "keepdim": True}))
    return tuple(cases)


# --- the table --------------------------------------------------------------------------------

def _sum(m, x, **kw):
    return m.sum(x, **kw)


def _mean(m, x, **kw):
    return m.mean(x, **kw)


TABLE: list[Entry] = []


def entry(*args, **kwargs) -> None:
    TABLE.append(Entry(*args, **kwargs))


# Unary ops of the registry.
entry("neg", lambda m, x: -x, unary_cases(), NUM, ("neg",))
entry("exp", lambda m, x: m.exp(x), unary_cases(), F, ("exp",))
entry("log", lambda m, x: m.log(x), unary_cases(), F, ("log",), domain="positive")
entry("abs", lambda m, x: m.abs(x), unary_cases(NAN_UNARY), NUM, ("abs",))
entry("sqrt", lambda m, x: m.sqrt(x), unary_cases(), F, ("sqrt",), domain="positive")
entry("sigmoid", lambda m, x: m.sigmoid(x), unary_cases(), F, ("sigmoid",))
entry("tanh", lambda m, x: m.tanh(x), unary_cases(), F, ("tanh",))
entry("relu", lambda m, x: m.relu(x), unary_cases(NAN_UNARY), NUM, ("relu",))
entry("floor", lambda m, x: m.floor(x), unary_cases(), F, ("floor",), domain="frac")

# Binary ops of the registry, as operators and functions.
entry("add", lambda m, x, y: x + y, binary_cases(), NUM, ("add",))
entry("sub", lambda m, x, y: x - y, binary_cases(), NUM, ("sub",))
entry("mul", lambda m, x, y: x * y, binary_cases(), NUM, ("mul",))
entry("div", lambda m, x, y: x / y, binary_cases((None, "nonzero")), F, ("div",))
entry("pow", lambda m, x, y: x ** y, binary_cases(("positive", None)), F, ("pow",))
entry("maximum", lambda m, x, y: m.maximum(x, y), binary_cases(extra=TIES_BINARY + NAN_BINARY), NUM, ("maximum",))
entry("minimum", lambda m, x, y: m.minimum(x, y), binary_cases(extra=TIES_BINARY + NAN_BINARY), NUM, ("minimum",))

# Comparisons: forward only, on small integers so that equality happens.
_CMP_EXTRA = (Case((X(3, 4, domain="nan"), X(3, 4, domain="nan")), grad=False, label="(3,4)x(3,4)-nan"),)
for _name, _op in [("eq", lambda x, y: x == y), ("ne", lambda x, y: x != y), ("lt", lambda x, y: x < y),
                   ("le", lambda x, y: x <= y), ("gt", lambda x, y: x > y), ("ge", lambda x, y: x >= y)]:
    entry(_name, (lambda op: lambda m, x, y: op(x, y))(_op), binary_cases(extra=_CMP_EXTRA), ANY, (_name,),
          grad=False, domain="ties")

# where (registry op and the function), with broadcasting of all three.
entry("where", lambda m, c, x, y: m.where(c, x, y),
      tuple(Case((B(*c), X(*a), X(*b))) for c, a, b in TERNARY_SHAPES), ANY, ("where",))
entry("where_scalar", lambda m, c, x: m.where(c, x, 0.0), (Case((B(3, 4), X(4))), Case((B(), X(2, 3)))), F,
      ("where",))

# cast: Tensor.to(dtype), from every dtype to every dtype.
_CAST_CASES = (Case((X(3, 4),)), Case((X(),)), Case((X(2, 1, 3),)), Case((X(0, 2),)),
               Case((X(3, 4, domain="zeros"),), label="(3,4)-zeros"))
entry("to_float32", lambda m, x: x.to(m.float32), _CAST_CASES, ANY, ("cast",))
entry("to_float64", lambda m, x: x.to(m.float64), _CAST_CASES, ANY, ("cast",))
entry("to_int64", lambda m, x: x.to(m.int64), _CAST_CASES, ANY, ("cast",), grad=False)
entry("to_bool", lambda m, x: x.to(m.bool), _CAST_CASES, ANY, ("cast",), grad=False)

# matmul, including 1-D operands and broadcast batch dims.
_MATMUL = [((3, 4), (4, 5)), ((4,), (4,)), ((4,), (4, 3)), ((3, 4), (4,)), ((2, 3, 4), (4, 5)),
           ((2, 1, 3, 4), (3, 4, 2)), ((1, 4), (4, 1)), ((5, 1), (1, 3)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)),
           # past the register tiles and cache blocks, with ragged edges
           ((17, 33), (33, 19)), ((70, 65), (65, 33)), ((3, 9, 40), (40, 7)), ((130,), (130, 3))]
entry("matmul", lambda m, x, y: x @ y, tuple(Case((X(*a), X(*b))) for a, b in _MATMUL), NUM, ("matmul",))

# Reductions.
entry("sum", _sum, _reduce_cases(), NUM, ("sum",))
entry("mean", _mean, _reduce_cases(), F, ("mean",))
entry("max", lambda m, x: m.max(x), (Case((X(2, 3, 4),)), Case((X(),)), Case((X(5),)),
                                     Case((X(3, 4, domain="ties"),), smooth=False, label="(3,4)-ties"),
                                     Case((X(3, 4, domain="nan"),), grad=False, label="(3,4)-nan")), NUM, ("max",))
entry("min", lambda m, x: m.min(x), (Case((X(2, 3, 4),)), Case((X(),)), Case((X(5),)),
                                     Case((X(3, 4, domain="ties"),), smooth=False, label="(3,4)-ties"),
                                     Case((X(3, 4, domain="nan"),), grad=False, label="(3,4)-nan")), NUM, ("min",))
_AMAX_CASES = (Case((X(2, 3, 4),), {"dim": (0, 2)}), Case((X(2, 3, 4),), {"dim": 1, "keepdim": True}),
               Case((X(3, 4),), {"dim": (0, 1)}), Case((X(3, 4, domain="ties"),), {"dim": 1}, smooth=False,
                                                       label="(3,4)-dim=1-ties"))
entry("amax", lambda m, x, **kw: m.amax(x, **kw), _AMAX_CASES, NUM, ("max",))
entry("amin", lambda m, x, **kw: m.amin(x, **kw), _AMAX_CASES, NUM, ("min",))
entry("max_dim", lambda m, x, **kw: tuple(m.max(x, **kw)), _dim_cases(), NUM, ("max", "argmax"))
entry("min_dim", lambda m, x, **kw: tuple(m.min(x, **kw)), _dim_cases(), NUM, ("min", "argmax"))
entry("max_binary", lambda m, x, y: m.max(x, y), binary_cases()[:6], NUM, ("maximum",))
entry("min_binary", lambda m, x, y: m.min(x, y), binary_cases()[:6], NUM, ("minimum",))
entry("argmax", lambda m, x, **kw: m.argmax(x, **kw),
      (Case((X(2, 3, 4),)), Case((X(5),)), Case((X(),))) + _dim_cases() +
      (Case((X(3, 4, domain="ties"),), {"dim": 1}, label="(3,4)-dim=1-ties"),
       Case((X(3, 4, domain="ties"),), label="(3,4)-ties"),
       Case((X(3, 4, domain="nan"),), {"dim": 1}, label="(3,4)-dim=1-nan")), NUM, ("argmax",), grad=False)
entry("argmin", lambda m, x, **kw: m.argmin(x, **kw),
      (Case((X(2, 3, 4),)), Case((X(3, 4),), {"dim": 1}), Case((X(3, 4, domain="ties"),), {"dim": 0},
                                                             label="(3,4)-dim=0-ties")),
      NUM, ("argmax",), grad=False)

# Layout ops: views in eager mode.
_RESHAPES = [((2, 3, 4), (6, 4)), ((2, 3, 4), (-1,)), ((2, 3, 4), (4, -1)), ((), (1,)), ((1,), ()),
             ((3, 4), (2, 1, 6)), ((0, 3), (3, 0))]
entry("reshape", lambda m, x, shape: x.reshape(shape),
      tuple(Case((X(*a),), {"shape": b}) for a, b in _RESHAPES), ANY, ("reshape",))
entry("view", lambda m, x, shape: x.view(shape),
      tuple(Case((X(*a),), {"shape": b}) for a, b in _RESHAPES[:4]), ANY, ("reshape",))
entry("flatten", lambda m, x, **kw: m.flatten(x, **kw),
      (Case((X(2, 3, 4),)), Case((X(2, 3, 4),), {"start_dim": 1}), Case((X(),)),
       Case((X(2, 3, 4),), {"start_dim": 0, "end_dim": 1})), ANY, ("reshape",))
entry("squeeze", lambda m, x, **kw: x.squeeze(**kw),
      (Case((X(2, 1, 3, 1),)), Case((X(2, 1, 3, 1),), {"dim": 1}), Case((X(2, 1, 3),), {"dim": 0}),
       Case((X(1),)), Case((X(2, 1, 3, 1),), {"dim": -1})), ANY, ("reshape",))
entry("unsqueeze", lambda m, x, dim: x.unsqueeze(dim),
      (Case((X(2, 3),), {"dim": 0}), Case((X(2, 3),), {"dim": -1}), Case((X(),), {"dim": 0}),
       Case((X(2, 3),), {"dim": 1})), ANY, ("reshape",))
entry("transpose", lambda m, x, d0, d1: m.transpose(x, d0, d1),
      (Case((X(3, 4),), {"d0": 0, "d1": 1}), Case((X(2, 3, 4),), {"d0": 0, "d1": 2}),
       Case((X(2, 3, 4),), {"d0": -1, "d1": -2}), Case((X(5),), {"d0": 0, "d1": 0})), ANY, ("transpose",))
entry("T", lambda m, x: x.T, (Case((X(3, 4),)), Case((X(1, 3),))), ANY, ("transpose",))
entry("permute", lambda m, x, dims: x.permute(*dims),
      (Case((X(2, 3, 4),), {"dims": (2, 0, 1)}), Case((X(2, 3, 4),), {"dims": (1, 2, 0)}),
       Case((X(3, 4),), {"dims": (1, 0)}), Case((X(2, 3, 4, 1),), {"dims": (3, 1, 0, 2)})), ANY, ("permute",))
entry("expand", lambda m, x, shape: x.expand(*shape),
      (Case((X(3, 1),), {"shape": (3, 4)}), Case((X(4),), {"shape": (2, 3, 4)}), Case((X(),), {"shape": (2, 2)}),
       Case((X(1, 3),), {"shape": (-1, 3)}), Case((X(2, 1, 1),), {"shape": (2, 3, 4)})), ANY, ("broadcast_to",))
entry("broadcast_to", lambda m, x, shape: m.broadcast_to(x, shape),
      (Case((X(3, 1),), {"shape": (3, 4)}), Case((X(4),), {"shape": (2, 3, 4)}), Case((X(),), {"shape": (5,)})),
      ANY, ("broadcast_to",))

# Basic indexing and slicing (the slice op; its gradient is pad), and integer-tensor indexing
# (gather; its gradient is scatter_add).
_S = slice
_KEYS = [((5,), _S(1, 3)), ((4, 6), (_S(1, 3), _S(None, None, 2))), ((4, 6), (_S(None), 0)), ((4, 6), -1),
         ((2, 3, 4), (Ellipsis, 1)), ((4, 6), _S(2, 100)), ((5,), 1), ((4, 6), (1, -2)),
         ((2, 3, 4), (_S(None), _S(1, None), _S(None, None, 3))), ((3, 4), (None, _S(1, None))),
         ((6,), _S(None, None, 4)), ((4, 6), _S(3, 1)), ((5,), _S(-3, -1)), ((4, 6), (_S(None, -1), _S(-4, None, 3)))]
entry("getitem", lambda m, x, key: x[key], tuple(Case((X(*s),), {"key": k}) for s, k in _KEYS), ANY,
      ("slice", "pad", "reshape"))
entry("getitem_tensor", lambda m, x, i: x[i],
      (Case((X(5), I(3, high=5))), Case((X(4, 3), I(2, 2, high=4))), Case((X(4, 3), I(6, high=4))),
       Case((X(5), I(4, low=-5, high=5)), label="(5)x(4)-negative")), ANY,
      ("gather", "scatter_add"))
entry("getitem_tensor_dim1", lambda m, x, i: x[:, i], (Case((X(4, 3), I(5, high=3))),), NUM, ("gather", "scatter_add"))
entry("pad", lambda m, x, pad: m.nn.functional.pad(x, pad),
      (Case((X(2, 3),), {"pad": (1, 2)}), Case((X(2, 3),), {"pad": (1, 1, 0, 2)}), Case((X(4),), {"pad": (0, 3)}),
       Case((X(2, 3, 2),), {"pad": (0, 0, 2, 0, 1, 1)})), NUM, ("pad", "slice"))

# cat and stack (the concat op; its gradient slices).
_CAT = [(((2, 3), (4, 3)), 0), (((2, 3), (2, 1)), 1), (((2, 2), (2, 3), (2, 1)), -1), (((3,), (2,)), 0),
        (((2, 1, 3), (2, 2, 3)), 1), (((0, 3), (2, 3)), 0)]
entry("cat", lambda m, *xs, dim: m.cat(list(xs), dim=dim),
      tuple(Case(tuple(X(*s) for s in shapes), {"dim": d}) for shapes, d in _CAT), ANY, ("concat", "slice"))
_STACK = [(((2, 3), (2, 3)), 0), (((2, 3), (2, 3), (2, 3)), 1), (((4,), (4,)), -1), (((), ()), 0),
          (((2, 3), (2, 3)), 2)]
entry("stack", lambda m, *xs, dim: m.stack(list(xs), dim=dim),
      tuple(Case(tuple(X(*s) for s in shapes), {"dim": d}) for shapes, d in _STACK), ANY,
      ("concat", "reshape", "slice"))

# gather and scatter_add.
entry("gather", lambda m, x, i, dim: m.gather(x, dim, i),
      (Case((X(3, 4), I(2, 4, high=3)), {"dim": 0}), Case((X(3, 4), I(3, 2, high=4)), {"dim": 1}),
       Case((X(2, 3, 4), I(2, 3, 5, high=4)), {"dim": -1}), Case((X(3, 4), I(2, 2, high=4)), {"dim": 1}),
       Case((X(5), I(7, high=5)), {"dim": 0})), NUM, ("gather", "scatter_add"))
entry("scatter_add", lambda m, b, i, s, dim: m.scatter_add(b, dim, i, s),
      (Case((X(3, 4), I(2, 4, high=3), X(2, 4)), {"dim": 0}), Case((X(3, 4), I(3, 2, high=4), X(3, 2)), {"dim": 1}),
       # (A src larger than index is checked by tests/cpp/autodiff_test.cpp: torch's own
       # ScatterAddBackward0 rejects that shape, so it cannot be the oracle there.)
       Case((X(5), I(8, high=5), X(8)), {"dim": 0}), Case((X(2, 3, 4), I(2, 3, 2, high=4), X(2, 3, 2)), {"dim": 2})),
      NUM, ("scatter_add", "gather"))

# Python-level composites.
entry("clamp", lambda m, x, **kw: m.clamp(x, **kw),
      (Case((X(3, 4),), {"min": -0.5, "max": 0.5}), Case((X(3, 4),), {"min": 0.0}), Case((X(5),), {"max": 0.3}),
       Case((X(),), {"min": -1.0, "max": 1.0}), Case((X(2, 3),), {"min": -1, "max": 1})), F, ("maximum", "minimum"))
entry("clamp_int", lambda m, x, **kw: x.clamp(**kw),
      (Case((X(3, 4),), {"min": -2, "max": 3}), Case((X(5),), {"min": 0})), ("int64",), ("maximum", "minimum"))
_SOFT = (Case((X(3, 4),), {"dim": -1}), Case((X(3, 4),), {"dim": 0}), Case((X(2, 3, 4),), {"dim": 1}),
         Case((X(5),), {"dim": 0}), Case((X(1, 3),), {"dim": 0}), Case((X(8, 100),), {"dim": -1}))
entry("softmax", lambda m, x, dim: m.softmax(x, dim), _SOFT, F, ("exp", "sum", "max", "div"))
entry("log_softmax", lambda m, x, dim: m.log_softmax(x, dim), _SOFT, F, ("exp", "log", "sum", "max", "sub"))
# Logits up to 200 overflow exp in f32 unless softmax subtracts the max first. Gradients in f64
# only: with y ~ 1 the f32 gradient y (g - <g, y>) cancels to ~1e-7 of its terms, where PyTorch's
# own f32 result is 60% off the exact one, so f32 agreement would be luck, not a property.
entry("softmax_large", lambda m, x, dim: m.softmax(x * 100.0, dim), _SOFT[:2], F, ("exp", "max"),
      grad_dtypes=("float64",))
entry("logsumexp", lambda m, x, **kw: m.logsumexp(x, **kw),
      _SOFT[:4] + (Case((X(2, 3, 4),), {"dim": (0, 2)}), Case((X(3, 4),), {"dim": 1, "keepdim": True})), F,
      ("exp", "log", "sum", "max"))
_VAR = (Case((X(3, 4),)), Case((X(3, 4),), {"dim": 1}), Case((X(2, 3, 4),), {"dim": (0, 2), "keepdim": True}),
        Case((X(3, 4),), {"dim": 0, "unbiased": False}), Case((X(3, 4),), {"dim": 1, "correction": 0}),
        Case((X(5),), {"dim": 0, "keepdim": True}))
entry("var", lambda m, x, **kw: m.var(x, **kw), _VAR, F, ("mean", "sub", "mul", "sum", "div"))
entry("std", lambda m, x, **kw: m.std(x, **kw), _VAR, F, ("mean", "sqrt", "sum"))
entry("one_hot", lambda m, x, **kw: m.nn.functional.one_hot(x, **kw),
      (Case((X(6),), {"num_classes": 5}), Case((X(2, 3),), {"num_classes": 7}), Case((X(),), {"num_classes": 5}),
       Case((X(8),))), ("int64",), ("eq", "cast"), grad=False, domain="classes")
entry("floor_divide", lambda m, x, y: m.floor_divide(x, y), binary_cases((None, "nonzero"))[:8], NUM,
      ("floor", "div"), grad=False)
entry("floordiv_op", lambda m, x, y: x // y, (Case((X(3, 4), X(4, domain="nonzero"))),), NUM, ("floor", "div"),
      grad=False)
entry("floordiv_scalar", lambda m, x: x // 2, (Case((X(3, 4),)), Case((X(),))), NUM, ("floor", "div"), grad=False)

# Python scalars on either side, and pow with scalars.
_SC = (Case((X(3, 4),)), Case((X(),)), Case((X(5),)))
entry("add_scalar", lambda m, x: x + 2.5, _SC, F, ("add",))
entry("radd_scalar", lambda m, x: 2.5 + x, _SC, F, ("add",))
entry("sub_scalar", lambda m, x: x - 1.5, _SC, F, ("sub",))
entry("rsub_scalar", lambda m, x: 1.5 - x, _SC, F, ("sub",))
entry("mul_scalar", lambda m, x: x * 3.0, _SC, F, ("mul",))
entry("rmul_scalar", lambda m, x: 3.0 * x, _SC, F, ("mul",))
entry("div_scalar", lambda m, x: x / 4.0, _SC, F, ("div",))
entry("rdiv_scalar", lambda m, x: 2.0 / x, _SC, F, ("div",), domain="nonzero")
entry("int_scalar_ops", lambda m, x: (x + 3) * 2 - 1, _SC, ("int64",), ("add", "mul", "sub"))
entry("rsub_int_scalar", lambda m, x: 3 - x, _SC, ("int64",), ("sub",))
entry("int_true_divide", lambda m, x, y: x / y, (Case((X(3, 4), X(4, domain="nonzero"))),), ("int64",),
      ("div", "cast"), grad=False)
entry("pow_2", lambda m, x: x ** 2, _SC, F, ("pow",))
entry("pow_3", lambda m, x: m.pow(x, 3), _SC, F, ("pow",))
entry("pow_half", lambda m, x: x ** 0.5, _SC, F, ("pow",), domain="positive")
entry("pow_neg", lambda m, x: x.pow(-1.5), _SC, F, ("pow",), domain="positive")
entry("rpow", lambda m, x: 2.0 ** x, _SC, F, ("pow",))
entry("rpow_fn", lambda m, x: m.pow(2.0, x), _SC, F, ("pow",))
entry("pow_int", lambda m, x: x ** 2, _SC, ("int64",), ("pow",))

# Method and function spellings (one case each: the op itself is tested above).
_U1 = (Case((X(3, 4),)),)
_B1 = (Case((X(3, 4), X(4)),),)
for _name, _fn, _dom, _dtypes, _grad in [
        ("neg_fn", lambda m, x: m.neg(x), None, NUM, True), ("neg_method", lambda m, x: x.neg(), None, NUM, True),
        ("exp_method", lambda m, x: x.exp(), None, F, True), ("log_method", lambda m, x: x.log(), "positive", F, True),
        ("abs_method", lambda m, x: x.abs(), None, NUM, True), ("abs_op", lambda m, x: abs(x), None, NUM, True),
        ("sqrt_method", lambda m, x: x.sqrt(), "positive", F, True),
        ("sigmoid_method", lambda m, x: x.sigmoid(), None, F, True),
        ("tanh_method", lambda m, x: x.tanh(), None, F, True), ("relu_method", lambda m, x: x.relu(), None, NUM, True),
        ("relu_functional", lambda m, x: m.nn.functional.relu(x), None, F, True),
        ("sigmoid_functional", lambda m, x: m.nn.functional.sigmoid(x), None, F, True),
        ("floor_method", lambda m, x: x.floor(), "frac", F, True),
        ("sum_method", lambda m, x: x.sum(dim=1, keepdim=True), None, NUM, True),
        ("mean_method", lambda m, x: x.mean(dim=0), None, F, True),
        ("max_method", lambda m, x: x.max(), None, NUM, True),
        ("min_method", lambda m, x: x.min(), None, NUM, True),
        ("argmax_method", lambda m, x: x.argmax(dim=1), None, NUM, False),
        ("softmax_method", lambda m, x: x.softmax(-1), None, F, True),
        ("softmax_functional", lambda m, x: m.nn.functional.softmax(x, dim=-1), None, F, True),
        ("log_softmax_functional", lambda m, x: m.nn.functional.log_softmax(x, dim=1), None, F, True),
        ("logsumexp_method", lambda m, x: x.logsumexp(dim=1), None, F, True),
        ("var_method", lambda m, x: x.var(dim=0), None, F, True),
        ("std_method", lambda m, x: x.std(), None, F, True),
        ("clamp_method", lambda m, x: x.clamp(-0.5, 0.5), None, F, True),
        ("clip", lambda m, x: m.clip(x, -0.5, 0.5), None, F, True),
        ("flatten_method", lambda m, x: x.flatten(), None, ANY, True),
        ("reshape_fn", lambda m, x: m.reshape(x, (4, 3)), None, ANY, True),
        ("transpose_method", lambda m, x: x.transpose(0, 1), None, ANY, True),
        ("permute_fn", lambda m, x: m.permute(x, (1, 0)), None, ANY, True),
        ("squeeze_fn", lambda m, x: m.squeeze(m.unsqueeze(x, 1), 1), None, ANY, True),
        ("t_method", lambda m, x: x.t(), None, ANY, True),
        ("to_double", lambda m, x: x.double(), None, ANY, True),
        ("to_float", lambda m, x: x.float(), None, ANY, True),
        ("to_long", lambda m, x: x.long(), None, ANY, False),
        ("to_bool_method", lambda m, x: x.bool(), None, ANY, False),
]:
    entry(_name, _fn, (Case((X(3, 4, domain=_dom),)),), _dtypes, (), grad=_grad)
for _name, _fn, _dom, _dtypes, _grad in [
        ("add_fn", lambda m, x, y: m.add(x, y), None, NUM, True),
        ("add_method", lambda m, x, y: x.add(y), None, NUM, True),
        ("sub_fn", lambda m, x, y: m.sub(x, y), None, NUM, True),
        ("sub_method", lambda m, x, y: x.sub(y), None, NUM, True),
        ("mul_fn", lambda m, x, y: m.mul(x, y), None, NUM, True),
        ("mul_method", lambda m, x, y: x.mul(y), None, NUM, True),
        ("div_fn", lambda m, x, y: m.div(x, y), "nonzero", F, True),
        ("div_method", lambda m, x, y: x.div(y), "nonzero", F, True),
        ("pow_fn", lambda m, x, y: m.pow(x.abs() + 0.5, y), None, F, True),
        ("pow_method", lambda m, x, y: (x.abs() + 0.5).pow(y), None, F, True),
        ("maximum_method", lambda m, x, y: x.maximum(y), None, NUM, True),
        ("minimum_method", lambda m, x, y: x.minimum(y), None, NUM, True),
        ("eq_fn", lambda m, x, y: m.eq(x, y), "ties", ANY, False),
        ("ne_method", lambda m, x, y: x.ne(y), "ties", ANY, False),
        ("lt_fn", lambda m, x, y: m.lt(x, y), "ties", ANY, False),
        ("le_method", lambda m, x, y: x.le(y), "ties", ANY, False),
        ("gt_fn", lambda m, x, y: m.gt(x, y), "ties", ANY, False),
        ("ge_method", lambda m, x, y: x.ge(y), "ties", ANY, False),
        ("gt_scalar", lambda m, x, y: x > 0, "ties", NUM, False),
        ("le_scalar", lambda m, x, y: y <= 1, "ties", NUM, False),
        ("eq_scalar", lambda m, x, y: x == 1, "ties", NUM, False),
        ("where_method", lambda m, x, y: x.where(x > y, y), None, NUM, True),
]:
    entry(_name, _fn, (Case((X(3, 4, domain=_dom), X(4, domain=_dom))),), _dtypes, (),
          grad=_grad)
entry("matmul_fn", lambda m, x, y: m.matmul(x, y), (Case((X(3, 4), X(4, 2))),), NUM, ())
entry("matmul_method", lambda m, x, y: x.matmul(y), (Case((X(4,), X(4, 2))),), NUM, ())
entry("mm", lambda m, x, y: m.mm(x, y), (Case((X(3, 4), X(4, 2))),), NUM, ())
entry("gather_method", lambda m, x, i: x.gather(1, i), (Case((X(3, 4), I(3, 2, high=4))),), NUM, ())
entry("scatter_add_method", lambda m, b, i, s: b.scatter_add(0, i, s), (Case((X(3, 4), I(2, 4, high=3), X(2, 4))),),
      NUM, ())
entry("cat_tuple", lambda m, x, y: m.cat((x, y)), (Case((X(2, 3), X(1, 3))),), ANY, ())

# In-place operators on a non-leaf (recorded like their out-of-place forms).
def _inplace(op):
    def f(m, x, y):
        z = x * 1
        return op(z, y)
    return f


def _iadd(z, y):
    z += y
    return z


def _isub(z, y):
    z -= y
    return z


def _imul(z, y):
    z *= y
    return z


def _idiv(z, y):
    z /= y
    return z


_INPLACE = (Case((X(3, 4), X(4))), Case((X(2, 3), X(2, 1))), Case((X(5), X())))
entry("iadd", _inplace(_iadd), _INPLACE, NUM, ("add",))
entry("isub", _inplace(_isub), _INPLACE, NUM, ("sub",))
entry("imul", _inplace(_imul), _INPLACE, NUM, ("mul",))
entry("idiv", _inplace(_idiv), tuple(Case((c.args[0], X(*c.args[1].shape, domain="nonzero"))) for c in _INPLACE), F,
      ("div",))

# Strided (non-contiguous) views feeding kernels, and small chains.
entry("transposed_exp", lambda m, x: x.transpose(0, 1).exp(), (Case((X(3, 4),)), Case((X(2, 3, 4),))), F, ())
entry("transposed_add", lambda m, x, y: x.T + y, (Case((X(3, 4), X(3))), Case((X(4, 4), X(4, 4)))), NUM, ())
entry("sliced_sum", lambda m, x: x[:, ::2].sum(0), (Case((X(3, 5),)), Case((X(4, 6),))), NUM, ())
entry("expanded_mul", lambda m, x, y: x.expand(3, 4) * y, (Case((X(3, 1), X(3, 4))), Case((X(4), X(4)))), NUM, ())
entry("permuted_matmul", lambda m, x, y: x.permute(0, 2, 1) @ y, (Case((X(2, 4, 3), X(4, 5))),), NUM, ())
entry("sliced_matmul", lambda m, x, y: x[1:, ::2] @ y.T, (Case((X(4, 6), X(5, 3))),), NUM, ())
entry("mlp", lambda m, x, w, b: m.relu(x @ w + b).sum(dim=1).mean(),
      (Case((X(4, 3), X(3, 5), X(5))), Case((X(1, 2), X(2, 2), X(2)))), F, ())
entry("reused_input", lambda m, x: x * x + m.exp(x) * x, (Case((X(3, 4),)), Case((X(),))), F, ())
entry("tanh_chain", lambda m, x, y: m.tanh(m.sigmoid(x) * y - x.mean()), (Case((X(3, 4), X(4))),), F, ())


def registry_coverage() -> set[str]:
    """Registry ops the table exercises."""
    return {op for e in TABLE for op in e.covers}


def cases(dtypes_filter=None, grad_only=False):
    """(entry, dtype, case, id) for every case of the table."""
    out = []
    for e in TABLE:
        for d in e.dtypes:
            if dtypes_filter is not None and d not in dtypes_filter:
                continue
            if grad_only and not (e.grad and d in e.grad_dtypes):
                continue
            for c in e.cases:
                if grad_only and not c.grad:
                    continue
                out.append((e, d, c, f"{e.name}-{d}-{c.id()}"))
    return out
