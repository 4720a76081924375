#!/usr/bin/python3
"""Writes PyTorch's values and gradients for Cortex's sequence layers to sequence.json.

Run with Debian's python3-torch:  /usr/bin/python3 tests/reference/make_sequence_reference.py
CI does not run this; it reads the committed JSON.

Cortex keeps Keras's layouts: sequences are (batch, steps, features) and an Embedding's table is (input_dim,
output_dim), as PyTorch's nn.Embedding weight. Each case: a layer, its arguments, the inputs (the layer's input first,
then its weights in Keras's order), the output, an upstream gradient U and the gradient of sum(output * U) with respect
to each leaf that takes one (integer indices take none: "x_grad": false). Values are computed in float64 from float32
inputs and stored as float32.
"""
import json
import os

import torch
import torch.nn.functional as F

from reference_common import enc, finish as finish_case, randn

torch.manual_seed(2468)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sequence.json")
cases = []


def finish(entry, leaves, out):
    finish_case(cases, entry, leaves, out)


def embedding(name, shape, input_dim, output_dim, repeats=True):
    """Indices of the given shape; with repeats, some rows are looked up several times (their gradients add)."""
    high = input_dim if not repeats else max(2, input_dim // 3)
    x = torch.randint(0, high, shape).double()
    table = randn(input_dim, output_dim, scale=0.5).requires_grad_(True)
    out = F.embedding(x.long(), table)
    entry = {"name": name, "layer": "embedding", "fd": True, "x_grad": False,
             "args": {"input_dim": input_dim, "output_dim": output_dim}, "inputs": [enc(x), enc(table)]}
    finish(entry, [table], out)


# Embedding: sequences, single indices, higher-rank inputs, repeated rows, the largest index.
embedding("embedding_seq", (3, 5), 10, 4)
embedding("embedding_unique_rows", (2, 3), 12, 3, repeats=False)
embedding("embedding_single_index", (4, 1), 6, 5)
embedding("embedding_rank3", (2, 3, 2), 7, 2)
embedding("embedding_wide", (2, 4), 50, 33, repeats=False)

with open(OUT, "w") as f:
    json.dump({"generator": "tests/reference/make_sequence_reference.py", "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {OUT} ({os.path.getsize(OUT)} bytes)")
