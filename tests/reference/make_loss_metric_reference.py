#!/usr/bin/python3
"""Writes PyTorch's values for Cortex's losses and metrics (Keras 3 semantics) to losses.json.

Run with Debian's python3-torch:  /usr/bin/python3 tests/reference/make_loss_metric_reference.py
CI does not run this; it reads the committed JSON.

Each case is one loss with a configuration (Keras's snake_case keys), labels, predictions and optionally sample
weights: the loss's value after the reduction (a scalar, or the per-sample losses for reduction "none") and the
gradient of the value's sum with respect to y_pred. Computed in float64 from float32 inputs. Where PyTorch has the
loss (binary_cross_entropy_with_logits, cross_entropy with ignore_index, huber_loss, poisson_nll_loss) it is used;
the rest are written out from Keras's formulas with torch ops. The reduction follows keras/src/losses/loss.py:
weights multiply the per-sample losses, "sum_over_batch_size" divides by their number (not the weights' sum), and
masked entries (ignore_class) are left out of that number.

Metric cases (kind "metric") hold a metric's configuration, three batches (labels, predictions, optional sample
weights) and its result after all three: states summed over batches as Keras's metrics keep them. Mean metrics follow
keras/src/metrics/reduction_metrics.py (per-sample means, weighted); R2 is the closed form
1 - sum w (y - p)^2 / sum w (y - mean_w y)^2; top-k and precision/recall's top_k use torch.topk; AUC is Keras's
algorithm written out with numpy (200 thresholds, interpolation), and the case also holds "exact": the ROC area as
the Mann-Whitney statistic, or the PR area with Keras's interpolation between every distinct prediction, to show
how far the 200 thresholds move it.
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



# ------------------------------------------------------------------------------------------------ metrics

def per_sample_mean(batches, value):
    """reduce_to_samplewise_values + Mean: weights per sample or per value."""
    total = count = 0.0
    for b in batches:
        v = value(b["y_true"], b["y_pred"])
        n = v.shape[0] if v.dim() > 0 else 1
        v = v.reshape(n, -1)
        w = b.get("sample_weight")
        if w is None:
            total += v.mean(1).sum().item()
            count += n
        elif w.numel() == n:
            total += (w.reshape(n) * v.mean(1)).sum().item()
            count += w.sum().item()
        else:
            w = w.reshape(n, -1)
            total += (v * w).mean(1).sum().item()
            count += w.mean(1).sum().item()
    return total / count


def aligned(y, p):
    return y.reshape(p.shape) if y.numel() == p.numel() else y


def in_top_k(target, p, k):
    idx = torch.topk(p, min(k, p.shape[-1]), dim=-1).indices
    return (idx == target.long().reshape(-1, 1)).any(-1).double()


def top_k_filter(p, k):
    idx = torch.topk(p, k, dim=-1).indices
    mask = torch.zeros_like(p).scatter_(-1, idx, 1.0)
    return torch.where(mask > 0, p, torch.full_like(p, -1e10))


def confusion(batches, thresholds, top_k=None, class_id=None):
    thresholds = numpy.asarray(thresholds, dtype=numpy.float32)
    tp = numpy.zeros(len(thresholds)); fp = tp.copy(); tn = tp.copy(); fn = tp.copy()
    for b in batches:
        y, p = aligned(b["y_true"], b["y_pred"]), b["y_pred"]
        if top_k is not None:
            p = top_k_filter(p, top_k)
        w = b.get("sample_weight")
        w = torch.ones_like(p) if w is None else (w.reshape(p.shape) if w.numel() == p.numel() else w.reshape(-1, *([1] * (p.dim() - 1))) * torch.ones_like(p))
        if class_id is not None:
            y, p, w = y[..., class_id], p[..., class_id], w[..., class_id]
        y = (y != 0).numpy().reshape(-1); w = w.numpy().reshape(-1)
        p = p.numpy().astype(numpy.float32).reshape(-1)
        for j, t in enumerate(thresholds):
            pos = p > t
            tp[j] += (w * (pos & y)).sum(); fp[j] += (w * (pos & ~y)).sum()
            fn[j] += (w * (~pos & y)).sum(); tn[j] += (w * (~pos & ~y)).sum()
    return tp, fp, tn, fn


def keras_auc(tp, fp, tn, fn, curve):
    eps = 1e-7
    if curve == "PR":
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = dtp / numpy.maximum(dp, eps)
        intercept = tp[1:] - slope * p[1:]
        ratio = numpy.where((p[:-1] > 0) & (p[1:] > 0), p[:-1] / numpy.maximum(p[1:], eps), 1.0)
        return float((slope * (dtp + intercept * numpy.log(ratio)) / numpy.maximum(tp[1:] + fn[1:], eps)).sum())
    recall = tp / numpy.maximum(tp + fn, eps)
    fpr = fp / numpy.maximum(fp + tn, eps)
    return float(((fpr[:-1] - fpr[1:]) * (recall[:-1] + recall[1:]) / 2).sum())


def auc_thresholds(n):
    return [-1e-7] + [(i + 1) / (n - 1) for i in range(n - 2)] + [1 + 1e-7]


def exact_roc(batches):
    """The Mann-Whitney statistic: P(score of a positive > score of a negative), ties counting 1/2, weighted."""
    ys, ps, ws = [], [], []
    for b in batches:
        p = b["y_pred"].reshape(-1)
        ys.append(aligned(b["y_true"], b["y_pred"]).reshape(-1)); ps.append(p)
        w = b.get("sample_weight")
        ws.append(torch.ones_like(p) if w is None else w.reshape(-1).repeat_interleave(p.numel() // w.numel()))
    y, p, w = torch.cat(ys) != 0, torch.cat(ps), torch.cat(ws)
    pp, wp, pn, wn = p[y], w[y], p[~y], w[~y]
    gt = (pp[:, None] > pn[None, :]).double() + 0.5 * (pp[:, None] == pn[None, :]).double()
    return float((wp[:, None] * wn[None, :] * gt).sum() / (wp.sum() * wn.sum()))


metric_cases = []


def metric_case(name, metric, config, batches, result, exact=None):
    entry = {"name": name, "kind": "metric", "metric": metric, "config": config, "result": float(result),
             "batches": [{k: enc(v) for k, v in b.items()} for b in batches]}
    if exact is not None:
        entry["exact"] = float(exact)
    metric_cases.append(entry)


def batch(y, p, w=None):
    b = {"y_true": y, "y_pred": p}
    if w is not None:
        b["sample_weight"] = w
    return b


def probs(n, c):
    return f32(torch.softmax(randn(n, c, scale=2), -1))


# Accuracies and regression metrics over three batches; the second weighted per sample.
cls = [batch(f32(torch.randint(0, 4, (n,))), probs(n, 4), rand(n, high=2) if i == 1 else None) for i, n in enumerate([8, 6, 5])]
onehot_cls = [batch(onehot(b["y_true"].long(), 4), b["y_pred"], b.get("sample_weight")) for b in cls]
binary = [batch(f32(torch.rand(n, 3) > 0.5), rand(n, 3), rand(n, high=2) if i == 1 else None) for i, n in enumerate([8, 6, 5])]
regress = [batch(randn(n, 2), randn(n, 2), rand(n, high=2) if i == 1 else None) for i, n in enumerate([8, 6, 5])]
exact_match = [batch(f32(torch.randint(0, 3, (n, 2))), f32(torch.randint(0, 3, (n, 2))), rand(n, 2, high=2) if i == 1 else None)
               for i, n in enumerate([8, 6, 5])]

metric_case("accuracy_exact_match_weighted_per_value", "Accuracy", {}, exact_match,
            per_sample_mean(exact_match, lambda y, p: (y == p).double()))
metric_case("binary_accuracy_weighted", "BinaryAccuracy", {"threshold": 0.4}, binary,
            per_sample_mean(binary, lambda y, p: (y == (p > numpy.float32(0.4)).double()).double()))
metric_case("categorical_accuracy_weighted", "CategoricalAccuracy", {}, onehot_cls,
            per_sample_mean(onehot_cls, lambda y, p: (y.argmax(-1) == p.argmax(-1)).double()))
metric_case("sparse_categorical_accuracy_weighted", "SparseCategoricalAccuracy", {}, cls,
            per_sample_mean(cls, lambda y, p: (y == p.argmax(-1)).double()))
metric_case("top_2_categorical_accuracy_weighted", "TopKCategoricalAccuracy", {"k": 2}, onehot_cls,
            per_sample_mean(onehot_cls, lambda y, p: in_top_k(y.argmax(-1), p, 2)))
metric_case("sparse_top_2_categorical_accuracy_weighted", "SparseTopKCategoricalAccuracy", {"k": 2}, cls,
            per_sample_mean(cls, lambda y, p: in_top_k(y, p, 2)))
metric_case("sparse_top_5_of_4_classes", "SparseTopKCategoricalAccuracy", {}, cls, 1.0)
metric_case("mse_metric_weighted", "MeanSquaredError", {}, regress, per_sample_mean(regress, lambda y, p: (y - p) ** 2))
metric_case("mae_metric_weighted", "MeanAbsoluteError", {}, regress, per_sample_mean(regress, lambda y, p: (y - p).abs()))
metric_case("rmse_weighted", "RootMeanSquaredError", {}, regress, math.sqrt(per_sample_mean(regress, lambda y, p: (y - p) ** 2)))


def r2(batches, aggregation="uniform_average", regressors=0):
    y = torch.cat([b["y_true"] for b in batches]); p = torch.cat([b["y_pred"] for b in batches])
    w = torch.cat([b.get("sample_weight", torch.ones(b["y_true"].shape[0])) for b in batches]).reshape(-1, 1)
    mean = (w * y).sum(0) / w.sum()
    ss_tot = (w * (y - mean) ** 2).sum(0)
    scores = 1 - (w * (y - p) ** 2).sum(0) / ss_tot
    score = scores.mean() if aggregation == "uniform_average" else (ss_tot * scores).sum() / ss_tot.sum()
    n = y.shape[0]
    if regressors:
        score = 1 - (1 - score) * (n - 1) / (n - regressors - 1)
    return float(score)


metric_case("r2_uniform_weighted", "R2Score", {}, regress, r2(regress))
metric_case("r2_variance_weighted_adjusted", "R2Score", {"class_aggregation": "variance_weighted_average", "num_regressors": 3},
            regress, r2(regress, "variance_weighted_average", 3))

# Precision and recall: thresholds, top_k, class_id, weights per sample.
for metric, f in (("Precision", lambda tp, fp, fn: tp / (tp + fp)), ("Recall", lambda tp, fp, fn: tp / (tp + fn))):
    key = metric.lower()
    tp, fp, tn, fn = confusion(binary, [0.5])
    metric_case(f"{key}_default_weighted", metric, {}, binary, f(tp[0], fp[0], fn[0]))
    tp, fp, tn, fn = confusion(binary, [0.3])
    metric_case(f"{key}_threshold_0.3", metric, {"thresholds": 0.3}, binary, f(tp[0], fp[0], fn[0]))
    tp, fp, tn, fn = confusion(onehot_cls, [-1e10], top_k=2)
    metric_case(f"{key}_top_2", metric, {"top_k": 2}, onehot_cls, f(tp[0], fp[0], fn[0]))
    tp, fp, tn, fn = confusion(onehot_cls, [0.2], top_k=1, class_id=2)
    metric_case(f"{key}_top_1_class_2_threshold_0.2", metric, {"thresholds": 0.2, "top_k": 1, "class_id": 2}, onehot_cls, f(tp[0], fp[0], fn[0]))

# AUC: Keras's algorithm against the exact areas.
scores = [batch(f32(torch.rand(n) > 0.4), None, rand(n, high=2) if i == 1 else None) for i, n in enumerate([40, 30, 30])]
for b in scores:   # informative scores: positives shifted up
    b["y_pred"] = f32(torch.clamp(torch.rand(b["y_true"].shape[0]) * 0.8 + 0.25 * b["y_true"], 0.0, 1.0)).reshape(-1, 1)
    b["y_true"] = b["y_true"].reshape(-1, 1)
tp, fp, tn, fn = confusion(scores, auc_thresholds(200))
metric_case("auc_roc_weighted", "AUC", {}, scores, keras_auc(tp, fp, tn, fn, "ROC"), exact=exact_roc(scores))
distinct = sorted(set(float(v) for b in scores for v in b["y_pred"].reshape(-1).tolist()))
exact_pr = keras_auc(*confusion(scores, [-1e-7] + [(a + b) / 2 for a, b in zip(distinct, distinct[1:])] + [1 + 1e-7]), "PR")
tp, fp, tn, fn = confusion(scores, auc_thresholds(200))
metric_case("auc_pr_weighted", "AUC", {"curve": "PR"}, scores, keras_auc(tp, fp, tn, fn, "PR"), exact=exact_pr)
tp, fp, tn, fn = confusion(binary, auc_thresholds(37))
metric_case("auc_roc_37_thresholds_multicolumn", "AUC", {"num_thresholds": 37}, binary, keras_auc(tp, fp, tn, fn, "ROC"), exact=exact_roc(binary))


# F1: per class and averaged, thresholded and argmax.
def f1(batches, average, threshold):
    eps = 1e-7
    tp = fp = fn = sup = 0.0
    for b in batches:
        y, p = b["y_true"], b["y_pred"]
        pred = (p > numpy.float32(threshold)).double() if threshold is not None else ((p >= p.max(-1, keepdim=True).values) & (p.abs() > 1e-9)).double()
        w = b.get("sample_weight", torch.ones(y.shape[0])).reshape(-1, 1)
        tp = tp + (w * pred * y).sum(0); fp = fp + (w * pred * (1 - y)).sum(0)
        fn = fn + (w * (1 - pred) * y).sum(0); sup = sup + (w * y).sum(0)
    if average == "micro":
        tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
    precision, recall = tp / (tp + fp + eps), tp / (tp + fn + eps)
    score = precision * recall / (precision + recall + eps) * 2
    if average == "weighted":
        return float((score * sup / (sup.sum() + eps)).sum()), score
    return float(score.mean()), score


multi = [batch(f32(torch.rand(n, 3) > 0.5), rand(n, 3), rand(n, high=2) if i == 1 else None) for i, n in enumerate([8, 6, 5])]
for average in (None, "micro", "macro", "weighted"):
    value, per_class = f1(multi, average, 0.5)
    metric_case(f"f1_{average or 'none'}_threshold_0.5", "F1Score", {"average": average, "threshold": 0.5}, multi, value)
    metric_cases[-1]["per_class"] = [float(v) for v in per_class.reshape(-1)]
value, per_class = f1(onehot_cls, "macro", None)
metric_case("f1_macro_argmax", "F1Score", {"average": "macro"}, onehot_cls, value)

cases += metric_cases

# Appended last so the random draws above stay as they were: a mask alone is the weight mean_with_sample_weight divides by.
case("scce_logits_ignore_mean_with_sample_weight", "SparseCategoricalCrossentropy", f32([2, 0, 0, 1, 2]), randn(5, 3),
     {"from_logits": True, "ignore_class": 0, "reduction": "mean_with_sample_weight"})

with open(OUT, "w") as f:
    json.dump({"generator": "tests/reference/make_loss_metric_reference.py", "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {OUT}")
for c in metric_cases:
    if "exact" in c:
        print(f"{c['name']}: Keras's {c['result']:.6f}, exact {c['exact']:.6f}, difference {c['result'] - c['exact']:+.6f}")
