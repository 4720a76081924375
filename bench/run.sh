#!/usr/bin/env bash
# Side-by-side benchmark: Cortex (bench/Cortex.Bench) against OpenBLAS through PyTorch/NumPy (bench/<mode>_ref.py).
# Usage: bench/run.sh [gemm|elementwise|train|infer|cold|all] [--isa LIST] [--threads N] [--min-time SECONDS] [--filter TEXT]
#                     [--seeds N] [--rows N] [--runs N] [--ref-runs N] [--dotnet-defaults]
#                     [--no-warm-up] [--rounds N]
#   gemm         SGEMM GFLOP/s, Cortex vs OpenBLAS (through PyTorch/NumPy), ratio per case; --rounds N (default 3)
#                alternates N Cortex and N reference processes and keeps each side's best per case
#   elementwise  tensor ops vs the raw TensorPrimitives span call they wrap (same process), ratio and overhead
#   train        one Fashion-MNIST epoch per MLP, for the CNNs, the LSTM and the residual CNN (a graph), Predict
#                latency, bytes allocated per step, peak RSS:
#                Cortex vs PyTorch at 1 and at 2 threads (the better PyTorch figure is the one compared); each MLP's
#                test accuracy is the mean over --seeds (default 10) one-epoch runs on both sides
#                --rows N trains and tests on the first N rows only: a quick end-to-end check of a case (e.g.
#                `bench/run.sh train --filter resnet --rows 512`), not a measurement
#   infer        Predict latency and throughput (batch 1 and 1000) against ONNX Runtime running the model Cortex
#                exported (Cortex.Onnx), in one process, same weights, outputs checked equal
#   cold         a user's first run, Cortex vs PyTorch: a fresh process's first training epoch (Cortex: one Fit call,
#                JIT and tiering included; PyTorch: bench/cold_ref.py, the same loop as train_ref.py), its second epoch
#                and its first single-sample Predict (PyTorch: forward under no_grad), data load and model build not
#                timed, for digits_mlp (784-25-15-10 b32), mlp_784_128_10 (b32), mlp_784_512_512_10 (b128) and
#                fashion_cnn (conv32-pool-conv64-pool-10 b64). Medians of --runs (default 5) Cortex processes and of
#                --ref-runs (default 3) PyTorch processes at 1 and at 2 threads each (the better thread count per
#                measure is the one compared), interleaved round by round; ratios Cortex / PyTorch.
#                --filter TEXT runs only the networks whose name contains TEXT (e.g. --filter fashion_cnn);
#                --rows N trains on the first N rows (a smoke check, e.g. `bench/run.sh cold --filter digits --rows 2000`);
#                --dotnet-defaults adds a row per network for Cortex under .NET's tiering defaults (DOTNET_TieredPGO=1
#                DOTNET_TC_CallCountingDelayMs=100 undo the package's settings; another --runs processes each);
#                --no-warm-up adds a row per network with Cortex's background warm-up off (CORTEX_WARMUP=0: the JIT
#                then happens inside the first epoch instead of beside the data load; another --runs processes each).
#                Each row also gives the data load and load + first epoch, the time a user waits for the first epoch.
#                The other modes run Cortex with the warm-up off: they measure steady state, and a warm-up running
#                beside a first measurement would only add noise to it.
#   all          gemm, elementwise and train in turn (default)
# --isa LIST     comma-separated instruction sets to run each mode under, in turn (default: every one this CPU can
#                show — native, then avx2 where the CPU has AVX-512, then 128 where it has AVX2). Each sets Cortex's
#                vectors through the .NET runtime, PyTorch's kernels through ATEN_CPU_CAPABILITY and OpenBLAS's
#                through OPENBLAS_CORETYPE:
#   native       nothing set (each library picks its own; what this script did before --isa): Cortex runs its widest
#                vectors (512-bit where .NET accelerates AVX-512), PyTorch 1.13 picks AVX2 even on AVX-512 CPUs,
#                OpenBLAS picks its core from CPUID
#   avx512       Cortex as native; ATEN_CPU_CAPABILITY=avx512, OPENBLAS_CORETYPE=SkylakeX (not in the default list)
#   avx2         DOTNET_EnableAVX512=0 (256-bit, AVX2 + FMA); ATEN_CPU_CAPABILITY=avx2, OPENBLAS_CORETYPE=Haswell
#   128          DOTNET_EnableAVX2=0 (128-bit, SSE4.2; .NET then turns FMA off too); ATEN_CPU_CAPABILITY=default,
#                OPENBLAS_CORETYPE=Nehalem
#   128fma       DOTNET_PreferredVectorBitWidth=128 (128-bit vectors with FMA: the 128-bit path as ARM64's AdvSimd and any
#                x64 with FMA run it; not in the default list); PyTorch and OpenBLAS as for 128 (neither has a 128-bit
#                FMA setting, so compare Cortex's 128fma times with its own avx2 times rather than with them)
#                (.NET 10 ignores DOTNET_EnableAVX512F=0, the older name: it leaves AVX-512 on.) ONNX Runtime cannot
#                be restricted: its kernels follow CPUID whatever the ISA, and the infer tables say so.
# Prints one markdown table per mode and ISA, each under a line naming the CPU, the ISA, the settings and the kernels
# each library actually ran (Cortex's GEMM kernel, PyTorch's ATen capability, OpenBLAS's core).
# Installs nothing: it checks the prerequisites and says what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=all
if [[ $# -gt 0 && $1 != --* ]]; then mode=$1; shift; fi
threads=$(nproc)
extra=()
train_extra=()
rows=()
filter=""
runs=5
ref_runs=3
rounds=3
dotnet_defaults=0
no_warm_up=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --threads) threads=$2; shift 2 ;;
        --isa) isas=$2; shift 2 ;;
        --min-time) extra+=("$1" "$2"); shift 2 ;;
        --filter) extra+=("$1" "$2"); filter=$2; shift 2 ;;
        --seeds) train_extra+=("$1" "$2"); shift 2 ;;
        --rows) rows=("$1" "$2"); shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --ref-runs) ref_runs=$2; shift 2 ;;
        --dotnet-defaults) dotnet_defaults=1; shift ;;
        --no-warm-up) no_warm_up=1; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
case $mode in gemm|elementwise|train|infer|cold|all) ;; *) echo "unknown mode '$mode' (gemm, elementwise, train, infer, cold, all)" >&2; exit 2 ;; esac
# Steady-state modes run without the background warm-up (see cold above); cold sets it per row itself.
if [[ $mode == cold ]]; then unset CORTEX_WARMUP; else export CORTEX_WARMUP=0; fi

# --- instruction sets ----------------------------------------------------------------------------------------------
flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
has() { [[ $flags == *" $1 "* ]]; }
if [[ -z ${isas:-} ]]; then
    isas=native
    has avx512f && isas+=,avx2
    has avx2 && has fma && isas+=,128
fi
IFS=, read -r -a isa_list <<< "$isas"
for isa in "${isa_list[@]}"; do
    case $isa in
        native) ;;
        avx512) has avx512f || { echo "--isa avx512: this CPU has no AVX-512" >&2; exit 2; } ;;
        avx2) has avx2 && has fma || { echo "--isa avx2: this CPU has no AVX2 and FMA" >&2; exit 2; } ;;
        128) has sse4_2 || { echo "--isa 128: this is not an x64 CPU with SSE4.2" >&2; exit 2; } ;;
        128fma) has fma || { echo "--isa 128fma: this CPU has no FMA" >&2; exit 2; } ;;
        *) echo "unknown ISA '$isa' (native, avx512, avx2, 128, 128fma)" >&2; exit 2 ;;
    esac
done

# The environment each ISA's processes run with. A restricted ISA clears every setting first, so one left in the
# caller's environment cannot mix in; native changes nothing.
set_isa() {
    isa_env=(env)
    [[ $1 == native ]] && return
    isa_env+=(-u DOTNET_EnableAVX512 -u DOTNET_EnableAVX512F -u DOTNET_EnableAVX2 -u DOTNET_PreferredVectorBitWidth
              -u ATEN_CPU_CAPABILITY -u OPENBLAS_CORETYPE)
    case $1 in
        avx512) isa_env+=(ATEN_CPU_CAPABILITY=avx512 OPENBLAS_CORETYPE=SkylakeX) ;;
        avx2) isa_env+=(DOTNET_EnableAVX512=0 ATEN_CPU_CAPABILITY=avx2 OPENBLAS_CORETYPE=Haswell) ;;
        128) isa_env+=(DOTNET_EnableAVX2=0 ATEN_CPU_CAPABILITY=default OPENBLAS_CORETYPE=Nehalem) ;;
        128fma) isa_env+=(DOTNET_PreferredVectorBitWidth=128 ATEN_CPU_CAPABILITY=default OPENBLAS_CORETYPE=Nehalem) ;;
    esac
}

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
if [[ $mode == train || $mode == cold || $mode == all ]] && [[ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]]; then
    echo "missing: Fashion-MNIST — sudo apt-get install -y dataset-fashion-mnist" >&2; missing=1
fi
[[ $missing == 0 ]] || exit 1

# --- run -----------------------------------------------------------------------------------------------------------
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
dotnet build bench/Cortex.Bench/Cortex.Bench.csproj -c Release -nologo -v q -clp:ErrorsOnly >&2
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)
bench() { "${isa_env[@]}" dotnet bench/Cortex.Bench/bin/Release/net10.0/Cortex.Bench.dll "$@"; }
py() { "${isa_env[@]}" "$python" "$@"; }
report() { "$python" bench/report.py --isa "$out/isa.jsonl" "$@"; }
echo "machine: $(nproc) cores, $cpu, $(date -u +%Y-%m-%d); ISA: ${isa_list[*]}"

run_gemm() {
    : > "$out/cortex.jsonl"
    : > "$out/ref.jsonl"
    # Round by round, each side's best per case: the VM's slow spells move a single run by up to 40%, and a ratio of
    # two runs minutes apart would measure the spell as much as the libraries.
    for ((round = 1; round <= rounds; round++)); do
        echo "Cortex (gemm, $threads threads, round $round of $rounds)…" >&2
        bench gemm --threads "$threads" "${extra[@]}" | tee -a "$out/cortex.jsonl" >&2
        echo "reference (bench/gemm_ref.py, $threads threads, round $round of $rounds)…" >&2
        py bench/gemm_ref.py --threads "$threads" "${extra[@]}" | tee -a "$out/ref.jsonl" >&2
    done
    report gemm "$out/cortex.jsonl" "$out/ref.jsonl"
}

run_elementwise() {
    echo "Cortex (elementwise)…" >&2
    bench elementwise "${extra[@]}" | tee "$out/elementwise.jsonl" >&2
    report elementwise "$out/elementwise.jsonl"
}

# PyTorch allocates each step's tensors afresh. With glibc's defaults a freed multi-megabyte buffer can go back to the
# OS (mmap'd, or trimmed off the heap), and the next step pays a page fault per 4 KB to get it again: on this VM the
# CNN's epoch took 69 s when run alone and 17 s after the MLP cases had grown the heap. Keeping freed memory in the
# heap gives PyTorch its fast figure whatever ran before (Cortex allocates nothing per step, so it is unaffected).
# Only the 1-thread run gets it, its best times on every case; the 2-thread run keeps glibc's defaults, so the peak RSS
# compared (the smaller of the two) is not inflated by memory this setting keeps.
torch_malloc=(env MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824)

run_train() {
    echo "Cortex (train, $threads threads)…" >&2
    bench train --threads "$threads" "${extra[@]}" "${train_extra[@]}" "${rows[@]}" | tee "$out/train.jsonl" >&2
    # The like-for-like accuracy check, in a process of its own: Cortex writes each MLP seed's initial weights and row
    # order to $out/start and trains from them; PyTorch's 1-thread run trains from the same files.
    echo "Cortex (same-start runs)…" >&2
    bench samestart --start-dir "$out/start" "${extra[@]}" "${train_extra[@]}" "${rows[@]}" | tee "$out/samestart.jsonl" >&2
    echo "PyTorch (bench/train_ref.py, 1 thread)…" >&2
    "${isa_env[@]}" "${torch_malloc[@]}" "$python" bench/train_ref.py --threads 1 --start-dir "$out/start" "${extra[@]}" "${train_extra[@]}" "${rows[@]}" | tee "$out/train_ref_1.jsonl" >&2
    # The 2-thread run is for its times only: accuracy does not depend on the thread count, so it trains one seed.
    echo "PyTorch (bench/train_ref.py, 2 threads, one seed)…" >&2
    py bench/train_ref.py --threads 2 --seeds 1 "${extra[@]}" "${rows[@]}" | tee "$out/train_ref_2.jsonl" >&2
    report train "$out/train.jsonl" "$out/samestart.jsonl" "$out/train_ref_1.jsonl" "$out/train_ref_2.jsonl"
}

# Cold start: each network's (Zoo name, batch) — the train cases' networks and batches (TrainBench.Cases).
cold_networks=(digits_mlp:32 mlp_784_128_10:32 mlp_784_512_512_10:128 fashion_cnn:64)

run_cold() {
    local selected=() entry network batch round setting torch_threads
    for entry in "${cold_networks[@]}"; do [[ ${entry%%:*} == *"$filter"* ]] && selected+=("$entry"); done
    if [[ ${#selected[@]} == 0 ]]; then
        echo "--filter '$filter' matches none of the cold networks (${cold_networks[*]%%:*})" >&2; exit 2
    fi
    local settings=(package)
    [[ $dotnet_defaults == 1 ]] && settings+=(defaults)
    [[ $no_warm_up == 1 ]] && settings+=(no_warm_up)
    : > "$out/cold.jsonl"
    : > "$out/cold_ref.jsonl"
    for entry in "${selected[@]}"; do
        network=${entry%%:*} batch=${entry#*:}
        echo "cold start, $network (batch $batch): $runs Cortex processes per setting, $ref_runs PyTorch processes per thread count, interleaved…" >&2
        # Round by round, so that a slow spell on a shared machine hits both sides alike.
        for ((round = 1; round <= (runs > ref_runs ? runs : ref_runs); round++)); do
            if ((round <= runs)); then
                for setting in "${settings[@]}"; do
                    case $setting in
                        defaults) env_set=(env DOTNET_TieredPGO=1 DOTNET_TC_CallCountingDelayMs=100) ;;
                        no_warm_up) env_set=(env CORTEX_WARMUP=0) ;;
                        *) env_set=(env) ;;
                    esac
                    line=$("${isa_env[@]}" "${env_set[@]}" dotnet bench/Cortex.Bench/bin/Release/net10.0/Cortex.Bench.dll cold --filter "$network" "${rows[@]}")
                    echo "{\"setting\": \"$setting\", ${line:1}" | tee -a "$out/cold.jsonl" >&2
                done
            fi
            if ((round <= ref_runs)); then
                # Both thread counts keep freed memory in the heap (torch_malloc, see above): PyTorch's fast figure.
                for torch_threads in 1 2; do
                    "${isa_env[@]}" "${torch_malloc[@]}" "$python" bench/cold_ref.py --network "$network" --batch "$batch" \
                        --threads "$torch_threads" "${rows[@]}" | tee -a "$out/cold_ref.jsonl" >&2
                done
            fi
        done
    done
    report cold "$out/cold.jsonl" "$out/cold_ref.jsonl"
}

run_infer() {
    echo "Cortex and ONNX Runtime (infer, $threads threads)…" >&2
    bench infer --threads "$threads" "${extra[@]}" | tee "$out/infer.jsonl" >&2
    report infer "$out/infer.jsonl"
}

for isa in "${isa_list[@]}"; do
    set_isa "$isa"
    # What each side runs under this ISA, for report.py's heading over each table.
    { echo "{\"isa\": \"$isa\", \"cpu\": \"$cpu\", \"cores\": $(nproc)}"; bench isa; py bench/isa_ref.py; } > "$out/isa.jsonl"
    echo "ISA $isa: $(tr '\n' ' ' < "$out/isa.jsonl")" >&2
    case $mode in
        all) run_gemm; run_elementwise; run_train ;;
        *) "run_$mode" ;;
    esac
done
