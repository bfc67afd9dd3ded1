"""Test-time augmentation: a picture restored as it is and mirrored, the results averaged.

A network trained on flipped patches is nearly, not exactly, the same under a mirror: its
errors differ between a picture and its mirror image, and their mean is closer to the truth
than either (`fast` on Live-1, 4 mirrors: +0.05 / +0.03 / +0.02 / +0.01 dB at q10 / q50 / q90
/ q100, weights/README.md). Mirroring is exact in the DCT domain: blocks taken in the reverse
order along an axis, and each coefficient of odd frequency along it negated. So the file's
quantization intervals and tables are the same for every mirror (an interval [q(k - ½),
q(k + ½)] negated is that of -k) and nothing is re-encoded. Transposes are left out: they
would hand the network the transposed tables, which it never saw in training (measured: the
transposed picture alone −0.02 dB at q10 / q50).

Tensor conventions as in `qgac_cli.restore.coefficients`: block channels in natural order,
channel 8·v + u for vertical frequency v and horizontal frequency u.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch

from qgac_cli.choices import TTA_COUNTS
from qgac_cli.restore.coefficients import Planes

# (horizontal, vertical) mirrors, in the order `TTA_COUNTS` take them: 2 is left-right, 4 adds
# up-down and both
MIRRORS = ((False, False), (True, False), (False, True), (True, True))


def odd_frequency_signs(horizontal: bool) -> torch.Tensor:
    """(64,) ±1: -1 on the channels of odd horizontal (or vertical) frequency."""
    frequency = torch.arange(64) % 8 if horizontal else torch.arange(64) // 8
    return 1.0 - 2.0 * (frequency % 2).float()


def _mirror_blocks(blocks: torch.Tensor, horizontal: bool, vertical: bool, channel_dim: int) -> torch.Tensor:
    """Block channels (..., 64, h, w) with the 64 channels at `channel_dim`, mirrored."""
    shape = [1] * blocks.dim()
    shape[channel_dim] = 64
    for flip, along in ((horizontal, True), (vertical, False)):
        if flip:
            signs = odd_frequency_signs(along).to(blocks).view(shape)
            blocks = blocks.flip(-1 if along else -2) * signs
    return blocks


def mirror_planes(planes: Planes, horizontal: bool, vertical: bool) -> Planes:
    """The planes of the mirrored picture, whole grid visible (the padding to whole MCUs
    lies at the start of a mirrored axis, so `unmirror` crops after mirroring back)."""
    chroma = planes.chroma
    return replace(
        planes,
        y=_mirror_blocks(planes.y, horizontal, vertical, 1),  # (B, 64, hy, wy)
        chroma=None if chroma is None else _mirror_blocks(chroma, horizontal, vertical, 2),  # (B, 2, 64, hc, wc)
        height=planes.y.shape[-2] * 8,
        width=planes.y.shape[-1] * 8,
    )


def unmirror(pixels: torch.Tensor, horizontal: bool, vertical: bool, height: int, width: int) -> torch.Tensor:
    """Pixels (B, C, H, W) of a mirrored whole grid, mirrored back and cut to height × width."""
    dims = [d for d, flip in ((-1, horizontal), (-2, vertical)) if flip]
    pixels = pixels.flip(dims) if dims else pixels
    return pixels[..., :height, :width]


def mean_of_mirrors(restore: Callable[[Planes], torch.Tensor], planes: Planes, count: int) -> torch.Tensor:
    """The mean of `restore(planes)` (pixels (B, C, H, W)) over the first `count` of `MIRRORS`,
    each mirrored back: `count` times the work, one extra picture of memory."""
    if count not in TTA_COUNTS:
        raise ValueError(f"mirrors to average: one of {TTA_COUNTS}, not {count}")
    if count == 1:
        return restore(planes)
    total = None
    for horizontal, vertical in MIRRORS[:count]:
        restored = restore(mirror_planes(planes, horizontal, vertical))
        pixels = unmirror(restored, horizontal, vertical, planes.height, planes.width)
        total = pixels if total is None else total.add_(pixels)
    return total.div_(count)
