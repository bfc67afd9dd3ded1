"""A JPEG file's markers, walked once and the same way by every reader.

`walk` yields every marker from the one after SOI to EOI as libjpeg reads them: garbage
between segments is skipped, a run of 0xFF fill bytes belongs to the marker it precedes, and
the entropy-coded data after a scan header (SOS) is skipped to the next marker (not a stuffed
0xFF00, not a restart marker). Anything libjpeg would stop at, or fill with grey, is a
JpegError naming the problem. Readers: the frame header (`header`), the tables in use
(`tables`), the segments an output carries and the copy the coefficient reader gets; reading
a file, they share one `Markers`, so the file is walked once (the entropy-coded data of a
24 MP photo takes ~0.08 s to step over).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from qgac_cli.codec.metadata import Segment, is_carried, reading_notes
from qgac_cli.errors import JpegError

SOI = b"\xff\xd8"
EOI = 0xD9
SOS = 0xDA
DQT = 0xDB
DRI = 0xDD
STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0..7: no length, no payload
METADATA = {*range(0xE0, 0xF0), 0xFE}  # APP0..APP15, COM

# As libjpeg reads entropy-coded data: a run of 0xFF then 0x00 is one stuffed 0xFF byte, a
# run of 0xFF then RSTn a restart marker, a run of 0xFF then anything else a marker.
_MARKER_IN_SCAN = re.compile(rb"\xff+[^\x00\xd0-\xd7\xff]")


@dataclass(frozen=True)
class Marker:
    """One marker of a file."""

    code: int
    start: int  # where its run of 0xFF fill bytes begins
    end: int  # past its segment; for a scan header, past the entropy-coded data after it
    payload: bytes = b""


def not_jpeg_reason(data: bytes) -> str:
    if not data:
        return "empty file, not a JPEG"
    for magic, name in ((b"\x89PNG", "PNG"), (b"GIF8", "GIF"), (b"RIFF", "WebP/RIFF"), (b"BM", "BMP")):
        if data.startswith(magic):
            return f"not a JPEG (looks like a {name} file)"
    return "not a JPEG (no start-of-image marker)"


def cut_short(scans: int) -> str:
    where = f"in scan {scans}" if scans else "before the first scan"
    return f"truncated: the file ends {where}, before its end-of-image marker"


def scan_end(data: bytes, pos: int) -> int:
    """Where the entropy-coded data starting at `pos` ends: the first 0xFF of the run that
    begins a marker (not a stuffed 0xFF00, not a restart marker), or the end of the data."""
    found = _MARKER_IN_SCAN.search(data, pos)
    return found.start() if found else len(data)


def walk(data: bytes, source: str = "<bytes>") -> Iterator[Marker]:
    """Every marker after SOI up to and including EOI, in file order (see the module)."""
    if len(data) < 4 or data[:2] != SOI:
        raise JpegError(not_jpeg_reason(data), source)
    pos, n, scans = 2, len(data), 0
    while True:
        start = data.find(b"\xff", pos)  # garbage between segments, as libjpeg tolerates it
        pos = n if start < 0 else start
        while pos < n and data[pos] == 0xFF:
            pos += 1
        if pos >= n:
            raise JpegError(cut_short(scans), source)
        code, pos = data[pos], pos + 1
        if code in STANDALONE or code == EOI:
            yield Marker(code, start, pos)
            if code == EOI:
                return
            continue
        if code < 0xC0:  # reserved codes: corrupt data, not a marker
            where = f"in scan {scans}" if scans else "between the markers"
            raise JpegError(f"corrupt data {where}: 0xFF 0x{code:02X} at byte {pos - 2:,} is no marker", source)
        if pos + 2 > n:
            raise JpegError(cut_short(scans), source)
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2:
            raise JpegError("malformed marker segment", source)
        if pos + length > n:
            raise JpegError(cut_short(scans), source)
        payload, pos = data[pos + 2 : pos + length], pos + length
        if code == SOS:
            scans += 1
            pos = scan_end(data, pos)
        yield Marker(code, start, pos, payload)


class Markers:
    """A file's markers (`walk`), walked at most once however many readers ask: each reader
    iterates from the start, the walk goes only as far as the farthest reader has gone, and a
    problem found on the way is raised again to every reader that reaches it. A reader that
    stops early (the frame header, a scan limit) leaves the rest of the file unwalked."""

    def __init__(self, data: bytes, source: str = "<bytes>") -> None:
        self.data, self.source = data, source
        self._walk = walk(data, source)
        self._seen: list[Marker] = []
        self._done = False
        self._problem: JpegError | None = None

    def __iter__(self) -> Iterator[Marker]:
        i = 0
        while i < len(self._seen) or self._advance():
            yield self._seen[i]
            i += 1

    def _advance(self) -> bool:
        if self._problem is not None:
            raise self._problem.with_traceback(None)
        if self._done:
            return False
        try:
            self._seen.append(next(self._walk))
        except StopIteration:
            self._done = True
            return False
        except JpegError as e:
            self._problem = e
            raise
        return True


def markers_of(data: bytes | Markers, source: str = "<bytes>") -> Markers:
    """The markers of a file's bytes, or the same `Markers` where a reader already has them."""
    return data if isinstance(data, Markers) else Markers(data, source)


def before_first_scan(data: bytes | Markers, source: str = "<bytes>") -> Iterator[Marker]:
    """The segments up to and including the first scan header (standalone markers left out)."""
    for marker in markers_of(data, source):
        if marker.code == EOI:
            raise JpegError("no image data (end of image before any scan)", source)
        if marker.code not in STANDALONE:
            yield marker
        if marker.code == SOS:
            return


def kept_segments(data: bytes | Markers, source: str = "<bytes>") -> tuple[tuple[Segment, ...], tuple[str, ...]]:
    """From the segments before the first scan: those an output carries (XMP, Photoshop/IPTC,
    comments, `metadata.is_carried`), and what no output will hold (`metadata.reading_notes`)."""
    segments = [(m.code, m.payload) for m in before_first_scan(data, source)]
    return tuple(Segment(m, p) for m, p in segments if is_carried(m, p)), reading_notes(segments)


def carried_segments(data: bytes | Markers, source: str = "<bytes>") -> tuple[Segment, ...]:
    """The XMP, Photoshop/IPTC and comment segments before the first scan, in file order."""
    return kept_segments(data, source)[0]


def without_metadata_segments(data: bytes | Markers) -> bytes:
    """The JPEG with every APPn and COM segment removed, before and between scans; everything
    else (tables, frame, scans, entropy-coded data, garbage between segments) byte for byte.

    This is what the coefficient reader gets: jpeglib saves metadata segments with a fixed-size
    list (more than ~50 of them fail) and an empty one (length 2) makes it overrun its buffer,
    a crash on a valid file. The reader needs none of them: ICC and EXIF are read separately.
    From the first malformed structure on, the rest is copied unchanged, for the reader to report.
    """
    markers = markers_of(data)
    data = markers.data
    out, pos = bytearray(data[:2]), 2
    try:
        for marker in markers:
            out += data[pos : marker.start]
            if marker.code not in METADATA:
                out += data[marker.start : marker.end]
            pos = marker.end
    except JpegError:
        pass
    return bytes(out + data[pos:])
