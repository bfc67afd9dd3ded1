"""What a read JPEG is, as the restoration sees it (`JpegData`) and as `qgac info` describes
it (`JpegInfo`). Arrays: coefficients (blocks_y, blocks_x, 8, 8) int16 in natural order per
block; tables (8, 8) in natural order; sampling factors (vertical, horizontal)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from qgac_cli.codec.jpeg.header import JpegHeader, chroma_factor, subsampling_name
from qgac_cli.codec.jpeg.tables import TableUse
from qgac_cli.codec.metadata import Segment
from qgac_cli.codec.quality import QualityEstimate, estimate_quality


@dataclass(frozen=True)
class Component:
    """One colour component: quantized coefficients at its stored resolution."""

    coefficients: np.ndarray  # (blocks_y, blocks_x, 8, 8) int16, natural order per block
    table_index: int
    sampling: tuple[int, int]  # (vertical, horizontal) sampling factors


@dataclass(frozen=True)
class JpegData:
    """A JPEG file as the network sees it, plus what an output must carry over."""

    width: int
    height: int
    components: tuple[Component, ...]
    tables: tuple[np.ndarray, ...]  # 8x8 int, natural order, indexed by Component.table_index
    # (the distinct tables the components are dequantized with, as libjpeg latches them)
    color_space: str  # "YCbCr" or "Grayscale"
    coding: str
    progressive: bool
    arithmetic: bool
    restart_interval: int
    icc_profile: bytes | None
    exif: bytes | None
    orientation: int
    decoded: np.ndarray | None = None  # libjpeg's own decode, (H, W[, 3]) uint8
    segments: tuple[Segment, ...] = ()  # XMP, IPTC and comment segments (metadata.is_carried)
    notes: tuple[str, ...] = ()  # what no output will hold (further MPO pictures, a second EXIF)

    @property
    def chroma_factor(self) -> tuple[int, int]:
        """How many times Y's resolution exceeds the chroma's, (vertical, horizontal)."""
        return chroma_factor(tuple(c.sampling for c in self.components))

    @property
    def subsampling(self) -> str:
        return subsampling_name(tuple(c.sampling for c in self.components))

    def table_for(self, component: int) -> np.ndarray:
        return self.tables[self.components[component].table_index]

    def quality(self) -> QualityEstimate:
        used = sorted({c.table_index for c in self.components})
        return estimate_quality([self.tables[i] for i in used])


@dataclass(frozen=True)
class JpegInfo:
    """What `qgac info` shows: the header, tables and metadata, without decoding anything."""

    header: JpegHeader
    tables: TableUse | None  # None for lossless and hierarchical files (no DCT tables to read)
    icc_profile: bytes | None
    exif: bytes | None
    orientation: int
    segments: tuple[Segment, ...] = ()  # XMP, IPTC and comment segments (metadata.is_carried)
    notes: tuple[str, ...] = ()  # what no output will hold (metadata.reading_notes)
    unsupported: str | None = None  # why `restore` refuses the file (CMYK, 12-bit, ...), or None
    problem: str | None = None  # what is wrong past the header (a corrupt or cut scan), or None


def with_coefficients(jpeg: JpegData, planes: list[np.ndarray]) -> JpegData:
    """A copy of `jpeg` whose components hold new quantized coefficient arrays."""
    components = tuple(replace(c, coefficients=np.asarray(p, dtype=np.int16)) for c, p in zip(jpeg.components, planes))
    return replace(jpeg, components=components)
