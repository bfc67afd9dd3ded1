"""The photos and patches the colour stages after the networks (the refinement, the detail
network) are fitted on: the training pool without the trainer's hold-out, each photo brought
to the scale at which its colour is real (`qgac_cli.train.audit`), drawn at the qualities and
subsamplings users hold."""

from __future__ import annotations

import numpy as np

from qgac_cli.data import PatchConfig, list_images, load_rgb
from qgac_cli.train.audit import real_colour_scale, shrink

# what users hold: more high quality and 4:2:0 than the networks' training drew
COLOUR_PATCHES = PatchConfig(
    size=128,
    qualities=(5, 100),
    low_quality_bias=0.3,
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
