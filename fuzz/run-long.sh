#!/usr/bin/env bash
# Coverage-guided fuzzing of one loader with AFL++ on a SharpFuzz-instrumented Cortex.dll (docs/reliability.md).
#   fuzz/run-long.sh TARGET EXECUTIONS [SECONDS] [OUT]     TARGET: cortex | idx | idx-gzip | csv
# stops after EXECUTIONS (AFL's -E, approximate) or SECONDS (default 3 h), whichever comes first.
# Prints AFL++'s final statistics (executions, exec/s, crashes); crashing inputs land in OUT/default/crashes/, to be
# replayed with `dotnet fuzz/Cortex.Fuzz/bin/Release/net10.0/Cortex.Fuzz.dll run TARGET FILE…`, fixed, and added
# to fuzz/corpus/TARGET/ so that the smoke test keeps them fixed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${1:?TARGET: cortex, idx, idx-gzip or csv}
executions=${2:?EXECUTIONS, e.g. 10000000}
seconds=${3:-10800}
out=${4:-/tmp/cortex-fuzz/$target}
work=$out.publish

command -v afl-fuzz >/dev/null || { apt-get update -qq && apt-get install -y -qq afl++; }
export PATH="$PATH:$HOME/.dotnet/tools"
command -v sharpfuzz >/dev/null || dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0

# Instrument a published copy, never the build the tests use; published afresh on every run, so that the run
# covers the code checked out now (a copy kept from an earlier run would fuzz that run's code).
rm -rf "$work"
dotnet publish "$root/fuzz/Cortex.Fuzz" -c Release -o "$work" --nologo -v q
sharpfuzz "$work/Cortex.dll"
git -C "$root" rev-parse --short HEAD > "$work/commit"
git -C "$root" diff --quiet HEAD -- src fuzz/Cortex.Fuzz || echo "(plus uncommitted changes)" >> "$work/commit"
echo "fuzzing the code of commit $(tr '\n' ' ' < "$work/commit")"

dict=()
[ "$target" = cortex ] && dict=(-x "$root/fuzz/cortex.dict")
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
rm -rf "$out"; mkdir -p "$out"
afl-fuzz -E "$executions" -V "$seconds" -i "$root/fuzz/corpus/$target" -o "$out" -t 5000 -m none "${dict[@]}" \
  -- dotnet "$work/Cortex.Fuzz.dll" afl "$target" > "$out/afl.log" 2>&1 || { tail -30 "$out/afl.log"; exit 1; }
grep -E '^(start_time|last_update|run_time|execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|edges_found|total_edges|bitmap_cvg)' "$out/default/fuzzer_stats"
