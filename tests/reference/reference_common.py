"""Helpers shared by the reference generators (make_conv_reference.py, make_conv1d_reference.py,
make_sequence_reference.py, make_loss_metric_reference.py): float32-exact random inputs, the JSON encoding of a tensor, and the end of a case
(upstream gradient, backward, outputs). Imported from the generator's own folder, so each still runs as
/usr/bin/python3 tests/reference/<generator>.py.
"""
import numpy
import torch


def f32(t):
    """Values rounded to float32 and held in float64."""
    return torch.as_tensor(t, dtype=torch.float64).float().double()


def rand(*shape, low=0.0, high=1.0):
    """Uniform values in [low, high), rounded to float32 and held in float64."""
    return f32(torch.rand(tuple(shape), dtype=torch.float64) * (high - low) + low)


def onehot(labels, classes):
    return torch.nn.functional.one_hot(torch.as_tensor(labels), classes).double()


def randn(*shape, scale=1.0):
    """Normal values rounded to float32 and held in float64, so Cortex reads exactly the values PyTorch used."""
    return (torch.randn(tuple(shape), dtype=torch.float64) * scale).float().double()


def enc(t):
    values = t.detach().reshape(-1).float().numpy().astype(numpy.float32)
    return {"shape": list(t.shape), "data": [float(str(v)) for v in values]}


def finish(cases, entry, leaves, out):
    """Adds the output, a random upstream gradient U and the gradients of sum(out * U) to each leaf; appends the case."""
    upstream = randn(*out.shape)
    (out * upstream).sum().backward()
    entry["output"] = enc(out)
    entry["upstream"] = enc(upstream)
    entry["grads"] = [enc(leaf.grad) for leaf in leaves]
    cases.append(entry)
