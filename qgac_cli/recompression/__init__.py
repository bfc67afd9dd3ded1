"""Recompressed JPEGs: find the first compression in a file's own coefficients.

A photo saved as a JPEG, opened and saved again keeps the second save's tables, but its
artifacts are the first's. Where the first step q1 of a frequency was coarser than the
file's step q2, the file's dequantized values k·q2 cluster on multiples of q1 and leave
gaps: the classic primary-quantization estimation of image forensics. Here each frequency's
histogram is scored by its likelihood under "first quantized with step q" against "quantized
once" (q = 1), with a Laplacian for the original coefficients, Gaussian noise for what lies
between the two saves (the decode's rounding and clipping, the colour conversion), and a
small share of outliers; the sum over frequencies is fitted to the IJG (libjpeg) quality
scaling. Only first steps coarser than the file's matter for a restore: a finer first
compression left nothing the second did not quantize again.

The package: `likelihood` (the model), `finding` (what is found, the thresholds), `aligned`
(on the file's grid), `shifted` (on a grid a crop moved), `pixels` (the numpy transforms),
`regrid` (the JPEG as its first compression left it).

Conventions: coefficients are a component's quantized values (blocks_y, blocks_x, 8, 8)
int, tables 8×8 natural order, as `qgac_cli.codec.jpeg` reads them. Pure numpy; no torch.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from qgac_cli.codec.jpeg import JpegData
from qgac_cli.recompression.aligned import chroma_agrees, on_file_grid
from qgac_cli.recompression.finding import (
    EVIDENCE,
    LUMA_TABLES,
    FirstCompression,
    sample_blocks,
    tables_at,
)
from qgac_cli.recompression.likelihood import BINS, frequency_evidence, predicted, quality_evidence, single
from qgac_cli.recompression.pixels import block_coefficients, samples
from qgac_cli.recompression.regrid import as_first_compression, first_grid
from qgac_cli.recompression.shifted import on_shifted_grid, phase_steps

__all__ = [
    "BINS",
    "FirstCompression",
    "as_first_compression",
    "block_coefficients",
    "find_first_compression",
    "first_grid",
    "frequency_evidence",
    "given_first_compression",
    "phase_steps",
    "predicted",
    "quality_evidence",
    "samples",
    "single",
]


def find_first_compression(jpeg: JpegData) -> FirstCompression | None:
    """The earlier, coarser compression that a JPEG's coefficients show, on the file's own
    grid or on one shifted from it, or None."""
    return on_file_grid(jpeg) or on_shifted_grid(jpeg)


def given_first_compression(jpeg: JpegData, quality: int) -> FirstCompression:
    """The first compression given by hand as an IJG quality (1..100), with the evidence the
    file holds for it (which may be none), on the file's grid or on a shifted one where that
    shows more of it."""
    if not 1 <= quality <= 100:
        raise ValueError(f"first quality must be in 1..100, got {quality}")
    blocks = sample_blocks(jpeg.components[0].coefficients)
    totals, _ = quality_evidence(blocks, jpeg.table_for(0), LUMA_TABLES[quality - 1 : quality])
    evidence = float(totals[0]) / len(blocks)
    luma, chroma = tables_at(quality)
    aligned = FirstCompression(quality, luma, chroma, evidence, True, chroma_agrees(jpeg, quality), given=True)
    if evidence >= EVIDENCE:
        return aligned
    shifted = on_shifted_grid(jpeg, np.array([quality - 1]), threshold=max(evidence, 0.0))
    return replace(shifted, given=True) if shifted is not None else aligned
