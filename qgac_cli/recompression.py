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

from qgac_cli.jpeg import Component, JpegData
from qgac_cli.quality import CHROMA_TABLE, LUMA_TABLE, ZIGZAG, scaled_table

# The frequencies scored: the first AC coefficients in zig-zag order, where photos put
# enough non-zero values to see a period (the DC is no Laplacian, the highest are mostly 0).
FREQUENCIES = tuple(ZIGZAG[1:16])
MAX_BLOCKS = 20_000  # blocks sampled (evenly) from a larger image: the evidence is a rate
MIN_BLOCKS = 16  # fewer blocks than this (a picture under ~32×32) say too little to go by
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
# IJG's tables are taken for the first compression's when the best quality's evidence is at
# least this share of what each frequency's own best step gives (IJG-coded first saves of
# Live-1 measured 0.79-1.0; first saves with a flat table of 8, 20 or 40: 0.07-0.66); else the measured steps are,
# where the frequencies' own evidence reaches FREE_EVIDENCE nats per block (files saved once
# measured at most 1.9, recompressed after a flat table at least 8.4).
IJG_SHARE = 0.72
FREE_EVIDENCE = 4.5
MEASURED = 1.0  # nats per block at which a frequency's own best first step is reported


@dataclass(frozen=True)
class FirstCompression:
    """What a file's coefficients say of an earlier, coarser compression."""

    quality: int  # the IJG quality whose tables explain the file best
    luma: np.ndarray  # 8×8 first luma table (IJG's at `quality`)
    chroma: np.ndarray  # 8×8 first chroma table (IJG's at `quality`)
    evidence: float  # nats per block in favour of the first compression over a single one
    ijg: bool  # whether IJG's tables explain it (else `luma` holds the measured steps, the file's elsewhere)
    chroma_found: bool  # whether the chroma coefficients show the first chroma table too
    given: bool = False  # given by hand (--first-quality), not found
    # where the first compression's blocks begin in the file's pixels (rows, columns): (0, 0)
    # on the file's own grid, else a photo cropped between the saves (modulo 8, or modulo
    # the MCU where the chroma's first grid was found too)
    offset: tuple[int, int] = (0, 0)
    # the first step measured alone at each scored frequency where the evidence is strong
    # (at least `MEASURED` nats per block): ((row, column, step), ...)
    measured: tuple[tuple[int, int, int], ...] = ()

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
            "grid_offset": list(self.offset),
            "measured_steps": [list(m) for m in self.measured],
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


def quality_evidence(
    blocks: np.ndarray, table: np.ndarray, ijg: np.ndarray, noise: float = NOISE
) -> tuple[np.ndarray, dict]:
    """Evidence (nats, total) for each of the IJG tables `ijg` (tables, 64) being the first
    compression of these quantized blocks (blocks, 64) of `table`, and per scored frequency
    the best first step with its evidence. A frequency contributes only where the table's
    step is coarser than the file's."""
    step = np.asarray(table).ravel()
    totals = np.zeros(len(ijg))
    best: dict = {}
    for f in FREQUENCIES:
        q2 = int(step[f])
        coarser = ijg[:, f] > q2
        if not coarser.any():
            continue
        candidates = np.unique(ijg[coarser, f])
        evidence = frequency_evidence(blocks[:, f], q2, candidates, noise)
        by_step = dict(zip(candidates.tolist(), evidence.tolist()))
        totals += np.array([by_step.get(int(s), 0.0) if c else 0.0 for s, c in zip(ijg[:, f], coarser)])
        i = int(np.argmax(evidence))
        best[f] = (int(candidates[i]), float(evidence[i]))
    return totals, best


def find_first_compression(jpeg: JpegData) -> FirstCompression | None:
    """The earlier, coarser compression that a JPEG's coefficients show, on the file's own
    grid or on one shifted from it, or None."""
    return _on_file_grid(jpeg) or _on_shifted_grid(jpeg)


def _on_file_grid(jpeg: JpegData) -> FirstCompression | None:
    """On the file's grid: IJG's tables at the quality that explains the file best, or, where
    they explain it much worse than each frequency's own best step (a first save with tables
    of its own), the steps measured frequency by frequency."""
    blocks = _sample_blocks(jpeg.components[0].coefficients)
    if len(blocks) < MIN_BLOCKS:
        return None
    totals, best = quality_evidence(blocks, jpeg.table_for(0), _LUMA_TABLES)
    q = int(np.argmax(totals)) + 1
    free = sum(max(e, 0.0) for _, e in best.values())  # each frequency's best step, alone
    measured = _measured(best, len(blocks))
    if totals[q - 1] >= IJG_SHARE * free and totals[q - 1] / len(blocks) >= EVIDENCE:
        luma, chroma = (t[q - 1].reshape(8, 8) for t in (_LUMA_TABLES, _CHROMA_TABLES))
        evidence = float(totals[q - 1]) / len(blocks)
        return FirstCompression(q, luma, chroma, evidence, True, _chroma_agrees(jpeg, q), measured=measured)
    if free / len(blocks) >= FREE_EVIDENCE and measured:
        q = _closest_quality(measured)  # what the measured steps are nearest: for the record
        luma = np.asarray(jpeg.table_for(0), dtype=np.int64).copy()  # unmeasured: left as the file has them
        for row, column, step in measured:
            luma[row, column] = step
        chroma = _CHROMA_TABLES[q - 1].reshape(8, 8)  # not used: the chroma is left as it is
        return FirstCompression(q, luma, chroma, free / len(blocks), False, False, measured=measured)
    return None


def _closest_quality(measured: tuple[tuple[int, int, int], ...]) -> int:
    """The IJG quality whose luma steps are closest (in ratio) to the measured ones."""
    index = [row * 8 + column for row, column, _ in measured]
    steps = np.log([step for *_, step in measured])
    return int(np.abs(np.log(_LUMA_TABLES[:, index]) - steps).sum(1).argmin()) + 1


def _measured(best: dict, blocks: int) -> tuple[tuple[int, int, int], ...]:
    """(row, column, step) of the frequencies whose own best first step has strong evidence."""
    return tuple((f // 8, f % 8, step) for f, (step, e) in sorted(best.items()) if e / blocks >= MEASURED)


def given_first_compression(jpeg: JpegData, quality: int) -> FirstCompression:
    """The first compression given by hand as an IJG quality (1..100), with the evidence the
    file holds for it (which may be none), on the file's grid or on a shifted one where that
    shows more of it."""
    if not 1 <= quality <= 100:
        raise ValueError(f"first quality must be in 1..100, got {quality}")
    blocks = _sample_blocks(jpeg.components[0].coefficients)
    totals, _ = quality_evidence(blocks, jpeg.table_for(0), _LUMA_TABLES[quality - 1 : quality])
    evidence = float(totals[0]) / len(blocks)
    luma, chroma = (t[quality - 1].reshape(8, 8) for t in (_LUMA_TABLES, _CHROMA_TABLES))
    aligned = FirstCompression(quality, luma, chroma, evidence, True, _chroma_agrees(jpeg, quality), given=True)
    if evidence >= EVIDENCE:
        return aligned
    shifted = _on_shifted_grid(jpeg, np.array([quality - 1]), threshold=max(evidence, 0.0))
    return replace(shifted, given=True) if shifted is not None else aligned


def _chroma_agrees(jpeg: JpegData, quality: int) -> bool:
    """Whether the chroma planes were first compressed with the IJG chroma table of `quality`
    on their present grid (not so where the second save changed the subsampling)."""
    if len(jpeg.components) < 3:
        return False
    blocks = np.concatenate([_sample_blocks(c.coefficients, MAX_BLOCKS // 2) for c in jpeg.components[1:]])
    totals, _ = quality_evidence(blocks, jpeg.table_for(1), _CHROMA_TABLES[quality - 1 : quality])
    return bool(totals[0] / len(blocks) >= EVIDENCE / 4)


# --------------------------------------------------------------------------- a shifted first grid
# A photo cropped between its saves has its first compression's blocks at an offset from the
# file's: their edges show as steps in the decoded luma at one phase of every 8 rows and
# columns, and the first compression's periods in the DCT of blocks taken on that grid.

WINDOW = 1024  # pixels: the central window (at most WINDOW²) in which a shifted grid is sought
PHASES = 2  # phases tried on each axis, the steepest first
# A phase other than the file's own is tried only where its mean step is this much above the
# median phase's (a first compression's edges measured 1.13-1.6 times; photos without one
# up to 1.5, so the coefficients decide).
EDGES = 1.08
GRID_STEP = 2.0  # the shifted grid's coefficients are real numbers: binned by this step
GRID_NOISE = 2.0  # what the second save added to them (its whole error, spread over the shifted blocks)


def _dct_matrix() -> np.ndarray:
    """The orthonormal 8-point DCT-II matrix (numpy float64)."""
    u, x = np.mgrid[0:8, 0:8]
    d = np.cos((2 * x + 1) * u * np.pi / 16) * np.sqrt(2 / 8)
    d[0] /= np.sqrt(2)
    return d


_D = _dct_matrix()


def samples(coefficients: np.ndarray, table: np.ndarray) -> np.ndarray:
    """A component's samples (8·by, 8·bx) float, 0..255, from its quantized coefficients
    (by, bx, 8, 8) and table: a float IDCT (libjpeg's integer one differs by a level at most)."""
    blocks = _D.T @ (coefficients * np.asarray(table, dtype=np.float64)) @ _D + 128.0  # (by, bx, 8, 8)
    by, bx = blocks.shape[:2]
    return np.clip(blocks.transpose(0, 2, 1, 3).reshape(by * 8, bx * 8), 0.0, 255.0)


def block_coefficients(plane: np.ndarray) -> np.ndarray:
    """The DCT (by, bx, 8, 8) of a sample plane's level-shifted 8×8 blocks (sides cut to
    multiples of 8)."""
    h, w = plane.shape[0] // 8, plane.shape[1] // 8
    blocks = (plane[: h * 8, : w * 8] - 128.0).reshape(h, 8, w, 8).transpose(0, 2, 1, 3)  # (h, w, 8, 8)
    return _D @ blocks @ _D.T


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
    return _sample_blocks(np.round(c / GRID_STEP).astype(np.int64))


def _phases(plane: np.ndarray) -> list[tuple[int, int]]:
    """The phases (rows, columns) where a shifted first grid may lie, likeliest first."""
    rows, columns = phase_steps(plane)
    pick = [[int(p) for p in np.argsort(a)[::-1][:PHASES] if p == 0 or a[p] >= EDGES] for a in (rows, columns)]
    pairs = [(r, c) for r in pick[0] for c in pick[1] if (r, c) != (0, 0)]
    return sorted(pairs, key=lambda rc: -(rows[rc[0]] + columns[rc[1]]))


def _coarser(jpeg: JpegData) -> np.ndarray:
    """Indices (quality - 1) of the IJG qualities whose luma steps are coarser than the file's
    at every scored frequency: the first compressions sought on a shifted grid (a finer one
    there left less damage than the file's own)."""
    table = jpeg.table_for(0).ravel()
    return np.flatnonzero((_LUMA_TABLES[:, FREQUENCIES] >= table[list(FREQUENCIES)] + MARGIN).all(1))


def _on_shifted_grid(
    jpeg: JpegData, qualities: np.ndarray | None = None, threshold: float = EVIDENCE
) -> FirstCompression | None:
    """The first compression on the likeliest shifted grid whose evidence reaches `threshold`,
    among `qualities` (indices, quality - 1; default `_coarser`)."""
    candidates = _coarser(jpeg) if qualities is None else qualities
    if not len(candidates):
        return None
    y = _window(jpeg, 0)
    flat = np.full(64, GRID_STEP)
    for phase in _phases(y):
        blocks = _grid_blocks(y, phase)
        if len(blocks) < MIN_BLOCKS:
            continue
        totals, best = quality_evidence(blocks, flat, _LUMA_TABLES[candidates], GRID_NOISE)
        i = int(np.argmax(totals))
        evidence = float(totals[i]) / len(blocks)
        if evidence >= threshold and evidence > 0:
            q = int(candidates[i]) + 1
            ijg = bool(totals[i] >= IJG_SHARE * sum(e for _, e in best.values()))
            luma, chroma = (t[q - 1].reshape(8, 8) for t in (_LUMA_TABLES, _CHROMA_TABLES))
            offset, chroma_found = _chroma_offset(jpeg, phase, q)
            measured = _measured(best, len(blocks))
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
    table = _CHROMA_TABLES[quality - 1 : quality]
    for dy in range(fy):
        for dx in range(fx):
            offset = (phase[0] + 8 * dy, phase[1] + 8 * dx)
            blocks = np.concatenate([_grid_blocks(_downsampled(p, offset, (fy, fx)), (0, 0)) for p in planes])
            if len(blocks) < MIN_BLOCKS:
                continue
            totals, _ = quality_evidence(blocks, flat, table, GRID_NOISE)
            if totals[0] / len(blocks) >= EVIDENCE / 4:
                return offset, True
    return phase, False


def _downsampled(plane: np.ndarray, offset: tuple[int, int], factor: tuple[int, int]) -> np.ndarray:
    """A full-resolution plane from `offset` on, box-averaged by `factor` as an encoder does."""
    fy, fx = factor
    part = plane[offset[0] :, offset[1] :]
    h, w = part.shape[0] // fy * fy, part.shape[1] // fx * fx
    return part[:h, :w].reshape(h // fy, fy, w // fx, fx).mean((1, 3))


# --------------------------------------------------------------------------- restoring for it


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


BAND = 32  # block rows regridded at a time: a large picture is never held as floats whole


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
