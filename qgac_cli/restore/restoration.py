"""The restoration itself: model + planes -> pixels. Pure tensors; no files, no devices chosen."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from qgac_cli.model import QGAC
from qgac_cli.restore.coefficients import (
    Planes,
    chroma_at_luma_grid,
    chroma_samples,
    color_samples,
    project_chroma,
    project_coefficients,
    samples,
    to_pixels,
)


@dataclass(frozen=True)
class Restored:
    y: torch.Tensor  # (B, 64, hy, wy) restored raw luma coefficients
    color: torch.Tensor | None  # (B, 2, Hy, Wy) restored chroma samples, 0..255
    pixels: torch.Tensor  # (B, C, H, W) in [0, 1]


@dataclass(frozen=True)
class GreyGuard:
    """Keeps near-grey photos grey.

    Guided by the restored Y, the colour network learned to sharpen colour along luma edges;
    on a photo that is nearly grey it also *makes up* colour there (chroma error 1.7x the
    JPEG's on faded Live-1 photos at q10, worse than the JPEG on 7 of 10 at q50:
    `bench/near_grey.py`). So in a photo whose stored colour is nowhere far from grey, the
    network's colour correction is scaled by how much colour the file itself has nearby:
    fully where the stored chroma strays `levels` or more from grey within `window` pixels,
    not at all where it is exactly grey. A photo is colourful, and left to the network
    untouched, when its colourfulness (the 99th percentile of its blocks' mean distance from
    grey, `coefficients.colourfulness`) is `colourful` levels or more; between `grey` and
    `colourful` the guard fades out. Every Live-1 and hold-out photo measured ≥ 16 levels;
    photos faded to 5 % of their saturation ≤ 5.2.
    """

    window: int = 33  # pixels (odd): the neighbourhood whose stored colour licenses a correction
    levels: float = 3.0  # stored colour (levels from grey) at which the correction is whole
    grey: float = 6.0  # colourfulness (levels) at or below which the guard acts fully
    colourful: float = 12.0  # colourfulness at or above which it does not act


def guard_floor(colourfulness: float, guard: GreyGuard = GreyGuard()) -> float:
    """The least share of the colour correction kept anywhere in a photo: 1 (no guard) for a
    colourful photo, 0 for a near-grey one."""
    return min(1.0, max(0.0, (colourfulness - guard.grey) / (guard.colourful - guard.grey)))


def grey_guard(
    color: torch.Tensor, stored: torch.Tensor | None, floor: float, guard: GreyGuard = GreyGuard()
) -> torch.Tensor:
    """Scale the correction `color - stored` (chroma samples (B, 2, H, W), 0..255) by the
    stored colour nearby, never below `floor` (`guard_floor`; at 1 the colour is returned as it
    is and `stored` may be None)."""
    if floor >= 1.0:
        return color
    assert stored is not None
    h, w = stored.shape[-2:]
    distance = (stored - 128.0).abs().amax(1, keepdim=True)  # (B, 1, H, W): the farther of Cb, Cr
    nearby = F.max_pool2d(distance, guard.window, stride=1, padding=guard.window // 2)[..., :h, :w]
    share = (nearby / guard.levels).clamp(min=floor, max=1.0)
    return stored + share * (color - stored)


def network_colour(
    model: QGAC,
    planes: Planes,
    y: torch.Tensor,
    stored: torch.Tensor | None = None,
    dtype: torch.dtype | None = None,
    clamp: bool = True,
) -> torch.Tensor:
    """The colour network's chroma samples (B, 2, H, W) at the luma grid, guided by restored
    Y coefficients `y`: before any refinement, guard or projection (what the refinement and
    the detail network are fitted to). `stored`: the stored colour's samples (`chroma_samples`)
    where the caller has them. No tensor of the network outlives the samples made of it."""
    if model.stored_grid:  # restored where it is stored, then upsampled as the decoder does
        restored = model.restore_color(planes.chroma, y, planes.c_table, planes.y_table, dtype, planes.factor)
        return chroma_samples(planes, restored, clamp)
    chroma = chroma_at_luma_grid(planes, stored)
    return color_samples(model.restore_color(chroma, y, planes.c_table, planes.y_table, dtype), clamp)


def restore_planes(
    model: QGAC,
    planes: Planes,
    project: bool = True,
    dtype: torch.dtype | None = None,
    grey_floor: float = 1.0,
    *,
    clamp: bool = True,
    frozen_y: bool = False,
) -> Restored:
    """The model's one path, for restoring and for training alike: Y, then Cb and Cr guided by
    the restored Y, then the colour refined by the luma where the model has a refinement;
    optionally every plane projected back into the quantization intervals of the file (never
    farther from the truth, REFERENCE §1). `grey_floor` < 1 applies the `GreyGuard` (the
    photo's `guard_floor`) to the colour. Training asks for no clamp (a clamp stops the
    gradient of every saturated sample) and, in the colour stage, a Y without gradients
    (`frozen_y`); planes without chroma give the luma alone (the Y stage)."""
    with torch.no_grad() if frozen_y else contextlib.nullcontext():
        y = model.restore_y(planes.y, planes.y_table, dtype)
    if project:
        y = project_coefficients(y, planes.y, planes.y_table)
    if not planes.is_color:
        return Restored(y, None, to_pixels(planes, y=y, clamp=clamp))
    if not model.training and not planes.chroma.any():  # a grey picture stored in colour: add no colour
        stored = chroma_samples(planes, planes.chroma)
        return Restored(y, stored, to_pixels(planes, y=y, color=stored, clamp=clamp))
    # the stored colour as libjpeg decodes it, at the luma grid, kept only where the guard will
    # look at it again (else two planes of the tile freed before the networks run)
    stored = chroma_samples(planes, planes.chroma) if grey_floor < 1.0 else None
    color = network_colour(model, planes, y, stored, dtype, clamp)
    luma = None
    if model.refine is not None or model.detail is not None:  # the luma's samples, made once for them and the pixels
        luma = samples(y, clamp)
        color = model.refine_color(color, luma, planes.y_table, planes.c_table, planes.factor)
    color = grey_guard(color, stored, grey_floor)
    if project:
        color = project_chroma(color, planes)
    return Restored(y, color, to_pixels(planes, y=y, color=color, clamp=clamp, luma=luma))
