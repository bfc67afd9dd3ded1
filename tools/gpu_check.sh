#!/usr/bin/env bash
# The CUDA inference check (issue 23), run by tools/gpu_lease.sh at the end of call 1 (or
# alone): qgac restore of a file and of a folder on the GPU, qgac eval of Live-1 at q10/q50/q90
# in fp32 and bf16 with the PSNR difference, and s/MP of `large` (and `base`) at 1 and 24 MP
# in both precisions. Everything it prints goes to $OUT/check.log; eval-*.json beside it.
#
# Needs .gpu/eval/live1 (Live-1 as lossless WebP) and .gpu/site (jpeglib, simplejpeg, isal for the
# machine's Python), both made by tools/gpu_prepare.sh.
# Dry run here: PYTHONPATH=$PWD DEVICE=cpu PRECISIONS=fp32 EVAL_LIMIT=2 SIDE=600 bash tools/gpu_check.sh
set -uo pipefail
DEVICE=${DEVICE:-cuda}
[ "$DEVICE" = auto ] && DEVICE=cuda
PRECISIONS=${PRECISIONS:-fp32 bf16}
EVAL=${EVAL:-.gpu/eval/live1}
EVAL_LIMIT=${EVAL_LIMIT:-}
SIDE=${SIDE:-4000}  # the large restore: SIDE x 1.5 SIDE pixels (24 MP)
WEIGHTS=${WEIGHTS:-large base}  # eval and restore use the first; s/MP is measured for each
OUT=${OUT:-runs/gpu-check}
WORK=${WORK:-runs/check}
PY=${PYTHON:-python3}
mkdir -p "$OUT" "$WORK"
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:-$PWD:$PWD/.gpu/site}
exec > >(tee "$OUT/check.log") 2>&1
T0=$(date +%s)
stamp() { echo "[$(($(date +%s) - T0)) s] $*"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
FIRST=${WEIGHTS%% *}
"$PY" -m qgac_cli restore examples/astronaut-q15.jpg "$WORK/astronaut.png" --weights "$FIRST" --device "$DEVICE" --overwrite \
  && stamp "restore of a file on $DEVICE: ok"
"$PY" - "$EVAL" "$WORK/in" <<'PY'
import sys
from pathlib import Path
from qgac_cli.evaluate.scoring import load_reference
from qgac_cli.codec.jpeg import encode
src, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
for p in sorted(src.iterdir())[:6]:
    (out / (p.stem + ".jpg")).write_bytes(encode(load_reference(p), 20))
PY
rm -rf "$WORK/restored"
"$PY" -m qgac_cli restore "$WORK/in" -o "$WORK/restored" --weights "$FIRST" --device "$DEVICE" \
  && stamp "restore of a folder on $DEVICE: $(ls "$WORK/restored" | wc -l) of $(ls "$WORK/in" | wc -l) files: ok"
limit=()
[ -n "$EVAL_LIMIT" ] && limit=(--limit "$EVAL_LIMIT")
for precision in $PRECISIONS; do
  "$PY" -m qgac_cli eval "$EVAL" --quality 10 --quality 50 --quality 90 --device "$DEVICE" --precision "$precision" \
    --weights "$FIRST" "${limit[@]}" --json "$OUT/eval-$precision.json" -q | tail -n 8
  stamp "eval of $EVAL in $precision on $DEVICE: done"
done
"$PY" - "$OUT" "$DEVICE" "$SIDE" "$EVAL" "$WEIGHTS" $PRECISIONS <<'PY'
import json, os, sys, time
from pathlib import Path
import numpy as np
import torch
from qgac_cli import api
from qgac_cli.evaluate.scoring import load_reference
from qgac_cli.codec.jpeg import encode
out, device, side, folder, names, precisions = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5].split(), sys.argv[6:]
runs = {p: f"{out}/eval-{p}.json" for p in precisions}
if len(runs) == 2 and all(os.path.exists(f) for f in runs.values()):
    a, b = ({(r["quality"], r["method"]): r["psnr"] for r in json.load(open(f)) if "image" not in r} for f in runs.values())
    for key in sorted(a):
        print(f"Live-1 PSNR bf16 - fp32 at q{key[0]} ({key[1]}): {b[key] - a[key]:+.4f} dB")
reference = load_reference(sorted(Path(folder).iterdir())[0])
sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
for megapixels, h in ((1, 816), (24, side)):
    w = h * 3 // 2 if megapixels == 24 else 1224
    reps = (h // reference.shape[0] + 1, w // reference.shape[1] + 1, 1)
    data = encode(np.ascontiguousarray(np.tile(reference, reps)[:h, :w]), 20)
    for weights in names:
        model = api.load_model(weights, device=device)
        for precision in precisions:
            options = api.RestoreOptions(precision=precision, bits=8)
            api.restore(data, model, options)  # warm: cuDNN's kernel choice
            sync()
            start = time.perf_counter()
            image = api.restore(data, model, options)
            sync()
            seconds = time.perf_counter() - start
            mp = image.pixels.shape[0] * image.pixels.shape[1] / 1e6
            print(f"{weights} {precision} on {device}: {seconds / mp:.3f} s/MP at {mp:.1f} MP (read + restore, warm)")
PY
stamp "check done"
