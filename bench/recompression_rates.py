"""How often qgac takes a JPEG for recompressed: false alarms on single-compressed files,
and findings on recompressed ones.

    python bench/recompression_rates.py ../shared/data/eval/live1 ../shared/data/eval/classic5 \
        ../shared/data/eval/bsds500 [--quality 10 ...] [--pair 30:90 ...] [--limit N]

Single-compressed files: every image of each set saved once by Pillow (libjpeg's standard
tables) at each quality, 4:2:0 / 4:2:2 / 4:4:4 for colour (grey sets stay grey); libjpeg-turbo
(jpeglib) with optimized Huffman tables and progressive; the bundled example. A finding on
these is a false alarm, except on BSDS500, whose references are themselves JPEGs of quality
about 95: saved again at 96-100 it *is* recompressed. Recompressed files: each --pair Q1:Q2
saved at Q1, decoded, saved at Q2 (4:2:0 both times), on the file's grid and cropped by
(3, 5) pixels between the saves. Prints the rates, the qualities found and the time per file.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from common import print_table

from qgac_cli.codec.jpeg import decode_with_pillow, encode, read_jpeg
from qgac_cli.evaluate.scoring import _dataset_images, compress, load_reference
from qgac_cli.recompression import find_first_compression

QUALITIES = (10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 98, 100)
PAIRS = ("30:90", "30:75", "50:90", "20:85", "40:95", "70:90", "90:30", "90:90")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "astronaut-q15.jpg"


def found(data: bytes) -> tuple[object, float]:
    """The finding for a file and the seconds the finding took (the read not counted)."""
    jpeg = read_jpeg(data, keep_decoded=False)
    start = time.perf_counter()
    first = find_first_compression(jpeg)
    return first, time.perf_counter() - start


def single_rows(folders: list[str], qualities: tuple[int, ...], limit: int | None) -> tuple[list[list], list[float]]:
    rows, times = [], []
    for folder in folders:
        images = [load_reference(p) for p in _dataset_images(folder, limit)]
        grey = images[0].ndim == 2
        for subsampling in ("gray",) if grey else ("4:2:0", "4:2:2", "4:4:4"):
            for q in qualities:
                hits, evidence = [], []
                for pixels in images:
                    first, seconds = found(encode(pixels, q, "4:2:0" if grey else subsampling))
                    times.append(seconds)
                    if first is not None:
                        hits.append(first.quality)
                        evidence.append(first.evidence)
                rows.append(_rate_row(Path(folder).name, subsampling, f"q{q}", len(images), hits, evidence))
    return rows, times


def writer_rows(folder: str, limit: int | None) -> list[list]:
    """libjpeg-turbo's own encoder with optimized Huffman tables and progressive, and the
    bundled example."""
    import jpeglib

    jpeglib.version.set("turbo210")
    images = [load_reference(p) for p in _dataset_images(folder, limit)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for flags, name in ((["+OPTIMIZE_CODING"], "turbo optimized"), (["+PROGRESSIVE_MODE"], "turbo progressive")):
            for q in (30, 75, 90):
                hits, evidence = [], []
                for i, pixels in enumerate(images):
                    path = Path(tmp) / f"{i}.jpg"
                    jpeglib.from_spatial(np.ascontiguousarray(pixels)).write_spatial(str(path), qt=q, flags=flags)
                    first, _ = found(path.read_bytes())
                    if first is not None:
                        hits.append(first.quality)
                        evidence.append(first.evidence)
                rows.append(_rate_row(Path(folder).name, name, f"q{q}", len(images), hits, evidence))
    first, _ = found(EXAMPLE.read_bytes())
    rows.append(_rate_row("example", "4:2:0", "q15", 1, [first.quality] if first else [], []))
    return rows


def pair_rows(folder: str, pairs: list[str], limit: int | None) -> tuple[list[list], list[float]]:
    images = [load_reference(p) for p in _dataset_images(folder, limit)]
    rows, times = [], []
    for pair in pairs:
        q1, q2 = (int(q) for q in pair.split(":"))
        for shift in ((0, 0), (3, 5)):
            hits, right, evidence = [], 0, []
            for pixels in images:
                first_save = decode_with_pillow(compress(pixels, q1, "4:2:0"))
                first, seconds = found(encode(np.ascontiguousarray(first_save[shift[0] :, shift[1] :]), q2))
                times.append(seconds)
                if first is not None:
                    hits.append(first.quality)
                    evidence.append(first.evidence)
                    right += abs(first.quality - q1) <= 1
            row = _rate_row(Path(folder).name, f"{q1} then {q2}, shift {shift}", "", len(images), hits, evidence)
            rows.append([*row, f"{right}/{len(images)}"])
    return rows, times


def _rate_row(dataset: str, kind: str, quality: str, count: int, hits: list[int], evidence: list[float]) -> list:
    qualities = f"{min(hits)}-{max(hits)}" if hits else "-"
    return [dataset, kind, quality, f"{len(hits)}/{count}", qualities, f"{max(evidence):.1f}" if evidence else "-"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+")
    parser.add_argument("--quality", type=int, action="append", help="single-compressed qualities")
    parser.add_argument("--pair", action="append", help="Q1:Q2 recompressions (on the first dataset)")
    parser.add_argument("--limit", type=int, default=None, help="images per set")
    args = parser.parse_args()
    columns = ["set", "kind", "quality", "found", "first qualities", "most evidence"]
    rows, times = single_rows(args.datasets, tuple(args.quality or QUALITIES), args.limit)
    print_table("single-compressed files (a finding is a false alarm, but on BSDS500 above q95)", columns, rows)
    colour = next(d for d in args.datasets if load_reference(_dataset_images(d, 1)[0]).ndim == 3)
    print_table("other writers", columns, writer_rows(colour, args.limit))
    rows, pair_times = pair_rows(colour, args.pair or list(PAIRS), args.limit)
    print_table("recompressed files", [*columns, "first quality within 1"], rows)
    print(
        f"\nfinding: {1000 * np.mean(times):.0f} ms per single-compressed file, "
        f"{1000 * np.mean(pair_times):.0f} ms per recompressed file (mean)"
    )


if __name__ == "__main__":
    main()
