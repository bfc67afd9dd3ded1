"""The only module that talks to a JPEG codec: read coefficients, write them back, encode.

Coefficients are read exactly (no decode to pixels) with jpeglib on libjpeg-turbo 2.1, which
reads every flavour of 8-bit DCT JPEG: baseline, extended, progressive, arithmetic-coded,
with restart markers, any sampling factors, grayscale or YCbCr. libjpeg only *warns* (on the
C-level stderr) about truncated or corrupt scans, so every file is first decoded once in
simplejpeg's strict mode, which turns those warnings into errors.
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, JpegImagePlugin

from qgac_cli.errors import ImageTooLargeError, JpegError, UnsupportedJpegError
from qgac_cli.metadata import Segment, is_carried, reading_notes
from qgac_cli.quality import ZIGZAG, QualityEstimate, estimate_quality

LIBJPEG_VERSION = "turbo210"
DEFAULT_MAX_PIXELS = 200_000_000
# A file this many times smaller than its pixel count, above BOMB_MIN_PIXELS, holds no photo:
# optimized Huffman coding needs ≈ 5 900 bytes per megapixel even for one flat colour, and
# arithmetic coding ≈ 10; a 649-byte file claiming 162 MP would cost minutes and gigabytes
# to restore nothing
BOMB_PIXELS_PER_BYTE = 20_000
BOMB_MIN_PIXELS = 16_000_000
# libjpeg-turbo's own guard against scan bombs is a limit on scans per file (its tools'
# -maxscans); no encoder writes more than a few dozen, and 300 000 valid scans of one
# megapixel cost libjpeg two minutes
DEFAULT_MAX_SCANS = 1000
# The largest file worth reading for a pixel limit: noise at quality 100, 4:4:4, takes 4.1
# bytes a pixel; twice that, plus room for metadata. Anything larger is refused unread (a
# device such as /dev/zero on standard input would otherwise be read until memory runs out).
BYTES_PER_PIXEL = 8
METADATA_ALLOWANCE = 64 << 20

_SOF_KINDS = {  # marker -> (coding, progressive, arithmetic, supported)
    0xC0: ("baseline", False, False, True),
    0xC1: ("extended", False, False, True),
    0xC2: ("progressive", True, False, True),
    0xC3: ("lossless", False, False, False),
    0xC5: ("hierarchical", False, False, False),
    0xC6: ("hierarchical progressive", True, False, False),
    0xC7: ("hierarchical lossless", False, False, False),
    0xC9: ("arithmetic", False, True, True),
    0xCA: ("arithmetic progressive", True, True, True),
    0xCB: ("arithmetic lossless", False, True, False),
    0xCD: ("hierarchical arithmetic", False, True, False),
    0xCE: ("hierarchical arithmetic progressive", True, True, False),
    0xCF: ("hierarchical arithmetic lossless", False, True, False),
}

_SUBSAMPLING_NAMES = {
    (1, 1): "4:4:4",
    (1, 2): "4:2:2",
    (2, 2): "4:2:0",
    (2, 1): "4:4:0",
    (1, 4): "4:1:1",
    (2, 4): "4:1:0",
}


def subsampling_name(sampling: tuple[tuple[int, int], ...]) -> str:
    """ "4:2:0" and the like from the (vertical, horizontal) sampling factors of each component;
    "gray" for one component, "FYxFX" for factors without a common name."""
    if len(sampling) == 1:
        return "gray"
    (yv, yh), (cv, ch) = sampling[0], sampling[1]
    factor = (yv // cv, yh // ch)
    return _SUBSAMPLING_NAMES.get(factor, f"{factor[0]}x{factor[1]}")


@dataclass(frozen=True)
class JpegHeader:
    """What the markers before the first scan say, parsed without decoding anything."""

    width: int
    height: int
    precision: int
    coding: str
    progressive: bool
    arithmetic: bool
    supported_coding: bool
    components: int
    sampling: tuple[tuple[int, int], ...]  # (vertical, horizontal) per component
    adobe_transform: int | None
    restart_interval: int
    jfif: bool = False  # an APP0 JFIF segment before the first scan
    component_ids: tuple[int, ...] = ()

    @property
    def rgb_coded(self) -> bool:
        """Whether libjpeg decodes the three components as RGB rather than YCbCr, by its own
        rule (jdapimin.c): a JFIF marker means YCbCr; else an Adobe marker says (transform 0:
        RGB); else component ids 'R', 'G', 'B' mean RGB."""
        if self.components != 3 or self.jfif:
            return False
        if self.adobe_transform is not None:
            return self.adobe_transform == 0
        return self.component_ids == (82, 71, 66)


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
        if len(self.components) == 1:
            return (1, 1)
        (yv, yh), (cv, ch) = self.components[0].sampling, self.components[1].sampling
        return (yv // cv, yh // ch)

    @property
    def subsampling(self) -> str:
        return subsampling_name(tuple(c.sampling for c in self.components))

    def table_for(self, component: int) -> np.ndarray:
        return self.tables[self.components[component].table_index]

    def quality(self) -> QualityEstimate:
        used = sorted({c.table_index for c in self.components})
        return estimate_quality([self.tables[i] for i in used])


# --------------------------------------------------------------------------- header parsing


def _segments(data: bytes, source: str) -> Iterator[tuple[int, bytes]]:
    """Yield (marker, payload) for every marker segment up to and including the first SOS."""
    if len(data) < 4 or data[:2] != b"\xff\xd8":
        raise JpegError(_not_jpeg_reason(data), source)
    pos = 2
    while True:
        while pos < len(data) and data[pos] != 0xFF:
            pos += 1  # tolerate garbage between segments, as libjpeg does
        while pos < len(data) and data[pos] == 0xFF:
            pos += 1
        if pos + 2 >= len(data):
            raise JpegError("truncated before the first scan", source)
        marker = data[pos]
        pos += 1
        if marker in (0x01, *range(0xD0, 0xD8)):
            continue
        if marker == 0xD9:
            raise JpegError("no image data (end of image before any scan)", source)
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2 or pos + length > len(data):
            raise JpegError("truncated marker segment", source)
        yield marker, data[pos + 2 : pos + length]
        pos += length
        if marker == 0xDA:
            return


def _not_jpeg_reason(data: bytes) -> str:
    if not data:
        return "empty file, not a JPEG"
    for magic, name in ((b"\x89PNG", "PNG"), (b"GIF8", "GIF"), (b"RIFF", "WebP/RIFF"), (b"BM", "BMP")):
        if data.startswith(magic):
            return f"not a JPEG (looks like a {name} file)"
    return "not a JPEG (no start-of-image marker)"


def read_header(data: bytes, source: str = "<bytes>") -> JpegHeader:
    """Parse the frame header without decoding; raises JpegError for non-JPEG data."""
    sof: tuple[int, bytes] | None = None
    adobe: int | None = None
    restart = 0
    jfif = False
    for marker, payload in _segments(data, source):
        if marker in _SOF_KINDS and sof is None:
            sof = (marker, payload)
        elif marker == 0xE0 and payload.startswith(b"JFIF\x00"):
            jfif = True
        elif marker == 0xEE and payload.startswith(b"Adobe") and len(payload) >= 12:
            adobe = payload[11]
        elif marker == 0xDD and len(payload) >= 2:
            (restart,) = struct.unpack(">H", payload[:2])
    if sof is None:
        raise JpegError("no frame header (SOF) before the first scan", source)
    marker, payload = sof
    if len(payload) < 6:
        raise JpegError("truncated frame header", source)
    precision, height, width, count = struct.unpack(">BHHB", payload[:6])
    if len(payload) < 6 + 3 * count:
        raise JpegError("truncated frame header", source)
    sampling = tuple((payload[6 + 3 * i + 1] & 0x0F, payload[6 + 3 * i + 1] >> 4) for i in range(count))
    ids = tuple(payload[6 + 3 * i] for i in range(count))
    coding, progressive, arithmetic, supported = _SOF_KINDS[marker]
    return JpegHeader(
        width,
        height,
        precision,
        coding,
        progressive,
        arithmetic,
        supported,
        count,
        sampling,
        adobe,
        restart,
        jfif,
        ids,
    )


def check_supported(
    header: JpegHeader, source: str, max_pixels: int = DEFAULT_MAX_PIXELS, file_size: int | None = None
) -> None:
    """Raise a clear error for every JPEG this tool does not restore."""
    if not header.supported_coding:
        raise UnsupportedJpegError(f"{header.coding} JPEG is not supported", source)
    if header.precision != 8:
        raise UnsupportedJpegError(f"{header.precision}-bit JPEG is not supported (8-bit only)", source)
    if header.components == 4:
        raise UnsupportedJpegError("CMYK/YCCK JPEG is not supported", source)
    if header.components not in (1, 3):
        raise UnsupportedJpegError(f"{header.components}-component JPEG is not supported", source)
    if header.rgb_coded:
        raise UnsupportedJpegError("RGB-coded JPEG (no YCbCr transform) is not supported", source)
    if header.width == 0 or header.height == 0:
        raise JpegError("image size of zero in the frame header", source)
    if any(not (1 <= v <= 4 and 1 <= h <= 4) for v, h in header.sampling):
        raise JpegError(f"invalid sampling factors {header.sampling} (each must be 1 to 4)", source)
    if header.width * header.height > max_pixels:
        raise ImageTooLargeError(
            f"{header.width}x{header.height} is larger than the limit of {max_pixels:,} pixels"
            " (raise it with --max-pixels)",
            source,
        )
    pixels = header.width * header.height
    if file_size is not None and pixels > BOMB_MIN_PIXELS and pixels > file_size * BOMB_PIXELS_PER_BYTE:
        raise ImageTooLargeError(
            f"claims {header.width}x{header.height} in {file_size:,} bytes: no photo compresses that far"
            " (a flat synthetic image or a decompression bomb); not restored",
            source,
        )
    if header.components == 3:
        (yv, yh), cb, cr = header.sampling
        if cb != cr or yv % cb[0] or yh % cb[1] or (yv // cb[0], yh // cb[1]) not in _SUBSAMPLING_NAMES:
            raise UnsupportedJpegError(f"unusual sampling factors {header.sampling}", source)


# --------------------------------------------------------------------------- the tables in use


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


def read_tables(data: bytes, source: str = "<bytes>", max_scans: int = DEFAULT_MAX_SCANS) -> TableUse:
    """Walk every marker of the file (skipping the entropy-coded data) and latch each
    component's quantization table as libjpeg does. Raises JpegError for a table used but not
    defined, a zero table entry, more than `max_scans` scans, or a file that ends before its
    end-of-image marker (cut short: libjpeg would fill the rest with grey)."""
    if len(data) < 4 or data[:2] != b"\xff\xd8":
        raise JpegError(_not_jpeg_reason(data), source)
    defined: dict[int, np.ndarray] = {}
    ids: list[int] = []
    slots: list[int] = []
    latched: dict[int, np.ndarray] = {}
    scans, pos, n = 0, 2, len(data)
    while True:
        while pos < n and data[pos] != 0xFF:
            pos += 1  # garbage between segments, as libjpeg tolerates it
        while pos < n and data[pos] == 0xFF:
            pos += 1
        if pos >= n:
            raise JpegError(_cut_short(scans), source)
        marker = data[pos]
        pos += 1
        if marker in (0x01, *range(0xD0, 0xD8)):
            continue
        if marker == 0xD9:
            break
        if marker < 0xC0:  # reserved codes: corrupt data, not a marker
            where = f"in scan {scans}" if scans else "between the markers"
            raise JpegError(f"corrupt data {where}: 0xFF 0x{marker:02X} at byte {pos - 2:,} is no marker", source)
        if pos + 2 > n or int.from_bytes(data[pos : pos + 2], "big") < 2:
            raise JpegError(_cut_short(scans) if pos + 2 > n else "malformed marker segment", source)
        end = pos + int.from_bytes(data[pos : pos + 2], "big")
        if end > n:
            raise JpegError(_cut_short(scans), source)
        payload = data[pos + 2 : end]
        pos = end
        if marker == 0xDB:
            defined.update(_quantization_tables(payload, source))
        elif marker in _SOF_KINDS and not ids:
            ids, slots = _frame_components(payload, source)
        elif marker == 0xDA:
            for index in _scan_components(payload, ids, source):
                if index not in latched:
                    latched[index] = _defined(defined, slots[index], source)
            scans += 1
            if scans > max_scans:
                raise JpegError(
                    f"more than {max_scans:,} scans (no encoder writes that many; raise the limit with --max-scans)",
                    source,
                )
            pos = _scan_end(data, pos)
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


def _cut_short(scans: int) -> str:
    where = f"in scan {scans}" if scans else "before the first scan"
    return f"truncated: the file ends {where}, before its end-of-image marker"


# --------------------------------------------------------------------------- header only


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


def read_info(data: bytes, source: str = "<bytes>", max_scans: int = DEFAULT_MAX_SCANS) -> JpegInfo:
    """Header, quantization tables and metadata, read from the markers alone: fast at any
    size (nothing is decoded, so no pixel limit applies), and the same reading of the tables
    as `read_jpeg`'s."""
    header = read_header(data, source)
    try:
        check_supported(header, source, max_pixels=2**62)
        unsupported = None
    except UnsupportedJpegError as e:  # described all the same: info only reads markers
        unsupported = e.args[0]
    tables, problem = None, None
    if header.supported_coding:
        try:
            tables = read_tables(data, source, max_scans)
        except JpegError as e:  # the header and metadata are described all the same
            problem = e.args[0]
    icc, exif, orientation = _metadata(data)
    carried, notes = _kept_segments(data, source)
    return JpegInfo(header, tables, icc, exif, orientation, carried, notes, unsupported, problem)


def carried_segments(data: bytes, source: str = "<bytes>") -> tuple[Segment, ...]:
    """The XMP, Photoshop/IPTC and comment segments before the first scan, in file order."""
    return _kept_segments(data, source)[0]


def _kept_segments(data: bytes, source: str) -> tuple[tuple[Segment, ...], tuple[str, ...]]:
    """From one walk of the markers before the first scan: the segments an output carries
    (`carried_segments`), and what no output will hold (`metadata.reading_notes`)."""
    segments = list(_segments(data, source))
    return tuple(Segment(m, p) for m, p in segments if is_carried(m, p)), reading_notes(segments)


# --------------------------------------------------------------------------- reading


def decode_strict(data: bytes, header: JpegHeader, source: str) -> np.ndarray:
    """libjpeg-turbo's own decode, (H, W, 3) or (H, W) uint8, in strict mode: libjpeg itself
    only *warns* about truncated or corrupt entropy-coded data (jpeglib passes that on
    silently), strict mode makes those warnings errors."""
    import simplejpeg

    gray = header.components == 1
    try:
        pixels = simplejpeg.decode_jpeg(data, colorspace="GRAY" if gray else "RGB", strict=True)
    except ValueError as e:
        raise JpegError(f"corrupt or truncated JPEG: {e}", source) from e
    return pixels[..., 0] if gray else pixels


@contextmanager
def _as_file(data: bytes) -> Iterator[str]:
    """jpeglib reads paths only: give it a private temporary copy of the bytes."""
    handle, name = tempfile.mkstemp(suffix=".jpg")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        yield name
    finally:
        os.unlink(name)


_METADATA_MARKERS = {*range(0xE0, 0xF0), 0xFE}  # APP0..APP15, COM
_STANDALONE_MARKERS = {0x01, *range(0xD0, 0xDA)}  # TEM, RST0..7, SOI, EOI


# As libjpeg reads entropy-coded data: a run of 0xFF then 0x00 is one stuffed 0xFF byte, a
# run of 0xFF then RSTn a restart marker, a run of 0xFF then anything else a marker.
_MARKER_IN_SCAN = re.compile(rb"\xff+[^\x00\xd0-\xd7\xff]")


def _scan_end(data: bytes, pos: int) -> int:
    """Where the entropy-coded data starting at `pos` ends: the first 0xFF of the run that
    begins a marker (not a stuffed 0xFF00, not a restart marker), or the end of the data."""
    found = _MARKER_IN_SCAN.search(data, pos)
    return found.start() if found else len(data)


def without_metadata_segments(data: bytes) -> bytes:
    """The JPEG with every APPn and COM segment removed, before and between scans; everything
    else (tables, frame, scans, entropy-coded data) byte for byte.

    This is what the coefficient reader gets: jpeglib saves metadata segments with a fixed-size
    list (more than ~50 of them fail) and an empty one (length 2) makes it overrun its buffer,
    a crash on a valid file. The reader needs none of them: ICC and EXIF are read separately.
    Malformed structure is copied through unchanged, for the reader to report.
    """
    out = bytearray(data[:2])
    pos, n = 2, len(data)
    while pos < n:
        if data[pos] != 0xFF:  # garbage between segments, as libjpeg tolerates it
            out.append(data[pos])
            pos += 1
            continue
        start = pos
        while pos < n and data[pos] == 0xFF:
            pos += 1
        if pos + 1 > n:
            out += data[start:]
            break
        marker = data[pos]
        pos += 1
        if marker in _STANDALONE_MARKERS:
            out += data[start:pos]
            if marker == 0xD9:
                out += data[pos:]
                break
            continue
        if pos + 2 > n:
            out += data[start:]
            break
        end = pos + int.from_bytes(data[pos : pos + 2], "big")
        if end < pos + 2 or end > n:
            out += data[start:]
            break
        if marker not in _METADATA_MARKERS:
            out += data[start:end]
        pos = end
        if marker == 0xDA:
            scan_end = _scan_end(data, pos)
            out += data[pos:scan_end]
            pos = scan_end
    return bytes(out)


def _jpeglib():
    import jpeglib

    jpeglib.version.set(LIBJPEG_VERSION)
    return jpeglib


def _metadata(data: bytes) -> tuple[bytes | None, bytes | None, int]:
    """(ICC profile, EXIF block, EXIF orientation) as Pillow reads them; none of them where
    Pillow cannot parse the markers (the pixels do not depend on them)."""
    # JpegImageFile directly, not Image.open: Pillow's own pixel limit (178,956,970) would
    # refuse what check_supported, with its --max-pixels, has already allowed
    try:
        image = JpegImagePlugin.JpegImageFile(io.BytesIO(data))
    except (SyntaxError, OSError, ValueError, IndexError, TypeError, struct.error):
        return None, None, 1
    with image as im:
        icc = im.info.get("icc_profile") or None
        exif = im.info.get("exif") or None
        try:
            orientation = int(im.getexif().get(0x0112, 1))
        except (ValueError, TypeError, SyntaxError, struct.error):
            orientation = 1
    return icc, exif, orientation if 1 <= orientation <= 8 else 1


def max_file_bytes(max_pixels: int = DEFAULT_MAX_PIXELS) -> int:
    """The largest JPEG file of at most `max_pixels` pixels that is worth reading."""
    return METADATA_ALLOWANCE + BYTES_PER_PIXEL * max_pixels


_NOT_REGULAR = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a pipe, not a file (pipe it to standard input instead: qgac restore - OUT < it)"),
    (stat.S_ISCHR, "a device, not a file"),
    (stat.S_ISBLK, "a device, not a file"),
    (stat.S_ISSOCK, "a socket, not a file"),
)


def _too_large(size: int, limit: int) -> str:
    return f"{size:,} bytes is more than any JPEG within the pixel limit ({limit:,} bytes; see --max-pixels)"


def read_regular_file(path: str | os.PathLike, source: str, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes. Anything else (a pipe, which would
    block, a device, which may never end, a folder) is refused without reading it; opening is
    non-blocking, so even a FIFO with no writer is refused at once."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise JpegError(f"cannot read: {e.strerror or e}", source) from e
    try:
        info = os.fstat(fd)
        for test, what in _NOT_REGULAR:
            if test(info.st_mode):
                raise JpegError(f"is {what}", source)
        if not stat.S_ISREG(info.st_mode):
            raise JpegError("is not a regular file", source)
        if info.st_size > limit:
            raise ImageTooLargeError(_too_large(info.st_size, limit), source)
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as f:
            fd = -1  # the file object closes it
            return f.read(limit + 1)
    except OSError as e:
        raise JpegError(f"cannot read: {e.strerror or e}", source) from e
    finally:
        if fd >= 0:
            os.close(fd)


def read_stream(stream, source: str = "<stdin>", limit: int | None = None) -> bytes:
    """Read a stream (standard input) to its end, refusing more than `limit` bytes; data that
    does not start like a JPEG is returned after its first chunk (the reader says what it is),
    so `< /dev/zero` ends at once."""
    limit = max_file_bytes() if limit is None else limit
    data = bytearray()
    while True:
        chunk = stream.read(min(1 << 20, limit + 1 - len(data)))
        if not chunk:
            return bytes(data)
        data += chunk
        if len(data) >= 2 and data[:2] != b"\xff\xd8":
            return bytes(data)
        if len(data) > limit:
            raise ImageTooLargeError(f"more than {limit:,} bytes, more than any JPEG within the pixel limit", source)


def file_bytes(
    data: bytes | str | os.PathLike, source: str | None = None, limit: int | None = None
) -> tuple[bytes, str]:
    """(the bytes, the name errors give) of bytes or a path (a regular file only, at most
    `limit` bytes: by default what the default pixel limit allows)."""
    if isinstance(data, bytes):
        return data, source or "<bytes>"
    source = source or str(data)
    return read_regular_file(data, source, max_file_bytes() if limit is None else limit), source


def read_jpeg(
    data: bytes | str | os.PathLike,
    source: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    keep_decoded: bool = True,
    max_scans: int = DEFAULT_MAX_SCANS,
) -> JpegData:
    """Read a JPEG's quantized coefficients, tables and metadata from bytes or a path.

    libjpeg decodes the whole image first, strictly, as the corruption check; the decode is
    kept as `decoded` unless keep_decoded is False (then it is gone before the coefficients
    are read: a large image is never held twice)."""
    data, source = file_bytes(data, source, max_file_bytes(max_pixels))
    header = read_header(data, source)
    check_supported(header, source, max_pixels, len(data))
    tables = read_tables(data, source, max_scans)  # before the decode: a scan bomb costs nothing
    decoded = decode_strict(data, header, source)
    if not keep_decoded:
        decoded = None  # checked, not kept
    jpeglib = _jpeglib()
    with _as_file(without_metadata_segments(data)) as name:
        try:
            raw = jpeglib.read_dct(name)
            raw.load()
            planes = [raw.Y] + ([raw.Cb, raw.Cr] if header.components == 3 else [])
            planes = [np.asarray(p, dtype=np.int16) for p in planes]  # int16 already: no copy
        except (OSError, RuntimeError, ValueError, IndexError) as e:
            raise JpegError(f"corrupt JPEG: {e}", source) from e
    components = tuple(
        Component(plane, tables.component_tables[i], header.sampling[i]) for i, plane in enumerate(planes)
    )
    icc, exif, orientation = _metadata(data)
    carried, notes = _kept_segments(data, source)
    return JpegData(
        width=header.width,
        height=header.height,
        components=components,
        tables=tables.tables,
        color_space="YCbCr" if header.components == 3 else "Grayscale",
        coding=header.coding,
        progressive=header.progressive,
        arithmetic=header.arithmetic,
        restart_interval=header.restart_interval,
        icc_profile=icc,
        exif=exif,
        orientation=orientation,
        decoded=decoded,
        segments=carried,
        notes=notes,
    )


# --------------------------------------------------------------------------- writing


def write_coefficients(template: bytes, jpeg: JpegData, path: str | os.PathLike) -> None:
    """Write `jpeg`'s coefficients into a copy of `template` (same tables, markers, sampling)."""
    jpeglib = _jpeglib()
    with _as_file(template) as name:
        raw = jpeglib.read_dct(name)
        raw.load()
        raw.Y = jpeg.components[0].coefficients
        if len(jpeg.components) == 3:
            raw.Cb = jpeg.components[1].coefficients
            raw.Cr = jpeg.components[2].coefficients
        raw.write_dct(str(path))


def with_coefficients(jpeg: JpegData, planes: list[np.ndarray]) -> JpegData:
    """A copy of `jpeg` whose components hold new quantized coefficient arrays."""
    components = tuple(replace(c, coefficients=np.asarray(p, dtype=np.int16)) for c, p in zip(jpeg.components, planes))
    return replace(jpeg, components=components)


SUBSAMPLING_CODES = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


def encode(pixels: np.ndarray, quality: int, subsampling: str = "4:2:0") -> bytes:
    """Encode (H, W, 3) or (H, W) uint8 pixels with libjpeg's standard tables, as Pillow does.

    Baseline, Huffman-coded, integer DCT: the files the field's benchmarks are made of.
    """
    image = Image.fromarray(pixels)
    buffer = io.BytesIO()
    options = {"quality": quality}
    if image.mode != "L":
        if subsampling not in SUBSAMPLING_CODES:
            raise ValueError(f"subsampling must be one of {sorted(SUBSAMPLING_CODES)}")
        options["subsampling"] = SUBSAMPLING_CODES[subsampling]
    image.save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def decode_with_pillow(data: bytes) -> np.ndarray:
    """Decode with libjpeg through Pillow: (H, W, 3) or (H, W) uint8."""
    with Image.open(io.BytesIO(data)) as im:
        im.draft(None, None)
        return np.asarray(im.convert("L" if im.mode == "L" else "RGB"))
