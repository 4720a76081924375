#!/usr/bin/python3
"""Joins the JSON lines of bench/run.sh's runs into markdown tables with ratios (Cortex / reference).

Usage: report.py [--isa ISA.jsonl] MODE FILES... — with --isa, each table gets a line naming the CPU, the ISA and
the kernels each library ran (bench/run.sh writes that file per ISA: its own line, `Cortex.Bench isa`, isa_ref.py).
"""
import json
import statistics
import sys


def load(path):
    rows, meta = {}, {}
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        obj = json.loads(line)
        if "case" in obj:
            # A case measured in several rounds (bench/run.sh gemm --rounds) keeps its best one: on a shared machine
            # noise only slows, and alternating the two sides' rounds lets a calm spell reach both.
            old = rows.get(obj["case"])
            if old is None or obj.get("gflops", 0) > old.get("gflops", 0):
                rows[obj["case"]] = obj
        else:
            meta.update(obj)
    return rows, meta


def gemm(cortex_path, ref_path):
    cortex, cmeta = load(cortex_path)
    ref, rmeta = load(ref_path)
    print()
    print("| case (M×K×N) | Cortex GFLOP/s | reference GFLOP/s | reference | ratio |")
    print("|---|---:|---:|---|---:|")
    for name, c in cortex.items():
        r = ref.get(name)
        if r is None:
            print(f"| {name} | {c['gflops']:.1f} | – | – | – |")
            continue
        print(f"| {name} | {c['gflops']:.1f} | {r['gflops']:.1f} | {r['ref']} | {c['gflops'] / r['gflops']:.2f}× |")
    print()
    print("Cortex:", json.dumps(cmeta))
    print("reference:", json.dumps(rmeta.get("blas", rmeta)))


def elementwise(path):
    rows, _ = load(path)
    print()
    print("| op | Cortex tensor op µs | raw TensorPrimitives µs | ratio | overhead µs |")
    print("|---|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['tensor_us']:.3f} | {r['raw_us']:.3f} | {r['ratio']:.2f}× | {r['overhead_us']:.3f} |")


def infer(path):
    rows, _ = load(path)
    print()
    print("| case | Cortex Predict µs | ONNX Runtime µs (same exported model, best of 1/2 threads) | ratio | max diff / max output |")
    print("|---|---:|---:|---:|---:|")
    for name, r in rows.items():
        if "skipped" in r:
            print(f"| {name} | – | – | – | {r['skipped']} |")
            continue
        threads = f" ({r['ort_threads']}t)" if "ort_threads" in r else ""
        print(f"| {name} | {r['cortex_us']:.1f} | {r['ort_us']:.1f}{threads} | {r['ratio']:.2f}× | {r['max_rel_diff']:.1e} |")


def train(cortex_path, same_start_path, *ref_paths):
    cortex, cmeta = load(cortex_path)
    cortex_same, _ = load(same_start_path)
    refs = [load(p) for p in ref_paths]
    print()
    print("| case | Cortex epoch s | PyTorch epoch s (best of 1/2 threads) | ratio | Cortex acc | PyTorch acc | Cortex bytes/step |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    spreads = []
    for name, c in cortex.items():
        candidates = [(r[name], m["threads"]) for r, m in refs if name in r]
        best, threads = min(candidates, key=lambda x: x[0]["epoch_s"])
        # Accuracy from the PyTorch run that trained the most seeds (the 2-thread run trains one, for its times).
        acc = max((r for r, _ in candidates), key=lambda r: len(r.get("test_accuracy_seeds", [0])))
        print(f"| {name} | {c['epoch_s']:.3f} | {best['epoch_s']:.3f} ({threads}t) | {c['epoch_s'] / best['epoch_s']:.2f}× | "
              f"{c['test_accuracy']:.4f} | {acc['test_accuracy']:.4f} | {c['alloc_bytes_per_step']} |")
        for side, row in (("Cortex", c), ("PyTorch", acc)):
            seeds = row.get("test_accuracy_seeds", [])
            if len(seeds) > 1:
                spreads.append(f"{name}, {side}: mean of {len(seeds)} seeds, {min(seeds):.4f}–{max(seeds):.4f}")
        if "predict_us" in c:
            p = min((r[name]["predict_us"], m["threads"]) for r, m in refs if name in r)
            print(f"| predict 1 sample ({name.split()[1]}) µs | {c['predict_us']:.2f} | {p[0]:.2f} ({p[1]}t) | {c['predict_us'] / p[0]:.2f}× | | | |")
    rss = min(m["peak_rss_mb"] for _, m in refs)
    print(f"| peak RSS MiB (whole run) | {cmeta['peak_rss_mb']:.0f} | {rss:.0f} | {cmeta['peak_rss_mb'] / rss:.2f}× | | | |")
    if spreads:
        print()
        print("Test accuracy after one epoch, per seed:")
        for line in spreads:
            print(f"- {line}")
    same = [(name, c, max((r[name] for r, _ in refs if name in r), key=lambda r: len(r.get("same_start_seeds", []))))
            for name, c in cortex_same.items() if "same_start_accuracy" in c and any(name in r for r, _ in refs)]
    if same:
        print()
        print("Same start (both sides train from the same initial weights in the same row order; mean over seeds):")
        print()
        print("| case | Cortex acc | PyTorch acc | difference (points) | largest per-seed difference |")
        print("|---|---:|---:|---:|---:|")
        for name, c, r in same:
            if "same_start_accuracy" not in r:
                print(f"| {name} | {c['same_start_accuracy']:.4f} | – | – | – |")
                continue
            worst = max(abs(a - b) for a, b in zip(c["same_start_seeds"], r["same_start_seeds"]))
            print(f"| {name} | {c['same_start_accuracy']:.4f} | {r['same_start_accuracy']:.4f} | "
                  f"{100 * (c['same_start_accuracy'] - r['same_start_accuracy']):+.2f} | {100 * worst:.2f} |")


def cold(cortex_path, ref_path):
    """Per network: medians over the fresh processes of each side; PyTorch's figure per measure is the better of its
    1- and 2-thread medians."""
    cortex = [json.loads(l) for l in open(cortex_path) if l.startswith("{")]
    ref = [json.loads(l) for l in open(ref_path) if l.startswith("{")]
    # load + first epoch: what a user waits for from the start of the program to the end of its first epoch (Cortex's
    # warm-up compiles beside the load, so its first epoch alone would hide what the load paid for it).
    for r in cortex + ref:
        if "load_s" in r:
            r["start_s"] = r["load_s"] + r["first_epoch_s"]
    measures = ("first_epoch_s", "start_s", "second_epoch_s", "first_predict_ms")
    median = lambda rows, key: statistics.median(r[key] for r in rows)
    print()
    print("| network (batch) | runtime settings | first epoch s: Cortex / PyTorch | ratio | load + first epoch s: Cortex / PyTorch | ratio "
          "| second epoch s: Cortex / PyTorch | ratio | first Predict ms: Cortex / PyTorch | ratio |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    counts, rows = set(), set()
    for net in dict.fromkeys(r["network"] for r in cortex):
        theirs = [r for r in ref if r["network"] == net]
        by_threads = {t: [r for r in theirs if r["threads"] == t] for t in sorted({r["threads"] for r in theirs})}
        # The better thread count, measure by measure, and the thread count it came from.
        best = {key: min((median(rs, key), t) for t, rs in by_threads.items()) for key in measures} if theirs else {}
        counts.update(f"PyTorch {t} thread{'s' if t > 1 else ''} ×{len(rs)}" for t, rs in by_threads.items())
        for setting in dict.fromkeys(r["setting"] for r in cortex):
            ours = [r for r in cortex if r["network"] == net and r["setting"] == setting]
            if not ours:
                continue
            batches = {r["batch"] for r in ours + theirs}
            if len(batches) > 1:
                raise SystemExit(f"report.py cold: {net} ran at different batch sizes {sorted(batches)} (Cortex.Bench's case and run.sh's table disagree)")
            rows.update(r["rows"] for r in ours + theirs)
            counts.add(f"Cortex ×{len(ours)}")
            cells = []
            for key in measures:
                c = median(ours, key)
                if key in best:
                    p, t = best[key]
                    cells.append(f"{c:.3f} / {p:.3f} ({t}t) | {c / p:.2f}×" if key != "first_predict_ms" else f"{c:.2f} / {p:.2f} ({t}t) | {c / p:.2f}×")
                else:
                    cells.append(f"{c:.3f} / – | –")
            name = {"package": "package (PGO off, call counting at once, warm-up)", "defaults": ".NET defaults",
                    "no_warm_up": "package, warm-up off"}.get(setting, setting)
            print(f"| {net} (b{ours[0]['batch']}) | {name} | " + " | ".join(cells) + " |")
    print()
    print(f"Medians of fresh processes ({', '.join(sorted(counts))} per network); PyTorch's figure is its better thread count"
          f" per measure; ratios Cortex / PyTorch. Training rows: {', '.join(str(r) for r in sorted(rows))}"
          + ("" if rows == {60000} else " — fewer than the 60,000 of the benchmark: a smoke check, not a measurement") + ".")


def isa_line(path, mode):
    """The heading over one table: CPU, ISA, and per library the setting given and the kernels it actually ran."""
    _, m = load(path)
    setting = lambda name: f"{name}={m[name]}" if m.get(name) else f"{name} unset"
    # The .NET settings as Cortex's process saw them (DOTNET_EnableAVX512F is listed when set: .NET 10 ignores it).
    dotnet = " ".join(f"{k}={v}" for k, v in m.get("settings", {}).items()) or "no DOTNET_Enable* setting"
    blas = m.get("openblas", "").split()
    blas_version = f"OpenBLAS {blas[1]}" if len(blas) > 1 else "OpenBLAS"
    parts = [
        f"Cortex (.NET {m.get('runtime', '?')}): {dotnet} → GEMM kernel {m.get('kernel', '?')}",
        f"PyTorch {m.get('torch', '?')}: {setting('ATEN_CPU_CAPABILITY')} → {m.get('aten_capability', '?')}",
        f"{blas_version}: {setting('OPENBLAS_CORETYPE')} → core {m.get('openblas_core', '?')}",
    ]
    if mode == "infer":
        parts.append("ONNX Runtime: native (it picks its kernels from CPUID; no setting restricts it)")
    print()
    print(f"**ISA {m['isa']}** — {m.get('cpu', '?')}, {m.get('cores', '?')} cores. " + " · ".join(parts))


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[0] == "--isa":
        isa_line(args[1], args[2])
        args = args[2:]
    {"gemm": gemm, "elementwise": elementwise, "train": train, "infer": infer, "cold": cold}[args[0]](*args[1:])
