"""A first compression on a shifted grid: a photo cropped between its saves.

Its first blocks begin at an offset from the file's: their edges show as steps in the
decoded luma at one phase of every 8 rows and columns, and the first compression's periods
in the DCT of blocks taken on that grid.
"""

from __future__ import annotations

import numpy as np

from qgac_cli.codec.jpeg import JpegData
from qgac_cli.recompression.finding import (
    CHROMA_TABLES,
    EVIDENCE,
    IJG_SHARE,
    LUMA_TABLES,
    MARGIN,
    MIN_BLOCKS,
    FirstCompression,
    free_evidence,
    measured_steps,
    sample_blocks,
    tables_at,
)
from qgac_cli.recompression.likelihood import FREQUENCIES, quality_evidence
from qgac_cli.recompression.pixels import block_coefficients, downsampled, samples

WINDOW = 1024  # pixels: the central window (at most WINDOW²) in which a shifted grid is sought
PHASES = 2  # phases tried on each axis, the steepest first
# A phase other than the file's own is tried only where its mean step is this much above the
# median phase's (a first compression's edges measured 1.13-1.6 times; photos without one
# up to 1.5, so the coefficients decide).
EDGES = 1.08
GRID_STEP = 2.0  # the shifted grid's coefficients are real numbers: binned by this step
GRID_NOISE = 2.0  # what the second save added to them (its whole error, spread over the shifted blocks)


def phase_steps(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean absolute step between neighbouring rows, and columns, by phase, each over its
    median phase's: entry p averages the steps into rows (columns) p, p+8, p+16... (8,) each;
    a grid's edges stand out at one phase."""

    def along(a: np.ndarray) -> np.ndarray:
        steps = np.abs(np.diff(a, axis=0)).mean(1)  # (rows - 1,): the step into row i + 1
        phase = np.arange(1, a.shape[0]) % 8
        mean = np.bincount(phase, weights=steps, minlength=8) / np.maximum(np.bincount(phase, minlength=8), 1)
        return mean / max(float(np.median(mean)), 1e-9)

    return along(plane), along(plane.T)


def _span(length: int, size: int = WINDOW, align: int = 32) -> tuple[int, int]:
    """The central span (start, stop) of at most `size` pixels of `length`, starting on a
    multiple of `align` (so that every component's blocks and the MCUs keep their phase)."""
    size = min(length, size)
    start = (length - size) // 2 // align * align
    return start, start + size


def _window(jpeg: JpegData, component: int) -> np.ndarray:
    """A component's samples in the central window (`_span`) of the picture, at the luma's
    resolution (chroma replicated): only the window's blocks are transformed."""
    c = jpeg.components[component]
    fy, fx = (y // s for y, s in zip(jpeg.components[0].sampling, c.sampling))
    (top, bottom), (left, right) = _span(jpeg.height), _span(jpeg.width)
    rows, columns = (top // fy, -(-bottom // fy)), (left // fx, -(-right // fx))  # in the component's samples
    blocks = c.coefficients[rows[0] // 8 : -(-rows[1] // 8), columns[0] // 8 : -(-columns[1] // 8)]
    plane = samples(blocks, jpeg.tables[c.table_index])[: rows[1] - rows[0], : columns[1] - columns[0]]
    return plane.repeat(fy, 0).repeat(fx, 1)[: bottom - top, : right - left]


def _grid_blocks(plane: np.ndarray, phase: tuple[int, int]) -> np.ndarray:
    """(blocks, 64) coefficients of the blocks beginning at `phase`, binned by GRID_STEP."""
    c = block_coefficients(plane[phase[0] :, phase[1] :]).reshape(-1, 64)
    return sample_blocks(np.round(c / GRID_STEP).astype(np.int64))


def _phases(plane: np.ndarray) -> list[tuple[int, int]]:
    """The phases (rows, columns) where a shifted first grid may lie, likeliest first."""
    rows, columns = phase_steps(plane)
    pick = [[int(p) for p in np.argsort(a)[::-1][:PHASES] if p == 0 or a[p] >= EDGES] for a in (rows, columns)]
    pairs = [(r, c) for r in pick[0] for c in pick[1] if (r, c) != (0, 0)]
    return sorted(pairs, key=lambda rc: -(rows[rc[0]] + columns[rc[1]]))


def coarser(jpeg: JpegData) -> np.ndarray:
    """Indices (quality - 1) of the IJG qualities whose luma steps are coarser than the file's
    at every scored frequency: the first compressions sought on a shifted grid (a finer one
    there left less damage than the file's own)."""
    table = jpeg.table_for(0).ravel()
    return np.flatnonzero((LUMA_TABLES[:, FREQUENCIES] >= table[list(FREQUENCIES)] + MARGIN).all(1))


def on_shifted_grid(
    jpeg: JpegData, qualities: np.ndarray | None = None, threshold: float = EVIDENCE
) -> FirstCompression | None:
    """The first compression on the likeliest shifted grid whose evidence reaches `threshold`,
    among `qualities` (indices, quality - 1; default `coarser`)."""
    candidates = coarser(jpeg) if qualities is None else qualities
    if not len(candidates):
        return None
    y = _window(jpeg, 0)
    flat = np.full(64, GRID_STEP)
    for phase in _phases(y):
        blocks = _grid_blocks(y, phase)
        if len(blocks) < MIN_BLOCKS:
            continue
        totals, best = quality_evidence(blocks, flat, LUMA_TABLES[candidates], GRID_NOISE)
        i = int(np.argmax(totals))
        evidence = float(totals[i]) / len(blocks)
        if evidence >= threshold and evidence > 0:
            q = int(candidates[i]) + 1
            ijg = bool(totals[i] >= IJG_SHARE * free_evidence(best))
            luma, chroma = tables_at(q)
            offset, chroma_found = _chroma_offset(jpeg, phase, q)
            measured = measured_steps(best, len(blocks))
            return FirstCompression(q, luma, chroma, evidence, ijg, chroma_found, offset=offset, measured=measured)
    return None


def _chroma_offset(jpeg: JpegData, phase: tuple[int, int], quality: int) -> tuple[tuple[int, int], bool]:
    """Where the first grid begins (modulo the MCU where the chroma's first grid is found,
    else modulo 8), and whether it is found: the chroma's blocks span factor × 8 luma pixels,
    so of the phases that agree with the luma's the one whose blocks show the first chroma
    table."""
    if len(jpeg.components) < 3:
        return phase, False
    fy, fx = jpeg.chroma_factor
    planes = [_window(jpeg, i) for i in (1, 2)]
    flat = np.full(64, GRID_STEP)
    table = CHROMA_TABLES[quality - 1 : quality]
    for dy in range(fy):
        for dx in range(fx):
            offset = (phase[0] + 8 * dy, phase[1] + 8 * dx)
            blocks = np.concatenate([_grid_blocks(downsampled(p, offset, (fy, fx)), (0, 0)) for p in planes])
            if len(blocks) < MIN_BLOCKS:
                continue
            totals, _ = quality_evidence(blocks, flat, table, GRID_NOISE)
            if totals[0] / len(blocks) >= EVIDENCE / 4:
                return offset, True
    return phase, False
