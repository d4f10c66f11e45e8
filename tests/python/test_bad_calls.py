"""The bad-call table (issue 7, item 1): each row is a call of the public Python API that must
raise an exception of the expected type whose message matches a regex naming what was expected
and what was given, and must never crash the interpreter.

Rows run in worker subprocesses (``python test_bad_calls.py --worker dt|torch``, row ids on stdin,
one JSON line per finished row on stdout), so a segfault or abort is a failed row, not a dead test
run. If a worker dies, every row it had not finished is rerun alone in its own subprocess to
pinpoint the crasher. Where PyTorch has the same API (``torch`` is SAME, or a code string of its
own), the same call is also run with ``dt`` bound to torch 2.13.0, and PyTorch must raise the same
exception type: the table's expected types are PyTorch's, not our own guesses.

To add a row: append ``Row(id, code, expected type name, message regex)`` to ROWS (a unique id;
pass ``torch=None`` when PyTorch has no equivalent call). ``code`` runs with ``dt``, ``np``, ``nn``
(dt.nn), ``F`` (dt.nn.functional) and the file makers ``_ckpt(kind)`` / ``_idx_dir(kind)`` /
``_ir(name)`` in scope.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

SAME = "same"
HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.join(os.path.dirname(os.path.dirname(HERE)), "python")


@dataclass(frozen=True)
class Row:
    id: str
    code: str
    exc: str  # the expected type's __name__ (matched anywhere in the raised type's MRO)
    match: str  # re.search over str(exception)
    torch: str | None = SAME  # SAME: run `code` with dt = torch; a string: torch's own code; None: no peer


# A 2x3 float tensor, a 3-vector, ... are built inline so each row reads on its own.
ROWS = [
    # --- creation ------------------------------------------------------------------------------
    Row("zeros_negative", "dt.zeros(2, -3)", "RuntimeError", r"negative dimension -3"),
    Row("ones_negative_tuple", "dt.ones((-1,))", "RuntimeError", r"negative dimension -1"),
    Row("empty_negative", "dt.empty(4, -2)", "RuntimeError", r"negative dimension -2"),
    Row("full_negative", "dt.full((2, -2), 1.0)", "RuntimeError", r"negative dimension -2"),
    Row("rand_negative", "dt.rand(-5)", "RuntimeError", r"negative dimension -5"),
    Row("randn_negative", "dt.randn(3, -1)", "RuntimeError", r"negative dimension -1"),
    Row("zeros_float_size", "dt.zeros(2.5, 3)", "TypeError", r"size.*float"),
    Row("zeros_str_size", "dt.zeros('a')", "TypeError", r"size.*str"),
    Row("ones_none_size", "dt.ones(2, None)", "TypeError", r"size.*NoneType"),
    Row("tensor_ragged", "dt.tensor([[1, 2], [3]])", "ValueError", r"inhomogeneous shape after 1 dimensions"),
    Row("tensor_ragged_deep", "dt.tensor([[[1.0], [2.0]], [[3.0]]])", "ValueError", r"inhomogeneous shape after 1 dimensions"),
    Row("tensor_string", "dt.tensor('abc')", "TypeError", r"could not infer the dtype of a str \(numpy dtype <U3\); expected numbers"),
    # PyTorch raises ValueError ("too many dimensions 'str'") for a list of str but TypeError for a str: ours
    # is a TypeError for both.
    Row("tensor_strings_list", "dt.tensor(['a', 'b'])", "TypeError", r"(?i)str|<U1", torch=None),
    Row("tensor_none", "dt.tensor(None)", "RuntimeError", r"could not infer the dtype of a NoneType"),
    Row("tensor_object", "dt.tensor(object())", "RuntimeError", r"could not infer the dtype of a object"),
    Row("tensor_bad_dtype", "dt.tensor([1, 2], dtype='float16')", "TypeError", r"dtype.*float16"),
    Row("tensor_dtype_int", "dt.tensor([1, 2], dtype=5)", "TypeError", r"argument 'dtype' must be a dumbtorch dtype .*, not 5"),
    Row("zeros_bad_dtype", "dt.zeros(2, dtype=np.float16)", "TypeError", r"dtype.*float16"),
    Row("arange_zero_step", "dt.arange(0, 10, 0)", "RuntimeError", r"step must be nonzero"),
    Row("arange_wrong_sign", "dt.arange(0, 10, -1)", "RuntimeError", r"(?i)upper bound and lower bound inconsistent with step sign"),
    Row("arange_nan", "dt.arange(0, float('nan'))", "RuntimeError", r"unsupported range: 0 -> nan"),
    Row("linspace_negative", "dt.linspace(0, 1, -2)", "RuntimeError", r"number of steps must be non-negative"),
    Row("eye_negative", "dt.eye(-2)", "RuntimeError", r"n must be greater or equal to 0, got -2"),
    Row("randint_empty_range", "dt.randint(5, 5, (3,))", "RuntimeError", r"from=5 >= to=5"),
    Row("full_like_not_tensor", "dt.full_like([1, 2], 3)", "TypeError", r"Tensor.*list"),
    Row("zeros_like_not_tensor", "dt.zeros_like(3.0)", "TypeError", r"Tensor.*float"),
    Row("from_numpy_list", "dt.from_numpy([1, 2])", "TypeError", r"(?i)ndarray.*list|expected np.ndarray"),
    Row("from_numpy_complex", "dt.from_numpy(np.ones(2, dtype=np.complex64))", "TypeError", r"complex64", torch=None),
    # PyTorch's manual_seed calls int('x') (a ValueError); the call is still wrong by type.
    Row("manual_seed_str", "dt.manual_seed('x')", "TypeError", r"(?i)int.*str|str.*int", torch=None),
    # --- sizes that overflow int64 or any memory ------------------------------------------------
    Row("zeros_overflow", "dt.zeros(2**31, 2**31)", "RuntimeError", r"\[2147483648,2147483648\] has more than 2\^56 elements"),
    Row("full_overflow", "dt.full((2**32, 2**32), 1.0)", "RuntimeError", r"has more than 2\^56 elements"),
    # PyTorch fails to unpack the int (a TypeError); ours says it does not fit (a ValueError).
    Row("empty_size_too_large", "dt.empty(2**63)", "RuntimeError", r"too large: 9223372036854775808", torch=None),
    Row("eye_overflow", "dt.eye(2**32)", "RuntimeError", r"\[4294967296,4294967296\] has more than 2\^56 elements"),
    Row("reshape_overflow", "dt.ones(6).reshape(2**62, 2**62)", "RuntimeError", r"too many elements"),
    Row("reshape_zero_overflow", "dt.ones(0).reshape(2**62, 2**62, 0)", "RuntimeError", r"too many elements"),
    Row("expand_overflow", "dt.ones(1).expand(2**40, 2**40)", "RuntimeError", r"has more than 2\^56 elements"),
    Row("pad_overflow", "F.pad(dt.ones(2), (2**62, 2**62))", "RuntimeError", r"more than 2\^56 elements", torch=None),
    Row("pad_negative_overflow", "F.pad(dt.ones(2), (-2**62, 0))", "RuntimeError", r"negative output size"),
    # PyTorch: "Overflow when unpacking long long" (a ValueError); numpy and ours: an IndexError.
    Row("index_huge_int", "dt.ones(3)[2**70]", "IndexError", r"index 1180591620717411303424 is out of bounds", torch=None),
    Row("sum_dim_int64_max", "dt.ones(2, 3).sum(2**63 - 1)", "IndexError", r"axis 9223372036854775807 is out of range.*-2 to 1"),
    Row("gather_index_huge", "dt.gather(dt.ones(3), 0, dt.tensor([2**62]))", "RuntimeError", r"index 4611686018427387904 is out of bounds for dimension 0 with size 3"),
    Row("index_tensor_int64_min", "dt.ones(3)[dt.tensor([-2**63])]", "IndexError", r"index -9223372036854775808 is out of bounds"),
    # --- elementwise and broadcasting -----------------------------------------------------------
    Row("add_broadcast", "dt.ones(2, 3) + dt.ones(4)", "RuntimeError", r"add: shapes f32\[2,3\] and f32\[4\] do not broadcast"),
    Row("sub_broadcast", "dt.ones(2, 3) - dt.ones(2, 2)", "RuntimeError", r"sub: shapes f32\[2,3\] and f32\[2,2\] do not broadcast"),
    Row("mul_broadcast_3d", "dt.ones(2, 3, 4) * dt.ones(3, 3, 4)", "RuntimeError", r"mul: shapes f32\[2,3,4\] and f32\[3,3,4\] do not broadcast"),
    Row("div_broadcast", "dt.div(dt.ones(5), dt.ones(3))", "RuntimeError", r"div: shapes f32\[5\] and f32\[3\] do not broadcast"),
    Row("maximum_broadcast", "dt.maximum(dt.ones(2), dt.ones(3))", "RuntimeError", r"maximum: shapes f32\[2\] and f32\[3\] do not broadcast"),
    Row("where_broadcast", "dt.where(dt.ones(2) > 0, dt.ones(3), dt.ones(2))", "RuntimeError", r"where: shapes f32\[3\] and f32\[2\] do not broadcast"),
    Row("eq_broadcast", "dt.ones(4) == dt.ones(5)", "RuntimeError", r"eq: shapes f32\[4\] and f32\[5\] do not broadcast"),
    Row("add_string", "dt.ones(2) + 'a'", "TypeError", r"unsupported operand type\(s\) for \+: .*Tensor' and 'str'"),
    Row("add_none", "dt.ones(2) + None", "TypeError", r"NoneType"),
    Row("add_list_of_str", "dt.add(dt.ones(2), ['x'])", "TypeError", r"argument 'other' must be Tensor or Number, not list"),
    Row("add_missing_arg", "dt.add(dt.ones(2))", "TypeError", r"(?i)other|incompatible function arguments"),
    Row("inplace_broadcast_grow", "dt.ones(3).add_(dt.ones(2, 3))", "RuntimeError", r"output with shape \[3\] doesn't match the broadcast shape \[2,3\]"),
    Row("inplace_float_into_int", "dt.ones(3, dtype=dt.int64).add_(dt.ones(3))", "RuntimeError", r"result type Float can't be cast to the desired output type Long"),
    Row("logical_not_str", "dt.logical_not('a')", "TypeError", r"Tensor.*str"),
    Row("exp_of_list", "dt.exp([1.0, 2.0])", "TypeError", r"Tensor.*list"),
    Row("bitwise_float_and", "dt.ones(2) & dt.ones(2)", "RuntimeError", r"only bool tensors are supported \(bitwise operations on Float"),
    Row("remainder_int_zero", "dt.remainder(dt.tensor([3]), dt.tensor([0]))", "RuntimeError", r"ZeroDivisionError"),
    Row("floor_divide_int_zero", "dt.floor_divide(dt.tensor([3]), 0)", "RuntimeError", r"ZeroDivisionError"),
    Row("clamp_no_bounds", "dt.clamp(dt.ones(2))", "RuntimeError", r"(?i)at least one of .min. or .max."),
    Row("clamp_str_bound", "dt.clamp(dt.ones(2), min='a')", "TypeError", r"argument 'min' must be Tensor or Number, not str"),
    Row("pow_str", "dt.ones(2) ** 'a'", "TypeError", r"unsupported operand type\(s\) for \*\* or pow\(\): .*'str'"),
    # --- reductions and dims --------------------------------------------------------------------
    Row("sum_dim_out_of_range", "dt.ones(2, 3).sum(5)", "IndexError", r"axis 5 is out of range for a tensor of rank 2 \(expected -2 to 1\)"),
    Row("sum_dim_negative_out", "dt.ones(2, 3).sum(-3)", "IndexError", r"axis -3 is out of range for a tensor of rank 2 \(expected -2 to 1\)"),
    Row("sum_dim_repeated", "dt.ones(2, 3).sum((0, 0))", "RuntimeError", r"(?i)(dim|axis) 0 appears (twice|multiple times)"),
    Row("mean_int", "dt.tensor([1, 2]).mean()", "RuntimeError", r"Input dtype must be either a floating point or complex dtype. Got: Long"),
    Row("mean_dim_out", "dt.ones(3).mean(1)", "IndexError", r"axis 1 is out of range for a tensor of rank 1 \(expected -1 to 0\)"),
    Row("max_dim_out", "dt.ones(2, 3).max(2)", "IndexError", r"axis 2 is out of range for a tensor of rank 2 \(expected -2 to 1\)"),
    Row("max_empty", "dt.ones(0).max()", "RuntimeError", r"Expected reduction dim to be specified for input.numel\(\) == 0"),
    Row("argmax_dim_out", "dt.ones(2).argmax(3)", "IndexError", r"axis 3 is out of range for a tensor of rank 1"),
    Row("argmax_empty", "dt.ones(0).argmax()", "IndexError", r"Expected reduction dim to be specified for input.numel\(\) == 0"),
    Row("amax_empty_dim", "dt.ones(0, 3).amax(0)", "IndexError", r"Expected reduction dim 0 to have non-zero size"),
    Row("softmax_dim_out", "dt.softmax(dt.ones(2, 3), 2)", "IndexError", r"axis 2 is out of range for a tensor of rank 2"),
    Row("log_softmax_dim_out", "dt.log_softmax(dt.ones(3), -2)", "IndexError", r"axis -2 is out of range for a tensor of rank 1 \(expected -1 to 0\)"),
    Row("logsumexp_dim_out", "dt.logsumexp(dt.ones(2), 4)", "IndexError", r"axis 4 is out of range for a tensor of rank 1"),
    Row("var_dim_out", "dt.ones(2, 2).var(3)", "IndexError", r"axis 3 is out of range for a tensor of rank 2"),
    Row("sum_dim_str", "dt.ones(2).sum('a')", "TypeError", r"argument 'dim' must be int, not str"),
    Row("softmax_int", "dt.softmax(dt.tensor([1, 2]), 0)", "RuntimeError", r"softmax: expected a floating point tensor, got Long"),
    Row("log_extra_arg", "dt.log(dt.ones(2), dt.ones(2))", "TypeError", r"(?i)incompatible function arguments|argument"),
    # --- shape ops ------------------------------------------------------------------------------
    Row("reshape_numel", "dt.ones(2, 3).reshape(4, 2)", "RuntimeError", r"f32\[2,3\] \(6 elements\) to \[4,2\] \(8 elements\)"),
    Row("reshape_two_infer", "dt.ones(6).reshape(-1, -1)", "RuntimeError", r"only one size may be -1, got \[-1,-1\]"),
    Row("reshape_infer_bad", "dt.ones(6).reshape(-1, 4)", "RuntimeError", r"cannot reshape f32\[6\] \(6 elements\) to \[-1,4\]"),
    Row("reshape_negative", "dt.ones(6).reshape(-2, 3)", "RuntimeError", r"invalid size in \[-2,3\]"),
    Row("view_numel", "dt.ones(6).view(7)", "RuntimeError", r"cannot reshape f32\[6\] \(6 elements\) to \[7\] \(7 elements\)"),
    Row("permute_repeat", "dt.ones(2, 3).permute(0, 0)", "RuntimeError", r"dims \[0,0\] is not a permutation"),
    Row("permute_count", "dt.ones(2, 3).permute(0)", "RuntimeError", r"dims has 1 entries but the operand has rank 2"),
    Row("permute_out_of_range", "dt.ones(2, 3).permute(0, 2)", "IndexError", r"axis 2 is out of range for a tensor of rank 2"),
    Row("transpose_out_of_range", "dt.ones(2, 3).transpose(0, 2)", "IndexError", r"axis 2 is out of range for a tensor of rank 2"),
    Row("t_3d", "dt.ones(2, 3, 4).t()", "RuntimeError", r"t\(\) expects a tensor with <= 2 dimensions, but self is 3D"),
    Row("squeeze_out_of_range", "dt.ones(2, 1).squeeze(2)", "IndexError", r"axis 2 is out of range for a tensor of rank 2"),
    Row("unsqueeze_out_of_range", "dt.ones(2).unsqueeze(3)", "IndexError", r"axis 3 is out of range for a tensor of rank 2"),
    Row("flatten_bad_range", "dt.ones(2, 3, 4).flatten(2, 1)", "RuntimeError", r"start_dim cannot come after end_dim"),
    Row("flatten_out_of_range", "dt.ones(2, 3).flatten(0, 5)", "IndexError", r"axis 5 is out of range for a tensor of rank 2"),
    Row("broadcast_to_bad", "dt.ones(3).broadcast_to((2, 4))", "RuntimeError", r"cannot broadcast f32\[3\] to \[2,4\]"),
    Row("broadcast_to_fewer_dims", "dt.ones(2, 3).broadcast_to((3,))", "RuntimeError", r"cannot broadcast f32\[2,3\] to \[3\]"),
    Row("cat_mismatch", "dt.cat([dt.ones(2, 3), dt.ones(2, 4)], 0)", "RuntimeError", r"Expected size 3 but got size 4 for tensor number 1 .*\(f32\[2,3\] and f32\[2,4\]\)"),
    Row("cat_rank_mismatch", "dt.cat([dt.ones(2, 3), dt.ones(3)])", "RuntimeError", r"same number of dimensions: got 2 and 1"),
    Row("cat_empty_list", "dt.cat([])", "ValueError", r"expected a non-empty list of Tensors"),
    Row("cat_dim_out", "dt.cat([dt.ones(2), dt.ones(2)], 1)", "IndexError", r"axis 1 is out of range for a tensor of rank 1"),
    Row("cat_not_tensors", "dt.cat([dt.ones(2), 3])", "TypeError", r"argument 'tensors' must be Tensor, not int"),
    Row("cat_dtype_mix_ok_but_str", "dt.cat('ab')", "TypeError", r"must be a Tensor or a sequence of Tensors, not str"),
    Row("stack_mismatch", "dt.stack([dt.ones(2), dt.ones(3)])", "RuntimeError", r"equal size, but got \[2\] at entry 0 and \[3\] at entry 1"),
    Row("stack_empty", "dt.stack([])", "RuntimeError", r"stack expects a non-empty TensorList"),
    Row("stack_dim_out", "dt.stack([dt.ones(2), dt.ones(2)], 3)", "IndexError", r"axis 3 is out of range for a tensor of rank 2"),
    Row("one_hot_float", "F.one_hot(dt.tensor([0.0, 1.0]))", "RuntimeError", r"only applicable to index tensor of type LongTensor"),
    Row("one_hot_negative", "F.one_hot(dt.tensor([-1, 0]), 3)", "RuntimeError", r"Class values must be non-negative"),
    Row("one_hot_too_big", "F.one_hot(dt.tensor([0, 5]), 3)", "RuntimeError", r"Class values must be smaller than num_classes"),
    Row("pad_odd", "F.pad(dt.ones(2, 3), (1,))", "RuntimeError", r"Padding length must be divisible by 2, got 1"),
    Row("pad_too_long", "F.pad(dt.ones(3), (1, 1, 1, 1))", "RuntimeError", r"padding length 4 and input of dimension 1"),
    # --- indexing -------------------------------------------------------------------------------
    Row("index_int_out", "dt.ones(3)[3]", "IndexError", r"index 3 is out of bounds for dimension 0 with size 3"),
    Row("index_neg_out", "dt.ones(3)[-4]", "IndexError", r"index -4 is out of bounds for dimension 0 with size 3"),
    Row("index_too_many", "dt.ones(3)[0, 0]", "IndexError", r"too many indices for tensor of dimension 1"),
    Row("index_0d", "dt.tensor(1.0)[0]", "IndexError", r"too many indices for tensor of dimension 0"),
    Row("index_float_tensor", "dt.ones(3)[dt.tensor([0.0, 1.0])]", "IndexError", r"must be long, int, byte or bool tensors, got Float"),
    Row("index_tensor_out", "dt.ones(3)[dt.tensor([0, 3])]", "IndexError", r"index 3 is out of bounds for dimension 0 with size 3"),
    Row("index_bool_mask_shape", "dt.ones(3)[dt.tensor([True, False])]", "IndexError", r"The shape of the mask \[2\] at index 0 does not match the shape of the indexed tensor \[3\]"),
    Row("index_str", "dt.ones(3)['a']", "TypeError", r"valid indices \(got str\)"),
    Row("index_float", "dt.ones(3)[1.5]", "IndexError", r"valid indices \(got float\)"),
    Row("setitem_out", "t = dt.ones(3); t[5] = 1.0", "IndexError", r"index 5 is out of bounds"),
    Row("setitem_shape", "t = dt.ones(2, 3); t[0] = dt.ones(4)", "RuntimeError", r"value tensor of shape \[4\] cannot be broadcast to indexing result of shape \[3\]"),
    Row("slice_step_zero", "dt.ones(5)[::0]", "ValueError", r"step must be greater than zero"),
    Row("slice_step_negative", "dt.ones(5)[::-1]", "ValueError", r"step must be greater than zero"),
    Row("gather_float_index", "dt.gather(dt.ones(2, 3), 1, dt.tensor([[0.0]]))", "RuntimeError", r"Expected dtype int64 for index, got Float"),
    Row("gather_out_of_range", "dt.gather(dt.ones(2, 3), 1, dt.tensor([[0], [3]]))", "RuntimeError", r"index 3 is out of bounds for dimension 1 with size 3"),
    Row("gather_rank", "dt.gather(dt.ones(2, 3), 1, dt.tensor([0, 1]))", "RuntimeError", r"same number of dimensions as input tensor \(input f32\[2,3\], index i64\[2\]\)"),
    Row("gather_dim_out", "dt.gather(dt.ones(2, 3), 2, dt.tensor([[0]]))", "IndexError", r"axis 2 is out of range for a tensor of rank 2"),
    Row("scatter_add_float_index", "dt.scatter_add(dt.zeros(3), 0, dt.tensor([0.5]), dt.ones(1))", "RuntimeError", r"Expected dtype int64 for index, got Float"),
    Row("item_many", "dt.ones(3).item()", "RuntimeError", r"a Tensor with 3 elements cannot be converted to Scalar"),
    Row("int_many", "int(dt.ones(2))", "ValueError", r"only one element tensors can be converted to Python scalars"),
    Row("bool_many", "bool(dt.ones(2))", "RuntimeError", r"Boolean value of Tensor with more than one value is ambiguous"),
    Row("iter_0d", "list(iter(dt.tensor(1.0)))", "TypeError", r"(?i)iteration over a 0-d tensor"),
    Row("len_0d", "len(dt.tensor(1.0))", "TypeError", r"(?i)len\(\) of a 0-d tensor"),
    # --- matmul ---------------------------------------------------------------------------------
    Row("matmul_inner", "dt.ones(2, 3) @ dt.ones(4, 2)", "RuntimeError", r"lhs f32\[2,3\] has 3 columns but rhs f32\[4,2\] has 4 rows"),
    Row("matmul_vec", "dt.matmul(dt.ones(3), dt.ones(4))", "RuntimeError", r"expected tensor \[3\] and src \[4\] .* got 3 and 4 elements"),
    Row("matmul_batched_broadcast", "dt.ones(2, 2, 3) @ dt.ones(3, 3, 2)", "RuntimeError", r"batch dims of f32\[2,2,3\] and f32\[3,3,2\] do not broadcast"),
    Row("matmul_scalar", "dt.matmul(dt.tensor(1.0), dt.ones(2))", "RuntimeError", r"at least 1D, but they are 0D and 1D"),
    Row("mm_3d", "dt.mm(dt.ones(2, 2, 2), dt.ones(2, 2))", "RuntimeError", r"self must be a matrix \(2-D\), got a 3-D tensor"),
    Row("matmul_dtype_mix", "dt.ones(2, 2) @ dt.ones(2, 2, dtype=dt.int64)", "RuntimeError", r"same dtype, but got: Float != Long"),
    Row("matmul_bool", "dt.ones(2, 2, dtype=dt.bool) @ dt.ones(2, 2, dtype=dt.bool)", "RuntimeError", r"matmul is not supported for bool tensors"),
    # --- dtype ----------------------------------------------------------------------------------
    Row("to_bad_dtype", "dt.ones(2).to('float16')", "RuntimeError", r"expected a dtype, a tensor or 'cpu', got 'float16'"),
    Row("to_int_arg", "dt.ones(2).to(3)", "RuntimeError", r"expected a dtype, a tensor or 'cpu', got 3"),
    Row("type_promotion_inplace_bool", "dt.ones(2, dtype=dt.bool).add_(dt.ones(2))", "RuntimeError", r"result type Float can't be cast to the desired output type Bool"),
    # --- autograd -------------------------------------------------------------------------------
    Row("backward_non_scalar", "x = dt.ones(3, requires_grad=True); (x * 2).backward()", "RuntimeError", r"grad can be implicitly created only for scalar outputs"),
    Row("backward_twice", "x = dt.ones(3, requires_grad=True); y = (x * x).sum(); y.backward(); y.backward()", "RuntimeError", r"(?i)backward through the graph a second time"),
    Row("backward_no_grad", "dt.ones(3).sum().backward()", "RuntimeError", r"(?i)does not require grad"),
    Row("requires_grad_int", "dt.tensor([1, 2]).requires_grad_()", "RuntimeError", r"(?i)only Tensors of floating point.*can require gradients"),
    Row("requires_grad_int_ctor", "dt.ones(2, dtype=dt.int64, requires_grad=True)", "RuntimeError", r"(?i)only Tensors of floating point.*can require gradients"),
    Row("backward_bad_grad_shape", "x = dt.ones(3, requires_grad=True); (x * 2).backward(dt.ones(4))", "RuntimeError", r"grad_output\[0\] is f32\[4\] and output\[0\] is f32\[3\]"),
    Row("grad_of_nonleaf_unused", "x = dt.ones(2, requires_grad=True); y = dt.ones(2, requires_grad=True); dt.autograd.grad((x * 2).sum(), [y])", "RuntimeError", r"\(input 0\) appears to not have been used in the graph"),
    Row("grad_no_grad_output", "x = dt.ones(2, requires_grad=True); dt.autograd.grad(dt.ones(2).sum(), [x])", "RuntimeError", r"(?i)does not require grad"),
    Row("inplace_on_leaf", "x = dt.ones(2, requires_grad=True); x.add_(1.0)", "RuntimeError", r"(?i)leaf Variable that requires grad.*in-place"),
    # --- nn -------------------------------------------------------------------------------------
    Row("linear_in_features", "nn.Linear(3, 2)(dt.ones(4, 5))", "RuntimeError", r"input has 5 features in its last dim but weight expects 3"),
    Row("linear_negative_features", "nn.Linear(-1, 2)", "RuntimeError", r"in_features must be non-negative, got -1"),
    Row("linear_float_features", "nn.Linear(2.5, 2)", "TypeError", r"in_features must be an int, got 2.5 \(float\)"),
    Row("linear_str_input", "nn.Linear(2, 2)('x')", "TypeError", r"argument 'input' must be Tensor, not str"),
    Row("linear_int_input", "nn.Linear(2, 2)(dt.ones(1, 2, dtype=dt.int64))", "RuntimeError", r"same dtype, but got: Long != Float"),
    Row("linear_0d_input", "nn.Linear(2, 2)(dt.tensor(1.0))", "RuntimeError", r"both arguments to linear need to be at least 1D, but they are 0D and 2D"),
    Row("sequential_bad_child", "nn.Sequential(nn.ReLU(), 3)", "TypeError", r"int is not a Module subclass"),
    Row("sequential_index", "nn.Sequential(nn.ReLU())[3]", "IndexError", r"(?i)index 3 is out of range"),
    Row("module_list_bad", "nn.ModuleList([nn.ReLU(), 'x'])", "TypeError", r"str is not a Module subclass"),
    Row("add_module_dot", "m = nn.Module(); m.add_module('a.b', nn.ReLU())", "KeyError", r'contain "\.", got: a\.b'),
    Row("register_buffer_bad", "m = nn.Module(); m.register_buffer('b', 3)", "TypeError", r"cannot assign 'int' object to buffer 'b'"),
    Row("register_parameter_bad", "m = nn.Module(); m.register_parameter('p', dt.ones(2))", "TypeError", r"(?i)cannot assign '.*Tensor' object to parameter 'p'"),
    Row("dropout_p", "nn.Dropout(1.5)", "ValueError", r"dropout probability has to be between 0 and 1, but got 1\.5"),
    Row("dropout_fn_p", "F.dropout(dt.ones(2), -0.1)", "ValueError", r"dropout probability has to be between 0 and 1, but got -0\.1"),
    Row("embedding_out_of_range", "nn.Embedding(3, 2)(dt.tensor([0, 3]))", "IndexError", r"index 3 is out of range for 3 embeddings"),
    Row("embedding_float_index", "nn.Embedding(3, 2)(dt.tensor([0.0]))", "RuntimeError", r"indices must be int64, got dumbtorch.float32"),
    Row("gelu_approx_bad", "F.gelu(dt.ones(2), approximate='fast')", "RuntimeError", r"approximate must be 'none' or 'tanh', got 'fast'"),
    Row("flatten_module_bad", "nn.Flatten(3)(dt.ones(2, 3))", "IndexError", r"axis 3 is out of range for a tensor of rank 2"),
    Row("load_state_dict_missing", "m = nn.Linear(2, 2); m.load_state_dict({'weight': dt.ones(2, 2)})", "RuntimeError", r"Missing key\(s\) in state_dict: \"bias\""),
    Row("load_state_dict_unexpected", "m = nn.Linear(2, 2); m.load_state_dict({'weight': dt.ones(2, 2), 'bias': dt.ones(2), 'zz': dt.ones(1)})", "RuntimeError", r"Unexpected key\(s\) in state_dict: \"zz\""),
    Row("load_state_dict_shape", "m = nn.Linear(2, 2); m.load_state_dict({'weight': dt.ones(3, 2), 'bias': dt.ones(2)})", "RuntimeError", r"size mismatch for weight: copying a param with shape .*\[3, 2\].* the shape in current model is .*\[2, 2\]"),
    Row("load_state_dict_not_mapping", "nn.Linear(2, 2).load_state_dict([1, 2])", "TypeError", r"(?i)Expected state_dict to be dict-like, got .*list"),
    # --- losses ---------------------------------------------------------------------------------
    Row("ce_target_batch", "F.cross_entropy(dt.ones(4, 3), dt.tensor([0, 1]))", "ValueError", r"Expected input batch_size \(4\) to match target batch_size \(2\)"),
    Row("ce_target_float_shape", "F.cross_entropy(dt.ones(4, 3), dt.ones(4, 2))", "RuntimeError", r"probability target must have the input's shape \[4, 3\], got \[4, 2\]"),
    Row("ce_target_out_of_range", "F.cross_entropy(dt.ones(2, 3), dt.tensor([0, 3]))", "IndexError", r"Target 3 is out of bounds"),
    Row("ce_target_negative", "F.cross_entropy(dt.ones(2, 3), dt.tensor([0, -2]))", "IndexError", r"Target -2 is out of bounds"),
    Row("ce_target_bool", "F.cross_entropy(dt.ones(2, 3), dt.tensor([True, False]))", "RuntimeError", r"class-index target must be int64, got dumbtorch.bool"),
    Row("ce_0d_input", "F.cross_entropy(dt.tensor(1.0), dt.tensor(0))", "RuntimeError", r"at least 1 dimension.*0-d"),
    Row("ce_reduction_bad", "F.cross_entropy(dt.ones(2, 3), dt.tensor([0, 1]), reduction='avg')", "ValueError", r"avg is not a valid value for reduction"),
    Row("ce_label_smoothing_bad", "F.cross_entropy(dt.ones(2, 3), dt.tensor([0, 1]), label_smoothing=2.0)", "RuntimeError", r"label_smoothing must be between 0\.0 and 1\.0\. Got: 2"),
    Row("ce_weight_shape", "F.cross_entropy(dt.ones(2, 3), dt.tensor([0, 1]), weight=dt.ones(2))", "RuntimeError", r"weight tensor should be defined either for all 3 classes or no classes but got weight tensor of shape: \[2\]"),
    Row("nll_target_dtype", "F.nll_loss(dt.ones(2, 3), dt.ones(2))", "RuntimeError", r"class-index target must be int64, got dumbtorch.float32"),
    Row("nll_int_input", "F.nll_loss(dt.ones(2, 3, dtype=dt.int64), dt.tensor([0, 1]))", "RuntimeError", r"input must be a float tensor, got dumbtorch.int64"),
    Row("mse_broadcast_fail", "F.mse_loss(dt.ones(2, 3), dt.ones(4))", "RuntimeError", r"shapes f32\[2,3\] and f32\[4\] do not broadcast"),
    Row("mse_reduction_bad", "F.mse_loss(dt.ones(2), dt.ones(2), reduction='x')", "ValueError", r"x is not a valid value for reduction"),
    # PyTorch fails with an AttributeError ('list' object has no attribute 'size') on its way.
    Row("l1_not_tensor", "F.l1_loss(dt.ones(2), [1.0, 2.0])", "TypeError", r"target.*must be Tensor, not list", torch=None),
    Row("bce_out_of_range", "F.binary_cross_entropy(dt.tensor([1.5]), dt.tensor([1.0]))", "RuntimeError", r"all elements of input should be between 0 and 1"),
    Row("bce_shape", "F.binary_cross_entropy(dt.tensor([0.5, 0.5]), dt.tensor([1.0]))", "ValueError", r"Using a target size .*\[1\].* that is different to the input size .*\[2\]"),
    Row("bce_logits_shape", "F.binary_cross_entropy_with_logits(dt.ones(2), dt.ones(3))", "ValueError", r"Target size .*\[3\].* must be the same as input size .*\[2\]"),
    Row("ce_loss_module", "nn.CrossEntropyLoss()(dt.ones(3, 4), dt.tensor([0, 1]))", "ValueError", r"Expected input batch_size \(3\) to match target batch_size \(2\)"),
    Row("nll_loss_module_target", "nn.NLLLoss()(dt.ones(2, 3), dt.tensor([5, 0]))", "IndexError", r"Target 5 is out of bounds"),
    # --- optimizers -----------------------------------------------------------------------------
    Row("sgd_negative_lr", "optim.SGD([dt.ones(2, requires_grad=True)], lr=-0.1)", "ValueError", r"Invalid learning rate: -0\.1"),
    Row("sgd_negative_momentum", "optim.SGD([dt.ones(2, requires_grad=True)], lr=0.1, momentum=-1)", "ValueError", r"Invalid momentum value: -1"),
    Row("sgd_nesterov_no_momentum", "optim.SGD([dt.ones(2, requires_grad=True)], lr=0.1, nesterov=True)", "ValueError", r"(?i)Nesterov momentum requires a momentum and zero dampening"),
    Row("sgd_negative_wd", "optim.SGD([dt.ones(2, requires_grad=True)], lr=0.1, weight_decay=-1)", "ValueError", r"Invalid weight_decay value: -1"),
    Row("adam_bad_beta0", "optim.Adam([dt.ones(2, requires_grad=True)], betas=(1.0, 0.9))", "ValueError", r"Invalid beta parameter at index 0: 1\.0"),
    Row("adam_bad_beta1", "optim.Adam([dt.ones(2, requires_grad=True)], betas=(0.9, -0.1))", "ValueError", r"Invalid beta parameter at index 1: -0\.1"),
    Row("adam_bad_eps", "optim.Adam([dt.ones(2, requires_grad=True)], eps=-1e-8)", "ValueError", r"Invalid epsilon value: -1e-08"),
    Row("adam_negative_lr", "optim.Adam([dt.ones(2, requires_grad=True)], lr=-1.0)", "ValueError", r"Invalid learning rate: -1\.0"),
    Row("adamw_bad_wd", "optim.AdamW([dt.ones(2, requires_grad=True)], weight_decay=-0.5)", "ValueError", r"Invalid weight_decay value: -0\.5"),
    Row("rmsprop_bad_alpha", "optim.RMSprop([dt.ones(2, requires_grad=True)], alpha=-0.5)", "ValueError", r"Invalid alpha value: -0\.5"),
    Row("rmsprop_bad_eps", "optim.RMSprop([dt.ones(2, requires_grad=True)], eps=-1.0)", "ValueError", r"Invalid epsilon value: -1\.0"),
    Row("optim_empty_params", "optim.SGD([], lr=0.1)", "ValueError", r"optimizer got an empty parameter list"),
    Row("optim_params_tensor", "optim.SGD(dt.ones(2, requires_grad=True), lr=0.1)", "TypeError", r"(?i)params argument given to the optimizer should be an iterable of Tensors or dicts, but got .*Tensor"),
    Row("optim_params_not_tensors", "optim.SGD([1.0, 2.0], lr=0.1)", "TypeError", r"(?i)optimizer can only optimize Tensors, but one of the params is float"),
    Row("optim_non_leaf", "x = dt.ones(2, requires_grad=True); optim.SGD([x * 2], lr=0.1)", "ValueError", r"can't optimize a non-leaf Tensor"),
    Row("optim_duplicate_param", "x = dt.ones(2, requires_grad=True); optim.SGD([{'params': [x]}, {'params': [x]}], lr=0.1)", "ValueError", r"some parameters appear in more than one parameter group"),
    Row("optim_lr_str", "optim.SGD([dt.ones(2, requires_grad=True)], lr='fast')", "TypeError", r"(?i)str"),
    Row("steplr_not_optimizer", "optim.lr_scheduler.StepLR(3, step_size=1)", "TypeError", r"(?i)int is not an Optimizer"),
    # --- data -----------------------------------------------------------------------------------
    Row("dataloader_batch_zero", "dt.utils.data.DataLoader(dt.utils.data.TensorDataset(dt.ones(4)), batch_size=0)", "ValueError", r"batch_size should be a positive integer value, but got batch_size=0"),
    Row("dataloader_batch_negative", "dt.utils.data.DataLoader(dt.utils.data.TensorDataset(dt.ones(4)), batch_size=-3)", "ValueError", r"batch_size should be a positive integer value, but got batch_size=-3"),
    Row("dataloader_batch_float", "dt.utils.data.DataLoader(dt.utils.data.TensorDataset(dt.ones(4)), batch_size=2.5)", "ValueError", r"batch_size should be a positive integer value, but got batch_size=2\.5"),
    Row("dataloader_shuffle_sampler", "ds = dt.utils.data.TensorDataset(dt.ones(4)); dt.utils.data.DataLoader(ds, shuffle=True, sampler=dt.utils.data.SequentialSampler(ds))", "ValueError", r"sampler option is mutually exclusive with shuffle"),
    # PyTorch checks this with `assert` (gone under python -O); ours is a ValueError.
    Row("tensor_dataset_mismatch", "dt.utils.data.TensorDataset(dt.ones(4), dt.ones(3))", "ValueError", r"Size mismatch between tensors: first dimensions 4, 3", torch=None),
    Row("random_split_bad", "dt.utils.data.random_split(dt.utils.data.TensorDataset(dt.ones(4)), [3, 3])", "ValueError", r"Sum of input lengths does not equal the length of the input dataset!"),
    Row("dataset_index_out", "dt.utils.data.TensorDataset(dt.ones(4))[7]", "IndexError", r"index 7 is out of bounds for dimension 0 with size 4"),
    # --- checkpoints (dt.load / dt.save) --------------------------------------------------------
    Row("load_missing", "dt.load(_ckpt('missing'))", "FileNotFoundError", r"No such file or directory", torch=None),
    Row("load_empty", "dt.load(_ckpt('empty'))", "CheckpointError", r"truncated: the file has 0 bytes", torch=None),
    Row("load_garbage", "dt.load(_ckpt('garbage'))", "CheckpointError", r"not a dumbtorch checkpoint \(bad magic bytes\)", torch=None),
    Row("load_truncated_half", "dt.load(_ckpt('truncated'))", "CheckpointError", r"truncated: the data section needs \d+ bytes", torch=None),
    Row("load_truncated_prefix", "dt.load(_ckpt('prefix'))", "CheckpointError", r"truncated: the file has 10 bytes, the fixed header alone needs 24", torch=None),
    Row("load_truncated_header", "dt.load(_ckpt('header_cut'))", "CheckpointError", r"truncated: the header needs \d+ bytes after offset 24", torch=None),
    Row("load_corrupt_header", "dt.load(_ckpt('flip_header'))", "CheckpointError", r"header checksum mismatch", torch=None),
    Row("load_corrupt_data", "dt.load(_ckpt('flip_data'))", "CheckpointError", r"tensor at root\['b'\]: checksum mismatch", torch=None),
    Row("load_trailing", "dt.load(_ckpt('trailing'))", "CheckpointError", r"3 unexpected trailing bytes after the data section", torch=None),
    Row("load_version", "dt.load(_ckpt('version'))", "CheckpointError", r"unsupported checkpoint version 9", torch=None),
    Row("load_huge_header_len", "dt.load(_ckpt('huge_hlen'))", "CheckpointError", r"truncated: the header needs \d+ bytes", torch=None),
    Row("load_json_bomb", "dt.load(_ckpt('deep_json'))", "CheckpointError", r"malformed header \(RecursionError\)|nesting too deep", torch=None),
    Row("load_bad_tensor_field", "dt.load(_ckpt('bad_tensor'))", "CheckpointError", r"tensor at root\['w'\].*shape", torch=None),
    Row("load_dir", "dt.load(_ckpt('dir'))", "IsADirectoryError", r"(?i)is a directory", torch=None),
    Row("save_unsupported", "dt.save(object(), _ckpt('missing'))", "TypeError", r"cannot save a object at obj; supported: tensors", torch=None),
    Row("save_bad_path", "dt.save({'a': 1}, '/nonexistent-dir/x.dt')", "FileNotFoundError", r"(?i)No such file or directory|nonexistent-dir", torch=None),
    # --- dataset files --------------------------------------------------------------------------
    Row("mnist_missing_dir", "dt.datasets.FashionMNIST(_idx_dir('empty'))", "FileNotFoundError", r"train-images-idx3-ubyte\.gz not found", torch=None),
    Row("mnist_truncated_images", "dt.datasets.FashionMNIST(_idx_dir('truncated'))", "DatasetFileError", r"data bytes but the header's dims \[2, 28, 28\] need 1568", torch=None),
    Row("mnist_bad_magic", "dt.datasets.FashionMNIST(_idx_dir('magic'))", "DatasetFileError", r"not an idx file of uint8", torch=None),
    Row("mnist_wrong_ndim", "dt.datasets.FashionMNIST(_idx_dir('ndim'))", "DatasetFileError", r"has 2 dims, expected 3", torch=None),
    Row("mnist_short_header", "dt.datasets.FashionMNIST(_idx_dir('short'))", "DatasetFileError", r"truncated header \(10 bytes, needs 16\)", torch=None),
    Row("mnist_tiny_file", "dt.datasets.FashionMNIST(_idx_dir('tiny'))", "DatasetFileError", r"truncated: 2 bytes", torch=None),
    Row("mnist_count_mismatch", "dt.datasets.FashionMNIST(_idx_dir('count'))", "DatasetFileError", r"2 images but 3 labels", torch=None),
    Row("mnist_label_range", "dt.datasets.FashionMNIST(_idx_dir('label'))", "DatasetFileError", r"label 12 out of range for 10 classes", torch=None),
    Row("mnist_bad_gzip", "dt.datasets.FashionMNIST(_idx_dir('gzip'))", "DatasetFileError", r"cannot read or decompress", torch=None),
    Row("mnist_truncated_gzip", "dt.datasets.FashionMNIST(_idx_dir('gzip_cut'))", "DatasetFileError", r"cannot read or decompress", torch=None),
    Row("mnist_huge_dims", "dt.datasets.FashionMNIST(_idx_dir('huge'))", "DatasetFileError", r"header's dims \[4294967295, 4294967295, 4294967295\]", torch=None),
    Row("mnist_index_out", "dt.datasets.FashionMNIST(_idx_dir('ok'))[5]", "IndexError", r"index 5 is out of range for 2 samples", torch=None),
    # --- IR text --------------------------------------------------------------------------------
    Row("ir_garbage", "dt.ir.parse('hello world')", "ValueError", r"^1:1: .*expected", torch=None),
    Row("ir_empty", "dt.ir.parse('')", "ValueError", r"^1:1: expected 'func' to start a function, found end of input", torch=None),
    Row("ir_unterminated", "dt.ir.parse('func @f(%x: f32[2]) -> (f32[2]) {\\n  return %x\\n')", "ValueError", r"^3:1: .*expected", torch=None),
    Row("ir_unknown_op", "dt.ir.parse(_ir('unknown_op'))", "ValueError", r"^2:\d+: .*unknown op 'frobnicate'", torch=None),
    Row("ir_bad_dtype", "dt.ir.parse('func @f(%x: f16[2]) -> (f16[2]) {\\n  return %x\\n}')", "ValueError", r"^1:13: unknown dtype 'f16' \(expected f32, f64, i64 or bool\)", torch=None),
    Row("ir_undefined_value", "dt.ir.parse('func @f(%x: f32[2]) -> (f32[2]) {\\n  return %y\\n}')", "ValueError", r"^2:10: value %y is not defined", torch=None),
    Row("ir_huge_shape", "dt.ir.parse('func @f(%x: f32[99999999999999999999]) -> (f32[1]) {\\n  return %x\\n}')", "ValueError", r"^1:17: dimension size 99999999999999999999 is too large", torch=None),
    Row("ir_type_mismatch", "dt.ir.compile(dt.ir.parse(_ir('type_mismatch')))", "ValueError", r"shapes f32\[2\] and f32\[3\] do not broadcast", torch=None),
    Row("ir_interpret_wrong_shape", "dt.ir.interpret(dt.ir.parse(_ir('ok')), np.ones(3, dtype=np.float32))", "ValueError", r"input 0 \(%x\) expects f32\[2\], got f32\[3\]", torch=None),
    Row("ir_interpret_wrong_dtype", "dt.ir.interpret(dt.ir.parse(_ir('ok')), np.ones(2, dtype=np.int64))", "TypeError", r"expects f32\[2\] \(numpy float32\), got a int64 array", torch=None),
    Row("ir_interpret_wrong_count", "dt.ir.interpret(dt.ir.parse(_ir('ok')))", "ValueError", r"expects 1 input \(%x: f32\[2\]\), got 0", torch=None),
    Row("ir_compiled_call_bad", "dt.ir.compile(dt.ir.parse(_ir('ok')))('x')", "TypeError", r"expects a numpy array of f32\[2\] .*got str", torch=None),
    Row("ir_parse_not_str", "dt.ir.parse(3)", "TypeError", r"(?s)incompatible function arguments.*\(text: str\)", torch=None),
]

# --- the worker's environment ------------------------------------------------------------------

_IR = {
    "ok": "func @f(%x: f32[2]) -> (f32[2]) {\n  %0 = add(%x, %x) : f32[2]\n  return %0\n}",
    "unknown_op": "func @f(%x: f32[2]) -> (f32[2]) {\n  %0 = frobnicate(%x) : f32[2]\n  return %0\n}",
    "type_mismatch": "func @f(%x: f32[2], %y: f32[3]) -> (f32[2]) {\n  %0 = add(%x, %y) : f32[2]\n  return %0\n}",
}


def _make_env(lib: str) -> dict:
    """The namespace rows run in: dt = dumbtorch (or torch), nn, F, optim and the file makers."""
    import shutil
    import tempfile

    import numpy as np

    if lib == "torch":
        import torch as dt
    else:
        sys.path.insert(0, PYTHON_DIR)
        import dumbtorch as dt
    tmp = tempfile.mkdtemp(prefix="dt_bad_calls_")
    import atexit

    atexit.register(shutil.rmtree, tmp, True)

    def ckpt(kind: str) -> str:
        path = os.path.join(tmp, f"ckpt_{kind}.dt")
        if kind == "missing":
            return path
        if kind == "dir":
            os.makedirs(path, exist_ok=True)
            return path
        dt.save({"w": dt.ones(3, 4), "b": dt.zeros(4), "n": 3}, path)
        with open(path, "rb") as f:
            blob = bytearray(f.read())
        hlen = int.from_bytes(blob[8:16], "little")
        header = bytes(blob[24:24 + hlen])
        if kind == "empty":
            blob = b""
        elif kind == "garbage":
            blob = bytes(range(256)) * 4
        elif kind == "truncated":
            blob = blob[: len(blob) - 20]
        elif kind == "prefix":
            blob = blob[:10]
        elif kind == "header_cut":
            blob = blob[: 24 + hlen // 2]
        elif kind == "flip_header":
            blob[24 + hlen // 2] ^= 0x5A
        elif kind == "flip_data":
            blob[-1] ^= 0x01
        elif kind == "trailing":
            blob = blob + b"\0\0\0"
        elif kind == "version":
            blob[7] = 9
        elif kind == "huge_hlen":
            blob[8:16] = (2**63 - 1).to_bytes(8, "little")
        elif kind in ("deep_json", "bad_tensor"):
            import zlib

            def align(n: int) -> int:
                return (n + 63) // 64 * 64

            data = bytes(blob[align(24 + hlen):])
            if kind == "deep_json":
                new = b'{"format": "dumbtorch-checkpoint", "version": 1, "data_bytes": 0, "root": ' + \
                    b"[" * 100000 + b"]" * 100000 + b"}"
                data = b""
            else:  # a valid header (right CRC, right layout) describing a tensor of negative shape
                new = header.replace(b'"shape":[3,4]', b'"shape":[3,-4]')
                assert new != header, header
            blob = bytearray(blob[:24] + new + bytes(align(24 + len(new)) - 24 - len(new)) + data)
            blob[8:16] = len(new).to_bytes(8, "little")
            blob[16:20] = zlib.crc32(new).to_bytes(4, "little")
        else:
            raise KeyError(kind)
        with open(path, "wb") as f:
            f.write(bytes(blob))
        return path

    def idx(dims, data: bytes, magic: bytes = b"\0\0\x08") -> bytes:
        return magic + bytes([len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims) + data

    def idx_dir(kind: str) -> str:
        import gzip

        d = os.path.join(tmp, f"idx_{kind}")
        os.makedirs(d, exist_ok=True)
        if kind == "empty":
            return d
        images = idx([2, 28, 28], bytes(range(256)) * 6 + bytes(32))
        labels = idx([2], bytes([3, 7]))
        if kind == "truncated":
            images = images[:-100]
        elif kind == "magic":
            images = b"\x01" + images[1:]
        elif kind == "ndim":
            images = idx([56, 28], bytes(56 * 28))
        elif kind == "short":
            images = images[:10]
        elif kind == "tiny":
            images = images[:2]
        elif kind == "count":
            labels = idx([3], bytes([1, 2, 3]))
        elif kind == "label":
            labels = idx([2], bytes([1, 12]))
        elif kind == "huge":
            images = idx([2**32 - 1] * 3, bytes(64))
        names = {"images": "train-images-idx3-ubyte", "labels": "train-labels-idx1-ubyte"}
        if kind in ("gzip", "gzip_cut"):
            blob = gzip.compress(images)
            blob = b"\x1f\x8b" + bytes(40) if kind == "gzip" else blob[: len(blob) // 2]
            with open(os.path.join(d, names["images"] + ".gz"), "wb") as f:
                f.write(blob)
        else:
            with open(os.path.join(d, names["images"]), "wb") as f:
                f.write(images)
        with open(os.path.join(d, names["labels"]), "wb") as f:
            f.write(labels)
        return d

    return {"dt": dt, "np": np, "nn": dt.nn, "F": dt.nn.functional, "optim": dt.optim,
            "_ckpt": ckpt, "_idx_dir": idx_dir, "_ir": _IR.__getitem__}


def _run_row(env: dict, code: str) -> dict:
    import warnings

    ns = dict(env)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(code, "<row>", "exec"), ns)
    except BaseException as e:  # noqa: BLE001 - the row's outcome, whatever it is
        return {"raised": True, "mro": [c.__name__ for c in type(e).__mro__], "msg": str(e)[:2000]}
    return {"raised": False}


def _worker(lib: str) -> None:
    env = _make_env(lib)
    by_id = {r.id: r for r in ROWS}
    for line in sys.stdin:
        rid = line.strip()
        if not rid:
            continue
        row = by_id[rid]
        code = row.code if lib == "dt" else (row.code if row.torch == SAME else row.torch)
        out = {"id": rid, **_run_row(env, code)}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


# --- the parent: run the table in a few workers, pinpoint crashers ------------------------------

WORKERS = 2
TIMEOUT = 600


def _spawn(lib: str, ids: list[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("DT_CHECK_NAN", None)
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", lib], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=HERE)
    p.stdin.write("".join(i + "\n" for i in ids))
    p.stdin.close()
    p.stdin = None  # communicate() then only reads
    return p


def _collect(p: subprocess.Popen, ids: list[str]) -> tuple[dict, str]:
    try:
        out, err = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        err += f"\n(worker timed out after {TIMEOUT} s)"
    results = {}
    for line in out.splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue
        results[r.pop("id")] = r
    status = "" if p.returncode == 0 else f"worker exited with status {p.returncode}: {err[-1500:]}"
    return results, status


def run_table(lib: str, ids: list[str], workers: int = WORKERS) -> dict:
    """{row id: result}; a row whose process died gets {"crashed": status}."""
    chunks = [ids[i::workers] for i in range(workers)]
    procs = [(_spawn(lib, c), c) for c in chunks if c]
    results: dict = {}
    unfinished: list[str] = []
    for p, chunk in procs:
        got, status = _collect(p, chunk)
        results.update(got)
        if status:
            unfinished += [i for i in chunk if i not in got]
    for rid in unfinished:  # one per process: the crasher dies alone
        got, status = _collect(_spawn(lib, [rid]), [rid])
        results[rid] = got.get(rid) or {"crashed": status}
    return results


_RESULTS: dict = {}


def _results(lib: str) -> dict:
    if lib not in _RESULTS:
        ids = [r.id for r in ROWS] if lib == "dt" else [r.id for r in ROWS if r.torch is not None]
        _RESULTS[lib] = run_table(lib, ids, WORKERS if lib == "dt" else 1)
    return _RESULTS[lib]


def _check(row: Row, res: dict, who: str, want_msg: bool) -> None:
    import re

    assert "crashed" not in res, f"{who} crashed on `{row.code}`: {res['crashed']}"
    assert res["raised"], f"{who}: `{row.code}` did not raise (expected {row.exc})"
    assert row.exc in res["mro"], f"{who}: `{row.code}` raised {res['mro'][0]} ({res['msg']!r}), expected {row.exc}"
    if want_msg:
        assert re.search(row.match, res["msg"]), f"{who}: message {res['msg']!r} does not match {row.match!r}"


def test_table_is_well_formed():
    ids = [r.id for r in ROWS]
    assert len(ids) == len(set(ids)), "duplicate row ids"
    assert len(ROWS) >= 120


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_call(row: Row):
    _check(row, _results("dt")[row.id], "dumbtorch", want_msg=True)
    if row.torch is not None:
        _check(row, _results("torch")[row.id], "torch", want_msg=False)


def test_error_classes_are_also_runtime_errors():
    """dumbtorch._C.ValueError / TypeError / IndexError: the builtin kind and PyTorch's RuntimeError."""
    import pickle

    sys.path.insert(0, PYTHON_DIR)
    import dumbtorch as dt

    for cls, builtin in ((dt._C.ValueError, ValueError), (dt._C.TypeError, TypeError),
                         (dt._C.IndexError, IndexError)):
        assert issubclass(cls, builtin) and issubclass(cls, RuntimeError)
        e = pickle.loads(pickle.dumps(cls("shapes f32[2] and f32[3]")))
        assert type(e) is cls and str(e) == "shapes f32[2] and f32[3]"
    with pytest.raises(dt._C.ValueError, match=r"add: shapes f32\[2\] and f32\[3\] do not broadcast"):
        dt.ones(2) + dt.ones(3)


def test_a_crash_is_pinpointed():
    """The harness itself: a row that kills its worker is reported as crashed, the others still run."""
    global ROWS
    saved = ROWS
    # The crasher only exists in this process's table, so the worker (which re-imports the module)
    # learns it from the environment.
    os.environ["DT_BAD_CALLS_EXTRA"] = "1"
    try:
        res = run_table("dt", ["add_broadcast", "_crash", "index_int_out"], workers=1)
    finally:
        del os.environ["DT_BAD_CALLS_EXTRA"]
        ROWS = saved
    assert "crashed" in res["_crash"] and "status -6" in res["_crash"]["crashed"]
    assert res["add_broadcast"]["raised"] and res["index_int_out"]["raised"]


if os.environ.get("DT_BAD_CALLS_EXTRA"):
    ROWS = ROWS + [Row("_crash", "import os; os.abort()", "RuntimeError", "", torch=None)]

if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--worker":
    _worker(sys.argv[2])
elif __name__ == "__main__" and len(sys.argv) == 2 and sys.argv[1] == "--survey":
    # A developer's view: what dumbtorch and torch raise for every row.
    dres, tres = run_table("dt", [r.id for r in ROWS]), run_table("torch", [r.id for r in ROWS if r.torch])
    for r in ROWS:
        print(f"{r.id}: want {r.exc}\n  dt:    {dres.get(r.id)}\n  torch: {tres.get(r.id)}")
