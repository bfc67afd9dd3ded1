"""The quantization tables in use, latched per component as libjpeg latches them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qgac_cli.choices import DEFAULT_MAX_SCANS
from qgac_cli.codec.jpeg.header import SOF_KINDS
from qgac_cli.codec.jpeg.markers import DQT, EOI, SOS, Markers, markers_of
from qgac_cli.codec.quality import ZIGZAG
from qgac_cli.errors import JpegError


@dataclass(frozen=True)
class TableUse:
    """Which quantization table each component is dequantized with, read as libjpeg reads it.

    A DQT segment may come before any scan and may redefine a slot between scans; libjpeg
    *latches* a component's table when the first scan holding that component begins and uses
    that copy for the whole image. So the table of a component is its slot's content at that
    moment, not the last one defined (nor the one defined before the first scan)."""

    slots: tuple[int, ...]  # per component: the table slot its frame header names
    tables: tuple[np.ndarray, ...]  # the distinct latched tables (8x8, natural order), first use first
    component_tables: tuple[int, ...]  # per component: its index into `tables`
    scans: int


def _frame_components(payload: bytes, source: str) -> tuple[list[int], list[int]]:
    """(component ids, table slots) of a frame header."""
    if len(payload) < 6 or len(payload) < 6 + 3 * payload[5]:
        raise JpegError("truncated frame header", source)
    count = payload[5]
    return [payload[6 + 3 * i] for i in range(count)], [payload[6 + 3 * i + 2] for i in range(count)]


def _scan_components(payload: bytes, ids: list[int], source: str) -> list[int]:
    """The indices (in frame order) of the components a scan header names."""
    if not ids:
        raise JpegError("a scan before the frame header", source)
    if not payload or len(payload) < 1 + 2 * payload[0]:
        raise JpegError("truncated scan header", source)
    selectors = [payload[1 + 2 * i] for i in range(payload[0])]
    if any(s not in ids for s in selectors):
        raise JpegError("a scan names a component the frame does not have", source)
    return [ids.index(s) for s in selectors]


def _distinct(tables: list[np.ndarray]) -> tuple[tuple[np.ndarray, ...], tuple[int, ...]]:
    """The distinct tables in order of first use, and each entry's index among them."""
    unique: list[np.ndarray] = []
    indices = []
    for table in tables:
        found = next((i for i, u in enumerate(unique) if np.array_equal(u, table)), None)
        if found is None:
            unique.append(table)
            found = len(unique) - 1
        indices.append(found)
    return tuple(unique), tuple(indices)


def read_tables(data: bytes | Markers, source: str = "<bytes>", max_scans: int = DEFAULT_MAX_SCANS) -> TableUse:
    """Walk every marker of the file and latch each component's quantization table as libjpeg
    does. Raises JpegError for a table used but not defined, a zero table entry, more than
    `max_scans` scans, or a file that ends before its end-of-image marker (cut short: libjpeg
    would fill the rest with grey)."""
    defined: dict[int, np.ndarray] = {}
    ids: list[int] = []
    slots: list[int] = []
    latched: dict[int, np.ndarray] = {}
    scans = 0
    for marker in markers_of(data, source):
        if marker.code == DQT:
            defined.update(_quantization_tables(marker.payload, source))
        elif marker.code in SOF_KINDS and not ids:
            ids, slots = _frame_components(marker.payload, source)
        elif marker.code == SOS:
            for index in _scan_components(marker.payload, ids, source):
                if index not in latched:
                    latched[index] = _defined(defined, slots[index], source)
            scans += 1
            if scans > max_scans:
                raise JpegError(
                    f"more than {max_scans:,} scans (no encoder writes that many; raise the limit with --max-scans)",
                    source,
                )
        elif marker.code == EOI:
            break
    if not scans:
        raise JpegError("no image data (end of image before any scan)", source)
    # a component no scan holds decodes as flat grey; its table is whatever its slot holds
    tables = [latched[i] if i in latched else _defined(defined, slots[i], source) for i in range(len(ids))]
    for slot, table in zip(slots, tables):
        if np.any(table <= 0):
            raise JpegError(f"quantization table {slot} has a zero entry", source)
    unique, indices = _distinct(tables)
    return TableUse(tuple(slots), unique, indices, scans)


def _defined(defined: dict[int, np.ndarray], slot: int, source: str) -> np.ndarray:
    if slot not in defined:
        raise JpegError(f"quantization table {slot} is used but not defined", source)
    return defined[slot]


def _quantization_tables(payload: bytes, source: str) -> dict[int, np.ndarray]:
    """The tables of one DQT segment (8- or 16-bit entries, zig-zag order) in natural order."""
    tables, pos = {}, 0
    while pos < len(payload):
        precision, number = payload[pos] >> 4, payload[pos] & 0x0F
        size = 128 if precision else 64
        if pos + 1 + size > len(payload) or number > 3:
            raise JpegError("malformed quantization table segment", source)
        raw = payload[pos + 1 : pos + 1 + size]
        values = np.frombuffer(raw, dtype=">u2" if precision else np.uint8).astype(np.int64)
        natural = np.empty(64, dtype=np.int64)
        natural[list(ZIGZAG)] = values
        tables[number] = natural.reshape(8, 8)
        pos += 1 + size
    return tables
