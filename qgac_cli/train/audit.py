"""Which training photos have real colour (issue #31's pool audit), torch-free.

A photo that was once a 4:2:0 JPEG, or whose camera smoothed its colour, has lost its fine
colour for good; trained on as it is, it teaches a colour network that blurred colour is the
truth. The test: the PSNR of its Cb and Cr against their own 2×-down-then-up round trip (box
down, as encoders subsample; the decoder's triangle filter up). High means no colour detail
left. Shrinking a photo by area brings its colour back toward the detail a photo has at that
size; `real_colour_scale` is the least shrink at which the test falls to a real photo's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

# Live-1's median colour test is 47.0 dB (two thirds of its photos above 45): a photo at or
# below this has the colour detail of the photos qgac is measured on
REAL_COLOUR_DB = 47.0
SCALES = (1, 2, 3, 4)


def chroma(rgb: np.ndarray) -> np.ndarray:
    """Cb and Cr (2, H, W) float64 of uint8 RGB (H, W, 3), JFIF."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    cb = -0.168735892 * r - 0.331264108 * g + 0.5 * b + 128.0
    cr = 0.5 * r - 0.418687589 * g - 0.081312411 * b + 128.0
    return np.stack([cb, cr])


def box_down(planes: np.ndarray) -> np.ndarray:
    """Planes (C, H, W) averaged over 2×2 boxes, as encoders subsample (an odd last row or
    column dropped)."""
    h, w = planes.shape[-2] // 2 * 2, planes.shape[-1] // 2 * 2
    p = planes[..., :h, :w]
    return (p[..., 0::2, 0::2] + p[..., 1::2, 0::2] + p[..., 0::2, 1::2] + p[..., 1::2, 1::2]) / 4.0


def _up_axis(planes: np.ndarray, axis: int) -> np.ndarray:
    """libjpeg's triangle ("fancy") 2× upsampling along one axis, edges replicated."""
    before = np.concatenate([np.take(planes, [0], axis), np.take(planes, range(planes.shape[axis] - 1), axis)], axis)
    after = np.concatenate([np.take(planes, range(1, planes.shape[axis]), axis), np.take(planes, [-1], axis)], axis)
    even, odd = 0.75 * planes + 0.25 * before, 0.75 * planes + 0.25 * after
    return np.stack([even, odd], axis=axis + 1).reshape(*planes.shape[:axis], -1, *planes.shape[axis + 1 :])


def round_trip(planes: np.ndarray) -> np.ndarray:
    """Planes (C, H, W) boxed down 2× as encoders subsample and brought back up by the
    decoder's triangle filter (an odd last row or column dropped): what 4:2:0 keeps of them."""
    return _up_axis(_up_axis(box_down(planes), 1), 2)


def colour_test(rgb: np.ndarray) -> float:
    """PSNR (dB) of an image's chroma against its 2×-down-then-up round trip; inf for colour
    that no subsampling changes (flat, or grey)."""
    planes = chroma(rgb)
    h, w = planes.shape[-2] // 2 * 2, planes.shape[-1] // 2 * 2
    mse = float(np.mean((planes[:, :h, :w] - round_trip(planes)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def shrink(rgb: np.ndarray, scale: int) -> np.ndarray:
    """The image shrunk `scale` times by area (PIL's box filter)."""
    if scale == 1:
        return rgb
    image = Image.fromarray(rgb)
    return np.asarray(image.resize((image.width // scale, image.height // scale), Image.BOX))


@dataclass(frozen=True)
class Audit:
    scale: int  # the least shrink at which the colour is real (or the largest tried)
    colour_db: float  # the colour test as the photo is
    colour_db_at_scale: float
    real: bool  # whether the colour test reached REAL_COLOUR_DB at any scale tried


def real_colour_scale(rgb: np.ndarray, threshold: float = REAL_COLOUR_DB, scales=SCALES, min_side: int = 128) -> Audit:
    """The least of `scales` at which the photo's colour test is at most `threshold`; a shrink
    that would leave a side under `min_side` (a training patch) is not tried."""
    first = colour_test(rgb)
    tried = first
    for scale in scales:
        if min(rgb.shape[:2]) // scale < min_side:
            break
        tried = first if scale == 1 else colour_test(shrink(rgb, scale))
        if tried <= threshold:
            return Audit(scale, first, tried, True)
    usable = [s for s in scales if min(rgb.shape[:2]) // s >= min_side] or [1]
    return Audit(usable[-1], first, tried, False)
