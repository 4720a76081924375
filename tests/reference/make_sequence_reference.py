#!/usr/bin/python3
"""Writes PyTorch's values and gradients for Cortex's sequence layers to sequence.json.

Run with Debian's python3-torch:  /usr/bin/python3 tests/reference/make_sequence_reference.py
CI does not run this; it reads the committed JSON.

Cortex keeps Keras's layouts: sequences are (batch, steps, features) and an Embedding's table is (input_dim,
output_dim), as PyTorch's nn.Embedding weight. Each case: a layer, its arguments, the inputs (the layer's input first,
then its weights in Keras's order), the output, an upstream gradient U and the gradient of sum(output * U) with respect
to each leaf that takes one (integer indices take none: "x_grad": false). Values are computed in float64 from float32
inputs and stored as float32. The recurrent cases with "initial_state" start from those states (leaves after the
weights); with "return_state" their output is the layer's output and final states side by side (see stateful()).
"""
import json
import os

import torch
import torch.nn.functional as F

from reference_common import enc, finish as finish_case, randn

torch.manual_seed(2468)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sequence.json")
cases = []
module_checks = []


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


ACTIVATIONS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu, "linear": lambda v: v}


def recurrent_weights(kind, features, units, use_bias=True, reset_after=True):
    """Keras-layout leaves: kernel (features, gates*units), recurrent_kernel (units, gates*units), bias or None."""
    g = {"simple_rnn": 1, "lstm": 4, "gru": 3}[kind] * units
    kernel = randn(features, g, scale=0.5).requires_grad_(True)
    recurrent_kernel = randn(units, g, scale=0.5).requires_grad_(True)
    bias = None
    if use_bias:
        bias = randn(*((2, g) if kind == "gru" and reset_after else (g,)), scale=0.3).requires_grad_(True)
    return kernel, recurrent_kernel, bias


def run_recurrence(kind, x, kernel, recurrent_kernel, bias, units, return_sequences=False, go_backwards=False,
                   activation="tanh", recurrent_activation="sigmoid", reset_after=True, mask=None, zero_output=False,
                   initial=None, states=False):
    """Keras's SimpleRNN/LSTM/GRU written out in float64. Gate orders are Keras's: LSTM i, f, c, o (PyTorch's i, f, g,
    o); GRU z, r, h (PyTorch's r, z, n, with reset_after PyTorch's GRU). A masked step keeps the states it started
    from; its output is that state, or zeros with zero_output (Keras's zero_output_for_mask). From the initial states
    given (Keras's initial_state: [h] or LSTM's [h, c]), else zeros; with states, returns (output, final states)."""
    act, rec = ACTIVATIONS[activation], ACTIVATIONS[recurrent_activation]
    batch, steps = x.shape[0], x.shape[1]
    h = initial[0] if initial else torch.zeros(batch, units, dtype=torch.float64)
    c = initial[1] if initial and kind == "lstm" else torch.zeros(batch, units, dtype=torch.float64)
    outputs = []
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    for t in order:
        h_old, c_old = h, c
        xw = x[:, t, :] @ kernel
        if bias is not None:
            xw = xw + (bias[0] if bias.dim() == 2 else bias)
        if kind == "simple_rnn":
            h = act(xw + h @ recurrent_kernel)
        elif kind == "lstm":
            zz = xw + h @ recurrent_kernel
            i, f, cc, o = zz[:, :units], zz[:, units:2 * units], zz[:, 2 * units:3 * units], zz[:, 3 * units:]
            c = rec(f) * c + rec(i) * act(cc)
            h = rec(o) * act(c)
        elif reset_after:
            hu = h @ recurrent_kernel
            if bias is not None:
                hu = hu + bias[1]
            z = rec(xw[:, :units] + hu[:, :units])
            r = rec(xw[:, units:2 * units] + hu[:, units:2 * units])
            hh = act(xw[:, 2 * units:] + r * hu[:, 2 * units:])
            h = z * h + (1 - z) * hh
        else:
            hu = h @ recurrent_kernel[:, :2 * units]
            z = rec(xw[:, :units] + hu[:, :units])
            r = rec(xw[:, units:2 * units] + hu[:, units:])
            hh = act(xw[:, 2 * units:] + (r * h) @ recurrent_kernel[:, 2 * units:])
            h = z * h + (1 - z) * hh
        if mask is not None:  # Keras's backend.rnn: a masked step keeps the states it started from
            m = mask[:, t:t + 1]
            h, c = m * h + (1 - m) * h_old, m * c + (1 - m) * c_old
            outputs.append(h * m if zero_output else h)
        else:
            outputs.append(h)
    out = torch.stack(outputs, 1) if return_sequences else h
    return (out, [h, c] if kind == "lstm" else [h]) if states else out


def recurrent(kind, name, batch, steps, features, units, return_sequences=False, go_backwards=False, use_bias=True,
              activation="tanh", recurrent_activation="sigmoid", reset_after=True, mask=None):
    """A SimpleRNN/LSTM/GRU case from Keras-layout leaves, so the gradients come back in Keras's layout."""
    x = randn(batch, steps, features).requires_grad_(True)
    kernel, recurrent_kernel, bias = recurrent_weights(kind, features, units, use_bias, reset_after)
    leaves = [x, kernel, recurrent_kernel] + ([bias] if bias is not None else [])
    out = run_recurrence(kind, x, kernel, recurrent_kernel, bias, units, return_sequences, go_backwards, activation,
                         recurrent_activation, reset_after, mask)
    standard = kind != "simple_rnn" and activation == "tanh" and recurrent_activation == "sigmoid" and reset_after
    if standard and mask is None:
        check_against_torch_module(kind, x, kernel, recurrent_kernel, bias, units, go_backwards, out, return_sequences)
    if standard and mask is not None and not go_backwards and right_padded(mask):
        check_against_packed(kind, x, kernel, recurrent_kernel, bias, units, out, return_sequences, mask)
    args = {"units": units, "return_sequences": return_sequences, "go_backwards": go_backwards, "use_bias": use_bias,
            "activation": activation, "recurrent_activation": recurrent_activation, "reset_after": reset_after}
    entry = {"name": name, "layer": kind, "fd": True, "args": args, "inputs": [enc(leaf) for leaf in leaves]}
    if mask is not None:
        entry["mask"] = enc(mask)
    finish(entry, leaves, out)


def right_padded(mask):
    """Whether every row's mask is ones then zeros (what pack_padded_sequence describes)."""
    return all(bool((row[:int(row.sum())] == 1).all()) and bool((row[int(row.sum()):] == 0).all()) for row in mask)


def copy_weights(module, suffix, kind, kernel, recurrent_kernel, bias, units):
    """Loads Keras-layout weights into one direction of nn.LSTM/nn.GRU (suffix "" or "_reverse"): transposed, and for
    GRU the gate blocks z, r, h reordered to PyTorch's r, z, n; Keras's one LSTM bias is PyTorch's two summed."""
    def torch_order(w):
        return torch.cat([w[..., units:2 * units], w[..., :units], w[..., 2 * units:]], -1) if kind == "gru" else w
    p = dict(module.named_parameters())
    with torch.no_grad():
        p["weight_ih_l0" + suffix].copy_(torch_order(kernel).T)
        p["weight_hh_l0" + suffix].copy_(torch_order(recurrent_kernel).T)
        if bias is not None:
            if kind == "lstm":
                p["bias_ih_l0" + suffix].copy_(bias)
                p["bias_hh_l0" + suffix].zero_()
            else:
                p["bias_ih_l0" + suffix].copy_(torch_order(bias[0]))
                p["bias_hh_l0" + suffix].copy_(torch_order(bias[1]))


def torch_module(kind, x, kernel, recurrent_kernel, bias, units, backward=None):
    """nn.LSTM/nn.GRU with the Keras-layout weights; with backward (its kernel, recurrent kernel, bias), bidirectional."""
    rng = torch.get_rng_state()  # the module's own initialisation must not shift the cases' draws
    module = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(x.shape[2], units, batch_first=True, bias=bias is not None,
                                                                bidirectional=backward is not None).double()
    torch.set_rng_state(rng)
    copy_weights(module, "", kind, kernel, recurrent_kernel, bias, units)
    if backward is not None:
        copy_weights(module, "_reverse", kind, *backward, units)
    return module


def check_against_packed(kind, x, kernel, recurrent_kernel, bias, units, out, return_sequences, mask):
    """Right-padded sequences through nn.LSTM/nn.GRU with pack_padded_sequence: the last state is the state at each
    row's last real step (which the masked recurrence carries to the end), and the real steps' outputs agree."""
    lengths = mask.sum(1).long()
    keep = lengths > 0  # PyTorch refuses empty sequences; a fully masked row keeps the zero state
    module = torch_module(kind, x, kernel, recurrent_kernel, bias, units)
    with torch.no_grad():
        packed = torch.nn.utils.rnn.pack_padded_sequence(x[keep], lengths[keep], batch_first=True, enforce_sorted=False)
        seq, state = module(packed)
        seq, _ = torch.nn.utils.rnn.pad_packed_sequence(seq, batch_first=True, total_length=x.shape[1])
    h_n = (state[0] if kind == "lstm" else state)[0]
    if return_sequences:
        m = mask[keep].unsqueeze(-1)
        assert torch.allclose(out.detach()[keep] * m, seq * m, atol=1e-12), f"{kind}: masked steps differ from pack_padded_sequence"
    else:
        assert torch.allclose(out.detach()[keep], h_n, atol=1e-12), f"{kind}: the last state differs from pack_padded_sequence"
        assert bool((out.detach()[~keep] == 0).all()), f"{kind}: a fully masked row must keep the zero state"
    module_checks.append(kind + "_packed")


def check_against_torch_module(kind, x, kernel, recurrent_kernel, bias, units, go_backwards, out, return_sequences):
    """The Keras layout is PyTorch's nn.LSTM/nn.GRU with transposed weights: the recurrences written out above must
    give nn.LSTM's and nn.GRU's outputs."""
    module = torch_module(kind, x, kernel, recurrent_kernel, bias, units)
    with torch.no_grad():
        seq, _ = module(torch.flip(x, [1]) if go_backwards else x)
    expected = seq if return_sequences else seq[:, -1]
    assert torch.allclose(out.detach(), expected, atol=1e-12), f"{kind}: the recurrence differs from torch.nn.{type(module).__name__}"
    module_checks.append(kind)


# Recurrent layers: the last state or every state, backwards, without bias, other activations, one step, batch 1.
for kind in ("simple_rnn", "lstm", "gru"):
    recurrent(kind, f"{kind}_last", 2, 4, 3, 5)
    recurrent(kind, f"{kind}_sequences", 3, 5, 2, 4, return_sequences=True)
    recurrent(kind, f"{kind}_backwards", 2, 4, 3, 3, go_backwards=True)
    recurrent(kind, f"{kind}_backwards_sequences", 2, 4, 2, 3, return_sequences=True, go_backwards=True)
    recurrent(kind, f"{kind}_no_bias", 2, 3, 4, 3, use_bias=False)
    recurrent(kind, f"{kind}_one_step", 3, 1, 4, 2, return_sequences=True)
    recurrent(kind, f"{kind}_batch_1", 1, 6, 3, 4)
recurrent("simple_rnn", "simple_rnn_relu", 2, 4, 3, 4, activation="relu", return_sequences=True)
recurrent("lstm", "lstm_relu_linear_gates", 2, 4, 3, 3, activation="relu", recurrent_activation="linear")
recurrent("gru", "gru_relu", 2, 4, 3, 3, activation="relu", return_sequences=True)
recurrent("gru", "gru_reset_before", 2, 4, 3, 4, reset_after=False)
recurrent("gru", "gru_reset_before_sequences_backwards", 3, 3, 2, 3, reset_after=False, return_sequences=True, go_backwards=True)
recurrent("gru", "gru_reset_before_no_bias", 2, 3, 2, 3, reset_after=False, use_bias=False)

# Masks (batch, steps), 1 data, 0 padding: right padding (checked against pack_padded_sequence), a fully masked row,
# holes and left padding, backwards. The masked steps' inputs are random: they must be ignored.
RIGHT = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], dtype=torch.float64)
HOLES = torch.tensor([[0, 1, 0, 1, 1], [0, 0, 1, 1, 0], [1, 0, 1, 1, 1]], dtype=torch.float64)
for kind in ("simple_rnn", "lstm", "gru"):
    recurrent(kind, f"{kind}_masked_right", 4, 5, 3, 4, mask=RIGHT)
    recurrent(kind, f"{kind}_masked_right_sequences", 4, 5, 2, 3, return_sequences=True, mask=RIGHT)
    recurrent(kind, f"{kind}_masked_holes_sequences", 3, 5, 3, 3, return_sequences=True, mask=HOLES)
    recurrent(kind, f"{kind}_masked_backwards", 3, 5, 2, 3, go_backwards=True, mask=HOLES)
    recurrent(kind, f"{kind}_masked_backwards_sequences", 3, 5, 2, 3, return_sequences=True, go_backwards=True, mask=HOLES)
recurrent("gru", "gru_reset_before_masked", 3, 5, 2, 3, reset_after=False, return_sequences=True, mask=HOLES)


def masking(name, mask_value):
    """Masking: a step whose features all equal mask_value is masked; the output is the input times the mask."""
    x = randn(3, 4, 2).requires_grad_(True)
    with torch.no_grad():
        x[0, 1] = mask_value
        x[1, 3] = mask_value
        x[2, 0, 0] = mask_value  # one feature only: not masked
    m = (x != mask_value).any(-1, keepdim=True).double()
    # No finite differences: nudging a padding value unmasks its step (the output jumps).
    entry = {"name": name, "layer": "masking", "fd": False, "args": {"mask_value": mask_value}, "inputs": [enc(x)]}
    finish(entry, [x], x * m)


def masked_mean(name, mask):
    """GlobalAveragePooling1D with a mask: the mean of the unmasked steps, Σ m·x / Σ m."""
    x = randn(mask.shape[0], mask.shape[1], 3).requires_grad_(True)
    m = mask.unsqueeze(-1)
    entry = {"name": name, "layer": "global_average_pooling1d", "fd": True, "args": {}, "inputs": [enc(x)], "mask": enc(mask)}
    finish(entry, [x], (x * m).sum(1) / m.sum(1))


def bidirectional(kind, name, batch, steps, features, units, merge_mode="concat", return_sequences=False, mask=None,
                  reset_after=True):
    """Bidirectional: the layer forwards and a second one (its own weights) backwards, the backward sequence put back
    in time order, merged; with a mask and return_sequences masked steps' outputs are zeros (Keras forces
    zero_output_for_mask there). Without a mask, checked against PyTorch's bidirectional=True module."""
    x = randn(batch, steps, features).requires_grad_(True)
    fw = recurrent_weights(kind, features, units, True, reset_after)
    bw = recurrent_weights(kind, features, units, True, reset_after)
    leaves = [x, *fw, *bw]
    f = run_recurrence(kind, x, *fw, units, return_sequences, False, reset_after=reset_after, mask=mask, zero_output=return_sequences)
    b = run_recurrence(kind, x, *bw, units, return_sequences, True, reset_after=reset_after, mask=mask, zero_output=return_sequences)
    if return_sequences:
        b = torch.flip(b, [1])
    out = {"concat": lambda: torch.cat([f, b], -1), "sum": lambda: f + b, "mul": lambda: f * b, "ave": lambda: (f + b) / 2}[merge_mode]()
    if kind != "simple_rnn" and mask is None and reset_after and merge_mode == "concat":
        module = torch_module(kind, x, *fw, units, backward=bw)
        with torch.no_grad():
            seq, state = module(x)
        h_n = state[0] if kind == "lstm" else state
        expected = seq if return_sequences else torch.cat([h_n[0], h_n[1]], -1)
        assert torch.allclose(out.detach(), expected, atol=1e-12), f"{name}: differs from torch.nn bidirectional"
        module_checks.append(name)
    args = {"inner": kind, "units": units, "merge_mode": merge_mode, "return_sequences": return_sequences, "reset_after": reset_after}
    entry = {"name": name, "layer": "bidirectional", "fd": True, "args": args, "inputs": [enc(leaf) for leaf in leaves]}
    if mask is not None:
        entry["mask"] = enc(mask)
    finish(entry, leaves, out)


bidirectional("lstm", "bidirectional_lstm_last", 2, 4, 3, 3)
bidirectional("lstm", "bidirectional_lstm_sequences", 2, 4, 3, 3, return_sequences=True)
bidirectional("gru", "bidirectional_gru_sequences", 2, 4, 2, 3, return_sequences=True)
bidirectional("gru", "bidirectional_gru_last", 3, 3, 2, 2)
bidirectional("simple_rnn", "bidirectional_simple_rnn_sum", 2, 4, 3, 3, merge_mode="sum", return_sequences=True)
bidirectional("lstm", "bidirectional_lstm_mul", 2, 4, 3, 3, merge_mode="mul", return_sequences=True)
bidirectional("gru", "bidirectional_gru_ave_reset_before", 2, 4, 3, 3, merge_mode="ave", reset_after=False)
bidirectional("lstm", "bidirectional_lstm_masked_sequences", 3, 5, 2, 3, return_sequences=True, mask=HOLES)
bidirectional("gru", "bidirectional_gru_masked_last", 4, 5, 2, 3, mask=RIGHT)

masking("masking_zero", 0.0)
masking("masking_value", 1.5)
masked_mean("global_average_pooling1d_masked", HOLES)


# Initial states and returned states (appended last, so the cases above keep their draws). A case with return_state
# packs, per row, the output (flattened) then the final states — Keras's [output, h] or [output, h, c]; a
# Bidirectional's forward states then its backward states — into one output; "initial_state" lists the states the
# first step starts from (leaves after the weights: their gradients follow the weights').
def check_states_against_torch(kind, x, weights, units, go_backwards, initial, out, final, return_sequences, backward=None):
    """nn.RNN/nn.LSTM/nn.GRU started from the same states give the same output and final states (h_n, c_n)."""
    rng = torch.get_rng_state()
    if kind == "simple_rnn":
        module = torch.nn.RNN(x.shape[2], units, batch_first=True, bidirectional=backward is not None).double()
        p = dict(module.named_parameters())
        with torch.no_grad():
            for suffix, (k, r, b) in [("", weights)] + ([("_reverse", backward)] if backward is not None else []):
                p["weight_ih_l0" + suffix].copy_(k.T)
                p["weight_hh_l0" + suffix].copy_(r.T)
                p["bias_ih_l0" + suffix].copy_(b)
                p["bias_hh_l0" + suffix].zero_()
    else:
        module = torch_module(kind, x, *weights, units, backward=backward)
    torch.set_rng_state(rng)
    directions = 1 if backward is None else 2
    per = 2 if kind == "lstm" else 1
    h0 = torch.stack([initial[d * per] for d in range(directions)])
    state0 = (h0, torch.stack([initial[d * per + 1] for d in range(directions)])) if kind == "lstm" else h0
    with torch.no_grad():
        seq, state = module(torch.flip(x, [1]) if go_backwards else x, state0)
    h_n, c_n = (state[0], state[1]) if kind == "lstm" else (state, None)
    expected_final = [s for d in range(directions) for s in ([h_n[d], c_n[d]] if kind == "lstm" else [h_n[d]])]
    for got, want in zip(final, expected_final):
        assert torch.allclose(got.detach(), want, atol=1e-12), f"{kind}: final states differ from torch.nn"
    if backward is None:
        expected = seq if return_sequences else seq[:, -1]
        assert torch.allclose(out.detach(), expected, atol=1e-12), f"{kind}: output from initial states differs from torch.nn"
    module_checks.append(kind + "_states")


def stateful(kind, name, batch, steps, features, units, return_sequences=False, go_backwards=False, return_state=True,
             initial=True, mask=None, reset_after=True):
    """A SimpleRNN/LSTM/GRU case with initial states (random, as leaves) and/or return_state."""
    x = randn(batch, steps, features).requires_grad_(True)
    kernel, recurrent_kernel, bias = recurrent_weights(kind, features, units, True, reset_after)
    states0 = [randn(batch, units, scale=0.5).requires_grad_(True) for _ in range(2 if kind == "lstm" else 1)] if initial else []
    leaves = [x, kernel, recurrent_kernel, bias] + states0
    out, final = run_recurrence(kind, x, kernel, recurrent_kernel, bias, units, return_sequences, go_backwards,
                                reset_after=reset_after, mask=mask, initial=states0 or None, states=True)
    if mask is None and reset_after:
        zeros = [torch.zeros(batch, units, dtype=torch.float64)] * (2 if kind == "lstm" else 1)
        check_states_against_torch(kind, x, (kernel, recurrent_kernel, bias), units, go_backwards, states0 or zeros, out, final, return_sequences)
    if mask is not None:  # a fully masked row carries its initial states to the end
        empty = mask.sum(1) == 0
        for s0, s in zip(states0, final):
            assert torch.equal(s.detach()[empty], s0.detach()[empty]), f"{name}: a fully masked row must keep its initial state"
    packed = torch.cat([out.reshape(batch, -1)] + final, 1) if return_state else out
    args = {"units": units, "return_sequences": return_sequences, "go_backwards": go_backwards, "use_bias": True,
            "activation": "tanh", "recurrent_activation": "sigmoid", "reset_after": reset_after, "return_state": return_state}
    entry = {"name": name, "layer": kind, "fd": True, "args": args, "inputs": [enc(leaf) for leaf in leaves[:4]],
             "initial_state": [enc(s) for s in states0]}
    if mask is not None:
        entry["mask"] = enc(mask)
    finish(entry, leaves, packed)


def bidirectional_stateful(kind, name, batch, steps, features, units, merge_mode="concat", return_sequences=False,
                           return_state=True, mask=None):
    """Bidirectional from initial states (the forward layer's, then the backward layer's) returning
    [output, forward states, backward states] packed as above."""
    x = randn(batch, steps, features).requires_grad_(True)
    fw = recurrent_weights(kind, features, units)
    bw = recurrent_weights(kind, features, units)
    per = 2 if kind == "lstm" else 1
    states0 = [randn(batch, units, scale=0.5).requires_grad_(True) for _ in range(2 * per)]
    leaves = [x, *fw, *bw] + states0
    f, f_final = run_recurrence(kind, x, *fw, units, return_sequences, False, mask=mask, zero_output=return_sequences,
                                initial=states0[:per], states=True)
    b, b_final = run_recurrence(kind, x, *bw, units, return_sequences, True, mask=mask, zero_output=return_sequences,
                                initial=states0[per:], states=True)
    if return_sequences:
        b = torch.flip(b, [1])
    out = {"concat": lambda: torch.cat([f, b], -1), "sum": lambda: f + b, "mul": lambda: f * b, "ave": lambda: (f + b) / 2}[merge_mode]()
    if mask is None:
        check_states_against_torch(kind, x, fw, units, False, states0, None, f_final + b_final, return_sequences, backward=bw)
    packed = torch.cat([out.reshape(batch, -1)] + f_final + b_final, 1) if return_state else out
    args = {"inner": kind, "units": units, "merge_mode": merge_mode, "return_sequences": return_sequences,
            "reset_after": True, "return_state": return_state}
    entry = {"name": name, "layer": "bidirectional", "fd": True, "args": args, "inputs": [enc(leaf) for leaf in [x, *fw, *bw]],
             "initial_state": [enc(s) for s in states0]}
    if mask is not None:
        entry["mask"] = enc(mask)
    finish(entry, leaves, packed)


for kind in ("simple_rnn", "lstm", "gru"):
    stateful(kind, f"{kind}_initial_state", 2, 4, 3, 3, return_state=False)
    stateful(kind, f"{kind}_return_state", 2, 4, 3, 3, initial=False)
    stateful(kind, f"{kind}_initial_return_state", 3, 4, 2, 3)
    stateful(kind, f"{kind}_initial_return_state_sequences", 2, 5, 3, 4, return_sequences=True)
    stateful(kind, f"{kind}_initial_return_state_backwards", 2, 4, 3, 3, go_backwards=True)
    stateful(kind, f"{kind}_initial_return_state_masked", 4, 5, 2, 3, return_sequences=True, mask=RIGHT)
    stateful(kind, f"{kind}_initial_return_state_masked_backwards", 3, 5, 2, 3, go_backwards=True, mask=HOLES)
stateful("gru", "gru_reset_before_initial_return_state", 2, 4, 3, 3, reset_after=False)
stateful("gru", "gru_reset_before_initial_state_masked_sequences", 3, 5, 2, 3, return_sequences=True, reset_after=False, mask=HOLES)
bidirectional_stateful("lstm", "bidirectional_lstm_initial_return_state", 2, 4, 3, 3)
bidirectional_stateful("gru", "bidirectional_gru_initial_return_state_sequences", 2, 4, 2, 3, return_sequences=True)
bidirectional_stateful("simple_rnn", "bidirectional_simple_rnn_initial_state_sum", 2, 4, 3, 3, merge_mode="sum", return_state=False)
bidirectional_stateful("lstm", "bidirectional_lstm_initial_return_state_masked", 3, 5, 2, 3, return_sequences=True, mask=HOLES)

with open(OUT, "w") as f:
    json.dump({"generator": "tests/reference/make_sequence_reference.py", "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {OUT} ({os.path.getsize(OUT)} bytes); {len(module_checks)} recurrent cases equal torch.nn.RNN/LSTM/GRU")
