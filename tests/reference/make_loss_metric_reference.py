#!/usr/bin/python3
"""Writes PyTorch's values for Cortex's losses (Keras 3 semantics) to losses.json.

Run with Debian's python3-torch:  /usr/bin/python3 tests/reference/make_loss_metric_reference.py
CI does not run this; it reads the committed JSON.

Each case is one loss with a configuration (Keras's snake_case keys), labels, predictions and optionally sample
weights: the loss's value after the reduction (a scalar, or the per-sample losses for reduction "none") and the
gradient of the value's sum with respect to y_pred. Computed in float64 from float32 inputs. Where PyTorch has the
loss (binary_cross_entropy_with_logits, cross_entropy with ignore_index, huber_loss, poisson_nll_loss) it is used;
the rest are written out from Keras's formulas with torch ops. The reduction follows keras/src/losses/loss.py:
weights multiply the per-sample losses, "sum_over_batch_size" divides by their number (not the weights' sum), and
masked entries (ignore_class) are left out of that number.
"""
import json
import math
import os

import numpy
import torch
import torch.nn.functional as F

from reference_common import enc, f32, onehot, rand, randn

torch.manual_seed(20261130)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "losses.json")

EPS = float(numpy.float32(1e-7))
LO, HI = EPS, float(numpy.float32(1.0) - numpy.float32(1e-7))


def align(y, p):
    return y.reshape(p.shape) if y.numel() == p.numel() else y


# ----------------------------------------------------------------------------------------- per-sample losses

def bce(y, p, from_logits=False, label_smoothing=0.0, axis=-1):
    y = align(y, p) * (1 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        e = F.binary_cross_entropy_with_logits(p, y, reduction="none")
    else:
        q = torch.clamp(p, LO, HI)
        e = -(y * torch.log(q) + (1 - y) * torch.log(1 - q))
    return e.mean(axis)


def cce(y, p, from_logits=False, label_smoothing=0.0, axis=-1):
    y = y * (1 - label_smoothing) + label_smoothing / p.shape[axis]
    if from_logits:
        return -(y * F.log_softmax(p, axis)).sum(axis)
    q = torch.clamp(p / p.sum(axis, keepdim=True), LO, HI)
    return -(y * torch.log(q)).sum(axis)


def scce(labels, p, from_logits=False, ignore_class=None):
    classes = p.shape[-1]
    idx = labels.reshape(p.shape[:-1]).long()
    ignore = -100 if ignore_class is None else ignore_class
    if from_logits:
        rows = p.reshape(-1, classes)
        return F.cross_entropy(rows, idx.reshape(-1), reduction="none", ignore_index=ignore).reshape(idx.shape)
    q = torch.clamp(p / p.sum(-1, keepdim=True), LO, HI)
    valid = idx != ignore
    picked = torch.log(q.gather(-1, torch.where(valid, idx, 0).unsqueeze(-1))).squeeze(-1)
    return torch.where(valid, -picked, torch.zeros_like(picked))


def mse(y, p):
    return ((p - align(y, p)) ** 2).mean(-1)


def mae(y, p):
    return (p - align(y, p)).abs().mean(-1)


def mape(y, p):
    y = align(y, p)
    return 100 * ((y - p).abs() / torch.clamp(y.abs(), min=EPS)).mean(-1)


def msle(y, p):
    y = align(y, p)
    return ((torch.log(torch.clamp(p, min=EPS) + 1) - torch.log(torch.clamp(y, min=EPS) + 1)) ** 2).mean(-1)


def huber(y, p, delta=1.0):
    return F.huber_loss(p, align(y, p), reduction="none", delta=delta).mean(-1)


def log_cosh(y, p):
    return torch.log(torch.cosh(p - align(y, p))).mean(-1)


def hinge_labels(y):
    return 2 * y - 1 if bool(((y == 0) | (y == 1)).all()) else y


def hinge(y, p):
    return torch.clamp(1 - hinge_labels(align(y, p)) * p, min=0).mean(-1)


def squared_hinge(y, p):
    return (torch.clamp(1 - hinge_labels(align(y, p)) * p, min=0) ** 2).mean(-1)


def categorical_hinge(y, p):
    pos = (y * p).sum(-1)
    neg = ((1 - y) * p).max(-1).values
    return torch.clamp(neg - pos + 1, min=0)


def kld(y, p):
    y = torch.clamp(align(y, p), EPS, 1)
    q = torch.clamp(p, EPS, 1)
    return (y * torch.log(y / q)).sum(-1)


def poisson(y, p):
    return F.poisson_nll_loss(p, align(y, p), log_input=False, full=False, eps=EPS, reduction="none").mean(-1)


def cosine(y, p, axis=-1):
    def normalize(x):
        return x / torch.clamp(torch.sqrt((x * x).sum(axis, keepdim=True)), min=EPS)
    return -(normalize(align(y, p)) * normalize(p)).sum(axis)


LOSSES = {
    "BinaryCrossentropy": bce, "CategoricalCrossentropy": cce, "SparseCategoricalCrossentropy": scce,
    "MeanSquaredError": mse, "MeanAbsoluteError": mae, "MeanAbsolutePercentageError": mape,
    "MeanSquaredLogarithmicError": msle, "Huber": huber, "LogCosh": log_cosh, "Hinge": hinge,
    "SquaredHinge": squared_hinge, "CategoricalHinge": categorical_hinge, "KLDivergence": kld, "Poisson": poisson,
    "CosineSimilarity": cosine,
}


def reduce(values, weight, mask, reduction):
    """keras/src/losses/loss.py's reduce_weighted_values; weights of lower rank weigh whole samples."""
    if weight is not None:
        if weight.dim() == values.dim() + 1 and weight.shape[-1] == 1:
            weight = weight.squeeze(-1)
        while weight.dim() < values.dim():
            weight = weight.unsqueeze(-1)
    if mask is not None:
        mask = mask.double()
        if reduction in ("sum_over_batch_size", "mean"):
            valid = mask.sum()
            mask = mask * (mask.numel() / valid if valid > 0 else 0.0)
        weight = mask if weight is None else weight * mask
    if weight is not None:
        values = values * weight
    if reduction == "none" or values.dim() == 0:
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and weight is not None:
        w = (weight * torch.ones_like(values)).sum()
        return total / w if w != 0 else total * 0
    return total / values.numel()


cases = []


def case(name, loss, y_true, y_pred, config=None, sample_weight=None, fd=True):
    config = dict(config or {})
    kwargs = {k: v for k, v in config.items() if k != "reduction"}
    reduction = config.get("reduction", "sum_over_batch_size")
    p = y_pred.clone().requires_grad_(True)
    values = LOSSES[loss](y_true, p, **kwargs)
    mask = None
    if loss == "SparseCategoricalCrossentropy" and kwargs.get("ignore_class") is not None:
        mask = y_true.reshape(values.shape) != kwargs["ignore_class"]
    value = reduce(values, sample_weight, mask, reduction)
    value.sum().backward()
    entry = {"name": name, "kind": "loss", "loss": loss, "config": config, "fd": fd,
             "y_true": enc(y_true), "y_pred": enc(y_pred), "value": enc(value.detach()), "grad": enc(p.grad)}
    if sample_weight is not None:
        entry["sample_weight"] = enc(sample_weight)
    cases.append(entry)


# --- the new losses, default arguments
reg_true, reg_pred = randn(4, 3), randn(4, 3)
case("huber_default", "Huber", reg_true, reg_pred * 2)
case("huber_delta_half_n_vs_n1", "Huber", randn(5), randn(5, 1), {"delta": 0.5})
case("log_cosh", "LogCosh", reg_true, reg_pred * 3)
case("log_cosh_large_error", "LogCosh", f32([[0.0, 1.0]]), f32([[60.0, -50.0]]), fd=False)
case("mape", "MeanAbsolutePercentageError", f32(torch.sign(torch.randn(4, 3))) * rand(4, 3, low=0.5, high=2), randn(4, 3))
case("msle", "MeanSquaredLogarithmicError", rand(4, 3, high=3), rand(4, 3, low=0.1, high=3))
case("msle_negative_clipped", "MeanSquaredLogarithmicError", f32([[1.0, -2.0]]), f32([[-0.5, 2.0]]), fd=False)
case("poisson", "Poisson", f32(torch.randint(0, 4, (4, 3))), rand(4, 3, low=0.2, high=3))
case("hinge_binary_labels", "Hinge", f32(torch.rand(4, 3) > 0.5), randn(4, 3) * 0.5)
case("hinge_pm1_labels", "Hinge", f32(torch.where(torch.rand(4, 3) > 0.5, 1.0, -1.0)), randn(4, 3) * 0.5)
case("squared_hinge", "SquaredHinge", f32(torch.rand(4, 3) > 0.5), randn(4, 3))
case("categorical_hinge", "CategoricalHinge", onehot([0, 2, 1, 3], 4), randn(4, 4))
case("kl_divergence", "KLDivergence", f32(torch.softmax(randn(4, 3), -1)), f32(torch.softmax(randn(4, 3), -1)))
case("kl_divergence_zero_label", "KLDivergence", f32([[1.0, 0.0, 0.0]]), f32([[0.7, 0.2, 0.1]]))
case("cosine_similarity", "CosineSimilarity", randn(4, 3), randn(4, 3))
case("cosine_similarity_axis0", "CosineSimilarity", randn(4, 3), randn(4, 3), {"axis": 0})
case("cosine_similarity_zero_vector", "CosineSimilarity", f32([[0.0, 0.0], [1.0, 2.0]]), f32([[1.0, 2.0], [0.5, -1.0]]), fd=False)

# --- cross-entropy arguments
case("bce_logits_smoothing", "BinaryCrossentropy", f32(torch.rand(4, 3) > 0.5), randn(4, 3, scale=2),
     {"from_logits": True, "label_smoothing": 0.2})
case("bce_probs_smoothing", "BinaryCrossentropy", f32(torch.rand(4, 3) > 0.5), rand(4, 3, low=0.05, high=0.95),
     {"label_smoothing": 0.1})
case("bce_logits_axis0", "BinaryCrossentropy", f32(torch.rand(4, 3) > 0.5), randn(4, 3), {"from_logits": True, "axis": 0})
case("cce_logits_smoothing", "CategoricalCrossentropy", onehot([0, 2, 1, 3, 3], 4), randn(5, 4, scale=2),
     {"from_logits": True, "label_smoothing": 0.1})
case("cce_probs_smoothing", "CategoricalCrossentropy", onehot([0, 2, 1], 3), rand(3, 3, low=0.1, high=1.0),
     {"label_smoothing": 0.3})
case("cce_logits_axis0", "CategoricalCrossentropy", onehot([0, 2, 1], 3).T.contiguous(), randn(3, 3),
     {"from_logits": True, "axis": 0})
case("cce_probs_axis1_rank3", "CategoricalCrossentropy", onehot([[0, 1], [1, 0]], 2).transpose(1, 2).contiguous(),
     rand(2, 2, 2, low=0.1, high=1.0), {"axis": 1})
case("scce_logits_ignore", "SparseCategoricalCrossentropy", f32([2, -1, 0, 1, -1]), randn(5, 3, scale=2),
     {"from_logits": True, "ignore_class": -1})
case("scce_probs_ignore_rank3", "SparseCategoricalCrossentropy", f32([[0, 3, 1], [3, 2, 3]]), rand(2, 3, 4, low=0.1, high=1.0),
     {"ignore_class": 3})
case("scce_logits_ignore_sum", "SparseCategoricalCrossentropy", f32([[2], [0], [0], [1]]), randn(4, 3),
     {"from_logits": True, "ignore_class": 0, "reduction": "sum"})
case("scce_logits_ignore_none", "SparseCategoricalCrossentropy", f32([2, 0, 0, 1]), randn(4, 3),
     {"from_logits": True, "ignore_class": 0, "reduction": "none"})

# --- reductions and sample weights
w4 = rand(4, low=0.0, high=2.0)
case("mse_none", "MeanSquaredError", reg_true, reg_pred, {"reduction": "none"})
case("mse_sum", "MeanSquaredError", reg_true, reg_pred, {"reduction": "sum"})
case("mse_weighted", "MeanSquaredError", reg_true, reg_pred, sample_weight=w4)
case("mse_weighted_n1", "MeanSquaredError", reg_true, reg_pred, sample_weight=w4.reshape(4, 1))
case("mae_weighted_sum", "MeanAbsoluteError", reg_true, reg_pred, {"reduction": "sum"}, sample_weight=w4)
case("huber_weighted_mean_with_sample_weight", "Huber", reg_true, reg_pred * 2, {"reduction": "mean_with_sample_weight"}, sample_weight=w4)
case("bce_logits_weighted", "BinaryCrossentropy", f32(torch.rand(4, 3) > 0.5), randn(4, 3), {"from_logits": True}, sample_weight=w4)
case("bce_probs_none", "BinaryCrossentropy", f32(torch.rand(4, 3) > 0.5), rand(4, 3, low=0.05, high=0.95), {"reduction": "none"})
case("cce_logits_weighted_smoothing", "CategoricalCrossentropy", onehot([0, 2, 1, 1], 3), randn(4, 3),
     {"from_logits": True, "label_smoothing": 0.2}, sample_weight=w4)
case("cce_logits_none", "CategoricalCrossentropy", onehot([0, 2, 1, 1], 3), randn(4, 3), {"from_logits": True, "reduction": "none"})
case("scce_logits_weighted", "SparseCategoricalCrossentropy", f32([2, 0, 1, 1]), randn(4, 3), {"from_logits": True}, sample_weight=w4)
case("scce_logits_weighted_ignore", "SparseCategoricalCrossentropy", f32([2, 0, 1, 1]), randn(4, 3),
     {"from_logits": True, "ignore_class": 1}, sample_weight=w4)
case("scce_rank3_weight_per_sample", "SparseCategoricalCrossentropy", f32([[0, 3, 1], [2, 2, 0]]), randn(2, 3, 4),
     {"from_logits": True}, sample_weight=f32([0.5, 2.0]))
case("kld_sum", "KLDivergence", f32(torch.softmax(randn(4, 3), -1)), f32(torch.softmax(randn(4, 3), -1)), {"reduction": "sum"})
case("cosine_none", "CosineSimilarity", randn(4, 3), randn(4, 3), {"reduction": "none"})
case("categorical_hinge_weighted", "CategoricalHinge", onehot([0, 2, 1, 3], 4), randn(4, 4), sample_weight=w4)

with open(OUT, "w") as f:
    json.dump({"generator": "tests/reference/make_loss_metric_reference.py", "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {OUT}")
