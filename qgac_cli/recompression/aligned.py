"""A first compression on the file's own grid: read from its quantized coefficients."""

from __future__ import annotations

import numpy as np

from qgac_cli.codec.jpeg import JpegData
from qgac_cli.recompression.finding import (
    CHROMA_TABLES,
    EVIDENCE,
    FREE_EVIDENCE,
    IJG_SHARE,
    LUMA_TABLES,
    MAX_BLOCKS,
    MIN_BLOCKS,
    FirstCompression,
    free_evidence,
    measured_steps,
    sample_blocks,
    tables_at,
)
from qgac_cli.recompression.likelihood import quality_evidence


def on_file_grid(jpeg: JpegData) -> FirstCompression | None:
    """On the file's grid: IJG's tables at the quality that explains the file best, or, where
    they explain it much worse than each frequency's own best step (a first save with tables
    of its own), the steps measured frequency by frequency."""
    blocks = sample_blocks(jpeg.components[0].coefficients)
    if len(blocks) < MIN_BLOCKS:
        return None
    totals, best = quality_evidence(blocks, jpeg.table_for(0), LUMA_TABLES)
    q = int(np.argmax(totals)) + 1
    free = free_evidence(best)
    measured = measured_steps(best, len(blocks))
    if totals[q - 1] >= IJG_SHARE * free and totals[q - 1] / len(blocks) >= EVIDENCE:
        luma, chroma = tables_at(q)
        evidence = float(totals[q - 1]) / len(blocks)
        return FirstCompression(q, luma, chroma, evidence, True, chroma_agrees(jpeg, q), measured=measured)
    if free / len(blocks) >= FREE_EVIDENCE and measured:
        q = _closest_quality(measured)  # what the measured steps are nearest: for the record
        luma = np.asarray(jpeg.table_for(0), dtype=np.int64).copy()  # unmeasured: left as the file has them
        for row, column, step in measured:
            luma[row, column] = step
        chroma = tables_at(q)[1]  # not used: the chroma is left as it is
        return FirstCompression(q, luma, chroma, free / len(blocks), False, False, measured=measured)
    return None


def _closest_quality(measured: tuple[tuple[int, int, int], ...]) -> int:
    """The IJG quality whose luma steps are closest (in ratio) to the measured ones."""
    index = [row * 8 + column for row, column, _ in measured]
    steps = np.log([step for *_, step in measured])
    return int(np.abs(np.log(LUMA_TABLES[:, index]) - steps).sum(1).argmin()) + 1


def chroma_agrees(jpeg: JpegData, quality: int) -> bool:
    """Whether the chroma planes were first compressed with the IJG chroma table of `quality`
    on their present grid (not so where the second save changed the subsampling)."""
    if len(jpeg.components) < 3:
        return False
    blocks = np.concatenate([sample_blocks(c.coefficients, MAX_BLOCKS // 2) for c in jpeg.components[1:]])
    totals, _ = quality_evidence(blocks, jpeg.table_for(1), CHROMA_TABLES[quality - 1 : quality])
    return bool(totals[0] / len(blocks) >= EVIDENCE / 4)
