"""Markdown tables for the model card from `qgac eval --json` files.

    python tools/eval_table.py live1.json [classic5.json ...] [--method NAME] [--against NAME]

One table per dataset: the JPEG row and the method's PSNR / PSNR-B / SSIM, its gain, how many
images fell below their JPEG and the worst per-image gain; with --against, the gain of the
method over that other method in the same file too.
"""

from __future__ import annotations

import argparse
import json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--method", default=None, help="default: the first restoration in each file")
    parser.add_argument("--against", default=None)
    args = parser.parse_args()
    records = [r for f in args.files for r in json.load(open(f)) if "image" not in r]
    by = {(r["dataset"], r["quality"], r["method"]): r for r in records}
    for dataset in dict.fromkeys(r["dataset"] for r in records):
        rows = [r for r in records if r["dataset"] == dataset]
        method = args.method or next(r["method"] for r in rows if r["method"] != "jpeg")
        header = f"| set | q | JPEG PSNR / PSNR-B / SSIM | {method} PSNR / PSNR-B / SSIM | gain | below JPEG | worst |"
        extra = f" vs {args.against} |" if args.against else ""
        print(header + extra)
        print("|---" * (7 + bool(args.against)) + "|")
        for q in sorted({r["quality"] for r in rows if r["method"] == method}):
            j, m = by[(dataset, q, "jpeg")], by[(dataset, q, method)]
            line = (
                f"| {dataset} | {q} | {j['psnr']:.2f} / {j['psnrb']:.2f} / {j['ssim']:.3f} "
                f"| {m['psnr']:.2f} / {m['psnrb']:.2f} / {m['ssim']:.3f} | {m['psnr'] - j['psnr']:+.2f} "
                f"| {m.get('below_jpeg', '-')} | {m.get('worst_gain', float('nan')):+.2f} |"
            )
            if args.against:
                other = by.get((dataset, q, args.against))
                line += f" {m['psnr'] - other['psnr']:+.3f} |" if other else " - |"
            print(line)
        print()


if __name__ == "__main__":
    main()
