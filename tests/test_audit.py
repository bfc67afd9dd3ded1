"""The pool audit's colour test (issue #31): what it measures and which scale it picks."""

from __future__ import annotations

import numpy as np
from conftest import photo
from PIL import Image

from qgac_cli.train.audit import REAL_COLOUR_DB, colour_test, real_colour_scale, shrink


def flattened_colour(rgb: np.ndarray, factor: int) -> np.ndarray:
    """The image with its chroma made `factor` times coarser (as a past of 4:2:0 and resizing
    leaves it), its luma kept."""
    ycbcr = np.asarray(Image.fromarray(rgb).convert("YCbCr")).copy()
    h, w = ycbcr.shape[:2]
    for c in (1, 2):
        plane = Image.fromarray(ycbcr[..., c]).resize((w // factor, h // factor), Image.BOX)
        ycbcr[..., c] = np.asarray(plane.resize((w, h), Image.BILINEAR))
    return np.asarray(Image.fromarray(ycbcr, "YCbCr").convert("RGB"))


def test_the_colour_test_is_high_where_colour_detail_is_gone():
    rgb = photo(256, 256, seed=2)
    grey = np.repeat(rgb[..., :1], 3, axis=2)
    assert colour_test(grey) > 100  # nothing but rounding
    detailed, flattened = colour_test(rgb), colour_test(flattened_colour(rgb, 4))
    assert detailed < REAL_COLOUR_DB < flattened, (detailed, flattened)
    assert colour_test(shrink(flattened_colour(rgb, 4), 4)) < flattened  # shrinking brings detail back


def test_the_least_shrink_to_real_colour_is_chosen_and_patches_still_fit():
    rgb = photo(512, 512, seed=4)
    assert real_colour_scale(rgb).scale == 1
    flattened = flattened_colour(rgb, 4)
    found = real_colour_scale(flattened)
    assert found.real and found.scale > 1 and found.colour_db_at_scale <= REAL_COLOUR_DB < found.colour_db
    small = real_colour_scale(flattened[:200, :200])  # no shrink may leave a side under 128
    assert small.scale == 1 and not small.real
