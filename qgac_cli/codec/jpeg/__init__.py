"""JPEG files: their markers, headers, tables and coefficients, read and written.

One module per concept (torchjpeg's layout): `markers` (the one walk over a file's markers
that every reader uses), `header` (the frame header and what is supported), `tables` (the
quantization tables in use), `files` (bounded reads), `codec` (every call into libjpeg:
simplejpeg, jpeglib, Pillow), `data` (what a read JPEG is) and `reading` (a file read once,
decoded strictly once, its coefficients read exactly).

Conventions, stated once: coefficients are int16 arrays (blocks_y, blocks_x, 8, 8) in natural
(row-major) order within each block, at the component's stored resolution; quantization
tables are (8, 8) integer arrays in natural order; sampling factors are (vertical,
horizontal); pixels are uint8 (H, W, 3) RGB or (H, W) grey.
"""

from qgac_cli.codec.jpeg.codec import (
    LIBJPEG_VERSION,
    SUBSAMPLING_CODES,
    decode_strict,
    decode_with_pillow,
    encode,
    pillow_metadata,
    read_coefficients,
)
from qgac_cli.codec.jpeg.data import Component, JpegData, JpegInfo, with_coefficients
from qgac_cli.codec.jpeg.files import (
    BYTES_PER_PIXEL,
    METADATA_ALLOWANCE,
    file_bytes,
    max_file_bytes,
    read_regular_file,
    read_stream,
)
from qgac_cli.codec.jpeg.header import (
    BOMB_MIN_PIXELS,
    BOMB_PIXELS_PER_BYTE,
    DEFAULT_MAX_PIXELS,
    JpegHeader,
    check_supported,
    read_header,
    subsampling_name,
)
from qgac_cli.codec.jpeg.markers import Marker, Markers, carried_segments, walk, without_metadata_segments
from qgac_cli.codec.jpeg.reading import read_info, read_jpeg, write_coefficients
from qgac_cli.codec.jpeg.tables import DEFAULT_MAX_SCANS, TableUse, read_tables

__all__ = [
    "BOMB_MIN_PIXELS",
    "BOMB_PIXELS_PER_BYTE",
    "BYTES_PER_PIXEL",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_SCANS",
    "LIBJPEG_VERSION",
    "METADATA_ALLOWANCE",
    "SUBSAMPLING_CODES",
    "Component",
    "JpegData",
    "JpegHeader",
    "JpegInfo",
    "Marker",
    "TableUse",
    "Markers",
    "carried_segments",
    "check_supported",
    "decode_strict",
    "decode_with_pillow",
    "encode",
    "file_bytes",
    "max_file_bytes",
    "pillow_metadata",
    "read_coefficients",
    "read_header",
    "read_info",
    "read_jpeg",
    "read_regular_file",
    "read_stream",
    "read_tables",
    "subsampling_name",
    "walk",
    "with_coefficients",
    "without_metadata_segments",
    "write_coefficients",
]
