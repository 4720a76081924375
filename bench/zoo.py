"""Cortex's shared networks (Cortex.Models.Zoo) in PyTorch, built from tests/reference/models.json.

ZooTests.ModelsJsonDescribesTheZoo writes that file from the C# definitions and fails when they drift apart, so the
PyTorch side of the benchmarks trains the same layers: Keras layers map to torch modules one for one (a layer's
activation becomes a module after it), images are NCHW instead of NHWC, kernels start Glorot-uniform and biases zero as
Keras's, and BatchNormalization's momentum 0.99 is PyTorch's 0.01. Modules are created, and then initialised, in
layer order, so that after torch.manual_seed(n) a model gets the same weights on every run.

A Functional model (an entry with "inputs" and "outputs", each layer with its "inbound_nodes" as Keras's functional
config has them, layers referred to by position) becomes a Graph module that runs the calls in order, with Add,
Concatenate and the other merges as tensor operations; Graph.load_keras sets its weights from Cortex's layouts.
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


def _modules(layer, shape, weighted, recurrent):
    """The torch modules for one Keras layer on inputs of `shape` (NCHW without the batch axis), and its output
    shape; records the modules that Keras's initializers set (weighted, recurrent)."""
    kind, modules = layer["class_name"], []
    if kind == "Dense":
        modules.append(torch.nn.Linear(shape[0], layer["units"], bias=layer["use_bias"]))
        weighted.append((modules[-1], layer))
        shape = [layer["units"]]
    elif kind == "Conv2D":
        for key, value in (("strides", [1, 1]), ("dilation_rate", [1, 1])):
            _check(layer, key, value)
        (kh, kw), filters = layer["kernel_size"], layer["filters"]
        if layer.get("padding", "valid") == "same":
            if kh % 2 == 0 or kw % 2 == 0:  # Keras pads an even kernel more on one side; PyTorch's "same" too, but not alike
                raise ValueError(f"zoo.py: Conv2D with padding='same' and an even kernel {kh}x{kw} is not supported")
            modules.append(torch.nn.Conv2d(shape[0], filters, (kh, kw), padding="same", bias=layer["use_bias"]))
            shape = [filters, shape[1], shape[2]]
        else:
            _check(layer, "padding", "valid")
            modules.append(torch.nn.Conv2d(shape[0], filters, (kh, kw), bias=layer["use_bias"]))
            shape = [filters, shape[1] - kh + 1, shape[2] - kw + 1]
        weighted.append((modules[-1], layer))
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
        return modules, [layer["units"]]  # its activations are inside the module
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
    return modules, shape


def _nchw(shape):
    """A Keras sample shape as PyTorch's: (H, W, C) images become (C, H, W)."""
    return [shape[2], shape[0], shape[1]] if len(shape) == 3 else list(shape)


def _axis(axis, rank):
    """A Keras axis of an NHWC tensor of `rank` (batch included) as the NCHW tensor's dim."""
    axis = axis % rank
    return axis if rank != 4 or axis == 0 else {1: 2, 2: 3, 3: 1}[axis]


class Graph(torch.nn.Module):
    """A Functional model as models.json describes it (Keras's functional config: each layer's calls, each reading
    [layer, node, tensor]s; layers referred to by position). A layer called more than once is one module (shared
    weights). Merges: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate(axis)."""

    MERGES = {"Add": lambda xs: sum(xs[1:], xs[0]), "Subtract": lambda xs: xs[0] - xs[1],
              "Multiply": lambda xs: math.prod(xs[1:], start=xs[0]), "Average": lambda xs: sum(xs[1:], xs[0]) / len(xs),
              "Maximum": lambda xs: torch.stack(xs).amax(0), "Minimum": lambda xs: torch.stack(xs).amin(0)}

    def __init__(self, description, weighted, recurrent):
        super().__init__()
        self.layers = description["layers"]
        self.inputs = [tuple(t) for t in description["inputs"]]
        self.outputs = [tuple(t) for t in description["outputs"]]
        self.blocks = torch.nn.ModuleList()
        self.shapes = {}  # (layer, node, tensor) → its NCHW shape, batch axis left out
        self.flatten_from = {}  # a Dense's layer index → the (C, H, W) shape of the image a Flatten before it flattened
        for i, t in enumerate(self.inputs):
            self.shapes[t] = _nchw(self.layers[t[0]]["shape"])
        for index, layer in enumerate(self.layers):  # created in layer order, so a seed gives the same weights
            kind = layer["class_name"]
            if kind == "Input":
                self.blocks.append(torch.nn.Sequential())  # no module: keeps blocks[i] the layer i
                continue
            modules, module_shapes = None, []
            for node, inbound in enumerate(layer["inbound_nodes"]):
                shapes = [self.shapes[tuple(t)] for t in inbound]
                if kind in self.MERGES:
                    out = shapes[0]
                elif kind == "Concatenate":
                    dim = _axis(layer.get("axis", -1), len(shapes[0]) + 1) - 1
                    out = list(shapes[0])
                    out[dim] = sum(s[dim] for s in shapes)
                elif modules is None:
                    modules, out = _modules(layer, shapes[0], weighted, recurrent)
                    module_shapes = shapes[0]
                else:
                    if shapes[0] != module_shapes:
                        raise ValueError(f"zoo.py: layer {index} is called on shapes {module_shapes} and {shapes[0]}")
                    out = self.shapes[(index, 0, 0)]
                if kind == "Dense" and self.layers[inbound[0][0]]["class_name"] == "Flatten":
                    source = self.layers[inbound[0][0]]["inbound_nodes"][inbound[0][1]][0]
                    self.flatten_from[index] = tuple(self.shapes[tuple(source)])
                self.shapes[(index, node, 0)] = out
            self.blocks.append(torch.nn.Sequential(*(modules or [])))

    def forward(self, *xs):
        values = dict(zip(self.inputs, xs))

        def value(ref):
            if ref not in values:
                index, node, _ = ref
                layer = self.layers[index]
                args = [value(tuple(t)) for t in layer["inbound_nodes"][node]]
                kind = layer["class_name"]
                if kind in self.MERGES:
                    values[ref] = self.MERGES[kind](args)
                elif kind == "Concatenate":
                    values[ref] = torch.cat(args, dim=_axis(layer.get("axis", -1), args[0].dim()))
                else:
                    values[ref] = self.blocks[index](args[0])
            return values[ref]

        outs = [value(t) for t in self.outputs]
        return outs[0] if len(outs) == 1 else outs

    def load_keras(self, weights):
        """Sets every weight from Cortex's (Keras's) layouts, in Model.Variables order (layer by layer): Conv2D kernel
        (kh, kw, in, out) and bias; Dense kernel (in, out) and bias, its rows reordered where a Flatten before it
        flattened NHWC (h, w, c) where PyTorch flattens (c, h, w)."""
        weights = list(weights)
        with torch.no_grad():
            for index, block in enumerate(self.blocks):
                for module in block:
                    if isinstance(module, torch.nn.Conv2d):
                        module.weight.copy_(torch.as_tensor(weights.pop(0)).permute(3, 2, 0, 1))
                    elif isinstance(module, torch.nn.Linear):
                        kernel = torch.as_tensor(weights.pop(0))
                        if index in self.flatten_from:
                            c, h, w = self.flatten_from[index]
                            kernel = kernel.reshape(h, w, c, -1).permute(2, 0, 1, 3).reshape(c * h * w, -1)
                        module.weight.copy_(kernel.T)
                    elif isinstance(module, (LastState, torch.nn.BatchNorm2d)):
                        raise ValueError("zoo.py: load_keras does not support LSTM/GRU or BatchNormalization in a graph yet")
                    else:
                        continue
                    if module.bias is not None:
                        module.bias.copy_(torch.as_tensor(weights.pop(0)))
        if weights:
            raise ValueError(f"zoo.py: {len(weights)} weights left over")


def build(name):
    """A fresh torch.nn.Sequential (or, for a graph, a Graph module) for the models.json entry `name`, with Keras's
    initial weight distributions."""
    description = describe(name)
    weighted, recurrent = [], []
    if "inputs" in description:
        model = Graph(description, weighted, recurrent)
    else:
        first, *layers = description["layers"]
        if first["class_name"] != "Input":
            raise ValueError(f"zoo.py: model '{name}' does not start with an Input layer")
        shape, modules = _nchw(first["shape"]), []
        for layer in layers:
            more, shape = _modules(layer, shape, weighted, recurrent)
            modules.extend(more)
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


def epoch(model, opt, x, y, batch):
    """One training epoch as Keras's fit runs it: the rows shuffled, mini-batches of `batch`, cross-entropy on logits."""
    loss_fn = torch.nn.CrossEntropyLoss()
    perm = torch.randperm(x.shape[0])
    for start in range(0, x.shape[0], batch):
        idx_b = perm[start:start + batch]
        xb, yb = x[idx_b], y[idx_b]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
