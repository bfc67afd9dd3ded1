"""Audit training photos for real colour (issue #31): a table for the model card.

    python tools/audit_pool.py DATA_DIR... [--threshold 47] [--json FILE]

Per folder: images, megapixels, the median colour test (PSNR of Cb/Cr against their 2×
round trip; high = no colour detail left) as the photos are and shrunk 2× and 3× by area, the
share above 45 dB, how many reach real colour (≤ threshold, Live-1's median) at each least
shrink, and for JPEG files the median quality their tables say (a JPEG past). The scales are
what `tools/fit_chroma_refine.py --scale auto` uses, photo by photo.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from qgac_cli.codec.jpeg import read_info
from qgac_cli.codec.quality import estimate_quality
from qgac_cli.data import list_images, load_rgb
from qgac_cli.train.audit import REAL_COLOUR_DB, colour_test, real_colour_scale, shrink


def audit_image(path: Path, threshold: float) -> dict:
    rgb = load_rgb(path)
    found = real_colour_scale(rgb, threshold)
    record = {
        "path": str(path),
        "megapixels": rgb.shape[0] * rgb.shape[1] / 1e6,
        "colour_db": {s: colour_test(shrink(rgb, s)) for s in (1, 2, 3)},
        "scale": found.scale,
        "real": found.real,
    }
    if path.suffix.lower() in (".jpg", ".jpeg"):
        info = read_info(path.read_bytes(), str(path))
        record["jpeg_quality"] = estimate_quality(list(info.tables.tables)).quality if info.tables else None
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+")
    parser.add_argument("--threshold", type=float, default=REAL_COLOUR_DB)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    records = [audit_image(p, args.threshold) for p in list_images(args.data)]
    print(
        "| folder | images | MP | colour test as is / 2× / 3× (median dB) | > 45 dB "
        "| least shrink to real colour (1/2/3/4) | never | JPEG quality |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for folder in dict.fromkeys(Path(r["path"]).parent.name for r in records):
        print(_row(folder, [r for r in records if Path(r["path"]).parent.name == folder]))
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))


def _row(folder: str, rows: list[dict]) -> str:
    medians = " / ".join(f"{np.median([r['colour_db'][s] for r in rows]):.1f}" for s in (1, 2, 3))
    above = np.mean([r["colour_db"][1] > 45 for r in rows])
    scales = Counter(r["scale"] for r in rows if r["real"])
    quality = [r["jpeg_quality"] for r in rows if r.get("jpeg_quality") is not None]
    jpeg = f"{np.median(quality):.0f}" if quality else "-"
    return (
        f"| {folder} | {len(rows)} | {sum(r['megapixels'] for r in rows):.0f} | {medians} | {above:.0%} "
        f"| {' / '.join(str(scales.get(s, 0)) for s in (1, 2, 3, 4))} | {sum(not r['real'] for r in rows)} "
        f"| {jpeg} |"
    )


if __name__ == "__main__":
    main()
