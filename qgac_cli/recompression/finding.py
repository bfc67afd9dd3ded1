"""What is found of a first compression, and the thresholds it is found by."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qgac_cli.codec.quality import CHROMA_TABLE, LUMA_TABLE, scaled_table

MAX_BLOCKS = 20_000  # blocks sampled (evenly) from a larger image: the evidence is a rate
MIN_BLOCKS = 64  # fewer blocks than this (a picture under ~64×64) say too little to go by
# A recompression is taken as found when the first compression explains the file better by
# at least this much per 8×8 block (nats; Live-1 and BSDS500 saved once at q10-q100 measured
# at most 1.4 for the likeliest coarser IJG table, saved twice at least 8).
EVIDENCE = 3.0
STRONG = 6.0  # evidence above which the finding is called certain (confidence 1)
# The first grid's interval is used for a frequency only where it is clearly coarser than the
# file's: requantizing onto it needs the file's value within half a first step of the first
# value, i.e. q1 - q2 above twice the noise between the saves.
MARGIN = 2
# IJG's tables are taken for the first compression's when the best quality's evidence is at
# least this share of what each frequency's own best step gives (IJG-coded first saves of
# Live-1 measured 0.79-1.0; first saves with a flat table of 8, 20 or 40: 0.07-0.66); else
# the measured steps are, where the frequencies' own evidence reaches FREE_EVIDENCE nats per
# block (files saved once measured at most 1.9, recompressed after a flat table at least 8.4).
IJG_SHARE = 0.72
FREE_EVIDENCE = 4.5
MEASURED = 1.0  # nats per block at which a frequency's own best first step is reported


@dataclass(frozen=True)
class FirstCompression:
    """What a file's coefficients say of an earlier, coarser compression."""

    quality: int  # the IJG quality whose tables explain the file best
    luma: np.ndarray  # 8×8 first luma table (IJG's at `quality`, or as `ijg` says)
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


def sample_blocks(coefficients: np.ndarray, limit: int = MAX_BLOCKS) -> np.ndarray:
    """(blocks, 64) of at most `limit` blocks, evenly spread over the image."""
    flat = coefficients.reshape(-1, 64)
    return flat[:: -(-len(flat) // limit)] if len(flat) > limit else flat


def _ijg_tables(base: np.ndarray) -> np.ndarray:
    """(100, 64) the IJG table of `base` at every quality 1..100 (row q-1)."""
    return np.stack([scaled_table(base, q).ravel() for q in range(1, 101)])


LUMA_TABLES = _ijg_tables(LUMA_TABLE)
CHROMA_TABLES = _ijg_tables(CHROMA_TABLE)


def tables_at(quality: int) -> tuple[np.ndarray, np.ndarray]:
    """IJG's (luma, chroma) 8×8 tables at a quality 1..100."""
    return LUMA_TABLES[quality - 1].reshape(8, 8), CHROMA_TABLES[quality - 1].reshape(8, 8)


def free_evidence(best: dict) -> float:
    """What each scored frequency's own best first step gives, alone (a frequency whose best
    speaks against a first compression counts 0): the most any table could explain."""
    return sum(max(e, 0.0) for _, e in best.values())


def measured_steps(best: dict, blocks: int) -> tuple[tuple[int, int, int], ...]:
    """(row, column, step) of the frequencies whose own best first step has strong evidence."""
    return tuple((f // 8, f % 8, step) for f, (step, e) in sorted(best.items()) if e / blocks >= MEASURED)
