"""A PNG writer that streams: rows go through the Up filter and zlib a band at a time, into
any binary file, so an image is never held a second time (Pillow copies it to 4 bytes a
pixel, then holds the whole encoded file). 8 and 16 bits, grey or RGB, with iCCP, eXIf and
text chunks. At zlib level 1 it encodes 1.4–2× faster than Pillow's PNG at the same level
(`bench/pipeline_profile.py`: 0.086 against 0.121 s/MP at 1 MP, 0.032 against 0.052 at 12 MP)
and ~6 % smaller (the Up filter; an 8 MP photo)."""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import numpy as np

from qgac_cli.metadata import exif_payload

SIGNATURE = b"\x89PNG\r\n\x1a\n"
UP = 2  # PNG filter type: each byte minus the byte above it
BAND_BYTES = 4 << 20  # about this many raw bytes are filtered and compressed at a time


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


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
    compressor = zlib.compressobj(level)
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
