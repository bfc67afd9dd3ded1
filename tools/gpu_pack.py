"""Pack training folders into a byte budget, for the 64 MiB that travel to a lent GPU.

    python tools/gpu_pack.py OUT DATA_DIR... --budget-mb 46 [--scale 0.55] [--part K/N] [--holdout DIR]

JPEG files are copied unchanged (BSDS500's originals are JPEGs: re-encoding them would only
add loss). Every other image is stored as lossless WebP (≈ 63 % of its PNG size), at full
resolution where it fits; when the whole pool does not fit, the images above 0.5 MP are
downscaled by one common factor (Lanczos) until it does. Downscaling a large photo keeps its
content and sharpens it per pixel, much as the DIV2K-style training sets are made. Folder
and file names are kept (suffix .webp), so the sorted order, and with it the hold-out of
every 25th image, is the same as on the originals. Prints what it did.

For a lease of two calls: --holdout DIR writes the pool's hold-out (every 25th image) as
the 256² centre crops validation scores, and leaves it out of the parts; --part K/N packs
the K-th of N interleaved shares of the rest, so that each call carries other pixels of
every folder while the validation stays the same (`tools/gpu_lease.sh`).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from PIL import Image

from qgac_cli.data import list_images

LARGE = 500_000  # pixels above which an image may be downscaled


def encode(src: Path, dst: Path, scale: float) -> int:
    """Write src as lossless WebP at `scale` (JPEGs copied as they are); returns bytes."""
    if src.suffix.lower() in (".jpg", ".jpeg"):
        shutil.copyfile(src, dst.with_suffix(src.suffix))
        return dst.with_suffix(src.suffix).stat().st_size
    with Image.open(src) as im:
        rgb = im.convert("RGB")
    if scale < 1.0 and rgb.width * rgb.height > LARGE:
        rgb = rgb.resize((round(rgb.width * scale), round(rgb.height * scale)), Image.LANCZOS)
    out = dst.with_suffix(".webp")
    rgb.save(out, "WEBP", lossless=True, quality=100, method=2)
    return out.stat().st_size


def pack(images: list[Path], folders: list[Path], out: Path, budget: int, scale: float = 1.0) -> tuple[float, int]:
    """Pack at the largest scale in `scale`, `scale` - 0.05, ... that fits `budget` bytes."""
    while True:
        if out.exists():
            shutil.rmtree(out)
        total = 0
        for src in images:
            total += encode(src, destination(src, folders, out), scale)
            if total > budget:
                break
        if total <= budget:
            return scale, total
        scale = round(scale - 0.05, 2)
        if scale < 0.3:
            raise SystemExit(f"the pool does not fit {budget} bytes even at scale 0.3")


def destination(src: Path, folders: list[Path], out: Path) -> Path:
    root = next(f for f in folders if f in src.parents)
    dst = out / root.name / src.relative_to(root)
    dst.parent.mkdir(parents=True, exist_ok=True)
    return dst


def write_holdout(images: list[Path], folders: list[Path], out: Path, scale: float, size: int = 256) -> int:
    """The hold-out as validation sees it: each image at the pack's scale, its centre crop
    of `size` (or less, a multiple of 16) as lossless WebP; returns bytes."""
    if out.exists():
        shutil.rmtree(out)
    total = 0
    for src in images:
        with Image.open(src) as im:
            rgb = im.convert("RGB")
        if scale < 1.0 and rgb.width * rgb.height > LARGE:
            rgb = rgb.resize((round(rgb.width * scale), round(rgb.height * scale)), Image.LANCZOS)
        s = min(size, rgb.height // 16 * 16, rgb.width // 16 * 16)
        top, left = (rgb.height - s) // 2, (rgb.width - s) // 2
        dst = destination(src, folders, out).with_suffix(".webp")
        rgb.crop((left, top, left + s, top + s)).save(dst, "WEBP", lossless=True, quality=100, method=2)
        total += dst.stat().st_size
    return total


def share(images: list[Path], part: str, holdout_every: int = 25) -> tuple[list[Path], list[Path]]:
    """(the K-th of N interleaved shares of the images less the hold-out, the hold-out)."""
    k, n = (int(x) for x in part.split("/"))
    if not 1 <= k <= n:
        raise SystemExit(f"--part {part}: K must be 1 to N")
    held = images[::holdout_every]
    rest = [p for p in images if p not in set(held)]
    return rest[k - 1 :: n], held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("data", nargs="+", type=Path)
    parser.add_argument("--budget-mb", type=float, default=46.0)
    parser.add_argument("--scale", type=float, default=1.0, help="the first scale to try")
    parser.add_argument("--part", default="1/1", help="K/N: the K-th of N interleaved shares")
    parser.add_argument("--holdout", type=Path, help="write the hold-out here and keep it out of the share")
    args = parser.parse_args()
    folders = [d.resolve() for d in args.data]
    images = list_images(folders)
    if args.holdout or args.part != "1/1":
        images, held = share(images, args.part)
    scale, total = pack(images, folders, args.out.resolve(), int(args.budget_mb * 2**20), args.scale)
    count = len(list_images([args.out]))
    print(f"packed {count} images in {total / 2**20:.1f} MiB; images over 0.5 MP at scale {scale}")
    if args.holdout:
        held_bytes = write_holdout(held, folders, args.holdout.resolve(), scale)
        print(f"hold-out: {len(held)} centre crops in {held_bytes / 2**20:.1f} MiB at {args.holdout}")


if __name__ == "__main__":
    main()
