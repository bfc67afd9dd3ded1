"""Bounded reads: a file or a stream is read only when it can hold a JPEG within the pixel
limit, and nothing that is not a regular file is opened for reading."""

from __future__ import annotations

import os
import stat

from qgac_cli.codec.jpeg.header import DEFAULT_MAX_PIXELS
from qgac_cli.errors import ImageTooLargeError, JpegError

# The largest file worth reading for a pixel limit: noise at quality 100, 4:4:4, takes 4.1
# bytes a pixel; twice that, plus room for metadata. Anything larger is refused unread (a
# device such as /dev/zero on standard input would otherwise be read until memory runs out).
BYTES_PER_PIXEL = 8
METADATA_ALLOWANCE = 64 << 20


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
