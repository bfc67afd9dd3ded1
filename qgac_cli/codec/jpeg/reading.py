"""Reading a JPEG: each file's bytes read once (bounded), its markers walked, decoded strictly
once as the corruption check, its coefficients read exactly."""

from __future__ import annotations

import os
from collections.abc import Callable

from qgac_cli.codec.jpeg import codec
from qgac_cli.codec.jpeg.data import Component, JpegData, JpegInfo
from qgac_cli.codec.jpeg.files import file_bytes, max_file_bytes
from qgac_cli.codec.jpeg.header import DEFAULT_MAX_PIXELS, JpegHeader, check_supported, read_header
from qgac_cli.codec.jpeg.markers import Markers, kept_segments, markers_of
from qgac_cli.codec.jpeg.tables import DEFAULT_MAX_SCANS, TableUse, read_tables
from qgac_cli.errors import JpegError, UnsupportedJpegError

KeepDecoded = bool | Callable[[JpegHeader, TableUse], bool]


def read_jpeg(
    data: bytes | str | os.PathLike | Markers,
    source: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    keep_decoded: KeepDecoded = True,
    max_scans: int = DEFAULT_MAX_SCANS,
) -> JpegData:
    """Read a JPEG's quantized coefficients, tables and metadata from bytes or a path; the
    bytes are read once, the image decoded once.

    libjpeg decodes the image first, strictly, as the corruption check. Where the decode is
    wanted (`keep_decoded` True, or a function of the header and tables that says so) it is
    made at full size and kept as `decoded`; where not, it is made at 1/8 scale, which checks
    every scan as well, and dropped before the coefficients are read."""
    if not isinstance(data, Markers):  # else a reader's, who may have walked some of them
        data = Markers(*file_bytes(data, source, max_file_bytes(max_pixels)))
    markers, data, source = data, data.data, data.source  # the markers walked once, by every reader below
    header = read_header(markers)
    check_supported(header, source, max_pixels, len(data))
    tables = read_tables(markers, max_scans=max_scans)  # before the decode: a scan bomb costs nothing
    keep = keep_decoded(header, tables) if callable(keep_decoded) else keep_decoded
    decoded = codec.decode_strict(data, header, source, scaled=not keep)
    if not keep:
        decoded = None  # checked, not kept
    planes = codec.read_coefficients(markers, header.components, source)
    components = tuple(
        Component(plane, tables.component_tables[i], header.sampling[i]) for i, plane in enumerate(planes)
    )
    icc, exif, orientation = codec.pillow_metadata(data)
    carried, notes = kept_segments(markers)
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


def read_info(data: bytes | Markers, source: str = "<bytes>", max_scans: int = DEFAULT_MAX_SCANS) -> JpegInfo:
    """Header, quantization tables and metadata, read from the markers alone: fast at any
    size (nothing is decoded, so no pixel limit applies), and the same reading of the tables
    as `read_jpeg`'s. Given a file's `Markers`, walks them once for `read_jpeg` too."""
    markers = markers_of(data, source)
    header = read_header(markers)
    try:
        check_supported(header, source, max_pixels=2**62)
        unsupported = None
    except UnsupportedJpegError as e:  # described all the same: info only reads markers
        unsupported = e.args[0]
    tables, problem = None, None
    if header.supported_coding:
        try:
            tables = read_tables(markers, max_scans=max_scans)
        except JpegError as e:  # the header and metadata are described all the same
            problem = e.args[0]
    icc, exif, orientation = codec.pillow_metadata(markers.data)
    carried, notes = kept_segments(markers)
    return JpegInfo(header, tables, icc, exif, orientation, carried, notes, unsupported, problem)


def write_coefficients(template: bytes, jpeg: JpegData, path: str | os.PathLike) -> None:
    """Write `jpeg`'s coefficients into a copy of `template` (same tables, markers, sampling)."""
    codec.write_planes(template, [c.coefficients for c in jpeg.components], path)
