#!/usr/bin/env bash
# Train the `fast` preset from scratch on a 2-core CPU, in the paper's stages: y, then color
# (Y frozen), then joint. Each stage resumes from its own last.pt when run again (a session
# ends abruptly), and a stage that finished (final.pt at its last step) is skipped.
#
#     nohup bash tools/train_fast_cpu.sh > runs/fast.log 2>&1 &
#
# Budgets are wall minutes per stage: Y_MIN, COLOR_MIN, JOINT_MIN (defaults 45, 18, 70).
# The checkpoint to ship is runs/fast-joint/best.pt (EMA weights).
set -euo pipefail
POOL=${POOL:-../shared/data/train}
DATA=("$POOL"/bsds500-trainval "$POOL"/realsr "$POOL"/skimage "$POOL"/sunhays80 "$POOL"/t91)
COMMON=(--batch 32 --patch 128 --threads "${THREADS:-2}" --precision fp32 --val-every 500)

stage() {  # name, steps, minutes, extra args...
  local name=$1 steps=$2 minutes=$3
  shift 3
  local out=runs/fast-$name
  if [ -f "$out/last.pt" ]; then
    if python3 -c "import sys, torch; sys.exit(torch.load('$out/last.pt', map_location='cpu', weights_only=True)['step'] < $steps)"; then
      echo "stage $name: done"; return
    fi
    qgac train "${DATA[@]}" --stage "$name" --out "$out" --steps "$steps" --max-minutes "$minutes" \
      "${COMMON[@]}" --resume "$out/last.pt" "$@"
  else
    qgac train "${DATA[@]}" --stage "$name" --out "$out" --steps "$steps" --max-minutes "$minutes" \
      "${COMMON[@]}" "$@"
  fi
}

stage y "${Y_STEPS:-8000}" "${Y_MIN:-45}" --preset fast --lr 1e-3
stage color "${COLOR_STEPS:-2500}" "${COLOR_MIN:-18}" --init runs/fast-y/best.pt --lr 1e-3
stage joint "${JOINT_STEPS:-8000}" "${JOINT_MIN:-70}" --init runs/fast-color/best.pt --lr 3e-4
