"""Do the shipped weights survive fp16 storage? Each shipped checkpoint against itself stored
with its learned tensors in half precision (`weights.halved`, upcast at load), scored by
`qgac eval`'s own pipeline in fp32 on the same JPEG files.

    python bench/fp16_weights.py EVAL_DIR [--quality 10 ...] [--weights large ...] [--threads 2]

Prints per weights and quality the mean PSNR difference (fp16-stored − fp32) and the largest
per-image difference in absolute value, and the file sizes. The shipped weights are stored
in fp16 only where every mean difference is below 0.001 dB.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from common import print_table

from qgac_cli import weights
from qgac_cli.evaluate.scoring import EvalConfig, evaluate
from qgac_cli.shipping import SHIPPED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--quality", type=int, action="append")
    parser.add_argument("--weights", action="append")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = args.weights or sorted(SHIPPED)
    qualities = tuple(args.quality or (10, 20, 50, 90, 95, 100))
    methods, sizes = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            path = weights.resolve(name)
            data = torch.load(path, map_location="cpu", weights_only=True)
            data["state_dict"] = weights.halved(data["state_dict"])
            half = Path(tmp) / f"{name}-fp16.pt"
            torch.save(data, half)
            sizes[name] = (path.stat().st_size, half.stat().st_size)
            methods[name] = weights.load(path)
            methods[f"{name}-fp16"] = weights.load(half)
    cfg = EvalConfig(datasets=(args.data,), qualities=qualities, per_image=True, precision="fp32")
    rows = evaluate(cfg, methods)
    mean = {(r["quality"], r["method"]): r["psnr"] for r in rows if "image" not in r}
    each = {(r["quality"], r["method"], r["image"]): r["psnr"] for r in rows if "image" in r}
    images = sorted({r["image"] for r in rows if "image" in r})
    table = []
    for name in names:
        for q in qualities:
            worst = max(abs(each[(q, f"{name}-fp16", i)] - each[(q, name, i)]) for i in images)
            table.append([name, q, f"{mean[(q, name)]:.4f}", f"{mean[(q, f'{name}-fp16')] - mean[(q, name)]:+.5f}",
                          f"{worst:.5f}"])  # fmt: skip
    print_table(
        f"fp16-stored weights against fp32 on {args.data} ({len(images)} images, fp32 arithmetic)",
        ["weights", "quality", "PSNR fp32", "mean diff (dB)", "largest |diff| per image"],
        table,
    )
    print_table(
        "file sizes",
        ["weights", "fp32 MB", "fp16 MB"],
        [[n, f"{a / 1e6:.2f}", f"{b / 1e6:.2f}"] for n, (a, b) in sizes.items()],
    )


if __name__ == "__main__":
    main()
