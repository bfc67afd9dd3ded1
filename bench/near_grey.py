"""Do restorations add colour to grey and nearly grey photos? Chroma error against the truth.

    python bench/near_grey.py DIR... [--weights large --weights base] [--limit 8] [--every N]
        [--saturation 0 --saturation 0.05 --saturation 0.2] [--quality 50 --quality 90]

Each photo is faded toward its own luma (saturation 0: grey, 1: as it is), compressed 4:2:0
at each quality, and restored with and without the grey guard (`restoration.GreyGuard`); the
table gives the mean squared error of Cb and Cr (levels²) of the JPEG decode and of each
restoration, over the photos, and how many photos each made worse in chroma than their JPEG.
"""

from __future__ import annotations

import argparse

import numpy as np
from common import print_table

GUARDS = ((True, ""), (False, ", no guard"))


def chroma(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB -> (2, H, W) Cb and Cr around 0 (JFIF)."""
    x = pixels.astype(np.float64)
    cb = -0.168736 * x[..., 0] - 0.331264 * x[..., 1] + 0.5 * x[..., 2]
    cr = 0.5 * x[..., 0] - 0.418688 * x[..., 1] - 0.081312 * x[..., 2]
    return np.stack([cb, cr])


def fade(rgb: np.ndarray, saturation: float) -> np.ndarray:
    luma = (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2])[..., None]
    return np.clip(np.round(luma + saturation * (rgb - luma)), 0, 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+")
    parser.add_argument("--weights", action="append", default=None)
    parser.add_argument("--saturation", type=float, action="append", default=None)
    parser.add_argument("--quality", type=int, action="append", default=None)
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--every", type=int, default=1, help="take every N-th image (25: the training hold-out)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from qgac_cli import api
    from qgac_cli.codec.jpeg import decode_with_pillow, encode, read_jpeg
    from qgac_cli.data import list_images, load_rgb

    torch.set_num_threads(args.threads)
    weights = args.weights or ["large", "base"]
    models = {name: api.load_model(name) for name in weights}
    runs = {f"{name}{label}": (model, guard) for name, model in models.items() for guard, label in GUARDS}
    names = list(runs)
    photos = [load_rgb(p) for p in list_images(args.data)[:: args.every][: args.limit]]
    rows = []
    for saturation in args.saturation or [0.0, 0.05, 0.2]:
        for quality in args.quality or [50, 90]:
            errors: dict[str, list[float]] = {name: [] for name in ["jpeg", *names]}
            for rgb in photos:
                image = fade(rgb, saturation)
                data = encode(image, quality, "4:2:0")
                truth = chroma(image)
                errors["jpeg"].append(float(((chroma(decode_with_pillow(data)) - truth) ** 2).mean()))
                jpeg = read_jpeg(data)
                for name, (model, guard) in runs.items():
                    with torch.no_grad():
                        restored = api.restore_jpeg(jpeg, model, api.RestoreOptions(bits=8, grey_guard=guard))
                    errors[name].append(float(((chroma(restored) - truth) ** 2).mean()))
            row = [saturation, quality, f"{np.mean(errors['jpeg']):.3f}"]
            for name in names:
                worse = sum(r > j + 1e-9 for r, j in zip(errors[name], errors["jpeg"]))
                row.append(f"{np.mean(errors[name]):.3f} ({worse} worse)")
            rows.append(row)
    print_table(
        f"chroma MSE (levels²) of faded photos, {len(photos)} images, 4:2:0",
        ["saturation", "q", "JPEG", *names],
        rows,
    )


if __name__ == "__main__":
    main()
