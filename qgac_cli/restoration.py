"""The restoration itself: model + planes -> pixels. Pure tensors; no files, no devices chosen."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from qgac_cli.coefficients import (
    Planes,
    chroma_at_luma_grid,
    chroma_samples,
    color_samples,
    project_chroma,
    project_coefficients,
    to_pixels,
)
from qgac_cli.model import QGAC


@dataclass(frozen=True)
class Restored:
    y: torch.Tensor  # (B, 64, hy, wy) restored raw luma coefficients
    color: torch.Tensor | None  # (B, 2, Hy, Wy) restored chroma samples, 0..255
    pixels: torch.Tensor  # (B, C, H, W) in [0, 1]


def restore_planes(model: QGAC, planes: Planes, project: bool = True, dtype: torch.dtype | None = None) -> Restored:
    """Restore Y, then Cb and Cr guided by the restored Y; optionally project every plane back
    into the quantization intervals of the file (never farther from the truth, REFERENCE §1)."""
    y = model.restore_y(planes.y, planes.y_table, dtype)
    if project:
        y = project_coefficients(y, planes.y, planes.y_table)
    if not planes.is_color:
        return Restored(y, None, to_pixels(planes, y=y))
    if not planes.chroma.any():  # a grey picture stored in colour: no colour to restore, add none
        color = chroma_samples(planes, planes.chroma)
        return Restored(y, color, to_pixels(planes, y=y, color=color))
    chroma = model.restore_color(chroma_at_luma_grid(planes), y, planes.c_table, planes.y_table, dtype)
    color = color_samples(chroma)
    if project:
        color = project_chroma(color, planes)
    return Restored(y, color, to_pixels(planes, y=y, color=color))
