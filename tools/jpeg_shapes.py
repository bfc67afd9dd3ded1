"""Valid JPEG files of shapes that encoders seldom write and mutation fuzzers seldom reach:
tables in unusual slots, tables redefined between scans, one scan per component, many
scans. Made from Pillow's output by rewriting markers, never by hand-coding entropy data.

Used by the tests and by tools/fuzz_reader.py (as seeds its mutations start from).
"""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def split(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """(marker, payload, entropy-coded data after it) for every segment of a JPEG up to EOI;
    the entropy data is empty except after a scan header."""
    out, pos = [], 2
    while pos < len(data):
        while data[pos] == 0xFF and data[pos + 1] == 0xFF:
            pos += 1
        marker = data[pos + 1]
        if marker == 0xD9:
            break
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        payload = data[pos + 4 : pos + 2 + length]
        pos += 2 + length
        entropy = b""
        if marker == 0xDA:
            end = pos
            while not (data[end] == 0xFF and data[end + 1] not in (0x00, *range(0xD0, 0xD8))):
                end += 1
            entropy, pos = data[pos:end], end
        out.append((marker, payload, entropy))
    return out


def join(parts: list[tuple[int, bytes, bytes]]) -> bytes:
    return b"\xff\xd8" + b"".join(segment(m, p) + e for m, p, e in parts) + b"\xff\xd9"


def pillow(pixels: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def _dqt_tables(payload: bytes) -> list[tuple[int, bytes]]:
    """(slot, the entry bytes after the precision/slot byte) of each table in a DQT payload."""
    tables, pos = [], 0
    while pos < len(payload):
        size = 128 if payload[pos] >> 4 else 64
        tables.append((payload[pos], payload[pos + 1 : pos + 1 + size]))
        pos += 1 + size
    return tables


def relabel_tables(data: bytes, mapping: dict[int, int]) -> bytes:
    """The file with its quantization table slots renamed (DQT and frame header alike), e.g.
    {1: 2}: chroma on slot 2 with slot 1 unused; {0: 1} on a grey file: its only table is 1."""
    parts = []
    for marker, payload, entropy in split(data):
        if marker == 0xDB:
            payload = b"".join(
                bytes([(pq & 0xF0) | mapping.get(pq & 0x0F, pq & 0x0F)]) + t for pq, t in _dqt_tables(payload)
            )
        elif marker in (0xC0, 0xC1, 0xC2):
            frame = bytearray(payload)
            for i in range(frame[5]):
                frame[6 + 3 * i + 2] = mapping.get(frame[6 + 3 * i + 2], frame[6 + 3 * i + 2])
            payload = bytes(frame)
        parts.append((marker, payload, entropy))
    return join(parts)


def redefine_after_first_scan(data: bytes, slot: int = 0, scale: int = 3) -> bytes:
    """A progressive file whose table `slot` is redefined (every entry × scale, at most 255)
    after its first scan. libjpeg latches each component's table at its first scan, so the
    redefinition changes nothing for components already scanned."""
    parts = split(data)
    dqt = next(p for m, p, _ in parts if m == 0xDB)
    entries = dict(_dqt_tables(dqt))
    old = np.frombuffer(entries[slot], np.uint8)
    redefined = bytes([slot]) + np.minimum(old.astype(int) * scale, 255).astype(np.uint8).tobytes()
    first_scan = next(i for i, (m, _, _) in enumerate(parts) if m == 0xDA)
    return join(parts[: first_scan + 1] + [(0xDB, redefined, b"")] + parts[first_scan + 1 :])


def one_scan_per_component(rgb: np.ndarray, qualities: tuple[int, int], slots: tuple[int, int]) -> bytes:
    """A sequential 4:4:4 JPEG with one scan per component (non-interleaved), each scan's
    table defined just before it: Y with quality qualities[0] in slot slots[0], then Cb and
    Cr with qualities[1] in slot slots[1]. With equal slots the slot is *redefined* between
    Y's scan and the chroma scans (each component keeps the table latched at its first scan).

    Each plane is encoded by Pillow as a grayscale JPEG: its one scan is exactly the
    non-interleaved scan of that component in a 4:4:4 frame."""
    planes = Image.fromarray(rgb).convert("YCbCr").split()
    height, width = rgb.shape[:2]
    frame = struct.pack(">BHHB", 8, height, width, 3)
    frame += b"".join(bytes([i + 1, 0x11, slots[min(i, 1)]]) for i in range(3))
    parts: list[tuple[int, bytes, bytes]] = []
    for i, plane in enumerate(planes):
        gray = split(pillow(np.asarray(plane), quality=qualities[min(i, 1)]))
        (slot_byte, entries), *_ = _dqt_tables(next(p for m, p, _ in gray if m == 0xDB))
        if i < 2:  # Cr uses the table defined for Cb
            parts.append((0xDB, bytes([(slot_byte & 0xF0) | slots[i]]) + entries, b""))
        if i == 0:
            parts.append((0xC0, frame, b""))
        parts += [(m, p, e) for m, p, e in gray if m == 0xC4]  # its Huffman tables (slot 0)
        _, scan, entropy = next(s for s in gray if s[0] == 0xDA)
        parts.append((0xDA, bytes([1, i + 1]) + scan[2:], entropy))
    return join(parts)


def many_scans(data: bytes, count: int) -> bytes:
    """A progressive file with its last scan repeated until it has `count` scans. libjpeg
    decodes it with a warning (an inconsistent progression), slowly: each scan is a pass over
    the whole image; strict decoding refuses it, and the scan limit refuses it before that."""
    parts = split(data)
    last = max(i for i, (m, _, _) in enumerate(parts) if m == 0xDA)
    scans = sum(m == 0xDA for m, _, _ in parts)
    return join(parts + [parts[last]] * max(0, count - scans))
