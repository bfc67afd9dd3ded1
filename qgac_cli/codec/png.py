"""A PNG writer that streams: rows go through the Up filter and deflate a band at a time, into
any binary file, so an image is never held a second time (Pillow copies it to 4 bytes a
pixel, then holds the whole encoded file). 8 and 16 bits, grey or RGB, with iCCP, eXIf and
text chunks. Deflate is ISA-L's (`isal`, zlib's format and interface) where it is installed:
on a restored 8 MP photo its level 1 compressed 4.9x faster than zlib's level 1 (6.5 against
31.7 ms/MP) for 3 % more bytes; zlib's otherwise. With zlib at level 1 the writer encodes
1.4–2× faster than Pillow's PNG at the same level (`bench/pipeline_profile.py`: 0.086
against 0.121 s/MP at 1 MP, 0.032 against 0.052 at 12 MP) and ~6 % smaller (the Up filter)."""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import numpy as np

from qgac_cli.codec.metadata import exif_payload

try:  # ISA-L's deflate: the same streams as zlib's, several times faster at its low levels
    from isal import isal_zlib as _deflate
except ImportError:  # pragma: no cover - a platform without isal's wheels
    _deflate = zlib
ISAL_LEVELS = 3  # isal's levels run 0-3

SIGNATURE = b"\x89PNG\r\n\x1a\n"
UP = 2  # PNG filter type: each byte minus the byte above it
BAND_BYTES = 4 << 20  # about this many raw bytes are filtered and compressed at a time


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def deflater(level: int):
    """A streaming compressor of zlib's format at `level` (zlib's 0-9; ISA-L's levels stop at
    3, so 3-9 ask it for its strongest)."""
    return _deflate.compressobj(min(level, ISAL_LEVELS) if _deflate is not zlib else level)


def _rows_as_bytes(pixels: np.ndarray) -> np.ndarray:
    """(h, W·C·bytes) uint8 rows of a band, big-endian for 16 bits."""
    h, w = pixels.shape[:2]
    if pixels.dtype == np.uint16:
        pixels = pixels.astype(">u2")
    return np.ascontiguousarray(pixels).view(np.uint8).reshape(h, -1)


def write_png(
    out: BinaryIO,
    pixels: np.ndarray,
    icc: bytes | None = None,
    exif: bytes | None = None,
    text: list[tuple[bytes, bytes]] = (),
    level: int = 1,
) -> None:
    """Write `pixels` ((H, W, 3) or (H, W), uint8 or uint16, any strides) as a PNG to `out`."""
    if (
        pixels.dtype not in (np.uint8, np.uint16)
        or pixels.ndim not in (2, 3)
        or pixels.ndim == 3
        and pixels.shape[2] != 3
    ):
        raise ValueError(f"write_png takes (H, W) or (H, W, 3) uint8/uint16 pixels, got {pixels.dtype} {pixels.shape}")
    h, w = pixels.shape[:2]
    depth = 16 if pixels.dtype == np.uint16 else 8
    out.write(SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, 2 if pixels.ndim == 3 else 0, 0, 0, 0)))
    if icc:
        out.write(chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(icc)))
    if exif:
        out.write(chunk(b"eXIf", exif_payload(exif)))
    for kind, data in text:
        out.write(chunk(kind, data))
    compressor = deflater(level)
    row_bytes = w * (3 if pixels.ndim == 3 else 1) * depth // 8
    band = max(1, BAND_BYTES // max(1, row_bytes))
    above = np.zeros((1, row_bytes), np.uint8)
    for top in range(0, h, band):
        rows = _rows_as_bytes(pixels[top : top + band])
        filtered = np.empty((rows.shape[0], row_bytes + 1), np.uint8)
        filtered[:, 0] = UP
        np.subtract(rows, np.concatenate([above, rows[:-1]]), out=filtered[:, 1:])
        above = rows[-1:]
        data = compressor.compress(filtered.data)
        if data:
            out.write(chunk(b"IDAT", data))
    out.write(chunk(b"IDAT", compressor.flush()) + chunk(b"IEND", b""))
