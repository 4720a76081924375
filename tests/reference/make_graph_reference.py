#!/usr/bin/python3
"""Writes PyTorch's loss and gradients for whole graphs of layers (Cortex's Functional API) to graph.json.

Run with Debian's python3-torch:  /usr/bin/python3 tests/reference/make_graph_reference.py
CI does not run this; it reads the committed JSON.

The graph (the same in every case; the loss and the head's width change):

    a ─┐                         ┌───────────────┐
       ├ shared = Dense(6, relu) ┤ s = add(ha, hb) ├─ block = Dense(6, tanh) ─ add(r, s) ─ head = Dense(k) ─ loss
    b ─┘   (one layer, called on both inputs: its weights' gradients add up)     └ the residual connection ┘

Weights are in Keras's layouts (kernel: (inputs, units)), so the test assigns them as they are. Each case holds the
inputs, labels, weights, the loss, the gradient of the loss with respect to every weight and both inputs, and the
weights after one SGD step of learning rate 0.1 (what Fit makes of one batch holding every row). Values are computed
in float64 from float32 inputs and weights and stored as float32.
"""
import json
import os

import torch
import torch.nn.functional as F

from reference_common import enc, randn

torch.manual_seed(2468)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "graph.json")
LEARNING_RATE = 0.1
cases = []


def dense(units_in, units_out):
    return randn(units_in, units_out, scale=0.5).requires_grad_(True), randn(units_out, scale=0.1).requires_grad_(True)


def case(name, loss, classes, rows=7, features=4, width=6):
    a = randn(rows, features).requires_grad_(True)
    b = randn(rows, features).requires_grad_(True)
    weights = {"shared": dense(features, width), "block": dense(width, width), "head": dense(width, classes)}
    if loss == "sparse_categorical_crossentropy":
        y = torch.randint(0, classes, (rows,)).double()
    else:
        y = randn(rows, classes)

    def layer(name, x, activation=None):
        kernel, bias = weights[name]
        z = x @ kernel + bias
        return activation(z) if activation else z

    s = layer("shared", a, torch.relu) + layer("shared", b, torch.relu)   # one layer on two inputs, merged by Add
    t = layer("block", s, torch.tanh) + s                                 # the residual connection
    out = layer("head", t)
    if loss == "sparse_categorical_crossentropy":
        value = F.cross_entropy(out, y.long())                             # from logits, mean over the batch
    else:
        value = ((out - y) ** 2).mean()                                    # Keras's mean squared error, averaged
    value.backward()
    entry = {"name": name, "loss_name": loss, "classes": classes, "a": enc(a), "b": enc(b), "y": enc(y),
             "loss": float(value), "grad_a": enc(a.grad), "grad_b": enc(b.grad), "layers": {}}
    for layer_name, (kernel, bias) in weights.items():
        entry["layers"][layer_name] = {
            "kernel": enc(kernel), "bias": enc(bias), "grad_kernel": enc(kernel.grad), "grad_bias": enc(bias.grad),
            "kernel_after_sgd": enc(kernel - LEARNING_RATE * kernel.grad), "bias_after_sgd": enc(bias - LEARNING_RATE * bias.grad)}
    cases.append(entry)


case("shared_residual_cross_entropy", "sparse_categorical_crossentropy", classes=3)
case("shared_residual_mse", "mean_squared_error", classes=2, rows=5)

with open(OUT, "w") as f:
    json.dump({"generator": "tests/reference/make_graph_reference.py", "torch": torch.__version__,
               "learning_rate": LEARNING_RATE, "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {OUT} ({os.path.getsize(OUT)} bytes)")
