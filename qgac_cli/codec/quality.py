"""The IJG (libjpeg) standard quantization tables, quality scaling and quality estimation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Zig-zag order: ZIGZAG[i] is the natural (row-major) index of the i-th coefficient in scan order
# (how DQT segments and entropy-coded blocks list them).
ZIGZAG = tuple(
    r * 8 + c
    for s in range(15)
    for r, c in ([(i, s - i) for i in range(8) if 0 <= s - i < 8][:: (-1 if s % 2 == 0 else 1)])
)

# ITU-T T.81 Annex K, natural (row-major) order.
LUMA_TABLE = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.int64,
)

CHROMA_TABLE = np.array(
    [
        [17, 18, 24, 47, 99, 99, 99, 99],
        [18, 21, 26, 66, 99, 99, 99, 99],
        [24, 26, 56, 99, 99, 99, 99, 99],
        [47, 66, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
    ],
    dtype=np.int64,
)


def quality_scale(quality: int) -> int:
    """libjpeg's jpeg_quality_scaling: quality 1..100 -> percentage scale factor."""
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    return 5000 // quality if quality < 50 else 200 - 2 * quality


def scaled_table(base: np.ndarray, quality: int, force_baseline: bool = True) -> np.ndarray:
    """A base table scaled to a libjpeg quality, as jpeg_add_quant_table does."""
    table = (base * quality_scale(quality) + 50) // 100
    return np.clip(table, 1, 255 if force_baseline else 32767)


def standard_tables(quality: int) -> tuple[np.ndarray, np.ndarray]:
    """(luma, chroma) 8x8 tables that libjpeg uses at this quality."""
    return scaled_table(LUMA_TABLE, quality), scaled_table(CHROMA_TABLE, quality)


@dataclass(frozen=True)
class QualityEstimate:
    """The libjpeg quality closest to a file's tables; `exact` if they match it entry for entry."""

    quality: int
    exact: bool
    mean_abs_error: float


def estimate_quality(tables: list[np.ndarray]) -> QualityEstimate:
    """Estimate the libjpeg quality of a file from its tables (first = luma, second = chroma).

    The closest quality minimises the mean absolute difference over the tables present.
    """
    bases = (LUMA_TABLE, CHROMA_TABLE)
    best: QualityEstimate | None = None
    for quality in range(1, 101):
        errors = [
            np.abs(scaled_table(base, quality) - np.asarray(table)).mean() for base, table in zip(bases, tables[:2])
        ]
        error = float(np.mean(errors))
        if best is None or error < best.mean_abs_error:
            best = QualityEstimate(quality, error == 0.0, error)
    assert best is not None
    return best
