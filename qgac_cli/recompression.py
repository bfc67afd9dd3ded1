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

Conventions: coefficients are a component's quantized values (blocks_y, blocks_x, 8, 8)
int, tables 8×8 natural order, as `qgac_cli.jpeg` reads them. Pure numpy; no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from qgac_cli.jpeg import JpegData
from qgac_cli.quality import CHROMA_TABLE, LUMA_TABLE, ZIGZAG, scaled_table

# The frequencies scored: the first AC coefficients in zig-zag order, where photos put
# enough non-zero values to see a period (the DC is no Laplacian, the highest are mostly 0).
FREQUENCIES = tuple(ZIGZAG[1:16])
MAX_BLOCKS = 20_000  # blocks sampled (evenly) from a larger image: the evidence is a rate
BINS = 48  # histogram bins each side of 0, in units of the file's step; beyond them a tail bin
NOISE = 1.0  # std of what lies between the saves, in coefficient units (orthonormal DCT)
OUTLIERS = 1e-3  # share of values the model lets fall anywhere a single compression would
# A recompression is taken as found when the first compression explains the file better by
# at least this much per 8×8 block (nats; single-compressed files of every quality q10-q100
# measured at most 1.3 for a coarser first table, recompressed ones at least 8).
EVIDENCE = 3.0
STRONG = 6.0  # evidence above which the finding is called certain (confidence 1)
# The first grid's interval is used for a frequency only where it is clearly coarser than the
# file's: requantizing onto it needs the file's value within half a first step of the first
# value, i.e. q1 - q2 above twice the noise between the saves.
MARGIN = 2
# The first table is called IJG's when its quality's evidence is this share of what the best
# step of each frequency, chosen alone among IJG's steps, would give.
IJG_SHARE = 0.95


@dataclass(frozen=True)
class FirstCompression:
    """What a file's coefficients say of an earlier, coarser compression."""

    quality: int  # the IJG quality whose tables explain the file best
    luma: np.ndarray  # 8×8 first luma table (IJG's at `quality`)
    chroma: np.ndarray  # 8×8 first chroma table (IJG's at `quality`)
    evidence: float  # nats per block in favour of the first compression over a single one
    ijg: bool  # whether the strongly measured frequencies all agree with IJG's table
    chroma_found: bool  # whether the chroma coefficients show the first chroma table too
    given: bool = False  # given by hand (--first-quality), not found

    @property
    def confidence(self) -> float:
        """0 at the threshold of detection, 1 from `STRONG` up."""
        return float(np.clip((self.evidence - EVIDENCE) / (STRONG - EVIDENCE), 0.0, 1.0))

    def as_dict(self) -> dict:
        return {
            "first_quality": self.quality,
            "confidence": round(self.confidence, 3),
            "evidence": round(self.evidence, 2),
            "ijg_tables": self.ijg,
            "chroma": self.chroma_found,
            "given": self.given,
        }


# --------------------------------------------------------------------------- the model


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    """Φ(x) to 1.5e-7 (Abramowitz & Stegun 7.1.26), numpy only."""
    z = np.abs(x) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    return 0.5 * (1.0 + np.sign(x) * erf)


def _laplace_cdf(x: np.ndarray, scale: float) -> np.ndarray:
    e = np.exp(-np.abs(x) / scale)
    return np.where(x < 0, 0.5 * e, 1.0 - 0.5 * e)


def predicted(firsts: np.ndarray, step: int, scale: float, noise: float = NOISE) -> np.ndarray:
    """P(k) for k in -BINS..BINS (the outer bins hold the tails) of a coefficient quantized
    with `step` after a first quantization with each step in `firsts`, for an original
    Laplacian of `scale`. (len(firsts), 2·BINS+1)."""
    firsts = np.asarray(firsts, dtype=np.float64)[:, None]  # (F, 1)
    reach = min((BINS + 1) * step, 40 * scale) + 6 * noise  # beyond: the tail bins
    top = int(reach / firsts.min()) + 2
    m = np.arange(-top, top + 1, dtype=np.float64)[None, :]  # (1, M) first quantized values
    centre = m * firsts  # (F, M)
    mass = _laplace_cdf(centre + firsts / 2, scale) - _laplace_cdf(centre - firsts / 2, scale)
    mass = np.where(np.abs(centre) <= reach + firsts, mass, 0.0)
    spread = int(np.ceil(4 * noise / step)) + 1
    nearest = np.round(centre / step)
    offsets = np.arange(-spread, spread + 2, dtype=np.float64)[:, None, None]  # (D + 1, 1, 1)
    cdf = _normal_cdf(((nearest + offsets - 0.5) * step - centre) / noise)  # (D + 1, F, M) at bin edges
    p = np.diff(cdf, axis=0) * mass  # (D, F, M): mass landing in bin nearest + offset
    width = 2 * BINS + 1
    bins = np.clip(nearest + offsets[:-1], -BINS, BINS).astype(np.int64) + BINS  # (D, F, M)
    index = bins + np.arange(firsts.shape[0])[None, :, None] * width
    out = np.bincount(index.ravel(), weights=p.ravel(), minlength=firsts.shape[0] * width).reshape(-1, width)
    return _with_tails(out)


def single(step: int, scale: float) -> np.ndarray:
    """P(k) for k in -BINS..BINS of a Laplacian of `scale` quantized once with `step` (the
    noise of a decode is nothing beside the width of a smooth density)."""
    edges = (np.arange(-BINS, BINS + 2) - 0.5) * step
    return _with_tails(np.diff(_laplace_cdf(edges, scale))[None, :])[0]


def _with_tails(out: np.ndarray) -> np.ndarray:
    """Probabilities per bin, with what the bins leave out (the far tails) in the outer two."""
    tail = np.clip(1.0 - out.sum(1), 0.0, None) / 2
    out[:, 0] += tail
    out[:, -1] += tail
    return out


def histogram(values: np.ndarray) -> np.ndarray:
    """Counts of quantized values -BINS..BINS, the outer bins holding everything beyond."""
    return np.bincount(np.clip(values, -BINS, BINS).astype(np.int64) + BINS, minlength=2 * BINS + 1)


SCALES = (0.5, 0.7, 1.0, 1.4, 2.0)  # Laplacian scales tried, times the values' mean magnitude


def _log_likelihoods(counts: np.ndarray, firsts: np.ndarray, step: int, scale: float, noise: float) -> np.ndarray:
    """(1 + len(firsts)): the counts' log-likelihood under a single quantization, then under
    each first step."""
    once = single(step, scale)[None, :]
    model = (1 - OUTLIERS) * predicted(firsts, step, scale, noise) + OUTLIERS * once
    return (counts * np.log(np.concatenate([once, model]) + 1e-300)).sum(1)


def frequency_evidence(values: np.ndarray, step: int, firsts: np.ndarray, noise: float = NOISE) -> np.ndarray:
    """Log-likelihood ratio (nats) of each first step in `firsts` against a single
    quantization, for one frequency's quantized `values` (any shape) of file step `step`.
    Each hypothesis is scored with the Laplacian that fits it best (of `SCALES`), so that
    none wins by the shape of the zero bin alone."""
    values = np.asarray(values).ravel()
    counts = histogram(values)
    mean = max(float(np.abs(values).mean()) * step, 0.25)
    scores = np.stack([_log_likelihoods(counts, np.asarray(firsts), step, mean * s, noise) for s in SCALES]).max(0)
    return scores[1:] - scores[0]


# --------------------------------------------------------------------------- a file


def _sample_blocks(coefficients: np.ndarray, limit: int = MAX_BLOCKS) -> np.ndarray:
    """(blocks, 64) of at most `limit` blocks, evenly spread over the image."""
    flat = coefficients.reshape(-1, 64)
    return flat[:: -(-len(flat) // limit)] if len(flat) > limit else flat


def _ijg_tables(base: np.ndarray) -> np.ndarray:
    """(100, 64) the IJG table of `base` at every quality 1..100 (row q-1)."""
    return np.stack([scaled_table(base, q).ravel() for q in range(1, 101)])


_LUMA_TABLES = _ijg_tables(LUMA_TABLE)
_CHROMA_TABLES = _ijg_tables(CHROMA_TABLE)


def quality_evidence(blocks: np.ndarray, table: np.ndarray, ijg: np.ndarray) -> tuple[np.ndarray, dict]:
    """Evidence (nats, total) for each IJG quality 1..100 (index q-1) being the first
    compression of these blocks (blocks, 64), and per scored frequency the best first step
    with its evidence. A frequency contributes only where the quality's step is coarser than
    the file's."""
    step = np.asarray(table).ravel()
    totals = np.zeros(100)
    best: dict = {}
    for f in FREQUENCIES:
        q2 = int(step[f])
        coarser = ijg[:, f] > q2
        if not coarser.any():
            continue
        candidates = np.unique(ijg[coarser, f])
        evidence = frequency_evidence(blocks[:, f], q2, candidates)
        by_step = dict(zip(candidates.tolist(), evidence.tolist()))
        totals += np.array([by_step.get(int(s), 0.0) if c else 0.0 for s, c in zip(ijg[:, f], coarser)])
        i = int(np.argmax(evidence))
        best[f] = (int(candidates[i]), float(evidence[i]))
    return totals, best


def find_first_compression(jpeg: JpegData) -> FirstCompression | None:
    """The earlier, coarser compression that a JPEG's coefficients show, or None."""
    blocks = _sample_blocks(jpeg.components[0].coefficients)
    totals, best = quality_evidence(blocks, jpeg.table_for(0), _LUMA_TABLES)
    q = int(np.argmax(totals)) + 1
    evidence = float(totals[q - 1]) / len(blocks)
    if evidence < EVIDENCE:
        return None
    luma = _LUMA_TABLES[q - 1].reshape(8, 8)
    ijg = bool(totals[q - 1] >= IJG_SHARE * sum(e for _, e in best.values()))
    chroma = _CHROMA_TABLES[q - 1].reshape(8, 8)
    return FirstCompression(q, luma, chroma, evidence, ijg, _chroma_agrees(jpeg, q))


def given_first_compression(jpeg: JpegData, quality: int) -> FirstCompression:
    """The first compression given by hand as an IJG quality (1..100), with the evidence the
    file holds for it (which may be none)."""
    if not 1 <= quality <= 100:
        raise ValueError(f"first quality must be in 1..100, got {quality}")
    blocks = _sample_blocks(jpeg.components[0].coefficients)
    totals, _ = quality_evidence(blocks, jpeg.table_for(0), _LUMA_TABLES[quality - 1 : quality])
    luma, chroma = (t[quality - 1].reshape(8, 8) for t in (_LUMA_TABLES, _CHROMA_TABLES))
    evidence = float(totals[0]) / len(blocks)
    return FirstCompression(quality, luma, chroma, evidence, True, _chroma_agrees(jpeg, quality), given=True)


def _chroma_agrees(jpeg: JpegData, quality: int) -> bool:
    """Whether the chroma planes were first compressed with the IJG chroma table of `quality`
    on their present grid (not so where the second save changed the subsampling)."""
    if len(jpeg.components) < 3:
        return False
    blocks = np.concatenate([_sample_blocks(c.coefficients, MAX_BLOCKS // 2) for c in jpeg.components[1:]])
    totals, _ = quality_evidence(blocks, jpeg.table_for(1), _CHROMA_TABLES[quality - 1 : quality])
    return bool(totals[0] / len(blocks) >= EVIDENCE / 4)


# --------------------------------------------------------------------------- restoring for it


def first_grid(coefficients: np.ndarray, table: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A component's coefficients and table brought back to the first compression's grid:
    where the first step is clearly coarser than the file's, each value is requantized to the
    nearest multiple of the first step (the first file's own value, as the noise between the
    saves is under half a step), else kept. Returns (coefficients, table) of the same shapes."""
    table = np.asarray(table, dtype=np.int64)
    use = np.asarray(first, dtype=np.int64) >= table + MARGIN
    target = np.where(use, first, table)
    values = coefficients.astype(np.int64) * table  # dequantized
    requantized = np.where(use, np.round(values / target), coefficients)  # broadcast over blocks
    return requantized.astype(coefficients.dtype), target


def as_first_compression(jpeg: JpegData, found: FirstCompression) -> JpegData:
    """The JPEG as its first compression left it: Y (and chroma where it shows the first
    table too) requantized onto the first grid, with those tables (appended to the file's, so
    a component left as it is keeps its own), so that the networks are conditioned on the
    damage that is there and the projection keeps what is still true."""
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
