#!/usr/bin/env bash
# The GPU plan, ready to fire: on a lent GPU machine (about 15 minutes in all, 10 per command,
# 64 MiB carried), train the current growth stage for SECONDS and bring the checkpoints back.
#
# Here, once:  python tools/gpu_pack.py .gpu/data ../shared/data/train/* --budget-mb 46 --scale 0.55
#              (.gpu/ is listed in .git/info/exclude, so it travels only when carried)
# There:       bash tools/gpu_train.sh [SECONDS] [INIT] [GROW]    (carry .gpu; $OUT comes back)
# Back here:   the files under $OUT: best.pt, final.pt (EMA weights, ≤ 16 MiB), log.jsonl, train.log
set -uo pipefail
SECONDS_BUDGET=${1:-480}
INIT=${2:-base}
GROW=${3:-large}
OUT=${OUT:-runs/gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
bring_back() {
  for f in best.pt final.pt log.jsonl curve.png; do cp "runs/gpu/$f" "$OUT/" 2>/dev/null; done
  cp runs/gpu/probe/log.jsonl "$OUT/probe.jsonl" 2>/dev/null
}
trap bring_back EXIT
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch, PIL.features as f; print('torch', torch.__version__, 'webp', f.check('webp'))"
grow_args=()
[ "$GROW" != "-" ] && grow_args=(--grow "$GROW")
python3 tools/timed_train.py joint "$SECONDS_BUDGET" runs/gpu .gpu/data/* --init "$INIT" "${grow_args[@]}" \
  --batch 256 --lr 2e-4 --precision fp32 --loss l1 --ssim-weight 0.05 2>&1 | tee "$OUT/train.log"
