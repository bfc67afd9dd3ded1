"""The likelihood of a frequency's quantized values under a first, coarser quantization.

Where a first step q1 of a frequency was coarser than the file's step q2, the file's values
k·q2 cluster on multiples of q1 and leave gaps. A histogram of k is scored by its likelihood
under "first quantized with step q" against "quantized once", with a Laplacian for the
original coefficients (fitted to each hypothesis), Gaussian noise for what lies between the
saves (the decode's rounding and clipping, the colour conversion), and a small share of
outliers. Values: (N,) ints; steps in coefficient units (orthonormal DCT, as JPEG's).
"""

from __future__ import annotations

import numpy as np

from qgac_cli.codec.quality import ZIGZAG

# The frequencies scored: the first AC coefficients in zig-zag order, where photos put
# enough non-zero values to see a period (the DC is no Laplacian, the highest are mostly 0).
FREQUENCIES = tuple(ZIGZAG[1:16])
BINS = 48  # histogram bins each side of 0, in units of the file's step; beyond them a tail bin
NOISE = 1.0  # std of what lies between the saves, in coefficient units (orthonormal DCT)
OUTLIERS = 1e-3  # share of values the model lets fall anywhere a single compression would
MIN_NONZERO = 10  # values other than 0 a frequency needs to be scored
SCALES = (0.5, 0.7, 1.0, 1.4, 2.0)  # Laplacian scales tried, times the values' mean magnitude


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


def predicted(firsts: np.ndarray, step: int, scale: float | np.ndarray, noise: float = NOISE) -> np.ndarray:
    """P(k) for k in -BINS..BINS (the outer bins hold the tails) of a coefficient quantized
    with `step` after a first quantization with each step in `firsts`, for an original
    Laplacian of `scale`: (len(firsts), 2·BINS+1), or (len(scale), len(firsts), 2·BINS+1) for
    an array of scales (the noise's spread over the bins is worked out once for all)."""
    scales = np.atleast_1d(np.asarray(scale, dtype=np.float64))[:, None, None]  # (S, 1, 1)
    firsts = np.asarray(firsts, dtype=np.float64)[:, None]  # (F, 1)
    reach = min((BINS + 1) * step, 40 * float(scales.max())) + 6 * noise  # beyond: the tail bins
    top = int(reach / firsts.min()) + 2
    m = np.arange(-top, top + 1, dtype=np.float64)[None, :]  # (1, M) first quantized values
    centre = m * firsts  # (F, M)
    mass = _laplace_cdf(centre + firsts / 2, scales) - _laplace_cdf(centre - firsts / 2, scales)  # (S, F, M)
    mass = np.where(np.abs(centre) <= reach + firsts, mass, 0.0)
    spread = int(np.ceil(4 * noise / step)) + 1
    nearest = np.round(centre / step)
    offsets = np.arange(-spread, spread + 2, dtype=np.float64)[:, None, None]  # (D + 1, 1, 1)
    cdf = _normal_cdf(((nearest + offsets - 0.5) * step - centre) / noise)  # (D + 1, F, M) at bin edges
    landing = np.diff(cdf, axis=0)  # (D, F, M): share of a first value's mass in bin nearest + offset
    width, count = 2 * BINS + 1, firsts.shape[0]
    bins = np.clip(nearest + offsets[:-1], -BINS, BINS).astype(np.int64) + BINS  # (D, F, M)
    index = bins + np.arange(count)[None, :, None] * width  # (D, F, M) into (F · width)
    index = index[None] + np.arange(len(scales))[:, None, None, None] * count * width  # (S, D, F, M)
    weights = landing[None] * mass[:, None]  # (S, D, F, M)
    out = np.bincount(index.ravel(), weights=weights.ravel(), minlength=len(scales) * count * width)
    out = _with_tails(out.reshape(-1, width)).reshape(len(scales), count, width)
    return out[0] if np.ndim(scale) == 0 else out


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


def _log_likelihoods(counts: np.ndarray, firsts: np.ndarray, step: int, scales: np.ndarray, noise: float) -> np.ndarray:
    """(len(scales), 1 + len(firsts)): the counts' log-likelihood under a single
    quantization, then under each first step, for each Laplacian scale."""
    once = np.stack([single(step, s) for s in scales])[:, None, :]  # (S, 1, K)
    model = (1 - OUTLIERS) * predicted(firsts, step, scales, noise) + OUTLIERS * once  # (S, F, K)
    return (counts * np.log(np.concatenate([once, model], axis=1) + 1e-300)).sum(2)


def frequency_evidence(values: np.ndarray, step: int, firsts: np.ndarray, noise: float = NOISE) -> np.ndarray:
    """Log-likelihood ratio (nats) of each first step in `firsts` against a single
    quantization, for one frequency's quantized `values` (any shape) of file step `step`.
    Each hypothesis is scored with the Laplacian that fits it best (of `SCALES`), so that
    none wins by the shape of the zero bin alone."""
    values = np.asarray(values).ravel()
    counts = histogram(values)
    mean = max(float(np.abs(values).mean()) * step, 0.25)
    scores = _log_likelihoods(counts, np.asarray(firsts), step, mean * np.asarray(SCALES), noise).max(0)
    return scores[1:] - scores[0]


def quality_evidence(
    blocks: np.ndarray, table: np.ndarray, ijg: np.ndarray, noise: float = NOISE
) -> tuple[np.ndarray, dict]:
    """Evidence (nats, total) for each of the IJG tables `ijg` (tables, 64) being the first
    compression of these quantized blocks (blocks, 64) of `table`, and per scored frequency
    the best first step with its evidence. A frequency contributes only where the table's
    step is coarser than the file's, and where it holds `MIN_NONZERO` values other than 0
    (a frequency all but zero shows no period)."""
    step = np.asarray(table).ravel()
    totals = np.zeros(len(ijg))
    best: dict = {}
    for f in FREQUENCIES:
        q2 = int(step[f])
        coarser = ijg[:, f] > q2
        if not coarser.any() or np.count_nonzero(blocks[:, f]) < MIN_NONZERO:
            continue
        candidates = np.unique(ijg[coarser, f])
        evidence = frequency_evidence(blocks[:, f], q2, candidates, noise)
        by_step = dict(zip(candidates.tolist(), evidence.tolist()))
        totals += np.array([by_step.get(int(s), 0.0) if c else 0.0 for s, c in zip(ijg[:, f], coarser)])
        i = int(np.argmax(evidence))
        best[f] = (int(candidates[i]), float(evidence[i]))
    return totals, best
