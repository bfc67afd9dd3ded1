"""A restored image as the restore side hands it to the writers: its pixels and what of the
input file an output carries, and the rounding of pixels to 8 or 16 bits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qgac_cli.codec.metadata import Segment
from qgac_cli.recompression import FirstCompression


@dataclass(frozen=True)
class RestoredImage:
    pixels: np.ndarray  # (H, W, 3) or (H, W): float32 in [0, 1], or uint8/uint16; stored orientation
    icc_profile: bytes | None
    exif: bytes | None
    orientation: int
    subsampling: str | None = None  # the input file's chroma subsampling ("4:2:0", "gray", ...)
    segments: tuple[Segment, ...] = ()  # XMP, IPTC, comments as the input held them
    first: FirstCompression | None = None  # the earlier compression it was restored for
    notes: tuple[str, ...] = ()  # what of the input no output holds (JpegData.notes)


def quantize(pixels: np.ndarray, bits: int) -> np.ndarray:
    """float [0, 1], uint8 or uint16 pixels -> `bits`-bit integers."""
    if pixels.dtype == np.uint8:
        return pixels if bits == 8 else pixels.astype(np.uint16) * 257
    if pixels.dtype == np.uint16:
        return pixels if bits == 16 else np.round(pixels / 257.0).astype(np.uint8)
    top = (1 << bits) - 1
    return np.round(np.clip(pixels, 0, 1) * top).astype(np.uint8 if bits == 8 else np.uint16)
