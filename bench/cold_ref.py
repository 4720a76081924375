#!/usr/bin/python3
"""PyTorch side of `Cortex.Bench cold`: a user's first run, in this fresh process.

After the data is loaded and the network built (neither timed, as on the C# side), times the first training epoch
(every training row once, shuffled mini-batches of --batch, Adam 1e-3 with Keras's epsilon 1e-7, cross-entropy on
logits), then a second epoch, then the first single-sample forward pass in eval mode under torch.no_grad() — what
Cortex's first Predict does. Prints one JSON line with the same keys as Cortex.Bench cold.
Usage: cold_ref.py --network NAME --batch N [--threads N] [--rows N]
"""
import argparse
import json
import os
import time

parser = argparse.ArgumentParser()
parser.add_argument("--network", default="digits_mlp", help="a Cortex.Models.Zoo name (tests/reference/models.json)")
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
parser.add_argument("--rows", type=int, default=0, help="only the first N training rows (0: all): a smoke check")
args = parser.parse_args()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import torch  # noqa: E402

import fashion_mnist  # noqa: E402  (bench/fashion_mnist.py)
import zoo  # noqa: E402  (bench/zoo.py)

torch.set_num_threads(args.threads)

clock = time.perf_counter()
images, labels, _, _ = fashion_mnist.load(args.data)
if args.rows > 0:
    images, labels = images[:args.rows], labels[:args.rows]
# The CNNs take images (N, 1, 28, 28); recurrent models 28 rows of 28 pixels; the MLPs flat rows.
shape = (-1, 1, 28, 28) if zoo.takes_images(args.network) else (-1, 28, 28) if zoo.takes_sequences(args.network) else (-1, 784)
x, y = torch.from_numpy(images.reshape(shape)), torch.from_numpy(labels)
load = time.perf_counter() - clock

torch.manual_seed(1)
model = zoo.build(args.network)
opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
model.train()
times = []
for _ in range(2):
    clock = time.perf_counter()
    zoo.epoch(model, opt, x, y, args.batch)
    times.append(time.perf_counter() - clock)
model.eval()  # dropout off, as in Cortex's Predict
one = x[:1]
with torch.no_grad():
    clock = time.perf_counter()
    model(one)
    predict = time.perf_counter() - clock
print(json.dumps({"network": args.network, "batch": args.batch, "rows": x.shape[0], "threads": args.threads,
                  "load_s": round(load, 3), "first_epoch_s": round(times[0], 3), "second_epoch_s": round(times[1], 3),
                  "first_predict_ms": round(predict * 1e3, 2)}), flush=True)
