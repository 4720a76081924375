#!/usr/bin/python3
"""PyTorch side of `Cortex.Bench train`: the same Fashion-MNIST MLP and CNN cases, one process per thread count.

One epoch (60,000 samples, shuffled mini-batches of the case's size, Adam 1e-3, cross-entropy on logits), test
accuracy after it (for the MLPs the mean over --seeds one-epoch runs), single-sample predict latency of the 784-128-10 model, and the process's peak RSS.
Prints one JSON object per case, then one with peak RSS. Usage: train_ref.py [--threads N] [--filter TEXT]
"""
import argparse
import json
import os
import resource
import time

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--filter", default="")
parser.add_argument("--seeds", type=int, default=10, help="seeds 1..N whose one-epoch accuracies are averaged (MLPs)")
parser.add_argument("--min-time", type=float, default=0.3)
parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
parser.add_argument("--start-dir", help="train each MLP from the initial weights and row orders Cortex.Bench wrote here")
args = parser.parse_args()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import fashion_mnist  # noqa: E402  (bench/fashion_mnist.py)

torch.set_num_threads(args.threads)


images_train, labels_train, images_test, labels_test = fashion_mnist.load(args.data)
x_train = torch.from_numpy(images_train.reshape(-1, 784))
y_train = torch.from_numpy(labels_train)
x_test = torch.from_numpy(images_test.reshape(-1, 784))
y_test = torch.from_numpy(labels_test)

CASES = [("mlp 784-25-15-10 b32", [25, 15], 32), ("mlp 784-128-10 b32", [128], 32), ("mlp 784-512-512-10 b128", [512, 512], 128),
         ("cnn conv32-pool-conv64-pool-dropout-10 b64", None, 64),
         ("cnn-bn conv32-bn-relu-pool-conv64-bn-relu-pool-10 b64", None, 64)]


def build_cnn(batch_norm):
    """The CNN issue's network: Conv2D(32, 3, relu) → MaxPool(2) → Conv2D(64, 3, relu) → MaxPool(2) → Flatten →
    Dropout(0.5) → Dense(10), on (N, 1, 28, 28) images, with Keras's Glorot-uniform kernels and zero biases. With
    batch_norm, each convolution is followed by BatchNorm2d (Keras's defaults: momentum 0.99, i.e. PyTorch's 0.01, and
    epsilon 1e-3) before its ReLU, and there is no Dropout."""
    def block(c_in, c_out):
        if not batch_norm:
            return [torch.nn.Conv2d(c_in, c_out, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
        return [torch.nn.Conv2d(c_in, c_out, 3), torch.nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.01), torch.nn.ReLU(),
                torch.nn.MaxPool2d(2)]
    model = torch.nn.Sequential(*block(1, 32), *block(32, 64), torch.nn.Flatten(),
                                *([] if batch_norm else [torch.nn.Dropout(0.5)]), torch.nn.Linear(5 * 5 * 64, 10))
    for layer in model:
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.xavier_uniform_(layer.weight)  # fans in·kh·kw and out·kh·kw, as Keras
            torch.nn.init.zeros_(layer.bias)
    return model


def build(hidden, name):
    if hidden is None:
        return build_cnn(name.startswith("cnn-bn"))
    layers, width = [], 784
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    layers.append(torch.nn.Linear(width, 10))
    model = torch.nn.Sequential(*layers)
    # The same model as Cortex's (Keras's defaults): Glorot-uniform kernels, zero biases.
    for layer in model:
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.xavier_uniform_(layer.weight)
            torch.nn.init.zeros_(layer.bias)
    return model


def epoch(model, opt, x, y, batch):
    loss_fn = torch.nn.CrossEntropyLoss()
    perm = torch.randperm(x.shape[0])
    for start in range(0, x.shape[0], batch):
        idx_b = perm[start:start + batch]
        xb, yb = x[idx_b], y[idx_b]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()


def same_start(name, hidden, batch):
    """Cortex.Bench's like-for-like runs: for each seed it wrote, the same initial weights (Keras layout: kernel (in, out),
    then bias, per Dense) and the same row order, one epoch, then test accuracy."""
    slug, accuracies, seed = name.replace(" ", "_"), [], 1
    while os.path.exists(os.path.join(args.start_dir, f"{slug}-seed{seed}.weights")):
        flat = np.fromfile(os.path.join(args.start_dir, f"{slug}-seed{seed}.weights"), dtype=np.float32)
        order = torch.from_numpy(np.fromfile(os.path.join(args.start_dir, f"{slug}-seed{seed}.order"), dtype=np.int32).astype(np.int64))
        model, offset = build(hidden, name), 0
        with torch.no_grad():
            for layer in model:
                if isinstance(layer, torch.nn.Linear):
                    n_in, n_out = layer.in_features, layer.out_features
                    layer.weight.copy_(torch.from_numpy(flat[offset:offset + n_in * n_out].reshape(n_in, n_out).T.copy()))
                    offset += n_in * n_out
                    layer.bias.copy_(torch.from_numpy(flat[offset:offset + n_out]))
                    offset += n_out
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
        loss_fn = torch.nn.CrossEntropyLoss()
        model.train()
        for start in range(0, len(order), batch):
            rows = order[start:start + batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x_train[rows]), y_train[rows]).backward()
            opt.step()
        accuracies.append(accuracy_of(model, x_test))
        seed += 1
    return accuracies


def accuracy_of(model, xs_test):
    model.eval()  # dropout off for testing
    with torch.no_grad():
        return (model(xs_test).argmax(-1) == y_test).float().mean().item()


for name, hidden, batch in CASES:
    if args.filter not in name:
        continue
    # The CNN takes images (N, 1, 28, 28); the MLPs flat rows.
    xs_train, xs_test = (x_train.reshape(-1, 1, 28, 28), x_test.reshape(-1, 1, 28, 28)) if hidden is None else (x_train, x_test)
    torch.manual_seed(0)
    warm = build(hidden, name)
    warm_opt = torch.optim.Adam(warm.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 1.5:  # the same warm-up as the C# side
        epoch(warm, warm_opt, xs_train[:4096], y_train[:4096], batch)

    torch.manual_seed(1)
    model = build(hidden, name)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    t0 = time.perf_counter()
    model.train()
    epoch(model, opt, xs_train, y_train, batch)
    seconds = time.perf_counter() - t0
    accuracies, epochs = [accuracy_of(model, xs_test)], [seconds]
    # As the C# side: the MLP cases report the mean one-epoch accuracy over seeds 1..N and the median epoch time.
    for seed in range(2, args.seeds + 1 if hidden is not None else 2):
        torch.manual_seed(seed)
        other = build(hidden, name)
        other.train()
        t0 = time.perf_counter()
        epoch(other, torch.optim.Adam(other.parameters(), lr=1e-3, eps=1e-7), xs_train, y_train, batch)
        epochs.append(time.perf_counter() - t0)
        accuracies.append(accuracy_of(other, xs_test))
    epochs.sort()
    seconds = epochs[len(epochs) // 2] if len(epochs) % 2 else (epochs[len(epochs) // 2 - 1] + epochs[len(epochs) // 2]) / 2
    row = {"case": name, "epoch_s": round(seconds, 3), "epochs": len(epochs), "test_accuracy": round(sum(accuracies) / len(accuracies), 4),
           "test_accuracy_seeds": [round(a, 4) for a in accuracies]}
    if args.start_dir and hidden is not None:
        same = same_start(name, hidden, batch)
        if same:
            row["same_start_accuracy"] = round(sum(same) / len(same), 4)
            row["same_start_seeds"] = [round(a, 4) for a in same]
    if hidden == [128]:
        one = x_test[:1]
        with torch.no_grad():
            for _ in range(2000):
                model(one)
            best = float("inf")
            for _ in range(5):
                n, t0 = 0, time.perf_counter()
                while time.perf_counter() - t0 < args.min_time / 5:
                    model(one)
                    n += 1
                best = min(best, (time.perf_counter() - t0) / n)
        row["predict_us"] = round(best * 1e6, 2)
    print(json.dumps(row), flush=True)
print(json.dumps({"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1), "threads": args.threads}))
