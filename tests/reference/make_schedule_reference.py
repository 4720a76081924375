#!/usr/bin/python3
"""Writes Keras 3's learning-rate schedules' values at chosen steps to schedules.json.

Run:  /usr/bin/python3 tests/reference/make_schedule_reference.py
CI does not run this; it reads the committed JSON.

PyTorch's schedulers are stateful and parameterised differently (CosineAnnealingLR, PolynomialLR, ...), so each
schedule here is Keras's closed form (keras/src/optimizers/schedules/learning_rate_schedule.py) written out in float64,
line for line; the JSON holds the float32 rounding of each value. Cases are {class_name, config} as Keras saves a
schedule (what Cortex's LearningRateSchedule.FromConfig reads), the steps, and the rates.
"""
import json
import math
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schedules.json")


def exponential_decay(step, initial_learning_rate, decay_steps, decay_rate, staircase=False):
    p = step / decay_steps
    if staircase:
        p = math.floor(p)
    return initial_learning_rate * decay_rate ** p


def cosine(fraction, alpha, scale=1.0):
    return (1 - alpha) * (0.5 * scale * (1 + math.cos(math.pi * fraction))) + alpha


def cosine_decay(step, initial_learning_rate, decay_steps, alpha=0.0, warmup_target=None, warmup_steps=0):
    if warmup_target is None:
        return initial_learning_rate * cosine(min(step, decay_steps) / decay_steps, alpha)
    step = min(step, decay_steps + warmup_steps)
    if step < warmup_steps:
        return (warmup_target - initial_learning_rate) * (step / warmup_steps) + initial_learning_rate
    return warmup_target * cosine((step - warmup_steps) / decay_steps, alpha)


def cosine_decay_restarts(step, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0):
    fraction = step / first_decay_steps
    if t_mul == 1.0:
        i_restart = math.floor(fraction)
        fraction -= i_restart
    else:
        i_restart = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
        sum_r = (1.0 - t_mul ** i_restart) / (1.0 - t_mul)
        fraction = (fraction - sum_r) / t_mul ** i_restart
    return initial_learning_rate * cosine(fraction, alpha, m_mul ** i_restart)


def piecewise_constant_decay(step, boundaries, values):
    # Keras sums indicator * value: values[0] for step <= b[0], values[i] for b[i-1] < step <= b[i], values[-1] after.
    result = values[0] * (step <= boundaries[0]) + values[-1] * (step > boundaries[-1])
    for low, high, v in zip(boundaries[:-1], boundaries[1:], values[1:-1]):
        result += v * (low < step <= high)
    return result


def polynomial_decay(step, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False):
    steps = decay_steps
    if cycle:
        steps = decay_steps * (1.0 if step == 0 else math.ceil(step / decay_steps))
    else:
        step = min(step, decay_steps)
    return (initial_learning_rate - end_learning_rate) * (1 - step / steps) ** power + end_learning_rate


def inverse_time_decay(step, initial_learning_rate, decay_steps, decay_rate, staircase=False):
    p = step / decay_steps
    if staircase:
        p = math.floor(p)
    return initial_learning_rate / (1 + decay_rate * p)


FUNCTIONS = {
    "ExponentialDecay": exponential_decay, "CosineDecay": cosine_decay, "CosineDecayRestarts": cosine_decay_restarts,
    "PiecewiseConstantDecay": piecewise_constant_decay, "PolynomialDecay": polynomial_decay,
    "InverseTimeDecay": inverse_time_decay,
}
STEPS = [0, 1, 2, 5, 9, 10, 11, 17, 25, 30, 31, 45, 69, 70, 71, 100, 1000]

SCHEDULES = {
    "exponential_staircase": ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.5, "staircase": True}),
    "cosine": ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 30}),
    "cosine_alpha": ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 30, "alpha": 0.2}),
    "cosine_warmup": ("CosineDecay", {"initial_learning_rate": 0.0, "decay_steps": 60, "alpha": 0.1, "warmup_target": 0.5, "warmup_steps": 10}),
    "cosine_restarts": ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 10}),
    "cosine_restarts_t1_m": ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 10, "t_mul": 1.0, "m_mul": 0.5, "alpha": 0.1}),
    "cosine_restarts_t3": ("CosineDecayRestarts", {"initial_learning_rate": 0.2, "first_decay_steps": 7, "t_mul": 3.0, "m_mul": 0.8}),
    "piecewise": ("PiecewiseConstantDecay", {"boundaries": [10, 30, 70], "values": [1.0, 0.5, 0.1, 0.01]}),
    "piecewise_one_boundary": ("PiecewiseConstantDecay", {"boundaries": [5], "values": [0.3, 0.2]}),
    "polynomial": ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 30}),
    "polynomial_sqrt_cycle": ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 30, "end_learning_rate": 0.01, "power": 0.5, "cycle": True}),
    "polynomial_power2": ("PolynomialDecay", {"initial_learning_rate": 0.5, "decay_steps": 45, "end_learning_rate": 0.05, "power": 2.0}),
    "inverse_time": ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5}),
    "inverse_time_staircase": ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 2.0, "staircase": True}),
}

cases = []
for name, (cls, config) in SCHEDULES.items():
    rates = [float(f"{FUNCTIONS[cls](s, **config):.9g}") for s in STEPS]
    cases.append({"name": name, "class_name": cls, "config": config, "steps": STEPS, "rates": rates})

with open(OUT, "w") as f:
    json.dump({"generator": "tests/reference/make_schedule_reference.py", "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {OUT}")
