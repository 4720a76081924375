#!/usr/bin/python3
"""PyTorch run of examples/FashionCnn's recipe, for docs/benchmarks.md ("CNN"): the CNN issue's network without
Dropout, pixels standardised with the training set's mean and standard deviation, shuffled batches of 32, Adam
(epsilon 1e-7, as Keras) with the learning rate decaying exponentially from 3e-3 to 1e-4 over 3 epochs, step by step.
Prints the test accuracy after each epoch. Usage: cnn_recipe_ref.py [--seed N] [--threads N] [--epochs N]
"""
import argparse
import time

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, default=42)
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
args = parser.parse_args()

import torch  # noqa: E402

import fashion_mnist  # noqa: E402  (bench/fashion_mnist.py)
import zoo  # noqa: E402  (bench/zoo.py)

torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)


images_train, labels_train, images_test, labels_test = fashion_mnist.load(args.data)
x_train = torch.from_numpy(images_train).unsqueeze(1)
y_train = torch.from_numpy(labels_train)
x_test = torch.from_numpy(images_test).unsqueeze(1)
y_test = torch.from_numpy(labels_test)
mean, std = x_train.mean().item(), x_train.std(unbiased=False).item()
x_train, x_test = (x_train - mean) / std, (x_test - mean) / std

model = zoo.build("fashion_cnn_no_dropout")  # Keras's Glorot-uniform kernels and zero biases

steps_per_epoch = (len(x_train) + args.batch - 1) // args.batch
total = args.epochs * steps_per_epoch
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3, eps=1e-7)
schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=(1e-4 / 3e-3) ** (1.0 / total))
loss_fn = torch.nn.CrossEntropyLoss()
accuracies = []
start = time.perf_counter()
for epoch in range(args.epochs):
    model.train()
    order = torch.randperm(len(x_train))
    for s in range(steps_per_epoch):
        rows = order[s * args.batch:(s + 1) * args.batch]
        optimizer.zero_grad()
        loss_fn(model(x_train[rows]), y_train[rows]).backward()
        optimizer.step()
        schedule.step()
    model.eval()
    with torch.no_grad():
        accuracies.append(sum((model(x_test[i:i + 1000]).argmax(1) == y_test[i:i + 1000]).sum().item()
                              for i in range(0, len(x_test), 1000)) / len(x_test))
print(f"seed {args.seed}: test accuracy after each epoch " + " / ".join(f"{a:.4f}" for a in accuracies)
      + f" ({time.perf_counter() - start:.0f} s, {args.threads} thread(s))")
