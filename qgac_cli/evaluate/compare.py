"""`qgac compare`: a picture of what restoration did, for a person to look at.

Side-by-side crops (JPEG | restored), enlarged with nearest-neighbour so that blocks and
ringing stay visible, taken where the restoration changed the image most. Pure arrays in,
an array out; the CLI reads and writes the files.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

GAP = 8  # pixels between panels and rows
LABEL = 16  # pixels of the label row above the panels
# A restoration stays close to its JPEG: on Live-1 `large` is 33-48 dB from the JPEG's own
# decode at q10-q95; another photo of the same size is 10-15 dB away. Below this the pair is
# refused: its sheet would mean nothing.
MIN_PAIR_PSNR = 20.0


def pair_psnr(jpeg: np.ndarray, restored: np.ndarray) -> float:
    """PSNR in dB between the JPEG's decode and a candidate restoration of it."""
    mse = float(np.mean((jpeg.astype(np.float64) - restored.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def change_map(jpeg: np.ndarray, restored: np.ndarray) -> np.ndarray:
    """(H, W) mean absolute difference over channels, in levels."""
    diff = np.abs(jpeg.astype(np.float32) - restored.astype(np.float32))
    return diff if diff.ndim == 2 else diff.mean(axis=2)


def pick_crops(change: np.ndarray, size: int, count: int) -> list[tuple[int, int]]:
    """Top-left corners of up to `count` non-overlapping size×size windows with the most
    change, greedily (the best window, then the best that does not overlap it, ...)."""
    h, w = change.shape
    size = min(size, h, w)
    step = max(1, size // 4)
    # window sums on a grid of candidate corners, from an integral image
    integral = np.pad(change.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    tops = list(range(0, h - size + 1, step)) or [0]
    lefts = list(range(0, w - size + 1, step)) or [0]

    def window(t: int, left: int) -> float:
        bottom, right = t + size, left + size
        return integral[bottom, right] - integral[t, right] - integral[bottom, left] + integral[t, left]

    scores = [(window(t, left), t, left) for t in tops for left in lefts]
    chosen: list[tuple[int, int]] = []
    for _, t, left in sorted(scores, reverse=True):
        if all(abs(t - ct) >= size or abs(left - cl) >= size for ct, cl in chosen):
            chosen.append((t, left))
        if len(chosen) == count:
            break
    return chosen


def side_by_side(jpeg: np.ndarray, restored: np.ndarray, size: int = 96, count: int = 3, zoom: int = 3) -> np.ndarray:
    """An RGB uint8 sheet: one row per crop, the JPEG on the left and the restoration on the
    right, each enlarged `zoom` times."""
    if jpeg.shape != restored.shape:
        raise ValueError(f"shapes differ: {jpeg.shape} and {restored.shape}")
    if jpeg.ndim == 2:
        jpeg, restored = (np.repeat(a[..., None], 3, axis=2) for a in (jpeg, restored))
    crops = pick_crops(change_map(jpeg, restored), size, count)
    side = min(size, *jpeg.shape[:2]) * zoom
    sheet = np.full((LABEL + len(crops) * (side + GAP) - GAP, 2 * side + GAP, 3), 255, dtype=np.uint8)
    for row, (t, left) in enumerate(crops):
        for col, image in enumerate((jpeg, restored)):
            crop = image[t : t + side // zoom, left : left + side // zoom]
            big = crop.repeat(zoom, axis=0).repeat(zoom, axis=1)
            y, x = LABEL + row * (side + GAP), col * (side + GAP)
            sheet[y : y + big.shape[0], x : x + big.shape[1]] = big
    return _labelled(sheet, side)


def _labelled(sheet: np.ndarray, side: int) -> np.ndarray:
    """The sheet with "JPEG" over the left column and "restored" over the right."""
    image = Image.fromarray(sheet)
    draw = ImageDraw.Draw(image)
    for col, text in enumerate(("JPEG", "restored")):
        draw.text((col * (side + GAP) + 2, 2), text, fill=(0, 0, 0))
    return np.asarray(image)
