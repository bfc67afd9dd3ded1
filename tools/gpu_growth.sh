#!/usr/bin/env bash
# What to grow, measured on a lent GPU in one call (issue 11, item 2): equal-time runs of the
# growth candidates from the shipped default, with bench/growth_compare.py.
#
# Here, once:  the packed pool in .gpu/data, as for tools/gpu_train.sh (.gpu/ is ignored; carry it),
#              and the shipped weights the run does not start from moved out of the tree.
# There:       bash tools/gpu_growth.sh [MINUTES] [INIT]    (carry .gpu/data; about 5 × MINUTES + 1)
#              default 1.4 minutes per candidate from `large`: ≈ 8 minutes in all (timeout_s 600)
# Back here:   $OUT/growth.log (the table at its end) and each candidate's log.jsonl, and
#              cpu-aside.log (tools/cpu_aside.sh on the last 2 cores meanwhile; CPU_ASIDE=0 skips it)
set -uo pipefail
MINUTES=${1:-1.4}
INIT=${2:-large}
OUT=${OUT:-runs/gpu-growth}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
source tools/cpu_aside.sh  # start_cpu_aside, stop_cpu_aside
bring_back() {
  stop_cpu_aside
  for d in runs/growth/*/; do
    name=$(basename "$d")
    cp "$d/run/log.jsonl" "$OUT/${name//=/-}.jsonl" 2>/dev/null
  done
}
trap bring_back EXIT
start_cpu_aside  # issue 12's CPU benchmarks on the last 2 cores while the GPU trains
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
"${train_pin[@]}" python3 bench/growth_compare.py .gpu/data/* --init "$INIT" --minutes "$MINUTES" --device "${DEVICE:-cuda}" \
  --precision fp32 --batch "${BATCH:-256}" --lr "${LR:-1e-4}" --loss l1 --ssim-weight 0.05 --probe-steps "${PROBE:-40}" \
  --threads "${THREADS:-8}" --out runs/growth 2>&1 | tee "$OUT/growth.log"
