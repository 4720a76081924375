#!/usr/bin/python3
"""Reference SGEMM timings for bench/run.sh: the cases of `Cortex.Bench gemm`, run with PyTorch and NumPy.

Prints one JSON object per case, the same fields as the C# side plus which library was faster ("ref") and both
libraries' figures, then a last line describing the BLAS actually loaded. Usage: gemm_ref.py [--threads N] [--min-time S] [--filter TEXT]
"""
import argparse
import json
import os
import sys
import time

# Thread counts must be fixed before numpy/torch load their BLAS.
parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=os.cpu_count())
parser.add_argument("--min-time", type=float, default=0.3, help="seconds of timing per case and library")
parser.add_argument("--filter", default="", help="only cases whose name contains this text")
args = parser.parse_args()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from isa_ref import openblas_info  # noqa: E402

torch.set_num_threads(args.threads)


def cases():
    """(name, transA, transB, M, K, N) — must match CASES in bench/Cortex.Bench/Program.cs."""
    for s in (128, 256, 512, 1024, 2048):
        yield (f"square {s}", False, False, s, s, s)
    for m, k, n in ((32, 784, 128), (32, 128, 10), (128, 784, 512)):
        yield (f"fwd {m}x{k}x{n}", False, False, m, k, n)
        yield (f"dX {m}x{n}x{k} tB", False, True, m, n, k)
        yield (f"dW {k}x{m}x{n} tA", True, False, k, m, n)
    # The Fashion CNN's second convolution at batch 64 (patches x 3*3*32 -> 64): one block of rows, and the batch.
    for m, k, n in ((480, 288, 64), (7744, 288, 64)):
        yield (f"conv fwd {m}x{k}x{n}", False, False, m, k, n)
        yield (f"conv dX {m}x{n}x{k} tB", False, True, m, n, k)
        yield (f"conv dW {k}x{m}x{n} tA", True, False, k, m, n)


def time_best(fn, min_time):
    """Best per-call time over 5 rounds, each at least min_time/5 s, after a warm-up."""
    for _ in range(3):
        fn()
    best = float("inf")
    for _ in range(5):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time / 5:
                break
        best = min(best, elapsed / calls)
    return best


def blas_description():
    """Which BLAS backs numpy/torch: ask OpenBLAS itself when it is loaded into this process."""
    info = {"libblas.so.3": os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")}
    with open("/proc/self/maps") as maps:
        info["loaded"] = sorted({line.split()[-1] for line in maps if "blas" in line or "lapack" in line})
    info.update(openblas_info())
    info["torch"] = torch.__version__
    info["torch_threads"] = torch.get_num_threads()
    info["numpy"] = np.__version__
    return info


def main():
    rng = np.random.default_rng(1)
    for name, ta, tb, m, k, n in cases():
        if args.filter not in name:
            continue
        a = rng.uniform(-1, 1, (k, m) if ta else (m, k)).astype(np.float32)
        b = rng.uniform(-1, 1, (n, k) if tb else (k, n)).astype(np.float32)
        an, bn = (a.T if ta else a), (b.T if tb else b)     # transposed views: BLAS gets the trans flag, no copy
        at, bt = torch.from_numpy(a), torch.from_numpy(b)
        at, bt = (at.t() if ta else at), (bt.t() if tb else bt)
        cn = np.empty((m, n), np.float32)
        ct = torch.from_numpy(cn)
        flops = 2.0 * m * n * k
        t_np = time_best(lambda: np.matmul(an, bn, out=cn), args.min_time)
        t_torch = time_best(lambda: torch.matmul(at, bt, out=ct), args.min_time)
        winner = "torch" if t_torch < t_np else "numpy"
        best = min(t_np, t_torch)
        print(json.dumps({
            "case": name, "m": m, "k": k, "n": n, "transA": ta, "transB": tb,
            "gflops": round(flops / best / 1e9, 2), "us": round(best * 1e6, 3), "ref": winner,
            "numpy_gflops": round(flops / t_np / 1e9, 2), "torch_gflops": round(flops / t_torch / 1e9, 2),
        }), flush=True)
    print(json.dumps({"blas": blas_description()}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
