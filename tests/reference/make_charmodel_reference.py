#!/usr/bin/python3
"""Trains examples/CharModel's network (Zoo.CharRnn: Embedding(maskZero) -> GRU -> Dense, logits) for 200 steps in
PyTorch and writes the start, the data and the losses to charmodel.json, for Cortex's test that its own training from
the same start follows the same losses.

Run:  /usr/bin/python3 tests/reference/make_charmodel_reference.py   (needs Debian's wamerican: /usr/share/dict/words)
CI does not run this; it reads the committed JSON (the windows themselves are stored, so CI needs no word list).

- Data: lower-case words of 3-12 letters from the word list, as the example; 2,000 of them drawn with a fixed seed,
  each as "^word$" in tokens 0 = padding, 1 = unknown, 2 = "^", 3 = "$", 4.. = a..z; Sequences.NextTokenWindows's
  windows of 12 (left-padded with 0) and next tokens; 200 x 32 of them in a fixed shuffled order.
- Network in float32 with Keras's semantics and weight layouts: Embedding (30, 16); GRU(64) with reset_after (Keras's
  kernel (16, 192), recurrent kernel (64, 192), bias (2, 192), gate blocks z, r, h), run as torch.nn.GRUCell with
  the blocks reordered to PyTorch's r, z, n, a masked step (token 0) keeping the state it had (Keras's mask from
  Embedding(mask_zero=True)); Dense(64 -> 30) logits; sparse categorical cross-entropy from logits, the batch mean.
- Keras 3's Adam(learning_rate=0.005): m += (g - m)(1 - b1), v += (g^2 - v)(1 - b2),
  w -= lr*sqrt(1 - b2^t)/(1 - b1^t) * m/(sqrt(v) + 1e-7) (torch.optim.Adam places epsilon differently).
- Weights start as Keras would draw them in kind (Glorot uniform kernels, orthogonal recurrent kernel, uniform
  embeddings, zero biases), from torch's generator.
Writes: the start weights (Keras layout), x (6400 x 12), y (6400), the loss of each of the 200 steps, and the loss on
the first 512 windows after the 200 steps.
"""
import json
import math
import os
import random

import torch

from reference_common import enc

torch.manual_seed(2718)
random.seed(2718)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "charmodel.json")
WINDOW, EMBED, UNITS, BATCH, STEPS, LR = 12, 16, 64, 32, 200, 0.005

words = [w.strip() for w in open("/usr/share/dict/words", encoding="utf-8")]
words = [w for w in words if 3 <= len(w) <= 12 and all("a" <= c <= "z" for c in w)]
words = random.sample(words, 2000)
token = {"^": 2, "$": 3, **{chr(ord("a") + i): 4 + i for i in range(26)}}
VOCAB = 30
xs, ys = [], []
for w in words:
    s = [token[c] for c in f"^{w}$"]
    for t in range(1, len(s)):
        xs.append([0 if k < 0 else s[k] for k in range(t - WINDOW, t)])
        ys.append(s[t])
order = list(range(len(ys)))
random.shuffle(order)
order = order[:BATCH * STEPS]
x = torch.tensor([xs[i] for i in order], dtype=torch.long)
y = torch.tensor([ys[i] for i in order], dtype=torch.long)


def glorot(fan_in, fan_out):
    limit = math.sqrt(6 / (fan_in + fan_out))
    return (torch.rand(fan_in, fan_out) * 2 - 1) * limit


def orthogonal(rows, cols):
    q, r = torch.linalg.qr(torch.randn(max(rows, cols), min(rows, cols), dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    return (q if rows >= cols else q.T)[:rows, :cols].float()


params = {
    "embeddings": (torch.rand(VOCAB, EMBED) * 0.1 - 0.05),
    "kernel": glorot(EMBED, 3 * UNITS),
    "recurrent_kernel": torch.cat([orthogonal(UNITS, UNITS) for _ in range(3)], 1),
    "gru_bias": torch.zeros(2, 3 * UNITS),
    "dense_kernel": glorot(UNITS, VOCAB),
    "dense_bias": torch.zeros(VOCAB),
}
start = {k: v.clone() for k, v in params.items()}
for v in params.values():
    v.requires_grad_(True)


def torch_order(w):
    """Keras's gate blocks z, r, h -> PyTorch's r, z, n (last axis)."""
    return torch.cat([w[..., UNITS:2 * UNITS], w[..., :UNITS], w[..., 2 * UNITS:]], -1)


def forward(xb):
    p = params
    e = p["embeddings"][xb]                           # (B, T, E)
    mask = (xb != 0).float().unsqueeze(-1)            # (B, T, 1)
    w_ih, w_hh = torch_order(p["kernel"]).T, torch_order(p["recurrent_kernel"]).T
    b_ih, b_hh = torch_order(p["gru_bias"][0]), torch_order(p["gru_bias"][1])
    h = torch.zeros(xb.shape[0], UNITS)
    for t in range(xb.shape[1]):
        new = torch._VF.gru_cell(e[:, t], h, w_ih, w_hh, b_ih, b_hh)
        h = mask[:, t] * new + (1 - mask[:, t]) * h
    return h @ p["dense_kernel"] + p["dense_bias"]


def loss_of(xb, yb):
    return torch.nn.functional.cross_entropy(forward(xb), yb)


m = {k: torch.zeros_like(v) for k, v in params.items()}
v2 = {k: torch.zeros_like(v) for k, v in params.items()}
losses = []
for step in range(STEPS):
    xb, yb = x[step * BATCH:(step + 1) * BATCH], y[step * BATCH:(step + 1) * BATCH]
    loss = loss_of(xb, yb)
    losses.append(loss.item())
    for p in params.values():
        p.grad = None
    loss.backward()
    t = step + 1
    alpha = LR * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
    with torch.no_grad():
        for k, p in params.items():
            g = p.grad
            m[k] += (g - m[k]) * (1 - 0.9)
            v2[k] += (g * g - v2[k]) * (1 - 0.999)
            p -= alpha * m[k] / (torch.sqrt(v2[k]) + 1e-7)
with torch.no_grad():
    final = loss_of(x[:512], y[:512]).item()

with open(OUT, "w") as f:
    json.dump({"generator": "tests/reference/make_charmodel_reference.py", "torch": torch.__version__,
               "window": WINDOW, "vocabulary": VOCAB, "embedding": EMBED, "units": UNITS, "batch": BATCH, "learning_rate": LR,
               "weights": {k: enc(v) for k, v in start.items()},
               "x": [int(v) for v in x.reshape(-1)], "y": [int(v) for v in y],
               "losses": losses, "final_loss_first_512": final}, f, separators=(",", ":"))
print(f"wrote {OUT}: losses {losses[0]:.4f} -> {losses[-1]:.4f} (mean {sum(losses) / len(losses):.4f}), after 200 steps {final:.4f}")
