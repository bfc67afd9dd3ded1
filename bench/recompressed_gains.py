"""What `qgac restore` gains on recompressed photos, through the CLI, with and without finding
the first compression.

    python bench/recompressed_gains.py ../shared/data/eval/live1 [--set 30:90 ...] [--weights large]
        [--precision auto] [--limit N]

Each --set Q1:Q2[@DY,DX] saves every image at Q1 (Pillow, libjpeg's standard tables, 4:2:0),
decodes it, cuts DY rows and DX columns from its top left (a crop between the saves; the
reference is cut alike) and saves it at Q2; Q alone is a single save. Each folder is restored
by `qgac restore DIR -o OUT` as it is (auto: the first compression found and restored for)
and with `--first-quality off` (the file as it is: qgac before it looked), and every output is
scored against its reference. Prints the mean RGB PSNR of the JPEG and each gain over it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import print_table

from qgac_cli.codec.jpeg import decode_with_pillow, encode
from qgac_cli.evaluate.scoring import _dataset_images, load_reference, score

SETS = ("30", "90", "30:90", "30:75", "50:90", "20:85", "40:95", "30:90@3,5", "90:30")


def parse(spec: str) -> tuple[int | None, int, tuple[int, int]]:
    """ "Q1:Q2@DY,DX" -> (Q1, Q2, (DY, DX)); "Q" -> (None, Q, (0, 0))."""
    body, _, crop = spec.partition("@")
    qualities = [int(q) for q in body.split(":")]
    first, second = (None, qualities[0]) if len(qualities) == 1 else qualities
    shift = tuple(int(v) for v in crop.split(",")) if crop else (0, 0)
    return first, second, shift  # type: ignore[return-value]


def make_set(images: list[Path], spec: str, folder: Path) -> dict[str, np.ndarray]:
    """Write the set's JPEGs into `folder`; the references by file name."""
    first, second, (dy, dx) = parse(spec)
    folder.mkdir(parents=True)
    references = {}
    for path in images:
        pixels = load_reference(path)
        if first is not None:
            pixels = np.ascontiguousarray(decode_with_pillow(encode(pixels, first))[dy:, dx:])
        name = path.stem + ".jpg"
        (folder / name).write_bytes(encode(pixels, second))
        references[name] = load_reference(path)[dy:, dx:]
    return references


def restored_psnr(folder: Path, out: Path, references: dict, extra: list[str]) -> list[float]:
    command = [sys.executable, "-m", "qgac_cli", "restore", str(folder), "-o", str(out), "-q", *extra]
    subprocess.run(command, check=True)
    return [score(np.asarray(load_png(out / (Path(n).stem + ".png"))), r)["psnr"] for n, r in references.items()]


def load_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB" if im.mode != "L" else "L"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--set", action="append", help="Q1:Q2[@DY,DX] or Q (repeatable)")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    images = _dataset_images(args.dataset, args.limit)
    options = ["--precision", args.precision, *(["--weights", args.weights] if args.weights else [])]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.set or SETS:
            folder = Path(tmp) / spec.replace(":", "-").replace("@", "_").replace(",", "-")
            references = make_set(images, spec, folder)
            jpeg = [score(decode_with_pillow((folder / n).read_bytes()), r)["psnr"] for n, r in references.items()]
            off = restored_psnr(folder, folder / "off", references, [*options, "--first-quality", "off"])
            auto = restored_psnr(folder, folder / "auto", references, options)
            gain_off, gain_auto = np.subtract(off, jpeg), np.subtract(auto, jpeg)
            rows.append(
                [
                    spec,
                    f"{np.mean(jpeg):.2f}",
                    f"{gain_off.mean():+.2f}",
                    f"{gain_auto.mean():+.2f}",
                    f"{gain_auto.min():+.2f}",
                    f"{int((gain_auto < 0).sum())}/{len(jpeg)}",
                ]
            )
            print(" ".join(rows[-1]), flush=True)
    columns = ["set", "JPEG PSNR", "gain, --first-quality off", "gain (default)", "worst image", "below JPEG"]
    print_table(f"qgac restore on {Path(args.dataset).name} (RGB PSNR, dB)", columns, rows)


if __name__ == "__main__":
    main()
