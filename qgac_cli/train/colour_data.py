"""The photos and patches the colour fits (the colour stage, the refinement, the detail
network) are fitted on: the training pool without the trainer's hold-out, each photo brought
to the scale at which its colour is real (`qgac_cli.train.audit`), drawn at the qualities and
subsamplings users hold; and what the fits share around them: batches drawn and kept, the
chroma gains per band of qualities, the learning rate over a time budget."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from qgac_cli.data import PatchConfig, list_images, load_rgb
from qgac_cli.train.audit import real_colour_scale, shrink

# what users hold: more high quality and 4:2:0 than the networks' training drew
COLOUR_PATCHES = PatchConfig(
    size=128,
    qualities=(5, 100),
    low_quality_share=0.3,
    subsampling_weights=(((2, 2), 0.7), ((1, 1), 0.15), ((1, 2), 0.15)),
    grey_share=0.02,
    faded_share=0.03,
)

# the shrink that brings each folder of the shared training pool to real colour (issue #31's
# audit: BSDS500's photos were q≈95 4:2:0 JPEGs, Sun-Hays' and RealSR's cameras smoothed theirs)
POOL_SCALES = {"sunhays80": 3, "realsr": 3, "bsds500-trainval": 2}


def load_pool(
    folders: list[str], scales: dict[str, int], holdout_every: int, auto: bool = False, holdout: bool = False
) -> list[np.ndarray]:
    """The training photos without the hold-out (every `holdout_every`-th; with `holdout`, the
    hold-out alone), each shrunk by its folder's scale, or with `auto` by its own least scale
    to real colour (a photo that never reaches it is left out)."""
    images = []
    for i, path in enumerate(list_images(folders)):
        if holdout_every and (i % holdout_every == 0) != holdout:
            continue
        rgb = load_rgb(path)
        if auto:
            found = real_colour_scale(rgb)
            if found.real:
                images.append(shrink(rgb, found.scale))
        else:
            images.append(shrink(rgb, scales.get(path.parent.name, 1)))
    return images


def draw_batches(restore: Callable, model, bank, batches: int, batch: int, report: Callable | None = None) -> list:
    """`batches` batches of the bank's patches at its qualities and subsamplings, each kept as
    `restore(model, rgb, qualities, factor)` makes it (RGB in [0, 1])."""
    out = []
    for i in range(batches):
        rgb = bank.patches(batch).float() / 255.0
        out.append(restore(model, rgb, bank.qualities(batch), bank.factor()))
        if report:
            report(i + 1, batches)
    return out


BANDS = ((0, 30, "q<30"), (30, 70, "q30-69"), (70, 90, "q70-89"), (90, 101, "q90-100"))


class BandedGains:
    """Squared errors of chroma samples before and after a correction, summed per band of
    qualities (`BANDS`) and in all; `db()` the PSNR gained (the ratio of the sums)."""

    def __init__(self) -> None:
        self.sums: dict[str, list[float]] = {}

    def add(self, qualities, before, after, truth) -> None:
        """One batch: qualities (B,), samples (B, 2, H, W) before, after and true."""
        errors = zip(((before - truth) ** 2).mean((1, 2, 3)).tolist(), ((after - truth) ** 2).mean((1, 2, 3)).tolist())
        for q, (b, a) in zip(qualities.tolist(), errors):
            for key in (next(name for low, high, name in BANDS if low <= q < high), "all"):
                pair = self.sums.setdefault(key, [0.0, 0.0])
                pair[0], pair[1] = pair[0] + b, pair[1] + a

    def db(self) -> dict[str, float]:
        return {k: 10 * math.log10(b / max(a, 1e-12)) for k, (b, a) in self.sums.items()}


def budget_lr(lr: float, spent: float, step: int, steps: int) -> float:
    """The learning rate of a fit bounded by time and steps: a cosine in the larger share of
    either spent (`spent` of the time), from `lr` down to 1 % of it."""
    return lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * max(spent, step / steps))))
