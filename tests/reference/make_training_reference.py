#!/usr/bin/python3
"""Writes PyTorch's values for Cortex's losses and optimizers to training.json.

Run with Debian's python3-torch:  /usr/bin/python3 tests/reference/make_training_reference.py
CI does not run this; it reads the committed JSON.

Two kinds of case:
  loss   -- a loss's value and its gradient with respect to y_pred, for probabilities and logits (including logits of
            +-1000), labels of shape (N,) against predictions (N, 1), multi-class and sparse labels.
  train  -- three training steps of a small MLP (3 -> 4 tanh -> k) from fixed weights, for every loss x optimizer:
            the loss before each step and the weights after steps 1 and 3. Dense convention: y = x @ W + b, W of shape
            (inputs, units).

Everything is computed in float64 from float32 inputs, so the JSON holds the exact answer rounded once. Keras's
semantics are followed where they differ from PyTorch's defaults: probabilities are clipped to [1e-7, 1 - 1e-7]
(the float32 values of those bounds); Keras's update rules are written out with torch tensors where torch.optim
differs (see keras_step); torch.optim is used where the two coincide.
"""
import json
import math
import os

import numpy
import torch
import torch.nn.functional as F

torch.manual_seed(20240611)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "training.json")

# Keras clips probabilities to [epsilon, 1 - epsilon] with epsilon = 1e-7, in float32.
LO = float(numpy.float32(1e-7))
HI = float(numpy.float32(1.0) - numpy.float32(1e-7))


def f32(t):
    """Rounds to float32 values (kept in float64) so Cortex and this script start from identical numbers."""
    return torch.as_tensor(t, dtype=torch.float64).float().double()


def enc(t):
    values = torch.as_tensor(t).detach().reshape(-1).numpy().astype(numpy.float32)
    return {"shape": list(torch.as_tensor(t).shape), "data": [float(str(v)) if numpy.isfinite(v) else str(v) for v in values]}


def randn(*shape, scale=1.0):
    return f32(torch.randn(shape) * scale)


def rand(*shape, low=0.0, high=1.0):
    return f32(torch.rand(shape) * (high - low) + low)


def onehot(labels, classes):
    return F.one_hot(torch.as_tensor(labels), classes).double()


# ------------------------------------------------------------------------------------------------ losses (Keras)

def align(y_true, y_pred):
    # Keras's squeeze_or_expand_to_same_rank: (N,) labels meet (N, 1) predictions and vice versa.
    return y_true.reshape(y_pred.shape)


def bce(y, p, from_logits):
    y = align(y, p)
    if from_logits:
        return F.binary_cross_entropy_with_logits(p, y)
    p = torch.clamp(p, LO, HI)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()


def cce(y, p, from_logits):
    if from_logits:
        return -(y * F.log_softmax(p, -1)).sum(-1).mean()
    p = torch.clamp(p / p.sum(-1, keepdim=True), LO, HI)  # Keras renormalises rows, then clips
    return -(y * torch.log(p)).sum(-1).mean()


def scce(labels, p, from_logits):
    classes = p.shape[-1]
    idx = labels.reshape(-1).long()
    rows = p.reshape(-1, classes)
    if from_logits:
        return F.cross_entropy(rows, idx)
    rows = torch.clamp(rows / rows.sum(-1, keepdim=True), LO, HI)
    return -torch.log(rows.gather(1, idx[:, None])).mean()


def mse(y, p, _=False):
    return ((p - align(y, p)) ** 2).mean()


def mae(y, p, _=False):
    return (p - align(y, p)).abs().mean()


LOSSES = {
    "BinaryCrossentropy": bce,
    "CategoricalCrossentropy": cce,
    "SparseCategoricalCrossentropy": scce,
    "MeanSquaredError": mse,
    "MeanAbsoluteError": mae,
}

cases = []


def loss_case(name, loss, y_true, y_pred, from_logits=False, fd=True):
    p = y_pred.clone().requires_grad_(True)
    value = LOSSES[loss](y_true, p, from_logits)
    value.backward()
    cases.append({
        "name": name, "kind": "loss", "loss": loss, "config": {"from_logits": from_logits}, "fd": fd,
        "y_true": enc(y_true), "y_pred": enc(y_pred), "value": float(numpy.float32(value.item())), "grad": enc(p.grad),
    })


labels01 = f32([1, 0, 1, 0, 1, 0])
# Probabilities 0 and 1 are clipped (gradient 0 there), so no finite-difference check.
loss_case("bce_probs_n_vs_n1_clipped", "BinaryCrossentropy", labels01, f32([[0.9], [0.2], [0.0], [1.0], [0.6], [0.35]]), fd=False)
loss_case("bce_probs_2d_soft", "BinaryCrossentropy", rand(4, 3), rand(4, 3, low=0.05, high=0.95))
loss_case("bce_logits_large_n1_vs_n", "BinaryCrossentropy", f32([[1], [1], [0], [1], [0], [0]]),
          f32([-1000, 1000, 0.5, -2, 3, 1000]), from_logits=True, fd=False)
loss_case("bce_logits_2d", "BinaryCrossentropy", f32(torch.rand(4, 3) > 0.5), randn(4, 3, scale=3), from_logits=True)

loss_case("cce_probs_unnormalised", "CategoricalCrossentropy", onehot([0, 2, 1, 2], 3), rand(4, 3, low=0.1, high=2.0))
loss_case("cce_probs_clipped", "CategoricalCrossentropy", onehot([0, 2, 1], 3), f32([[0.0, 0.5, 0.5], [0.2, 0.8, 0.0], [0.1, 0.7, 0.2]]), fd=False)
soft = torch.softmax(randn(5, 4), -1)
loss_case("cce_logits_soft", "CategoricalCrossentropy", f32(soft), randn(5, 4, scale=2), from_logits=True)
loss_case("cce_logits_large", "CategoricalCrossentropy", onehot([0, 1, 2, 1], 3),
          f32([[1000, -1000, 0], [1000, -1000, 0], [-1000, 0, 1000], [3, 1, -2]]), from_logits=True, fd=False)
# Rows of soft labels need not sum to 1 (Keras takes them as they are); each label stays in [0, 1], which Cortex checks.
loss_case("cce_logits_label_sum_2", "CategoricalCrossentropy", f32([[1, 1, 0], [0, 0.5, 0]]), randn(2, 3), from_logits=True)

loss_case("scce_probs_n", "SparseCategoricalCrossentropy", f32([0, 2, 1, 1, 0]), rand(5, 3, low=0.1, high=1.0))
loss_case("scce_probs_n1", "SparseCategoricalCrossentropy", f32([[2], [0], [1], [2], [1]]), f32(torch.softmax(randn(5, 3), -1)))
loss_case("scce_logits_n", "SparseCategoricalCrossentropy", f32([3, 0, 1, 2, 2, 1]), randn(6, 4, scale=2), from_logits=True)
loss_case("scce_logits_large_n1", "SparseCategoricalCrossentropy", f32([[0], [1], [2], [1]]),
          f32([[1000, -1000, 0], [1000, -1000, 0], [-1000, 0, 1000], [-1000, 1000, 1000]]), from_logits=True, fd=False)
loss_case("scce_logits_rank3", "SparseCategoricalCrossentropy", f32([[0, 3, 1], [2, 2, 0]]), randn(2, 3, 4), from_logits=True)

loss_case("mse_n_vs_n1", "MeanSquaredError", randn(5), randn(5, 1))
loss_case("mse_2d", "MeanSquaredError", randn(4, 3), randn(4, 3))
mae_true = randn(4, 3)
loss_case("mae_2d", "MeanAbsoluteError", mae_true, mae_true + f32(torch.sign(torch.randn(4, 3)) * rand(4, 3, low=0.1, high=1.0)))
loss_case("mae_n1_vs_n", "MeanAbsoluteError", f32([[0.5], [-1.0], [2.0], [0.0]]), f32([1.5, -0.2, 1.0, -0.7]))

# ------------------------------------------------------------------------------------------------ training steps

X = randn(5, 3)
INIT = {
    1: [randn(3, 4, scale=0.7), randn(4, scale=0.3), randn(4, 1, scale=0.7), randn(1, scale=0.3)],
    2: [randn(3, 4, scale=0.7), randn(4, scale=0.3), randn(4, 2, scale=0.7), randn(2, scale=0.3)],
    3: [randn(3, 4, scale=0.7), randn(4, scale=0.3), randn(4, 3, scale=0.7), randn(3, scale=0.3)],
}

# name -> (loss class, from_logits, output units, head applied to the logits, labels)
TRAIN_LOSSES = {
    "bce_probs": ("BinaryCrossentropy", False, 1, torch.sigmoid, f32([1, 0, 0, 1, 1])),
    "bce_logits": ("BinaryCrossentropy", True, 1, None, f32([[0], [1], [1], [0], [1]])),
    "cce_probs": ("CategoricalCrossentropy", False, 3, lambda z: torch.softmax(z, -1), onehot([2, 0, 1, 1, 0], 3)),
    "cce_logits": ("CategoricalCrossentropy", True, 3, None, onehot([1, 2, 0, 2, 1], 3)),
    "scce_probs": ("SparseCategoricalCrossentropy", False, 3, lambda z: torch.softmax(z, -1), f32([0, 2, 2, 1, 0])),
    "scce_logits": ("SparseCategoricalCrossentropy", True, 3, None, f32([1, 0, 2, 1, 2])),
    "mse": ("MeanSquaredError", False, 2, None, randn(5, 2)),
    "mae": ("MeanAbsoluteError", False, 2, None, randn(5, 2)),
}

# name -> Keras class name and config (what Cortex's Optimizer.FromConfig reads)
OPTIMIZERS = {
    "sgd": ("SGD", {"learning_rate": 0.1}),
    "sgd_momentum": ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    "sgd_nesterov": ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    "sgd_clipvalue": ("SGD", {"learning_rate": 0.1, "clipvalue": 0.05}),
    "sgd_clipnorm": ("SGD", {"learning_rate": 0.1, "clipnorm": 0.1}),
    "sgd_global_clipnorm": ("SGD", {"learning_rate": 0.1, "global_clipnorm": 0.2}),
    "sgd_momentum_exponential_decay": ("SGD", {"learning_rate": {"class_name": "ExponentialDecay", "config": {
        "initial_learning_rate": 0.1, "decay_steps": 1, "decay_rate": 0.5, "staircase": False}}, "momentum": 0.9}),
    "adam": ("Adam", {"learning_rate": 0.01}),
    "adam_amsgrad": ("Adam", {"learning_rate": 0.01, "amsgrad": True}),
    # A large epsilon makes Keras's placement of epsilon (vs torch's) visible at the tests' tolerance.
    "adam_large_epsilon": ("Adam", {"learning_rate": 0.01, "epsilon": 0.01}),
    "adam_clipnorm": ("Adam", {"learning_rate": 0.01, "clipnorm": 0.1}),
    "adam_exponential_decay_staircase": ("Adam", {"learning_rate": {"class_name": "ExponentialDecay", "config": {
        "initial_learning_rate": 0.01, "decay_steps": 2, "decay_rate": 0.3, "staircase": True}}}),
    "rmsprop": ("RMSprop", {"learning_rate": 0.01}),
    "rmsprop_centered_momentum": ("RMSprop", {"learning_rate": 0.01, "momentum": 0.9, "centered": True}),
    "rmsprop_large_epsilon": ("RMSprop", {"learning_rate": 0.01, "rho": 0.8, "epsilon": 0.01}),
    "adamw": ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1}),
    "adagrad": ("Adagrad", {"learning_rate": 0.1}),
    # A large epsilon makes Keras's placement of epsilon (inside the square root; torch's outside) visible.
    "adagrad_large_epsilon": ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.0, "epsilon": 0.01}),
    # Adadelta's step is lr times a ratio of running RMSs that starts at sqrt(eps); Keras's default lr 0.001 would
    # barely move the weights, so the paper's (and torch's) lr 1 and a large epsilon make the steps visible.
    "adadelta": ("Adadelta", {"learning_rate": 1.0, "rho": 0.9, "epsilon": 1e-3}),
    "adamax": ("Adamax", {"learning_rate": 0.01}),
    "adamax_large_epsilon": ("Adamax", {"learning_rate": 0.01, "beta_2": 0.9, "epsilon": 0.01}),
    "nadam": ("Nadam", {"learning_rate": 0.01}),
    "nadam_exponential_decay": ("Nadam", {"learning_rate": {"class_name": "ExponentialDecay", "config": {
        "initial_learning_rate": 0.01, "decay_steps": 1, "decay_rate": 0.5, "staircase": False}}, "epsilon": 0.01}),
    "lion": ("Lion", {"learning_rate": 0.01}),
    # Keras 3's decoupled weight decay, which every optimizer takes: w -= lr*wd*w before the optimizer's own step.
    "sgd_momentum_weight_decay": ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.2}),
    "rmsprop_weight_decay": ("RMSprop", {"learning_rate": 0.01, "weight_decay": 0.3}),
    "adam_weight_decay_clipvalue": ("Adam", {"learning_rate": 0.01, "weight_decay": 0.1, "clipvalue": 0.05}),
    "adagrad_weight_decay": ("Adagrad", {"learning_rate": 0.1, "weight_decay": 0.5}),
    "adadelta_weight_decay": ("Adadelta", {"learning_rate": 1.0, "epsilon": 1e-3, "weight_decay": 0.1}),
    "adamax_weight_decay": ("Adamax", {"learning_rate": 0.01, "weight_decay": 0.3}),
    "nadam_weight_decay": ("Nadam", {"learning_rate": 0.01, "weight_decay": 0.3}),
    "lion_weight_decay": ("Lion", {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.9, "weight_decay": 0.5}),
    # Keras's EMA: the average follows the weights after each step (copying them on the first) and, every
    # ema_overwrite_frequency steps, replaces them: here at step 3, so weights_step3 are the averages.
    "adam_ema_overwrite": ("Adam", {"learning_rate": 0.01, "use_ema": True, "ema_momentum": 0.5, "ema_overwrite_frequency": 3}),
}


def learning_rate(config, step):
    lr = config["learning_rate"]
    if isinstance(lr, dict):  # Keras's ExponentialDecay at the number of updates already applied
        c = lr["config"]
        p = step / c["decay_steps"]
        if c["staircase"]:
            p = math.floor(p)
        return c["initial_learning_rate"] * c["decay_rate"] ** p
    return lr


def keras_clip(config, grads):
    # Keras: clipnorm per variable g * c / max(|g|, c); global_clipnorm the same over all gradients; clipvalue clamps.
    # (torch.nn.utils.clip_grad_norm_ divides by |g| + 1e-6 instead, so it is written out here.)
    if config.get("clipnorm"):
        c = config["clipnorm"]
        return [g * c / max(g.norm().item(), c) for g in grads]
    if config.get("global_clipnorm"):
        c = config["global_clipnorm"]
        norm = math.sqrt(sum((g ** 2).sum().item() for g in grads))
        return [g * c / max(norm, c) for g in grads]
    if config.get("clipvalue"):
        c = config["clipvalue"]
        return [torch.clamp(g, -c, c) for g in grads]
    return grads


class KerasOptimizer:
    """Keras 3's update rules, written out where torch.optim differs:
    - Adam/AdamW: Keras folds the bias corrections into the step, lr_t = lr*sqrt(1-b2^t)/(1-b1^t), and adds epsilon to
      sqrt(v) (torch adds it to sqrt(v_hat)); AdamW decays w -= lr*wd*w first, then takes that Adam step.
    - RMSprop: Keras adds epsilon inside the square root, sqrt(v + eps); torch outside, sqrt(v) + eps.
    - SGD with momentum under a schedule: Keras keeps m = mu*m - lr_t*g (torch keeps the unscaled buffer, which
      only agrees for a constant learning rate).
    - Clipping as in keras_clip.
    - Adagrad: Keras adds epsilon inside the square root, sqrt(a + eps); torch outside, sqrt(a) + eps.
    - Adamax: Keras divides by (1 - b1^t)(u + eps) with u = max(b2*u, |g|); torch takes u = max(b2*u, |g| + eps).
    - Lion: not in torch 1.13; Keras's rule (the authors').
    - use_ema: Keras's moving average of the weights after each step, written out (torch.optim has none).
    - Weight decay (any optimizer): Keras decays w -= w*wd*lr before the step (decoupled); torch's weight_decay
      argument adds wd*w to the gradient instead (except AdamW's), so it is applied by hand (decay_weights).
    - Nadam: Keras's momentum schedule is u_t = b1*(1 - 0.5*0.96^t); torch.optim.NAdam's is 0.96^(momentum_decay*t),
      equal with momentum_decay=1. But torch 1.13's NAdam multiplies the running product by u_t twice for the
      product at t+1 (mu_product_next = mu_product * mu * mu_next after mu_product *= mu; later PyTorch fixed it),
      so the rule is written out here; the end of this file checks it against torch 1.13 with that slip reproduced.
    Adadelta coincides with torch.optim.Adadelta; torch_optimizer uses it, and the end of this file checks it
    against the rule written out here.
    """

    def __init__(self, cls, config, params):
        self.cls, self.c, self.params = cls, config, params
        self.t = 0
        zeros = lambda: [torch.zeros_like(p) for p in params]
        self.m, self.v, self.vhat, self.avg = zeros(), zeros(), zeros(), zeros()
        self.u_product = 1.0
        self.torch113_nadam = False  # reproduce torch 1.13's extra u_t in the product at t+1 (for the check only)
        if cls == "Adagrad":
            self.v = [torch.full_like(p, config.get("initial_accumulator_value", 0.1)) for p in params]

    def step(self, grads):
        c, lr = self.c, learning_rate(self.c, self.t)
        grads = keras_clip(c, grads)
        if self.cls != "AdamW":
            decay_weights(c, lr, self.params)
        if self.cls == "Nadam":
            b1 = c.get("beta_1", 0.9)
            self.u_product *= b1 * (1 - 0.5 * 0.96 ** (self.t + 1))
        for i, (w, g) in enumerate(zip(self.params, grads)):
            if self.cls == "SGD":
                mu = c.get("momentum", 0.0)
                if mu == 0:
                    w -= lr * g
                else:
                    self.m[i] = mu * self.m[i] - lr * g
                    w += (mu * self.m[i] - lr * g) if c.get("nesterov") else self.m[i]
            elif self.cls in ("Adam", "AdamW"):
                b1, b2, eps = c.get("beta_1", 0.9), c.get("beta_2", 0.999), c.get("epsilon", 1e-7)
                if self.cls == "AdamW":
                    w -= w * c.get("weight_decay", 0.004) * lr
                t = self.t + 1
                alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                self.m[i] += (g - self.m[i]) * (1 - b1)
                self.v[i] += (g * g - self.v[i]) * (1 - b2)
                v = self.v[i]
                if c.get("amsgrad"):
                    self.vhat[i] = torch.maximum(self.vhat[i], v)
                    v = self.vhat[i]
                w -= alpha * self.m[i] / (torch.sqrt(v) + eps)
            elif self.cls == "RMSprop":
                rho, mu, eps = c.get("rho", 0.9), c.get("momentum", 0.0), c.get("epsilon", 1e-7)
                self.v[i] = rho * self.v[i] + (1 - rho) * g * g
                den = self.v[i] + eps
                if c.get("centered"):
                    self.avg[i] = rho * self.avg[i] + (1 - rho) * g
                    den = self.v[i] - self.avg[i] ** 2 + eps
                inc = lr * g / torch.sqrt(den)
                if mu > 0:
                    self.m[i] = mu * self.m[i] + inc
                    inc = self.m[i]
                w -= inc
            elif self.cls == "Adagrad":
                self.v[i] += g * g
                w -= lr * g / torch.sqrt(self.v[i] + c.get("epsilon", 1e-7))
            elif self.cls == "Adadelta":
                rho, eps = c.get("rho", 0.95), c.get("epsilon", 1e-7)
                self.v[i] = rho * self.v[i] + (1 - rho) * g * g
                delta = -torch.sqrt(self.m[i] + eps) * g / torch.sqrt(self.v[i] + eps)
                self.m[i] = rho * self.m[i] + (1 - rho) * delta * delta
                w += lr * delta
            elif self.cls == "Adamax":
                b1, b2, eps = c.get("beta_1", 0.9), c.get("beta_2", 0.999), c.get("epsilon", 1e-7)
                self.m[i] += (g - self.m[i]) * (1 - b1)
                self.v[i] = torch.maximum(b2 * self.v[i], g.abs())
                w -= lr * self.m[i] / ((1 - b1 ** (self.t + 1)) * (self.v[i] + eps))
            elif self.cls == "Nadam":
                b1, b2, eps = c.get("beta_1", 0.9), c.get("beta_2", 0.999), c.get("epsilon", 1e-7)
                t = self.t + 1
                u_t, u_t1 = b1 * (1 - 0.5 * 0.96 ** t), b1 * (1 - 0.5 * 0.96 ** (t + 1))
                self.m[i] += (g - self.m[i]) * (1 - b1)
                self.v[i] += (g * g - self.v[i]) * (1 - b2)
                product_t1 = self.u_product * u_t1 * (u_t if self.torch113_nadam else 1)
                m_hat = u_t1 * self.m[i] / (1 - product_t1) + (1 - u_t) * g / (1 - self.u_product)
                w -= m_hat * lr / (torch.sqrt(self.v[i] / (1 - b2 ** t)) + eps)
            elif self.cls == "Lion":
                b1, b2 = c.get("beta_1", 0.9), c.get("beta_2", 0.99)
                w -= lr * torch.sign(self.m[i] * b1 + g * (1 - b1))
                self.m[i] = self.m[i] * b2 + g * (1 - b2)
            else:
                raise ValueError(self.cls)
        if c.get("use_ema"):
            m = c.get("ema_momentum", 0.99) if self.t != 0 else 0.0
            freq = c.get("ema_overwrite_frequency")
            for i, w in enumerate(self.params):
                self.avg[i] = m * self.avg[i] + (1 - m) * w
                if freq and (self.t + 1) % freq == 0:
                    w.copy_(self.avg[i])
        self.t += 1


def decay_weights(config, lr, params):
    """Keras 3's decoupled weight decay, applied to every variable before any optimizer's step."""
    wd = config.get("weight_decay")
    if wd:
        for w in params:
            w -= w * wd * lr


def torch_optimizer(cls, config, params):
    """torch.optim where its rule coincides with Keras's: SGD (plain, momentum, Nesterov), Adadelta and NAdam
    (momentum_decay=1) at a constant learning rate, with clip_grad_value_ for clipvalue and decay_weights for Keras's
    weight decay. Returns None otherwise."""
    if isinstance(config["learning_rate"], dict) or config.get("clipnorm") or config.get("global_clipnorm") or config.get("use_ema"):
        return None
    if cls == "Adadelta":
        return torch.optim.Adadelta(params, lr=config["learning_rate"], rho=config.get("rho", 0.95), eps=config.get("epsilon", 1e-7))
    if cls != "SGD":
        return None
    return torch.optim.SGD(params, lr=config["learning_rate"], momentum=config.get("momentum", 0.0),
                           nesterov=config.get("nesterov", False))


def forward(params, head):
    w1, b1, w2, b2 = params
    z = torch.tanh(X @ w1 + b1) @ w2 + b2
    return head(z) if head else z


for loss_name, (loss_cls, from_logits, units, head, y) in TRAIN_LOSSES.items():
    for opt_name, (opt_cls, opt_config) in OPTIMIZERS.items():
        params = [p.clone().requires_grad_(True) for p in INIT[units]]
        topt = torch_optimizer(opt_cls, opt_config, params)
        kopt = None if topt else KerasOptimizer(opt_cls, opt_config, params)
        losses, after = [], {}
        for step in range(1, 4):
            for p in params:
                p.grad = None
            loss = LOSSES[loss_cls](y, forward(params, head), from_logits)
            loss.backward()
            losses.append(float(numpy.float32(loss.item())))
            if step == 1:
                grads1 = [enc(p.grad) for p in params]
            if topt:
                if opt_config.get("clipvalue"):
                    torch.nn.utils.clip_grad_value_(params, opt_config["clipvalue"])
                with torch.no_grad():
                    decay_weights(opt_config, opt_config["learning_rate"], params)
                topt.step()
            else:
                with torch.no_grad():
                    kopt.step([p.grad for p in params])
            if step in (1, 3):
                after[step] = [enc(p) for p in params]
        cases.append({
            "name": f"{loss_name}__{opt_name}", "kind": "train", "loss": loss_cls, "loss_config": {"from_logits": from_logits},
            "head": {None: "none", torch.sigmoid: "sigmoid"}.get(head, "softmax"),
            "optimizer": opt_cls, "optimizer_config": opt_config,
            "x": enc(X), "y": enc(y), "initial": [enc(p) for p in INIT[units]],
            "losses": losses, "grads_step1": grads1, "weights_step1": after[1], "weights_step3": after[3],
        })


# The SGD rules above are also written out in KerasOptimizer; check that torch.optim agrees with it where used.
for opt_cls, opt_config in [OPTIMIZERS["sgd_momentum"], OPTIMIZERS["sgd_nesterov"]]:
    a = [p.clone().requires_grad_(True) for p in INIT[3]]
    b = [p.clone() for p in INIT[3]]
    topt, kopt = torch_optimizer(opt_cls, opt_config, a), KerasOptimizer(opt_cls, opt_config, b)
    for _ in range(3):
        for p in a:
            p.grad = None
        mse(TRAIN_LOSSES["mse"][4], forward(a, None)[:, :2]).backward()
        grads = [p.grad.clone() for p in a]
        topt.step()
        kopt.step(grads)
    assert all(torch.allclose(p, q, atol=1e-12) for p, q in zip(a, b)), "torch.optim.SGD and Keras's SGD rule disagree"

# Likewise Adadelta, and NAdam (momentum_decay=1: Keras's 0.96^t schedule) with torch 1.13's slip reproduced in the
# rule above, both with weight decay.
for opt_cls, opt_config in [OPTIMIZERS["adadelta_weight_decay"], OPTIMIZERS["nadam_weight_decay"]]:
    a = [p.clone().requires_grad_(True) for p in INIT[3]]
    b = [p.clone() for p in INIT[3]]
    topt, kopt = torch_optimizer(opt_cls, opt_config, a), KerasOptimizer(opt_cls, opt_config, b)
    if opt_cls == "Nadam":
        topt = torch.optim.NAdam(a, lr=opt_config["learning_rate"], eps=opt_config.get("epsilon", 1e-7), momentum_decay=1.0)
        kopt.torch113_nadam = torch.__version__.startswith("1.")
    for _ in range(3):
        for p in a:
            p.grad = None
        mse(TRAIN_LOSSES["mse"][4], forward(a, None)[:, :2]).backward()
        grads = [p.grad.clone() for p in a]
        with torch.no_grad():
            decay_weights(opt_config, opt_config["learning_rate"], a)
        topt.step()
        kopt.step(grads)
    assert all(torch.allclose(p, q, rtol=1e-10, atol=1e-12) for p, q in zip(a, b)), f"torch.optim.{opt_cls} and Keras's rule disagree"

with open(OUT, "w") as f:
    json.dump({"generator": "tests/reference/make_training_reference.py", "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {OUT}")
