#!/usr/bin/python3
"""Writes PyTorch modules exported by torch.onnx.export to tests/reference/onnx/NAME.onnx, and PyTorch's outputs on a
random batch to tests/reference/onnx_import.json, for Cortex.Onnx's import tests.

Run with Debian's python3-torch:  /usr/bin/python3 tests/reference/make_onnx_reference.py
CI does not run this; it reads the committed files. Each module is in eval mode (Dropout off, BatchNorm on its running
statistics, which are first made non-trivial), exported at opset 17 with a dynamic batch axis, input "input" and
output "output". Images are NCHW, as PyTorch's; pixels uniform in [0, 1).
"""
import io
import json
import os

import numpy
import torch
from torch import nn

from reference_common import enc

torch.manual_seed(97531)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "onnx")
os.makedirs(OUT_DIR, exist_ok=True)
cases = []


def export(name, module, sample):
    module.eval()
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.copy_(torch.randn_like(m.running_mean) * 0.3)
                m.running_var.copy_(torch.rand_like(m.running_var) + 0.5)
                m.weight.copy_(torch.randn_like(m.weight) * 0.3 + 1)
                m.bias.copy_(torch.randn_like(m.bias) * 0.3)
        x = torch.rand((5, *sample))
        y = module(x)
    f = io.BytesIO()
    torch.onnx.export(module, torch.zeros((1, *sample)), f, opset_version=17, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    with open(os.path.join(OUT_DIR, f"{name}.onnx"), "wb") as out:
        out.write(f.getvalue())
    cases.append({"name": name, "input": enc(x), "output": enc(y)})


export("mlp", nn.Sequential(nn.Linear(784, 25), nn.ReLU(), nn.Linear(25, 15), nn.ReLU(), nn.Linear(15, 10)), (784,))
export("mlp_softmax", nn.Sequential(nn.Linear(6, 8), nn.Sigmoid(), nn.Linear(8, 5), nn.Tanh(), nn.Linear(5, 3), nn.Softmax(dim=1)), (6,))
export("activations", nn.Sequential(nn.Linear(5, 6), nn.LeakyReLU(0.1), nn.Linear(6, 6), nn.ELU(0.5), nn.Linear(6, 6), nn.SELU(),
                                    nn.Linear(6, 6), nn.Softplus(), nn.Linear(6, 6), nn.ReLU6(), nn.Linear(6, 6), nn.SiLU(),
                                    nn.Linear(6, 4), nn.Dropout(0.3)), (5,))
export("cnn", nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10)), (1, 28, 28))
export("cnn_bn_same", nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AvgPool2d(2),
                                    nn.Conv2d(4, 3, (3, 1), padding=(1, 0), bias=False), nn.Tanh(), nn.Flatten(), nn.Linear(3 * 4 * 4, 2)), (2, 8, 8))
export("gap", nn.Sequential(nn.Conv2d(3, 5, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 3)), (3, 9, 9))
export("bn1d", nn.Sequential(nn.Linear(7, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2)), (7,))


class LastStep(nn.Module):
    """Recurrent layers with batch_first=True (the first ones' every step feeding the next), then a Linear on the last
    step: out[:, -1], which torch.onnx writes as a Gather of index -1."""

    def __init__(self, *rnns, out):
        super().__init__()
        self.rnns = nn.ModuleList(rnns)
        self.fc = nn.Linear(rnns[-1].hidden_size, out)

    def forward(self, x):
        for rnn in self.rnns:
            x, _ = rnn(x)
        return self.fc(x[:, -1])


export("lstm_last", LastStep(nn.LSTM(3, 5, batch_first=True), out=2), (6, 3))
export("gru_last", LastStep(nn.GRU(3, 5, batch_first=True), out=2), (6, 3))
export("rnn_relu_last", LastStep(nn.RNN(3, 4, nonlinearity="relu", batch_first=True), out=3), (6, 3))
export("lstm_gru_stacked", LastStep(nn.LSTM(4, 6, batch_first=True), nn.GRU(6, 3, batch_first=True, bias=False), out=2), (5, 4))
export("conv1d", nn.Sequential(nn.Conv1d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2), nn.Conv1d(4, 5, 2, dilation=2), nn.AvgPool1d(2),
                               nn.Tanh(), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(5, 3)), (3, 16))


class MeanOverSteps(nn.Module):
    """A bidirectional recurrent layer, a Linear on every step, and the mean over the steps."""

    def __init__(self, rnn, out):
        super().__init__()
        self.rnn = rnn
        self.fc = nn.Linear(2 * rnn.hidden_size, out)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y).mean(dim=1)


export("bigru_mean", MeanOverSteps(nn.GRU(3, 4, batch_first=True, bidirectional=True), out=2), (6, 3))
export("bilstm_mean", MeanOverSteps(nn.LSTM(3, 4, batch_first=True, bidirectional=True), out=3), (5, 3))
# Added later, so last: the modules above keep the weights their committed files hold.
export("activations_2", nn.Sequential(nn.Linear(5, 6), nn.Softsign(), nn.Linear(6, 6), nn.Hardsigmoid(), nn.Linear(6, 6), nn.Hardswish(),
                                      nn.Linear(6, 6), nn.Mish(), nn.Linear(6, 6), nn.GELU(), nn.Linear(6, 3)), (5,))

with open(os.path.join(HERE, "onnx_import.json"), "w") as f:
    json.dump({"generator": "tests/reference/make_onnx_reference.py", "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} models to {OUT_DIR}")
