#!/usr/bin/python3
"""Writes Keras 3's weight constraints applied to random weights to constraints.json.

Run:  /usr/bin/python3 tests/reference/make_constraint_reference.py
CI does not run this; it reads the committed JSON.

PyTorch has no constraint objects (torch.renorm scales by maxnorm / (norm + 1e-7) only above the limit, not Keras's
desired / (epsilon + norm) everywhere), so each constraint here is Keras's closed form
(keras/src/constraints/constraints.py) written out in float64 on float32 inputs, with Keras's backend epsilon 1e-7:
  MaxNorm:     w * clip(norms, 0, max_value) / (eps + norms)
  UnitNorm:    w / (eps + norms)
  MinMaxNorm:  w * (rate * clip(norms, min_value, max_value) + (1 - rate) * norms) / (eps + norms)
  NonNeg:      w * (w >= 0)
where norms = sqrt(sum(square(w), axis, keepdims=True)). Cases are {class_name, config} as Cortex saves a constraint.
"""
import json
import os

import numpy

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "constraints.json")
EPS = 1e-7
rng = numpy.random.default_rng(4242)


def weights(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(numpy.float32).astype(numpy.float64)


def norms(w, axis):
    return numpy.sqrt(numpy.sum(numpy.square(w), axis=tuple(axis), keepdims=True))


def apply(class_name, config, w):
    axis = config.get("axis", [0])
    if class_name == "MaxNorm":
        n = norms(w, axis)
        return w * (numpy.clip(n, 0, config["max_value"]) / (EPS + n))
    if class_name == "UnitNorm":
        return w / (EPS + norms(w, axis))
    if class_name == "MinMaxNorm":
        n = norms(w, axis)
        desired = config["rate"] * numpy.clip(n, config["min_value"], config["max_value"]) + (1 - config["rate"]) * n
        return w * (desired / (EPS + n))
    if class_name == "NonNeg":
        return w * (w >= 0)
    raise ValueError(class_name)


cases = []


def case(class_name, config, w):
    out = apply(class_name, config, w)
    cases.append({"name": f"{class_name}_{sum(c['class_name'] == class_name for c in cases)}", "class_name": class_name, "config": config,
                  "weights": {"shape": list(w.shape), "data": [float(v) for v in w.astype(numpy.float32).reshape(-1)]},
                  "output": {"shape": list(out.shape), "data": [float(v) for v in out.astype(numpy.float32).reshape(-1)]}})


case("MaxNorm", {"max_value": 2.0, "axis": [0]}, weights(6, 5))                       # Dense kernel: some units above 2, some below
case("MaxNorm", {"max_value": 0.5, "axis": [0, 1, 2]}, weights(3, 3, 2, 4, scale=0.2))  # Conv2D kernel, per filter
case("MaxNorm", {"max_value": 1.0, "axis": [-1]}, weights(4, 3))
case("UnitNorm", {"axis": [0]}, weights(5, 3))
case("UnitNorm", {"axis": [1]}, weights(3, 4, 2))
case("MinMaxNorm", {"min_value": 0.5, "max_value": 1.5, "rate": 0.7, "axis": [0]}, weights(4, 6, scale=0.6))
case("MinMaxNorm", {"min_value": 0.0, "max_value": 1.0, "rate": 1.0, "axis": [0, 1]}, weights(2, 3, 5))
case("NonNeg", {}, weights(4, 5))

with open(OUT, "w") as f:
    json.dump({"generator": "tests/reference/make_constraint_reference.py", "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {OUT}")
