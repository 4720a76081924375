#!/usr/bin/python3
"""PyTorch side of `Cortex.Bench train`: the same Fashion-MNIST MLP, CNN, LSTM and residual-CNN (graph) cases, one
process per thread count.

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
parser.add_argument("--rows", type=int, default=0, help="only the first N training and test rows (0: all): a quick check of a case")
args = parser.parse_args()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import fashion_mnist  # noqa: E402  (bench/fashion_mnist.py)
import zoo  # noqa: E402  (bench/zoo.py)

torch.set_num_threads(args.threads)


images_train, labels_train, images_test, labels_test = fashion_mnist.load(args.data)
if args.rows > 0:
    images_train, labels_train, images_test, labels_test = (a[:args.rows] for a in (images_train, labels_train, images_test, labels_test))
x_train = torch.from_numpy(images_train.reshape(-1, 784))
y_train = torch.from_numpy(labels_train)
x_test = torch.from_numpy(images_test.reshape(-1, 784))
y_test = torch.from_numpy(labels_test)

# (case, network, batch): the networks are Cortex.Models.Zoo's, by the names tests/reference/models.json gives them.
CASES = [("mlp 784-25-15-10 b32", "digits_mlp", 32), ("mlp 784-128-10 b32", "mlp_784_128_10", 32),
         ("mlp 784-512-512-10 b128", "mlp_784_512_512_10", 128),
         ("cnn conv32-pool-conv64-pool-dropout-10 b64", "fashion_cnn", 64),
         ("cnn-bn conv32-bn-relu-pool-conv64-bn-relu-pool-10 b64", "fashion_cnn_bn", 64),
         ("rnn lstm128-10 rows b64", "fashion_lstm", 64),
         ("resnet conv32-pool-res(conv32-conv32)-add-conv64-pool-10 b32", "fashion_resnet", 32)]


def same_start(name, network, batch, xs_train, xs_test):
    """Cortex.Bench's like-for-like runs: for each seed it wrote, the same initial weights (Keras layouts, layer by layer:
    a Dense's kernel (in, out) then bias; an LSTM's kernel, recurrent kernel and bias) and the same row order, one
    epoch, then test accuracy."""
    slug, accuracies, seed = name.replace(" ", "_"), [], 1
    while os.path.exists(os.path.join(args.start_dir, f"{slug}-seed{seed}.weights")):
        flat = np.fromfile(os.path.join(args.start_dir, f"{slug}-seed{seed}.weights"), dtype=np.float32)
        order = torch.from_numpy(np.fromfile(os.path.join(args.start_dir, f"{slug}-seed{seed}.order"), dtype=np.int32).astype(np.int64))
        model, offset = zoo.build(network), 0

        def take(*shape):
            nonlocal offset
            count = int(np.prod(shape))
            t = torch.from_numpy(flat[offset:offset + count].reshape(shape).copy())
            offset += count
            return t

        with torch.no_grad():
            for layer in model:
                if isinstance(layer, zoo.LastState):
                    features, u = layer.rnn.input_size, layer.rnn.hidden_size
                    gates = 4 if layer.kind == "LSTM" else 3
                    layer.load_keras([take(features, gates * u), take(u, gates * u), take(gates * u) if gates == 4 else take(2, gates * u)])
                elif isinstance(layer, torch.nn.Linear):
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
            loss_fn(model(xs_train[rows]), y_train[rows]).backward()
            opt.step()
        accuracies.append(accuracy_of(model, xs_test))
        seed += 1
    return accuracies


def accuracy_of(model, xs_test):
    model.eval()  # dropout off for testing
    with torch.no_grad():
        return (model(xs_test).argmax(-1) == y_test).float().mean().item()


for name, network, batch in CASES:
    if args.filter not in name:
        continue
    # The CNNs take images (N, 1, 28, 28); the LSTM 28 rows of 28 pixels; the MLPs flat rows.
    images, sequences = zoo.takes_images(network), zoo.takes_sequences(network)
    xs_train, xs_test = ((x_train.reshape(-1, 1, 28, 28), x_test.reshape(-1, 1, 28, 28)) if images
                         else (x_train.reshape(-1, 28, 28), x_test.reshape(-1, 28, 28)) if sequences else (x_train, x_test))
    torch.manual_seed(0)
    warm = zoo.build(network)
    warm_opt = torch.optim.Adam(warm.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 1.5:  # the same warm-up as the C# side
        zoo.epoch(warm, warm_opt, xs_train[:4096], y_train[:4096], batch)

    torch.manual_seed(1)
    model = zoo.build(network)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    t0 = time.perf_counter()
    model.train()
    zoo.epoch(model, opt, xs_train, y_train, batch)
    seconds = time.perf_counter() - t0
    accuracies, epochs = [accuracy_of(model, xs_test)], [seconds]
    # As the C# side: the MLP cases report the mean one-epoch accuracy over seeds 1..N and the median epoch time.
    for seed in range(2, args.seeds + 1 if not (images or sequences) else 2):
        torch.manual_seed(seed)
        other = zoo.build(network)
        other.train()
        t0 = time.perf_counter()
        zoo.epoch(other, torch.optim.Adam(other.parameters(), lr=1e-3, eps=1e-7), xs_train, y_train, batch)
        epochs.append(time.perf_counter() - t0)
        accuracies.append(accuracy_of(other, xs_test))
    epochs.sort()
    seconds = epochs[len(epochs) // 2] if len(epochs) % 2 else (epochs[len(epochs) // 2 - 1] + epochs[len(epochs) // 2]) / 2
    row = {"case": name, "epoch_s": round(seconds, 3), "epochs": len(epochs), "test_accuracy": round(sum(accuracies) / len(accuracies), 4),
           "test_accuracy_seeds": [round(a, 4) for a in accuracies]}
    if args.start_dir and not images:
        same = same_start(name, network, batch, xs_train, xs_test)
        if same:
            row["same_start_accuracy"] = round(sum(same) / len(same), 4)
            row["same_start_seeds"] = [round(a, 4) for a in same]
    if network == "mlp_784_128_10":
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
