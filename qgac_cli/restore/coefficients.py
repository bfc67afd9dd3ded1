"""JPEG coefficients as tensors, and the pure maths between them and pixels.

A `Planes` holds dequantized coefficients as block channels (see `qgac_cli.restore.dct`): Y on a grid
padded to whole MCUs, chroma (Cb, Cr stacked) at its stored resolution, the tables as
(B, 1, 8, 8) and how to get back to the visible image (chroma factor, size).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from qgac_cli.codec.jpeg import JpegData
from qgac_cli.restore import dct


@dataclass(frozen=True)
class Planes:
    y: torch.Tensor  # (B, 64, hy, wy) dequantized luma coefficients, MCU-padded grid
    y_table: torch.Tensor  # (B, 1, 8, 8)
    chroma: torch.Tensor | None  # (B, 2, 64, hc, wc) dequantized Cb, Cr; None for grayscale
    c_table: torch.Tensor | None  # (B, 1, 8, 8)
    factor: tuple[int, int]  # Y resolution / chroma resolution (vertical, horizontal)
    height: int
    width: int

    @property
    def is_color(self) -> bool:
        return self.chroma is not None

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> Planes:
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device=device, dtype=dtype)

        return replace(
            self,
            y=move(self.y),
            y_table=move(self.y_table),
            chroma=move(self.chroma),
            c_table=move(self.c_table),
        )


def _blocks_to_channels(coefficients: np.ndarray) -> torch.Tensor:
    """(by, bx, 8, 8) ints -> (1, 64, by, bx) float."""
    t = torch.from_numpy(np.ascontiguousarray(coefficients.transpose(2, 3, 0, 1), dtype=np.float32))
    return t.reshape(1, 64, *coefficients.shape[:2])  # (1, 64, by, bx)


def _window(coefficients: np.ndarray, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
    """Blocks [r0, r1) x [c0, c1) of (by, bx, 8, 8) coefficients; indices past the edge repeat
    the edge blocks (replicate padding)."""
    by, bx = coefficients.shape[:2]
    if rows[1] <= by and cols[1] <= bx:
        return coefficients[rows[0] : rows[1], cols[0] : cols[1]]  # a view: nothing copied
    r = np.clip(np.arange(*rows), 0, by - 1)
    c = np.clip(np.arange(*cols), 0, bx - 1)
    return coefficients[r][:, c]


def _table(table: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(table, dtype=np.float32)).reshape(1, 1, 8, 8)


def mcu_grid(jpeg: JpegData) -> tuple[int, int]:
    """How many MCUs (rows, columns) the restoration grid of a JPEG has: the chroma's blocks,
    or Y's for grayscale."""
    return jpeg.components[-1].coefficients.shape[:2]


def from_jpeg(jpeg: JpegData, rows: tuple[int, int] | None = None, cols: tuple[int, int] | None = None) -> Planes:
    """Dequantized tensors of a JPEG's coefficients (batch of one), whole or of the MCU window
    rows x cols: only the window is made float, so a large image is held as integers until a
    tile needs it. A window's visible size ends where the image ends."""
    grid = mcu_grid(jpeg)
    rows, cols = rows or (0, grid[0]), cols or (0, grid[1])
    fy, fx = jpeg.chroma_factor
    y_rows, y_cols = (rows[0] * fy, rows[1] * fy), (cols[0] * fx, cols[1] * fx)
    height = min((y_rows[1] - y_rows[0]) * 8, jpeg.height - y_rows[0] * 8)
    width = min((y_cols[1] - y_cols[0]) * 8, jpeg.width - y_cols[0] * 8)
    y_table = _table(jpeg.table_for(0))
    y = _blocks_to_channels(_window(jpeg.components[0].coefficients, y_rows, y_cols)) * dct.table_channels(y_table)
    if len(jpeg.components) == 1:
        return Planes(y, y_table, None, None, (1, 1), height, width)
    c_table = _table(jpeg.table_for(1))
    cb, cr = (
        _blocks_to_channels(_window(c.coefficients, rows, cols))
        * dct.table_channels(_table(jpeg.tables[c.table_index]))
        for c in jpeg.components[1:]
    )
    return Planes(y, y_table, torch.stack([cb, cr], dim=1), c_table, (fy, fx), height, width)


def colourfulness(jpeg: JpegData, percentile: float = 99.0) -> float:
    """How far from grey a colour JPEG's colour strays, in levels: the `percentile` of its
    chroma blocks' mean distance from grey (the farther of Cb and Cr), read from the DC
    coefficients alone, so it costs nothing on any image size. 0 for a grayscale file."""
    if len(jpeg.components) < 3:
        return 0.0
    distance = None
    for i in (1, 2):
        dc = jpeg.components[i].coefficients[..., 0, 0]
        mean = np.abs(dc.astype(np.float32)) * float(jpeg.table_for(i)[0, 0]) / 8.0  # DC = 8 x the block mean
        distance = mean if distance is None else np.maximum(distance, mean)
    return float(np.percentile(distance, percentile))


def samples(blocks: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    """Dequantized block channels (B, 64, h, w) -> samples (B, 1, 8h, 8w), range-limited to
    0..255 as libjpeg does after its IDCT (clamp=False for training losses, where a clamp
    would stop the gradient of every saturated sample)."""
    out = _inplace(dct.from_blocks(dct.block_idct(blocks)), torch.Tensor.add_, torch.add, 128.0)
    return _inplace(out, torch.Tensor.clamp_, torch.clamp, 0.0, 255.0) if clamp else out


def _inplace(t: torch.Tensor, in_place, out_of_place, *args) -> torch.Tensor:
    """`in_place(t, *args)` on a fresh result that autograd does not track (inference: a pass
    over memory and an allocation saved), `out_of_place(t, *args)` where it does."""
    return out_of_place(t, *args) if t.requires_grad else in_place(t, *args)


def chroma_samples(planes: Planes, chroma: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    """Chroma block channels (B, 2, 64, hc, wc) -> upsampled samples (B, 2, Hy, Wy).

    As libjpeg does, the filter sees only the chroma samples inside the image (the edge
    replicated beyond); the result is padded out to the luma grid. `clamp` as for `samples`.
    """
    b = chroma.shape[0]
    fy, fx = planes.factor
    flat = samples(chroma.flatten(0, 1), clamp)  # (2B, 1, 8hc, 8wc)
    inside = flat[..., : -(-planes.height // fy), : -(-planes.width // fx)]
    up = dct.upsample(inside, planes.factor)
    pad = (0, flat.shape[-1] * fx - up.shape[-1], 0, flat.shape[-2] * fy - up.shape[-2])
    full = F.pad(up, pad, mode="replicate") if any(pad) else up
    return full.reshape(b, 2, *full.shape[-2:])  # (B, 2, Hy, Wy)


def to_pixels(
    planes: Planes,
    y: torch.Tensor | None = None,
    color: torch.Tensor | None = None,
    clamp: bool = True,
    luma: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pixels (B, C, H, W) in [0, 1] from the planes' coefficients.

    `y` replaces the luma coefficients, `color` gives full-resolution chroma samples
    (B, 2, Hy, Wy) in place of upsampling the stored chroma; `luma`, the samples of `y`
    (`samples(y, clamp)`) where the caller has made them already.
    """
    if luma is None:
        luma = samples(planes.y if y is None else y, clamp)  # (B, 1, Hy, Wy)
    if planes.is_color:
        if color is None:
            color = chroma_samples(planes, planes.chroma)
        pixels = dct.luma_chroma_to_rgb(luma, color)
    else:
        pixels = luma / 255.0
    pixels = pixels[..., : planes.height, : planes.width]
    return _inplace(pixels, torch.Tensor.clamp_, torch.clamp, 0.0, 1.0) if clamp else pixels


# Coefficients quantized with a step this small are kept as the file has them: the file is
# then within one level of the truth, finer than the network resolves (measured: restoring
# them lost 1.4 dB on Classic-5 at quality 100, keeping them gains +0.05).
EXACT_STEP = 2.0


def project_coefficients(
    restored: torch.Tensor, original: torch.Tensor, table: torch.Tensor, exact_step: float = EXACT_STEP
) -> torch.Tensor:
    """Clamp restored coefficients (B, 64, h, w) into the quantization interval of the original.

    Every true coefficient lies within half a step of its dequantized value, so the clamp can
    only move the restoration closer to the truth. Frequencies whose step is at most
    `exact_step` keep the file's value.
    """
    step = dct.table_channels(table)
    half = torch.where(step <= exact_step, torch.zeros_like(step), step / 2.0)
    return torch.maximum(torch.minimum(restored, original + half), original - half)


def project_chroma(restored: torch.Tensor, planes: Planes) -> torch.Tensor:
    """Project full-resolution chroma samples (B, 2, Hy, Wy) onto the set whose downsampled
    DCT lies in the stored chroma's quantization intervals (`project_onto_stored`)."""
    assert planes.chroma is not None and planes.c_table is not None
    return project_onto_stored(restored, planes.chroma, planes.c_table, planes.factor)


def project_onto_stored(
    restored: torch.Tensor, chroma: torch.Tensor, c_table: torch.Tensor, factor: tuple[int, int]
) -> torch.Tensor:
    """`project_chroma` given the stored chroma coefficients (B, 2, 64, hc, wc), their table
    (B, 1, 8, 8) and the chroma factor.

    The encoder box-averages by the chroma factor; nearest-neighbour replication is the
    pseudo-inverse of that average, so adding the replicated correction is the exact
    orthogonal projection.
    """
    b = restored.shape[0]
    low = dct.downsample(restored, factor).flatten(0, 1).unsqueeze(1) - 128.0  # (2B, 1, h, w)
    coefficients = dct.block_dct(dct.to_blocks(low))  # (2B, 64, hc, wc)
    table = c_table.repeat_interleave(2, dim=0)
    clamped = project_coefficients(coefficients, chroma.flatten(0, 1), table)
    delta = dct.from_blocks(dct.block_idct(clamped - coefficients))  # (2B, 1, h, w)
    return dct.add_replicated(restored, delta.reshape(b, 2, *delta.shape[-2:]), factor)


def chroma_at_luma_grid(planes: Planes, stored: torch.Tensor | None = None) -> torch.Tensor:
    """Stored chroma brought to the luma grid in pixel space, as coefficients (B, 2, 64, hy, wy).

    Upsampling happens on raw samples (libjpeg's triangle filter), never on normalized
    coefficients, so at the network's zero-residual start the decode equals libjpeg's.
    `stored`: those samples, `chroma_samples(planes, planes.chroma)`, where the caller has them.
    """
    assert planes.chroma is not None
    if stored is None:
        stored = chroma_samples(planes, planes.chroma)
    b = stored.shape[0]
    blocks = dct.block_dct(dct.to_blocks(stored.flatten(0, 1).unsqueeze(1)))  # (2B, 64, hy, wy)
    # the level shift (-128 on every sample) moves only the DC coefficient, by -8 x 128
    shift = torch.zeros(64, 1, 1, dtype=blocks.dtype, device=blocks.device)
    shift[0] = -128.0 * dct.BLOCK
    blocks = _inplace(blocks, torch.Tensor.add_, torch.add, shift)
    return blocks.view(b, 2, *blocks.shape[1:])


def color_samples(chroma: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    """Chroma coefficients at the luma grid (B, 2, 64, hy, wy) -> samples (B, 2, Hy, Wy)."""
    b = chroma.shape[0]
    flat = samples(chroma.flatten(0, 1), clamp)  # (2B, 1, Hy, Wy)
    return flat.view(b, 2, *flat.shape[-2:])
