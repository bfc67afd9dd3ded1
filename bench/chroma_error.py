"""Where the colour error of a 4:2:0 restoration lies, and how much of it luma could explain.

    python bench/chroma_error.py DIR [--quality 50 --quality 90 --quality 100]
        [--weights fast --weights large] [--limit N]

For each quality and each set of weights (and the plain JPEG decode), the chroma error (Cb and
Cr against the reference, levels², mean over the photos) split in two orthogonal parts:

- **stored grid**: the error's 2×2 box average, i.e. what is wrong with the colour the file
  stores (its quantization, and the decoder's triangle filter, whose box average is not the
  stored chroma);
- **finer**: the rest, i.e. colour detail finer than the 4:2:0 grid, which the file never held.

The box average's nearest-neighbour replication is its adjoint, so the two parts add up to the
whole error. A last table, computed from the references alone, gives the ceiling of one kind
of guess at the finer part: the chroma's detail (what a 2×2 box down and the decoder's triangle
filter up remove from it) explained block by block as a multiple of the luma's detail, the
multiple fitted to the truth itself (an oracle: no restoration knows it). It tells how much of
the colour finer than 4:2:0 follows the luma at all, and so what a luma-guided refinement or a
colour network could at most take back that way.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import print_table
from PIL import Image

from qgac_cli.train.audit import box_down, chroma, round_trip

BLOCKS = (8, 4)  # the oracle's block sides, in luma pixels


def _even(planes: np.ndarray) -> np.ndarray:
    return planes[..., : planes.shape[-2] // 2 * 2, : planes.shape[-1] // 2 * 2]


def split(restored: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(stored-grid, finer) chroma MSE of uint8 RGB `restored` against `reference`."""
    error = _even(chroma(restored) - chroma(reference))
    low = box_down(error)
    replicated = np.repeat(np.repeat(low, 2, axis=1), 2, axis=2)
    return float(np.mean(replicated**2)), float(np.mean((error - replicated) ** 2))


def luma(rgb: np.ndarray) -> np.ndarray:
    x = rgb.astype(np.float64)
    return (0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2])[None]


def _blocks(planes: np.ndarray, side: int) -> np.ndarray:
    c, h, w = planes.shape
    h, w = h // side * side, w // side * side
    p = planes[:, :h, :w].reshape(c, h // side, side, w // side, side)
    return p.transpose(0, 1, 3, 2, 4).reshape(c, -1, side * side)


def oracle(reference: np.ndarray, side: int) -> tuple[float, float]:
    """(MSE of the chroma's detail, MSE left when each block's detail is its best multiple of
    the luma's detail), levels²: the round trip's loss and what an oracle slope leaves of it."""
    c, y = _even(chroma(reference)), _even(luma(reference))
    detail = _blocks(c - round_trip(c), side)
    guide = np.broadcast_to(_blocks(y - round_trip(y), side), detail.shape)
    slope = (guide * detail).sum(-1, keepdims=True) / ((guide * guide).sum(-1, keepdims=True) + 1e-9)
    return float(np.mean(detail**2)), float(np.mean((detail - slope * guide) ** 2))


def db(mse: float) -> str:
    return f"{10 * np.log10(255.0**2 / mse):.2f}" if mse > 0 else "inf"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--quality", type=int, action="append", default=None)
    parser.add_argument("--weights", action="append", default=None)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    import io

    import torch

    from qgac_cli.api import load_model, restore
    from qgac_cli.evaluate.scoring import compress
    from qgac_cli.restore.restored import quantize

    torch.set_num_threads(2)
    paths = sorted(p for p in Path(args.data).iterdir() if p.suffix.lower() in (".png", ".jpg", ".bmp"))
    references = [np.asarray(Image.open(p).convert("RGB")) for p in paths[: args.limit]]
    names = args.weights or ["large"]
    models = {name: load_model(name) for name in names}
    rows = []
    for quality in args.quality or [50, 90, 100]:
        totals = {name: np.zeros(2) for name in ["JPEG", *names]}
        for reference in references:
            data = compress(reference, quality, "4:2:0")
            totals["JPEG"] += split(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), reference)
            for name, model in models.items():
                totals[name] += split(quantize(restore(data, model).pixels, 8), reference)
        jpeg = totals["JPEG"] / len(references)
        for name, total in totals.items():
            low, fine = total / len(references)
            removed = [f"{1 - part / base:.0%}" if name != "JPEG" else "" for part, base in zip((low, fine), jpeg)]
            rows.append([quality, name, db(low + fine), db(low), db(fine), f"{low / (low + fine):.0%}", *removed])
    columns = ["q", "weights", "chroma dB", "stored-grid dB", "finer dB", "stored share"]
    columns += ["stored removed", "finer removed"]
    print_table(f"{args.data}: chroma error (Cb and Cr, 4:2:0), split where the file stores colour", columns, rows)
    ceilings = []
    for side in BLOCKS:
        found = np.array([oracle(reference, side) for reference in references]).mean(axis=0)
        ceilings.append([f"{side}x{side}", db(found[0]), db(found[1]), f"{1 - found[1] / found[0]:.0%}"])
    columns = ["block", "detail lost by 4:2:0 (dB)", "left by an oracle luma slope (dB)", "share explained"]
    print_table("the colour detail 4:2:0 loses, and how much one luma slope per block could explain", columns, ceilings)


if __name__ == "__main__":
    main()
