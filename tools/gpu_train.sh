#!/usr/bin/env bash
# The GPU plan, ready to fire: on a lent GPU machine (about 15 minutes in all, 10 per command,
# 64 MiB carried), train the current growth stage for SECONDS and bring the checkpoints back.
#
# Here, once:  (.gpu/ is in .gitignore: it travels only when carried)
#              python tools/gpu_pack.py .gpu/data ../shared/data/train/* --budget-mb 46 --scale 0.4
#              (one pass, a few minutes: 424 images in 43.3 MiB, photos over 0.5 MP at 0.4)
#              The working tree travels too and all of it must stay under 64 MiB: move the
#              weights the run does not need out of the tree for the call, and back after
#              (mkdir -p ../hold && mv weights/qgac-base*.pt ../hold/; later mv ../hold/*.pt weights/)
# There:       bash tools/gpu_train.sh [SECONDS] [INIT] [GROW|-] [LR]   (carry .gpu; $OUT comes back)
#              defaults: 480 s from the shipped `large`, no growth, peak lr 1e-4 (the run that
#              made `large` was `480 base large 2e-4`, then `320 runs/gpu/best.pt - 1e-4`)
# Back here:   the files under $OUT: best.pt, final.pt (EMA weights, ≤ 16 MiB), log.jsonl, train.log,
#              and cpu-aside.log: issue 12's CPU benchmarks, run on the last 2 cores meanwhile
#              (tools/cpu_aside.sh; CPU_ASIDE=0 skips them, e.g. in a second call)
# A second call on the still-warm machine continues where the first ended without carrying
# anything more: the first run is kept in runs/gpu-prev, so
#              bash tools/gpu_train.sh 250 runs/gpu-prev/best.pt - 5e-5
# (on a fresh machine, copy $OUT/best.pt to .gpu/best.pt here and carry it instead). That is
# what one 15-minute lease holds: 500 s, then 250 s (stage 12 in weights/README.md).
set -uo pipefail
SECONDS_BUDGET=${1:-480}
INIT=${2:-large}
GROW=${3:--}
LR=${4:-1e-4}
OUT=${OUT:-runs/gpu-out}
mkdir -p "$OUT"
if [ -d runs/gpu ]; then rm -rf runs/gpu-prev && mv runs/gpu runs/gpu-prev; fi  # an earlier call's run
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
source tools/cpu_aside.sh  # start_cpu_aside, stop_cpu_aside
bring_back() {
  stop_cpu_aside
  for f in best.pt final.pt log.jsonl curve.png; do cp "runs/gpu/$f" "$OUT/" 2>/dev/null; done
  cp runs/gpu/probe/log.jsonl "$OUT/probe.jsonl" 2>/dev/null
}
trap bring_back EXIT
start_cpu_aside  # issue 12's CPU benchmarks on the last 2 cores while the GPU trains
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch, PIL.features as f; print('torch', torch.__version__, 'webp', f.check('webp'))"
grow_args=()
[ "$GROW" != "-" ] && grow_args=(--grow "$GROW")
"${train_pin[@]}" python3 tools/timed_train.py joint "$SECONDS_BUDGET" runs/gpu .gpu/data/* --init "$INIT" "${grow_args[@]}" \
  --batch 256 --lr "$LR" --precision fp32 --loss l1 --ssim-weight 0.05 2>&1 | tee "$OUT/train.log"
