#!/usr/bin/env bash
# The GPU path, checked end to end in one short call on a lent GPU (issue: restore, eval and
# bf16 inference on CUDA, with s/MP). Prepared here, run there:
#
# Here, once:  mkdir -p .gpu/eval && cp ../shared/data/eval/live1/{bikes,buildings,carnivaldolls,lighthouse2,parrots}.png .gpu/eval/
#              (.gpu/ is in .gitignore; it travels only when carried)
# There:       bash tools/gpu_check.sh     (carry .gpu; about 2 minutes; $OUT/check.log comes back)
# Dry run here: DEVICE=cpu PRECISIONS=fp32 SIDE=500 bash tools/gpu_check.sh
set -uo pipefail
DEVICE=${DEVICE:-cuda}
PRECISIONS=${PRECISIONS:-fp32 bf16}
SIDE=${SIDE:-4000}
OUT=${OUT:-runs/gpu-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
exec > >(tee "$OUT/check.log") 2>&1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
python3 -m qgac_cli restore examples/astronaut-q15.jpg "$OUT/astronaut.png" --device "$DEVICE" --overwrite && echo "restore on $DEVICE: ok"
for precision in $PRECISIONS; do
  python3 -m qgac_cli eval .gpu/eval --quality 10 --quality 50 --quality 90 --device "$DEVICE" --precision $precision \
    --weights large --weights base --json "$OUT/eval-$precision.json" -q | tail -n 12
done
python3 - "$OUT" "$DEVICE" "$SIDE" $PRECISIONS <<'PY'
import json, os, sys, time
import torch
from qgac_cli import api
from qgac_cli.jpeg import encode
from qgac_cli.evaluate import load_reference
out, device, side, precisions = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
if os.path.exists(f"{out}/eval-bf16.json"):
    a = {(r["quality"], r["method"]): r["psnr"] for r in json.load(open(f"{out}/eval-fp32.json")) if "image" not in r}
    b = {(r["quality"], r["method"]): r["psnr"] for r in json.load(open(f"{out}/eval-bf16.json")) if "image" not in r}
    for key in sorted(a):
        print("bf16 - fp32 PSNR", key, f"{b[key] - a[key]:+.4f} dB")
import numpy as np
pixels = np.ascontiguousarray(np.tile(load_reference(".gpu/eval/bikes.png"), (12, 12, 1))[:side, : side * 3 // 2])
data = encode(pixels, 20)
for weights in ("large", "base"):
    model = api.load_model(weights, device=device)
    for precision in precisions:
        options = api.RestoreOptions(precision=precision, bits=8)
        api.restore(data, model, options)
        sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
        sync()
        start = time.perf_counter()
        image = api.restore(data, model, options)
        sync()
        seconds = time.perf_counter() - start
        mp = image.pixels.shape[0] * image.pixels.shape[1] / 1e6
        print(f"{weights} {precision}: {seconds / mp:.3f} s/MP at {mp:.1f} MP (read + restore, warm)")
PY
