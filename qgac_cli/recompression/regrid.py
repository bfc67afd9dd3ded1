"""A recompressed JPEG brought back to its first compression, for the networks to restore."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from qgac_cli.codec.jpeg import Component, JpegData
from qgac_cli.recompression.finding import MARGIN, FirstCompression
from qgac_cli.recompression.pixels import block_coefficients, samples

BAND = 32  # block rows made at a time: a large picture is never held as floats whole


def first_grid(coefficients: np.ndarray, table: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A component's coefficients and table brought back to the first compression's grid:
    where the first step is clearly coarser than the file's, each value is requantized to the
    nearest multiple of the first step (the first file's own value, as the noise between the
    saves is under half a step), else kept. Returns new (coefficients, table) of the same
    shapes; made BAND block rows at a time, in float32 (a large picture is never held whole)."""
    table = np.asarray(table, dtype=np.int64)
    use = np.asarray(first, dtype=np.int64) >= table + MARGIN  # (8, 8)
    target = np.where(use, first, table)
    out = coefficients.copy()
    ratio = (table[use] / target[use]).astype(np.float32)  # (n,) file step over first step
    for b0 in range(0, len(out), BAND):
        band = out[b0 : b0 + BAND]  # a view: written in place
        band[..., use] = np.round(band[..., use] * ratio)
    return out, target


def as_first_compression(jpeg: JpegData, found: FirstCompression) -> tuple[JpegData, tuple[int, int]]:
    """The JPEG as its first compression left it, and the rows and columns to cut from the
    top and left of its restoration to get the file's picture back (nonzero for a shifted
    first grid, whose blocks the picture is padded to). The networks are then conditioned on
    the damage that is there, and the projection keeps what is still true."""
    if found.offset == (0, 0):
        return _requantized(jpeg, found), (0, 0)
    return _regridded(jpeg, found)


def _requantized(jpeg: JpegData, found: FirstCompression) -> JpegData:
    """On the file's grid: Y (and chroma where it shows the first table too) requantized onto
    the first steps, with those tables (appended to the file's, so that a component left as it
    is keeps its own)."""
    tables = list(jpeg.tables)
    components = list(jpeg.components)
    plan = [(0, found.luma)] + ([(1, found.chroma), (2, found.chroma)] if found.chroma_found else [])
    for i, first in plan:
        c = components[i]
        coefficients, table = first_grid(c.coefficients, jpeg.tables[c.table_index], first)
        index = next((j for j, t in enumerate(tables) if np.array_equal(t, table)), len(tables))
        if index == len(tables):
            tables.append(table)
        components[i] = replace(c, coefficients=coefficients, table_index=index)
    return replace(jpeg, components=tuple(components), tables=tuple(tables))


def _regridded(jpeg: JpegData, found: FirstCompression) -> tuple[JpegData, tuple[int, int]]:
    """On a shifted grid: the decoded picture padded (edges replicated) so that the first
    grid's blocks begin at its corner, transformed on that grid and quantized with the first
    tables (the chroma with the file's own where its first grid was not found)."""
    fy, fx = jpeg.chroma_factor
    mcu = (8 * fy, 8 * fx) if found.chroma_found else (8, 8)
    pad = tuple((-o) % m for o, m in zip(found.offset, mcu))
    height, width = jpeg.height + pad[0], jpeg.width + pad[1]
    grid = (-(-height // (8 * fy)), -(-width // (8 * fx)))  # MCUs
    tables = [found.luma]
    components = [_regrid(jpeg, 0, pad, (grid[0] * fy, grid[1] * fx), found.luma)]
    if len(jpeg.components) == 3:
        chroma = found.chroma if found.chroma_found else jpeg.table_for(1)
        tables.append(chroma)
        components += [_regrid(jpeg, i, pad, grid, chroma, 1) for i in (1, 2)]
    return replace(jpeg, width=width, height=height, components=tuple(components), tables=tuple(tables)), pad


def _regrid(
    jpeg: JpegData, component: int, pad: tuple[int, int], blocks: tuple[int, int], table: np.ndarray, index: int = 0
) -> Component:
    """One component on the padded first grid, quantized with `table`: `blocks` (rows,
    columns) of them, made BAND block rows at a time."""
    c = jpeg.components[component]
    factor = tuple(y // s for y, s in zip(jpeg.components[0].sampling, c.sampling))
    visible = (-(-jpeg.height // factor[0]), -(-jpeg.width // factor[1]))  # the stored samples inside the picture
    out = np.empty((*blocks, 8, 8), dtype=np.int16)
    columns = _taps(np.arange(8 * blocks[1]), pad[1], factor[1], visible[1])
    for b0 in range(0, blocks[0], BAND):
        b1 = min(blocks[0], b0 + BAND)
        rows = _taps(np.arange(8 * b0, 8 * b1), pad[0], factor[0], visible[0])
        first, last = min(r.min() for r, _ in rows), max(r.max() for r, _ in rows)
        plane = samples(c.coefficients[first // 8 : last // 8 + 1], jpeg.tables[c.table_index])
        band = sum(w * plane[r - first // 8 * 8] for r, w in rows)  # (rows of the band, stored columns)
        band = sum(w * band[:, k] for k, w in columns)  # (rows, columns) of the padded picture
        out[b0:b1] = np.round(block_coefficients(band) / table)
    return replace(c, coefficients=out, table_index=index)


def _taps(out: np.ndarray, pad: int, factor: int, visible: int) -> list[tuple[np.ndarray, float]]:
    """Samples `out` (indices) of a component subsampled by `factor` as they would be stored
    had the picture been padded by `pad` luma pixels before them (edges replicated) and
    box-averaged again: out[j] = ((f - r)·c[j - q] + r·c[j - q - 1]) / f with q, r =
    divmod(pad, f), as (indices into the `visible` stored samples, weight) pairs."""
    q, r = divmod(pad, factor)
    near = np.clip(out - q, 0, visible - 1)
    if r == 0:
        return [(near, 1.0)]
    return [(near, (factor - r) / factor), (np.clip(out - q - 1, 0, visible - 1), r / factor)]
