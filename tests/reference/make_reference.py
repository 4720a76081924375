#!/usr/bin/python3
"""Writes PyTorch's values and gradients for Cortex's tensor ops to ops.json.

Run with Debian's python3-torch:  /usr/bin/python3 tests/reference/make_reference.py
CI does not run this; it reads the committed JSON.

Each case: an op name, its inputs, scalar arguments, the forward output, an upstream gradient U, and the gradient of
sum(output * U) with respect to every float input (null where the op takes none). `fd` marks cases that are smooth
at their inputs, where a central finite-difference check is meaningful.
"""
import json
import os

import numpy
import torch

torch.manual_seed(1234)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops.json")

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def randn(*shape, scale=1.0):
    return (torch.randn(tuple(shape), dtype=torch.float64) * scale).float()


def positive(*shape, low=0.2, high=3.0):
    return (torch.rand(tuple(shape), dtype=torch.float64) * (high - low) + low).float()


# name -> (torch function taking (inputs list, args dict), number of float inputs that take gradients)
OPS = {
    "add": lambda x, a: x[0] + x[1],
    "subtract": lambda x, a: x[0] - x[1],
    "multiply": lambda x, a: x[0] * x[1],
    "divide": lambda x, a: x[0] / x[1],
    "maximum": lambda x, a: torch.maximum(x[0], x[1]),
    "minimum": lambda x, a: torch.minimum(x[0], x[1]),
    "pow": lambda x, a: torch.pow(x[0], x[1]),
    "pow_scalar": lambda x, a: torch.pow(x[0], a["p"]),
    "add_scalar": lambda x, a: x[0] + a["s"],
    "rsub_scalar": lambda x, a: a["s"] - x[0],
    "mul_scalar": lambda x, a: x[0] * a["s"],
    "rdiv_scalar": lambda x, a: a["s"] / x[0],
    "negate": lambda x, a: -x[0],
    "exp": lambda x, a: torch.exp(x[0]),
    "log": lambda x, a: torch.log(x[0]),
    "abs": lambda x, a: torch.abs(x[0]),
    "sqrt": lambda x, a: torch.sqrt(x[0]),
    "square": lambda x, a: torch.square(x[0]),
    "clip": lambda x, a: torch.clamp(x[0], a["min"], a["max"]),
    "where": lambda x, a: torch.where(x[0] != 0, x[1], x[2]),
    "broadcast_to": lambda x, a: torch.broadcast_to(x[0], a["shape"]),
    "sum_all": lambda x, a: torch.sum(x[0]),
    "sum_axis": lambda x, a: torch.sum(x[0], dim=a["axis"], keepdim=a["keepdims"]),
    "mean_all": lambda x, a: torch.mean(x[0]),
    "mean_axis": lambda x, a: torch.mean(x[0], dim=a["axis"], keepdim=a["keepdims"]),
    "max_all": lambda x, a: torch.amax(x[0]),
    "min_all": lambda x, a: torch.amin(x[0]),
    "max_axis": lambda x, a: torch.amax(x[0], dim=a["axis"], keepdim=a["keepdims"]),
    "min_axis": lambda x, a: torch.amin(x[0], dim=a["axis"], keepdim=a["keepdims"]),
    "matmul": lambda x, a: torch.matmul(x[0], x[1]),
    "dot": lambda x, a: torch.dot(x[0], x[1]) if x[0].dim() == 1 and x[1].dim() == 1 else torch.matmul(x[0], x[1]),
    "transpose": lambda x, a: x[0].permute(*a["perm"]) if a["perm"] else x[0].permute(*reversed(range(x[0].dim()))),
    "reshape": lambda x, a: x[0].reshape(a["shape"]),
    "concat": lambda x, a: torch.cat(x, dim=a["axis"]),
    "stack": lambda x, a: torch.stack(x, dim=a["axis"]),
    "gather": lambda x, a: torch.index_select(x[0], a["axis"], torch.tensor(a["indices"])),
    "slice": lambda x, a: torch.narrow(x[0], a["axis"], a["start"], a["length"]),
    "sigmoid": lambda x, a: torch.sigmoid(x[0]),
    "tanh": lambda x, a: torch.tanh(x[0]),
    "relu": lambda x, a: torch.relu(x[0]),
    "leaky_relu": lambda x, a: torch.nn.functional.leaky_relu(x[0], a["alpha"]),
    "elu": lambda x, a: torch.nn.functional.elu(x[0], a["alpha"]),
    "selu": lambda x, a: torch.nn.functional.selu(x[0]),
    "softplus": lambda x, a: torch.nn.functional.softplus(x[0]),
    "relu6": lambda x, a: torch.nn.functional.relu6(x[0]),
    "silu": lambda x, a: torch.nn.functional.silu(x[0]),
    "gelu": lambda x, a: torch.nn.functional.gelu(x[0], approximate="tanh" if a.get("approximate") else "none"),
    "hard_sigmoid": lambda x, a: torch.nn.functional.hardsigmoid(x[0]),
    "hard_silu": lambda x, a: torch.nn.functional.hardswish(x[0]),
    "mish": lambda x, a: torch.nn.functional.mish(x[0]),
    "softsign": lambda x, a: torch.nn.functional.softsign(x[0]),
    # Keras's ReLU layer (keras.activations.relu with threshold >= 0): x for x > threshold (capped at max_value, with
    # relu6's zero gradient at the cap), minus negative_slope * relu(threshold - x).
    "relu_layer": lambda x, a: torch.where(x[0] > a["threshold"], torch.where(x[0] < a["max_value"], x[0], torch.full_like(x[0], a["max_value"])) if a["max_value"] is not None else x[0], torch.zeros_like(x[0]))
                               - a["negative_slope"] * torch.relu(a["threshold"] - x[0]),
    "softmax": lambda x, a: torch.softmax(x[0], dim=a["axis"]),
    "log_softmax": lambda x, a: torch.log_softmax(x[0], dim=a["axis"]),
    # not differentiable: masks and indices
    "greater": lambda x, a: (x[0] > x[1]).float(),
    "greater_equal": lambda x, a: (x[0] >= x[1]).float(),
    "less": lambda x, a: (x[0] < x[1]).float(),
    "less_equal": lambda x, a: (x[0] <= x[1]).float(),
    "equal": lambda x, a: (x[0] == x[1]).float(),
    "not_equal": lambda x, a: (x[0] != x[1]).float(),
    "argmax": lambda x, a: torch.argmax(x[0], dim=a["axis"]).float(),
    "one_hot": lambda x, a: torch.nn.functional.one_hot(x[0].long(), a["depth"]).float(),
}
NON_DIFF = {"greater", "greater_equal", "less", "less_equal", "equal", "not_equal", "argmax", "one_hot"}

cases = []


def enc(t):
    # Shortest decimal that round-trips the float32 value (keeps the JSON small and exact).
    values = t.detach().reshape(-1).numpy().astype(numpy.float32)
    return {"shape": list(t.shape), "data": [float(str(v)) if numpy.isfinite(v) else str(v) for v in values]}


def case(name, op, inputs, args=None, fd=True, no_grad=()):
    """no_grad: indices of inputs that take no gradient (e.g. where's condition)."""
    args = args or {}
    leaves = []
    for i, t in enumerate(inputs):
        leaf = t.detach().clone()
        if op not in NON_DIFF and i not in no_grad:
            leaf.requires_grad_(True)
        leaves.append(leaf)
    out = OPS[op](leaves, args)
    entry = {"name": name, "op": op, "args": args, "inputs": [enc(t) for t in leaves], "output": enc(out), "fd": fd}
    if op not in NON_DIFF:
        upstream = randn(*out.shape)
        (out * upstream).sum().backward()
        entry["upstream"] = enc(upstream)
        entry["grads"] = [None if leaf.grad is None else enc(leaf.grad) for leaf in leaves]
        if any(g is None for i, g in enumerate(entry["grads"]) if i not in no_grad):
            raise RuntimeError(f"{name}: missing gradient")
    cases.append(entry)


# Binary arithmetic over broadcasting patterns.
BROADCASTS = [
    ("same", (3, 4), (3, 4)),
    ("row", (5, 3), (3,)),
    ("col", (4, 1), (4, 5)),
    ("outer", (4, 1), (1, 3)),
    ("scalar_right", (2, 3), ()),
    ("scalar_left", (), (2, 3)),
    ("rank3_mid", (2, 1, 4), (3, 1)),
    ("rank4", (2, 3, 1, 5), (1, 4, 1)),
    ("vector", (7,), (7,)),
]
for op in ["add", "subtract", "multiply", "divide", "maximum", "minimum"]:
    for label, sa, sb in BROADCASTS:
        b = randn(*sb)
        if op == "divide":
            b = torch.where(b.abs() < 0.3, torch.full_like(b, 0.7), b)
        case(f"{op}_{label}", op, [randn(*sa), b])
# Ties: maximum/minimum split the gradient evenly.
tie = torch.tensor([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]])
case("maximum_ties", "maximum", [tie, torch.tensor([1.0, 0.0, 3.0])], fd=False)
case("minimum_ties", "minimum", [tie, torch.tensor([1.0, 0.0, 3.0])], fd=False)
case("pow_tensor", "pow", [positive(3, 4), randn(4)])
case("pow_tensor_scalar_base", "pow", [positive(1), randn(2, 3)])
for p in [2.0, 3.0, 0.5, -1.0, 0.0, 1.5]:
    x = positive(3, 5) if p != 3.0 and p != 2.0 else randn(3, 5)
    case(f"pow_scalar_{p}", "pow_scalar", [x], {"p": p})
case("add_scalar", "add_scalar", [randn(2, 3)], {"s": 1.5})
case("rsub_scalar", "rsub_scalar", [randn(2, 3)], {"s": 2.0})
case("mul_scalar", "mul_scalar", [randn(2, 3)], {"s": -0.75})
case("rdiv_scalar", "rdiv_scalar", [positive(2, 3)], {"s": 3.0})

# Unary math.
case("negate", "negate", [randn(4, 3)])
case("exp", "exp", [randn(3, 5)])
case("exp_large", "exp", [torch.tensor([-100.0, -20.0, 0.0, 20.0, 80.0])], fd=False)
case("log", "log", [positive(3, 5)])
case("abs", "abs", [randn(3, 5)])
case("abs_zero", "abs", [torch.tensor([-2.0, 0.0, 3.0])], fd=False)
case("sqrt", "sqrt", [positive(3, 5)])
case("square", "square", [randn(3, 5)])
case("clip", "clip", [randn(4, 5, scale=2.0)], {"min": -1.0, "max": 0.5})
case("clip_edges", "clip", [torch.tensor([-1.0, -0.5, 0.5, 1.0, 2.0])], {"min": -1.0, "max": 1.0}, fd=False)
cond = (torch.rand(3, 4) > 0.5).float()
case("where", "where", [cond, randn(3, 4), randn(3, 4)], no_grad=(0,))
case("where_broadcast", "where", [(torch.rand(3, 1) > 0.5).float(), randn(3, 4), randn(4)], no_grad=(0,))
case("broadcast_to", "broadcast_to", [randn(3, 1)], {"shape": [2, 3, 4]})

# Reductions, all and per axis.
x345 = randn(3, 4, 5)
case("sum_all", "sum_all", [x345])
case("mean_all", "mean_all", [x345])
case("max_all", "max_all", [x345])
case("min_all", "min_all", [x345])
for axis in [0, 1, 2, -1]:
    for keep in [False, True]:
        for op in ["sum_axis", "mean_axis", "max_axis", "min_axis"]:
            case(f"{op}_{axis}_{keep}", op, [x345], {"axis": axis, "keepdims": keep})
case("max_axis_ties", "max_axis", [torch.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])], {"axis": 1, "keepdims": False}, fd=False)
case("sum_large_axis", "sum_axis", [randn(2, 4000)], {"axis": 1, "keepdims": False})
case("mean_large_axis", "mean_axis", [randn(3000, 3)], {"axis": 0, "keepdims": False})

# Matrix products.
case("matmul_notes", "matmul", [torch.tensor([1.0, 2.0]), torch.tensor([[3.0, 5.0], [4.0, 6.0]])])
case("matmul_2d", "matmul", [randn(4, 3), randn(3, 5)])
case("matmul_2d_odd", "matmul", [randn(17, 33), randn(33, 19)])
case("matmul_mat_vec", "matmul", [randn(4, 3), randn(3)])
case("matmul_vec_vec", "matmul", [randn(6), randn(6)])
case("matmul_batched", "matmul", [randn(2, 3, 4), randn(2, 4, 5)])
case("matmul_batch_by_matrix", "matmul", [randn(2, 3, 4), randn(4, 5)])
case("matmul_matrix_by_batch", "matmul", [randn(3, 4), randn(2, 4, 5)])
case("matmul_batch_broadcast", "matmul", [randn(2, 1, 3, 4), randn(3, 4, 2)])
case("dot_vectors", "dot", [randn(5), randn(5)])
case("dot_matrices", "dot", [randn(3, 4), randn(4, 2)])

# Shape ops.
case("transpose_2d", "transpose", [randn(3, 5)], {"perm": []})
case("transpose_3d_reverse", "transpose", [randn(2, 3, 4)], {"perm": []})
case("transpose_3d_perm", "transpose", [randn(2, 3, 4)], {"perm": [1, 0, 2]})
case("transpose_last_two", "transpose", [randn(2, 3, 4)], {"perm": [0, 2, 1]})
case("transpose_4d", "transpose", [randn(2, 3, 4, 5)], {"perm": [0, 3, 1, 2]})
case("reshape", "reshape", [randn(3, 4)], {"shape": [2, -1, 3]})
case("concat_0", "concat", [randn(2, 3), randn(4, 3)], {"axis": 0})
case("concat_1", "concat", [randn(2, 3), randn(2, 1), randn(2, 2)], {"axis": 1})
case("concat_neg", "concat", [randn(2, 3, 2), randn(2, 3, 1)], {"axis": -1})
case("stack_0", "stack", [randn(2, 3), randn(2, 3)], {"axis": 0})
case("stack_last", "stack", [randn(2, 3), randn(2, 3), randn(2, 3)], {"axis": -1})
case("gather_rows", "gather", [randn(6, 3)], {"axis": 0, "indices": [4, 0, 4, 2]})
case("gather_cols", "gather", [randn(3, 5)], {"axis": 1, "indices": [1, 1, 3]})
case("slice_rows", "slice", [randn(8, 3)], {"axis": 0, "start": 2, "length": 4})
case("slice_mid", "slice", [randn(2, 6, 3)], {"axis": 1, "start": 1, "length": 3})

# Activations, with edge values where they are not smooth and huge values where they could overflow.
edge = torch.tensor([-1000.0, -30.0, -2.5, -1e-3, 0.0, 1e-3, 2.5, 30.0, 1000.0])
for op, args in [("sigmoid", {}), ("tanh", {}), ("relu", {}), ("leaky_relu", {"alpha": 0.2}), ("leaky_relu", {"alpha": 0.01}),
                 ("elu", {"alpha": 1.0}), ("elu", {"alpha": 0.5}), ("selu", {}), ("softplus", {})]:
    suffix = "_" + str(args["alpha"]) if "alpha" in args else ""
    case(f"{op}{suffix}", op, [randn(4, 5, scale=2.0)], args)
    case(f"{op}{suffix}_edges", op, [edge], args, fd=False)
logits = randn(4, 6, scale=2.0)
for op in ["softmax", "log_softmax"]:
    case(f"{op}_last", op, [logits], {"axis": -1})
    case(f"{op}_axis0", op, [logits], {"axis": 0})
    case(f"{op}_3d_mid", op, [randn(2, 4, 3)], {"axis": 1})
    case(f"{op}_notes", op, [torch.tensor([6.0, -2.0, 3.0])], {"axis": -1})
    case(f"{op}_huge", op, [torch.tensor([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -999.0]])], {"axis": -1}, fd=False)

# Masks and indices.
a, b = randn(3, 4), randn(4)
b[1] = a[0, 1]
for op in ["greater", "greater_equal", "less", "less_equal", "equal", "not_equal"]:
    case(f"{op}", op, [a, b])
case("argmax_last", "argmax", [randn(4, 5)], {"axis": -1})
case("argmax_0", "argmax", [randn(4, 5)], {"axis": 0})
case("argmax_3d", "argmax", [randn(2, 3, 4)], {"axis": 1})
case("one_hot", "one_hot", [torch.tensor([1.0, 0.0, 3.0, 2.0])], {"depth": 4})
case("one_hot_2d", "one_hot", [torch.tensor([[1.0, 0.0], [2.0, 2.0]])], {"depth": 3})

# Activations added later, drawn last so that the cases above keep their random inputs.
edge6 = torch.tensor([-1000.0, -30.0, -2.5, -1e-3, 0.0, 1e-3, 2.5, 6.0, 7.0, 30.0, 1000.0])
for op in ["relu6", "silu"]:
    case(op, op, [randn(4, 5, scale=4.0)])
    case(f"{op}_edges", op, [edge6], fd=False)

# Keras 3's gelu (exact and approximate), hard_sigmoid, hard_silu, mish and softsign, drawn after everything above.
edge3 = torch.tensor([-1000.0, -30.0, -5.0, -3.0, -2.5, -1e-3, 0.0, 1e-3, 2.5, 3.0, 5.0, 30.0, 1000.0])
for op, args in [("gelu", {}), ("gelu", {"approximate": True}), ("hard_sigmoid", {}), ("hard_silu", {}), ("mish", {}), ("softsign", {})]:
    suffix = "_approximate" if args.get("approximate") else ""
    case(f"{op}{suffix}", op, [randn(4, 5, scale=3.0)], args)
    case(f"{op}{suffix}_edges", op, [edge3], args, fd=False)

# The ReLU layer's arguments, drawn last.
edge_relu = torch.tensor([-1000.0, -2.0, -0.5, 0.0, 0.5, 0.7, 1.0, 2.0, 6.0, 7.0, 1000.0])
for suffix, args in [("defaults", {"max_value": None, "negative_slope": 0.0, "threshold": 0.0}),
                     ("max", {"max_value": 6.0, "negative_slope": 0.0, "threshold": 0.0}),
                     ("all", {"max_value": 2.0, "negative_slope": 0.1, "threshold": 0.5})]:
    x = randn(4, 5, scale=3.0)
    # Finite differences only where no value sits within a step of a kink (the threshold or the cap).
    kinks = [args["threshold"]] + ([args["max_value"]] if args["max_value"] is not None else [])
    case(f"relu_layer_{suffix}", "relu_layer", [x], args, fd=all(float((x - k).abs().min()) > 0.05 for k in kinks))
    case(f"relu_layer_{suffix}_edges", "relu_layer", [edge_relu], args, fd=False)

with open(OUT, "w") as f:
    json.dump({"generator": "tests/reference/make_reference.py", "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {OUT}")
