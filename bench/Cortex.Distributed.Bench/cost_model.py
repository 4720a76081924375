#!/usr/bin/env python3
"""Predicts data-parallel epoch time and scaling efficiency on 2-64 machines (docs/distributed.md).

Per step, with p machines, gradient of S bytes, global batch split evenly (strong scaling, as Fit's batchSize):
    T_step(p) = T_compute / p + T_allreduce(p),
    T_allreduce(p) = 2(p-1)/p * S / BW + 2(p-1) * alpha          (ring all-reduce: reduce-scatter + all-gather)
Epoch = steps * T_step(p); efficiency = T_step(1) / (p * T_step(p)). The second table keeps each machine's batch
(weak scaling): T_step(p) = T_compute + T_allreduce(p), steps / p per epoch.
Assumptions: compute divides perfectly by p (no per-step fixed cost, no straggler), one process per machine with the
2-thread compute measured here, BW = 90% of the line rate, alpha = 25 us per message (MPI over TCP on Ethernet),
no overlap of the all-reduce with backward (Cortex reduces after backward).
"""
import sys

# name, parameters, one-machine epoch seconds (docs/benchmarks.md, 2 threads, 60,000 Fashion-MNIST rows), batch
MODELS = [
    ("MLP 784-128-10, b32", 101_770, 0.203, 32),
    ("MLP 784-512-512-10, b128", 669_706, 0.801, 128),
    ("Fashion CNN, b64", 34_826, 6.524, 64),
    ("LSTM(128), b64", 81_674, 18.75, 64),
]
LINKS = [10, 25, 100]          # Gb/s
MACHINES = [2, 4, 8, 16, 32, 64]
ALPHA = 25e-6                  # s per message
ROWS = 60_000


def allreduce(p, nbytes, gbps, alpha=ALPHA):
    if p == 1:
        return 0.0
    bw = 0.9 * gbps * 1e9 / 8
    return 2 * (p - 1) / p * nbytes / bw + 2 * (p - 1) * alpha


def main():
    print("| model (gradient) | link | " + " | ".join(f"{p} machines" for p in MACHINES) + " |")
    print("|---|---|" + "---:|" * len(MACHINES))
    for name, params, epoch1, batch in MODELS:
        steps = -(-ROWS // batch)
        compute = epoch1 / steps
        for gbps in LINKS:
            cells = []
            for p in MACHINES:
                step = compute / p + allreduce(p, 4 * params, gbps)
                cells.append(f"{steps * step:.2f} s, {compute / (p * step):.0%}")
            print(f"| {name} ({4 * params / 1e3:.0f} KB) | {gbps} Gb/s | " + " | ".join(cells) + " |")
    print()
    print("Weak scaling (each machine keeps the batch, the global batch grows to batch * p; epoch = steps/p of them):")
    print()
    print("| model | link | " + " | ".join(f"{p} machines" for p in MACHINES) + " |")
    print("|---|---|" + "---:|" * len(MACHINES))
    for name, params, epoch1, batch in MODELS:
        steps = -(-ROWS // batch)
        compute = epoch1 / steps
        for gbps in LINKS:
            cells = []
            for p in MACHINES:
                step = compute + allreduce(p, 4 * params, gbps)
                cells.append(f"{steps / p * step:.2f} s, {compute / step:.0%}")
            print(f"| {name} | {gbps} Gb/s | " + " | ".join(cells) + " |")
    print()
    print(f"(one machine: " + "; ".join(f"{n.split(',')[0]} {e} s" for n, _, e, _ in MODELS) + ")")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "check":
        # Prediction for this host: 2 ranks on shared memory, alpha and BW from the measured all-reduce.
        alpha, bw_gbps = float(sys.argv[2]) * 1e-6, float(sys.argv[3]) * 8
        for name, params, epoch1, steps in [("digits MLP", 20_175, float(sys.argv[4]), 125), ("small CNN", 12_810, float(sys.argv[5]), 32)]:
            for p in (2, 4):
                t = steps * (epoch1 / steps / p + allreduce(p, 4 * params, bw_gbps / 0.9, alpha))
                print(f"{name}: {p} ranks predicted {t:.3f} s/epoch (1 rank: {epoch1} s)")
    else:
        main()
