"""PSNR of `jpegqs -q 6` beside qgac's weights, on the same JPEGs, under `qgac eval`'s conventions.

    python bench/jpegqs_quality.py ../shared/data/eval/live1 [--quality 10 ...] [--weights fast ...]
        [--jpegqs-quality 6] [--limit N]

Every image is compressed at each quality exactly as `qgac eval` does (libjpeg's standard
tables, 4:2:0), then given to jpegqs (the model-free restorer: Debian's `jpegqs`, installed by
`apt-get install -y jpegqs` after `apt-get update`; not a dependency of qgac), decoded with
libjpeg and scored against the original; the same files go through each --weights. Prints mean
PSNR / PSNR-B / SSIM per quality, each method's margin over jpegqs, and how many images each
leaves below their own JPEG.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from common import print_table

from qgac_cli import api
from qgac_cli.codec.jpeg import decode_with_pillow
from qgac_cli.evaluate.scoring import EvalConfig, evaluate, plan, score

DEFAULT_QUALITIES = (10, 20, 30, 40, 50, 70, 90, 95, 100)


def jpegqs(data: bytes, quality: int, folder: Path) -> bytes:
    """The JPEG as `jpegqs -q quality` smooths it (its output is a JPEG too)."""
    src, out = folder / "in.jpg", folder / "out.jpg"
    src.write_bytes(data)
    subprocess.run(["jpegqs", "-q", str(quality), "-t", "1", "-i", "0", str(src), str(out)], check=True)
    return out.read_bytes()


def jpegqs_rows(cfg: EvalConfig, quality: int) -> list[dict]:
    """Per-image scores of jpegqs and of the plain JPEG, over the plan `qgac eval` makes."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for dataset, q, name, make_jpeg, reference in plan(cfg):
            data, ref = make_jpeg(), reference()
            smoothed = jpegqs(data, quality, Path(folder))
            for method, pixels in (("jpeg", decode_with_pillow(data)), ("jpegqs", decode_with_pillow(smoothed))):
                rows.append({"dataset": dataset, "quality": q, "method": method, "image": name, **score(pixels, ref)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--quality", type=int, action="append", dest="qualities")
    parser.add_argument("--weights", action="append", default=None)
    parser.add_argument("--jpegqs-quality", type=int, default=6)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    if not shutil.which("jpegqs"):
        raise SystemExit("jpegqs is not installed: apt-get update && apt-get install -y jpegqs")
    cfg = EvalConfig(
        datasets=(args.dataset,),
        qualities=tuple(args.qualities or DEFAULT_QUALITIES),
        per_image=True,
        limit=args.limit,
        precision="fp32",
    )
    ours = [r for r in evaluate(cfg, {w: api.load_model(w) for w in args.weights or ["fast"]}) if "image" in r]
    theirs = jpegqs_rows(cfg, args.jpegqs_quality)
    rows = ours + [r for r in theirs if r["method"] == "jpegqs"]
    methods = ["jpeg", "jpegqs", *(args.weights or ["fast"])]
    table = []
    for q in cfg.qualities:
        at = {m: [r for r in rows if r["quality"] == q and r["method"] == m] for m in methods}
        jpeg = {r["image"]: r["psnr"] for r in at["jpeg"]}
        reference = np.mean([r["psnr"] for r in at["jpegqs"]])
        for m in methods:
            psnrs = [r["psnr"] for r in at[m]]
            below = sum(r["psnr"] < jpeg[r["image"]] for r in at[m]) if m != "jpeg" else "-"
            table.append(
                [
                    q,
                    m,
                    f"{np.mean(psnrs):.2f}",
                    f"{np.mean([r['psnrb'] for r in at[m]]):.2f}",
                    f"{np.mean([r['ssim'] for r in at[m]]):.4f}",
                    f"{np.mean(psnrs) - reference:+.2f}",
                    below,
                ]
            )
    print_table(
        f"{args.dataset}: mean over {len(at['jpeg'])} images, jpegqs -q {args.jpegqs_quality}",
        ["q", "method", "PSNR", "PSNR-B", "SSIM", "vs jpegqs", "below JPEG"],
        table,
    )


if __name__ == "__main__":
    main()
