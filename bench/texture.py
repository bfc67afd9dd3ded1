"""Texture of GAN weights, for the eye and in numbers: crops side by side and a table.

    python bench/texture.py [--quality 10] [--image stream --image parrots ...]
        [--method "large (--texture 0)=large" --method "large-gan (--texture 1)=large@1" ...]
        [--sheet crops.png] [--crop 128] [--zoom 2] [--threads 2]

Each --method is LABEL=WEIGHTS or LABEL=WEIGHTS@TEXTURE (TEXTURE blends WEIGHTS with its GAN
sibling, as `qgac restore --texture`; `@1:GAN.pt` names the GAN weights). For each Live-1
photo (JPEG at --quality, 4:2:0 as `qgac eval` makes them) the sheet shows, per row, the
most textured crop of the original (the largest Laplacian energy): the JPEG, every method, the
original. The table gives each method's PSNR / SSIM over the whole photos (RGB) and the
crops' texture (the mean squared Laplacian of luma inside the 8x8 blocks) relative to the
first method's and to the original's, and their grid (the same next to block edges, over
inside: about 1 for a photo, more where blocks show). A GAN should raise the texture toward
the original's without the grid coming back; the eye judges the rest on the sheet.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from common import print_table

LIVE1 = Path(__file__).resolve().parents[2] / "shared" / "data" / "eval" / "live1"
DEFAULT_METHODS = ["large (--texture 0)=large", "large-gan (--texture 1)=large@1"]


def laplacian(rgb: np.ndarray) -> np.ndarray:
    """Squared 4-neighbour Laplacian of luma (levels²), (H, W), zero on the image's border."""
    y = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    out = np.zeros_like(y)
    out[1:-1, 1:-1] = (4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:]) ** 2
    return out


def texture_and_grid(crop: np.ndarray) -> tuple[float, float]:
    """(texture, grid) of a crop aligned to the 8x8 block grid: the mean squared Laplacian
    inside the blocks (pixels 1-6 of each row and column of a block, where no block edge
    reaches), and the ratio of its mean on the pixels next to block edges to that (about 1 for
    a photo, more where the 8x8 grid shows)."""
    lap = laplacian(crop)[1:-1, 1:-1]
    rows, cols = np.arange(1, crop.shape[0] - 1) % 8, np.arange(1, crop.shape[1] - 1) % 8
    inside = ((rows >= 1) & (rows <= 6))[:, None] & ((cols >= 1) & (cols <= 6))[None, :]
    texture = float(lap[inside].mean())
    return texture, float(lap[~inside].mean()) / max(texture, 1e-9)


def most_textured(rgb: np.ndarray, size: int) -> tuple[int, int]:
    """Top-left corner (a multiple of 8 when size is) of the size×size window with the largest
    Laplacian energy."""
    from qgac_cli.evaluate.compare import pick_crops

    return pick_crops(laplacian(rgb), size, 1)[0]


def parse_method(text: str) -> tuple[str, str, float | None, str | None]:
    """LABEL=WEIGHTS[@TEXTURE[:GAN]] -> (label, weights, texture, gan weights)."""
    label, _, spec = text.partition("=")
    if not spec:
        raise SystemExit(f"--method {text!r}: expected LABEL=WEIGHTS or LABEL=WEIGHTS@TEXTURE")
    weights, _, blend = spec.partition("@")
    if not blend:
        return label, weights, None, None
    texture, _, gan = blend.partition(":")
    return label, weights, float(texture), gan or None


def restore_all(method, jpegs: list[bytes]) -> list[np.ndarray]:
    from qgac_cli import api

    _, weights, texture, gan = method
    model = api.load_model(weights, texture=texture, gan_weights=gan)
    options = api.RestoreOptions(bits=8)
    return [api.restore(data, model, options).pixels for data in jpegs]


def sheet(rows: list[list[np.ndarray]], labels: list[str], zoom: int) -> np.ndarray:
    """Crops enlarged `zoom`× (nearest neighbour), one row per photo, a label strip on top."""
    from PIL import Image, ImageDraw

    gap, strip = 8, 18
    side = rows[0][0].shape[0] * zoom
    width = len(labels) * (side + gap) - gap
    canvas = Image.new("RGB", (width, strip + len(rows) * (side + gap) - gap), "white")
    draw = ImageDraw.Draw(canvas)
    for col, label in enumerate(labels):
        draw.text((col * (side + gap) + 2, 3), label, fill="black")
    for r, crops in enumerate(rows):
        for col, crop in enumerate(crops):
            big = Image.fromarray(crop).resize((side, side), Image.NEAREST)
            canvas.paste(big, (col * (side + gap), strip + r * (side + gap)))
    return np.asarray(canvas)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=LIVE1)
    parser.add_argument("--image", action="append", default=None, help="photo stem (default: 3 textured ones)")
    parser.add_argument("--quality", type=int, default=10)
    parser.add_argument("--method", action="append", default=None)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--zoom", type=int, default=2)
    parser.add_argument("--sheet", type=Path, default=None, help="write the crops here (PNG or JPEG)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch
    from PIL import Image

    from qgac_cli.codec.jpeg import encode
    from qgac_cli.evaluate.metrics import psnr, ssim
    from qgac_cli.evaluate.scoring import load_reference

    torch.set_num_threads(args.threads)
    methods = [parse_method(m) for m in (args.method or DEFAULT_METHODS)]
    stems = args.image or ["stream", "parrots", "carnivaldolls"]
    originals = [load_reference(args.data / f"{stem}.png") for stem in stems]
    jpegs = [encode(o, args.quality) for o in originals]
    decoded = [np.asarray(Image.open(io.BytesIO(d)).convert("RGB")) for d in jpegs]
    corners = [most_textured(o, args.crop) for o in originals]

    def crop(image: np.ndarray, i: int) -> np.ndarray:
        t, left = corners[i]
        return image[t : t + args.crop, left : left + args.crop]

    def scores(images: list[np.ndarray]) -> tuple[float, float, float, float]:
        def tensor(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.array(a)).permute(2, 0, 1)[None].float() / 255

        p = np.mean([float(psnr(tensor(a), tensor(o))) for a, o in zip(images, originals)])
        s = np.mean([float(ssim(tensor(a), tensor(o))) for a, o in zip(images, originals)])
        texture, grid = np.mean([texture_and_grid(crop(a, i)) for i, a in enumerate(images)], axis=0)
        return p, s, texture, grid

    results = {"JPEG": scores(decoded)}
    restored = {}
    for method in methods:
        restored[method[0]] = restore_all(method, jpegs)
        results[method[0]] = scores(restored[method[0]])
    results["original"] = scores(originals)
    first = results[methods[0][0]][2]
    target = results["original"][2]
    rows = [
        [
            label,
            f"{p:.2f}" if np.isfinite(p) else "-",
            f"{s:.4f}",
            f"{t:.0f}",
            f"{t / first:.2f}x",
            f"{t / target:.2f}x",
            f"{g:.2f}",
        ]
        for label, (p, s, t, g) in results.items()
    ]
    print_table(
        f"texture at q{args.quality} on {', '.join(stems)} ({args.crop}x{args.crop} crops)",
        ["method", "PSNR dB", "SSIM", "texture (inside blocks)", f"vs {methods[0][0]}", "vs original", "grid"],
        rows,
    )
    if args.sheet:
        labels = [f"JPEG q{args.quality}", *restored, "original"]
        grid = [
            [crop(decoded[i], i), *(crop(restored[m][i], i) for m in restored), crop(originals[i], i)]
            for i in range(len(stems))
        ]
        Image.fromarray(sheet(grid, labels, args.zoom)).save(args.sheet, quality=92)
        print(f"crops: {args.sheet}")


if __name__ == "__main__":
    main()
