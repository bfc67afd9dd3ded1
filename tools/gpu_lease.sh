#!/usr/bin/env bash
# The lease plan, one command a call (issue 23). Fire it within the first minutes of a session
# whose device `status` shows a GPU, before any other work; never debug on the lease.
#
# Here, once:  bash tools/gpu_prepare.sh      (packs .gpu/: data, data2, holdout, eval, site)
# Call 1 (a fresh machine; run timeout_s 600):
#   command: bash tools/gpu_lease.sh first
#   carry:   [".gpu/data", ".gpu/holdout", ".gpu/eval", ".gpu/site"]
#   = the torch profile of one step of the last runs' configuration (≤ 60 s, bench/train_profile.py),
#     a ≤ 45 s sweep for the fastest configuration (tools/gpu_lease.py), training from the
#     shipped `large` until CHECK_S + 20 s before LIMIT, then the CUDA inference check
#     (tools/gpu_check.sh: restore a file and a folder on cuda, Live-1 q10/q50/q90 in fp32 and
#     bf16 with their difference, s/MP at 1 and 24 MP), bounded by `timeout`.
# Call 2 (at once, on the warm machine: what call 1 left under runs/ and .gpu/ is still there):
#   command: LIMIT=<what is left, ≤ 600> bash tools/gpu_lease.sh continue
#   carry:   [".gpu/data2"]
#   = training on, from call 1's best.pt with its sweep's choice, on both parts of the pool.
# Back here, from $OUT: best.pt and final.pt (EMA weights), logs.tar (log.jsonl, sweep.json,
# train.log, profile.log, check.log, eval-*.json, curve.png), train.log and check.log alone.
# Dry run on a CPU: SITE= DEVICE=cpu LIMIT=240 CHECK_S=120 INIT=fast bash tools/gpu_lease.sh first
set -uo pipefail
MODE=${1:-first}
LIMIT=${LIMIT:-600}      # the call's timeout_s
CHECK_S=${CHECK_S:-120}  # kept for the CUDA check (call 1)
INIT=${INIT:-large}
# generated regular patterns beside the photos, ≈ 6 % of the pixels as in the CPU test on
# `fast` (weights/README.md, "Regular patterns"): part 1 is 26.5 MP, both parts 81 MP
PATTERNS1=${PATTERNS1:-8}
PATTERNS2=${PATTERNS2:-25}
DEVICE=${DEVICE:-auto}
OUT=${OUT:-runs/lease-out}
T0=$(date +%s)
left() { echo $((LIMIT - ($(date +%s) - T0))); }
mkdir -p "$OUT" runs
SITE=${SITE-$PWD/.gpu/site}  # the packages the GPU image lacks (SITE= in a dry run here: they are built for its Python)
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD:$SITE TORCHINDUCTOR_CACHE_DIR=$PWD/runs/inductor-cache
bring_back() {  # the checkpoints, and every log in one tar ($OUT takes at most 8 files)
  local run=runs/lease/run
  cp "$run/best.pt" "$run/final.pt" "$OUT/" 2>/dev/null
  tar -cf "$OUT/logs.tar" -C runs/lease sweep.json run/log.jsonl run/curve.png 2>/dev/null
  tar -rf "$OUT/logs.tar" -C "$OUT" train.log profile.log check.log eval-fp32.json eval-bf16.json 2>/dev/null
  true
}
finish() { bring_back; rm -f "$OUT"/eval-*.json "$OUT/profile.log"; }
trap finish EXIT
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
python3 -c "import torch, jpeglib, simplejpeg; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
case "$MODE" in
  first)
    rm -rf runs/lease
    # where a step of the last runs' configuration spends its time, in the lease's first minute
    timeout 60 python3 bench/train_profile.py .gpu/data --init "$INIT" --batch 256 --patch 128 --steps 3 \
      --device "$DEVICE" --threads 8 > "$OUT/profile.log" 2>&1
    python3 tools/gpu_lease.py $(($(left) - CHECK_S - 20)) runs/lease .gpu/data --validation .gpu/holdout \
      --init "$INIT" --lr "${LR:-1e-4}" --patterns "$PATTERNS1" --device "$DEVICE" 2>&1 | tee "$OUT/train.log"
    bring_back
    OUT=$OUT DEVICE=$DEVICE timeout $(($(left) - 10)) bash tools/gpu_check.sh
    ;;
  continue)
    rm -rf runs/lease-1 && mv runs/lease runs/lease-1
    python3 tools/gpu_lease.py $(($(left) - 20)) runs/lease .gpu/data .gpu/data2 --validation .gpu/holdout \
      --init runs/lease-1/run/best.pt --reuse-sweep runs/lease-1/sweep.json --lr "${LR:-5e-5}" \
      --patterns "$PATTERNS2" --device "$DEVICE" 2>&1 | tee "$OUT/train.log"
    ;;
  *) echo "usage: bash tools/gpu_lease.sh first|continue" >&2; exit 2 ;;
esac
