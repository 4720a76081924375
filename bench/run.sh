#!/usr/bin/env bash
# Side-by-side benchmark: Cortex (bench/Cortex.Bench) against OpenBLAS through PyTorch/NumPy (bench/<mode>_ref.py).
# Usage: bench/run.sh [gemm] [--threads N] [--min-time SECONDS] [--filter TEXT]
# Prints one markdown table: case, Cortex GFLOP/s, reference GFLOP/s (and which library), ratio Cortex/reference.
# Installs nothing: it checks the prerequisites and says what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=gemm
if [[ $# -gt 0 && $1 != --* ]]; then mode=$1; shift; fi
threads=$(nproc)
extra=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --threads) threads=$2; shift 2 ;;
        --min-time|--filter) extra+=("$1" "$2"); shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
ref_script=bench/${mode}_ref.py
[[ -f $ref_script ]] || { echo "no reference script $ref_script for mode '$mode'" >&2; exit 2; }

# --- prerequisites -------------------------------------------------------------------------------------------------
missing=0
command -v dotnet >/dev/null || { echo "missing: the .NET 10 SDK (dotnet)" >&2; missing=1; }
python=/usr/bin/python3
if ! "$python" -c 'import numpy, torch' 2>/dev/null; then
    echo "missing: numpy and torch for $python — sudo apt-get install -y python3-numpy python3-torch" >&2; missing=1
fi
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
if [[ $blas != *openblas* ]]; then
    echo "missing: OpenBLAS as the system BLAS (libblas.so.3 is '${blas:-absent}'); without it numpy/torch use the" >&2
    echo "         unoptimised reference BLAS — sudo apt-get install -y libopenblas0-pthread" >&2
    missing=1
fi
[[ $missing == 0 ]] || exit 1

# --- run -----------------------------------------------------------------------------------------------------------
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
dotnet build bench/Cortex.Bench/Cortex.Bench.csproj -c Release -nologo -v q -clp:ErrorsOnly >&2
echo "Cortex ($mode, $threads threads)…" >&2
dotnet bench/Cortex.Bench/bin/Release/net10.0/Cortex.Bench.dll "$mode" --threads "$threads" "${extra[@]}" | tee "$out/cortex.jsonl" >&2
echo "reference ($ref_script, $threads threads)…" >&2
"$python" "$ref_script" --threads "$threads" "${extra[@]}" | tee "$out/ref.jsonl" >&2

# --- join ----------------------------------------------------------------------------------------------------------
"$python" - "$out/cortex.jsonl" "$out/ref.jsonl" <<'PY'
import json, sys
def load(path):
    rows, meta = {}, {}
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        obj = json.loads(line)
        if "case" in obj:
            rows[obj["case"]] = obj
        else:
            meta.update(obj)
    return rows, meta
cortex, cmeta = load(sys.argv[1])
ref, rmeta = load(sys.argv[2])
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
PY
