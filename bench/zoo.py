"""Cortex's shared networks (Cortex.Models.Zoo) in PyTorch, built from tests/reference/models.json.

ZooTests.ModelsJsonDescribesTheZoo writes that file from the C# definitions and fails when they drift apart, so the
PyTorch side of the benchmarks trains the same layers: Keras layers map to torch modules one for one (a layer's
activation becomes a module after it), images are NCHW instead of NHWC, kernels start Glorot-uniform and biases zero as
Keras's, and BatchNormalization's momentum 0.99 is PyTorch's 0.01. Modules are created, and then initialised, in
layer order, so that after torch.manual_seed(n) a model gets the same weights on every run.
"""
import json
import math
import os

import torch

MODELS_JSON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference", "models.json")
ACTIVATIONS = {"linear": None, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}
INITIALIZERS = {"GlorotUniform": torch.nn.init.xavier_uniform_, "Zeros": torch.nn.init.zeros_}  # fans as Keras's: in·kh·kw, out·kh·kw


def describe(name):
    """The model's entry in models.json: its layers (Keras class names and configs) and parameter counts."""
    with open(MODELS_JSON) as f:
        return json.load(f)["models"][name]


def takes_images(name):
    """Whether the model takes (N, 1, 28, 28)-style images rather than flat rows."""
    return len(describe(name)["layers"][0]["shape"]) == 3


def takes_sequences(name):
    """Whether the model takes (N, steps, features) sequences (a recurrent model reading images row by row)."""
    return len(describe(name)["layers"][0]["shape"]) == 2


class LastState(torch.nn.Module):
    """Keras's LSTM/GRU with return_sequences=False: the recurrent module's output at the last step. PyTorch keeps two
    biases per gate where Keras's LSTM has one: the recurrent one (bias_hh) stays zero and frozen, so both train the
    same parameters. PyTorch's GRU is Keras's with reset_after=True (bias (2, 3u) = bias_ih, bias_hh), gates reordered."""

    def __init__(self, kind, features, units):
        super().__init__()
        self.kind = kind
        self.rnn = (torch.nn.LSTM if kind == "LSTM" else torch.nn.GRU)(features, units, batch_first=True)
        if kind == "LSTM":
            self.rnn.bias_hh_l0.requires_grad_(False)

    def forward(self, x):
        return self.rnn(x)[0][:, -1]

    def keras_init(self, unit_forget_bias):
        """Glorot-uniform kernel, orthogonal recurrent kernel, zero biases (the LSTM's forget gate at 1), Keras's
        fans: PyTorch's (gates·u, in) weight is Keras's (in, gates·u) kernel transposed."""
        with torch.no_grad():
            torch.nn.init.xavier_uniform_(self.rnn.weight_ih_l0)
            torch.nn.init.orthogonal_(self.rnn.weight_hh_l0)
            self.rnn.bias_ih_l0.zero_()
            self.rnn.bias_hh_l0.zero_()
            if self.kind == "LSTM" and unit_forget_bias:
                u = self.rnn.hidden_size
                self.rnn.bias_ih_l0[u:2 * u] = 1.0

    def load_keras(self, weights):
        """Sets the weights from Keras's layouts: kernel (in, gates·u), recurrent_kernel (u, gates·u), bias."""
        kernel, recurrent, bias = weights
        u = self.rnn.hidden_size
        if self.kind == "GRU":  # Keras z, r, h → PyTorch r, z, n
            order = lambda t: torch.cat([t[..., u:2 * u], t[..., :u], t[..., 2 * u:]], dim=-1)
            kernel, recurrent, bias = order(kernel), order(recurrent), order(bias)
        with torch.no_grad():
            self.rnn.weight_ih_l0.copy_(kernel.T)
            self.rnn.weight_hh_l0.copy_(recurrent.T)
            if self.kind == "GRU":
                self.rnn.bias_ih_l0.copy_(bias[0])
                self.rnn.bias_hh_l0.copy_(bias[1])
            else:
                self.rnn.bias_ih_l0.copy_(bias)
                self.rnn.bias_hh_l0.zero_()


def _check(layer, key, expected):
    if layer.get(key, expected) != expected:
        raise ValueError(f"zoo.py: {layer['class_name']} with {key}={layer[key]} is not supported (only {expected})")


def build(name):
    """A fresh torch.nn.Sequential for the models.json entry `name`, with Keras's initial weight distributions."""
    description = describe(name)
    first, *layers = description["layers"]
    if first["class_name"] != "Input":
        raise ValueError(f"zoo.py: model '{name}' does not start with an Input layer")
    shape = first["shape"]
    shape = [shape[2], shape[0], shape[1]] if len(shape) == 3 else list(shape)  # (C, H, W): PyTorch's NCHW
    modules, weighted, recurrent = [], [], []
    for layer in layers:
        kind = layer["class_name"]
        if kind == "Dense":
            modules.append(torch.nn.Linear(shape[0], layer["units"], bias=layer["use_bias"]))
            weighted.append((modules[-1], layer))
            shape = [layer["units"]]
        elif kind == "Conv2D":
            for key, value in (("strides", [1, 1]), ("padding", "valid"), ("dilation_rate", [1, 1])):
                _check(layer, key, value)
            (kh, kw), filters = layer["kernel_size"], layer["filters"]
            modules.append(torch.nn.Conv2d(shape[0], filters, (kh, kw), bias=layer["use_bias"]))
            weighted.append((modules[-1], layer))
            shape = [filters, shape[1] - kh + 1, shape[2] - kw + 1]
        elif kind == "MaxPooling2D":
            _check(layer, "padding", "valid")
            _check(layer, "strides", layer["pool_size"])
            (ph, pw) = layer["pool_size"]
            modules.append(torch.nn.MaxPool2d((ph, pw)))
            shape = [shape[0], shape[1] // ph, shape[2] // pw]
        elif kind == "BatchNormalization":
            for key, value in (("axis", -1), ("center", True), ("scale", True), ("beta_initializer", "Zeros"),
                               ("gamma_initializer", "Ones"), ("moving_mean_initializer", "Zeros"),
                               ("moving_variance_initializer", "Ones")):
                _check(layer, key, value)
            # Keras's momentum weighs the old statistics, PyTorch's the new; round off 1 − 0.99's float noise.
            modules.append(torch.nn.BatchNorm2d(shape[0], eps=layer["epsilon"], momentum=round(1 - layer["momentum"], 6)))
        elif kind in ("LSTM", "GRU"):
            for key, value in (("return_sequences", False), ("go_backwards", False), ("activation", "tanh"),
                               ("recurrent_activation", "sigmoid"), ("use_bias", True), ("reset_after", True)):
                _check(layer, key, value)
            modules.append(LastState(kind, shape[1], layer["units"]))
            recurrent.append((modules[-1], layer))
            shape = [layer["units"]]
            continue  # its activations are inside the module
        elif kind == "Flatten":
            modules.append(torch.nn.Flatten())
            shape = [math.prod(shape)]
        elif kind == "Dropout":
            modules.append(torch.nn.Dropout(layer["rate"]))
        elif kind != "Activation":
            raise ValueError(f"zoo.py: layer class {kind} is not supported")
        activation = ACTIVATIONS[layer.get("activation", "linear")]
        if activation is not None:
            modules.append(activation())
    model = torch.nn.Sequential(*modules)
    for module, layer in recurrent:
        module.keras_init(layer.get("unit_forget_bias", False))
    for module, layer in weighted:
        INITIALIZERS[layer["kernel_initializer"]](module.weight)
        if module.bias is not None:
            INITIALIZERS[layer["bias_initializer"]](module.bias)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    moving = sum(b.numel() for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var")))
    if (trainable, trainable + moving) != (description["trainable_params"], description["params"]):
        raise ValueError(f"zoo.py: '{name}' has {trainable} trainable and {moving} moving parameters in PyTorch, "
                         f"Cortex {description['trainable_params']} of {description['params']}")
    return model
