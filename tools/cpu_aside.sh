#!/usr/bin/env bash
# Issue 12's CPU numbers on the lent machine's CPU, at no extra device time: the benchmarks
# run pinned to the last CORES cores while the GPU trains on the others. Our own CPUs have
# AVX2 only, so bf16 (`--precision auto`) is emulated here; the lent machine's CPU may run it
# natively (AMX or AVX-512 BF16), which is where the speed targets were set.
#
# Sourced by tools/gpu_train.sh and tools/gpu_growth.sh, which call start_cpu_aside before
# training (CPU_ASIDE=0 turns it off) and stop_cpu_aside when they exit; alone:
#              bash tools/cpu_aside.sh            ($OUT/cpu-aside.log; tables appear as each bench ends)
# Dry run here: CORES=1 SIZES=0.25 FOLDER=0 bash tools/cpu_aside.sh
CORES=${CORES:-2}

# Start the benchmarks in the background on a machine with cores to spare (8 or more);
# `train_pin` is then the command prefix that keeps training on the other cores.
start_cpu_aside() {
  train_pin=()
  if [ "${CPU_ASIDE:-1}" != 0 ] && [ "$(nproc)" -ge 8 ]; then
    OUT="$OUT" CORES="$CORES" setsid bash tools/cpu_aside.sh </dev/null >/dev/null 2>&1 &
    aside=$!
    command -v taskset >/dev/null && train_pin=(taskset -c "0-$(($(nproc) - CORES - 1))")
  fi
}

# Stop them (their finished tables are already in $OUT/cpu-aside.log).
stop_cpu_aside() {
  if [ -n "${aside:-}" ]; then kill -- -"$aside" 2>/dev/null; fi
}

[ "${BASH_SOURCE[0]}" != "$0" ] && return 0  # sourced: the functions only
set -uo pipefail
SIZES=${SIZES:-1 24}
FOLDER=${FOLDER:-8x8}
OUT=${OUT:-runs/cpu-aside}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
total=$(nproc)
pin=()
if command -v taskset >/dev/null && [ "$total" -gt "$CORES" ]; then
  pin=(taskset -c "$((total - CORES))-$((total - 1))")
fi
{
  echo "cores used: $CORES of $total (${pin[*]:-not pinned})"
  lscpu | grep -E "^Model name|^Thread|^Core"
  echo "bf16 flags: $(grep -o -w -E 'amx_bf16|amx_tile|avx512_bf16|avx512f' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  python3 -c "import torch; print('torch', torch.__version__)"
  "${pin[@]}" python3 bench/model_speed.py --threads "$CORES"
  first=1
  for mp in $SIZES; do
    folder=0
    [ "$first" = 1 ] && folder=$FOLDER
    first=0
    "${pin[@]}" python3 bench/restore_speed.py --threads "$CORES" --sizes "$mp" --folder "$folder" --weights base,large
  done
} >>"$OUT/cpu-aside.log" 2>&1
