"""`qgac info`: what a JPEG file holds, as plain data: from its markers (instant at any
size), and, for a file qgac restores, whether it was compressed before (its coefficients
are read for that, unless `recompression` is False)."""

from __future__ import annotations

import os

from qgac_cli.codec import metadata
from qgac_cli.codec.jpeg import DEFAULT_MAX_SCANS, Markers, file_bytes, read_info, read_jpeg, subsampling_name
from qgac_cli.codec.quality import estimate_quality
from qgac_cli.errors import QgacError
from qgac_cli.pathnames import json_path
from qgac_cli.recompression import find_first_compression


def describe(
    path: str | os.PathLike, data: bytes | None = None, max_scans: int = DEFAULT_MAX_SCANS, recompression: bool = True
) -> dict:
    """A JSON-ready description of a JPEG file, or of `data` read from it (raises JpegError
    for bad files). `recompressed` is the earlier compression its coefficients show
    (`recompression.FirstCompression.as_dict`), null for none, and absent where not looked
    for (`recompression` False, or a file qgac does not restore)."""
    if data is None:
        data, _ = file_bytes(path, str(path))
    markers = Markers(data, str(path))  # walked once, for the description and the coefficients
    info = read_info(markers, max_scans=max_scans)
    header = info.header
    tables = info.tables
    estimate = estimate_quality(list(tables.tables)) if tables else None
    restorable = info.unsupported is None and info.problem is None
    return {
        **json_path("path", str(path)),
        "width": header.width,
        "height": header.height,
        "components": header.components,
        "color_space": _color_space(header),
        "restorable": restorable,
        "unsupported": info.unsupported,
        "problem": info.problem,  # what is wrong past the header (a corrupt or cut scan), or null
        "subsampling": subsampling_name(header.sampling),
        "sampling_factors": [[h, v] for v, h in header.sampling],  # (horizontal, vertical), as libjpeg and Pillow
        "coding": header.coding,
        "progressive": header.progressive,
        "arithmetic": header.arithmetic,
        "restart_interval": header.restart_interval,
        "quality_estimate": None
        if estimate is None
        else {
            "quality": estimate.quality,
            "exact": estimate.exact,
            "mean_abs_error": round(estimate.mean_abs_error, 4),
        },
        "quant_tables": [table.astype(int).tolist() for table in tables.tables] if tables else [],
        "component_tables": list(tables.component_tables) if tables else [],  # indices into quant_tables
        "table_slots": list(tables.slots) if tables else [],  # the DQT slot each component's frame entry names
        "scans": tables.scans if tables else None,
        "icc_profile": info.icc_profile is not None,
        "exif": info.exif is not None,
        "orientation": info.orientation,
        "xmp": metadata.xmp_packet(info.segments) is not None,
        "iptc": metadata.iptc_record(metadata.photoshop_resources(info.segments)) is not None,
        "comment": (text.decode("utf-8", "replace") if (text := metadata.comment(info.segments)) else None),
        "notes": list(info.notes),  # what no output will hold: further MPO pictures, a second EXIF
        **(_recompressed(markers, max_scans) if recompression and restorable else {}),
    }


def _recompressed(markers: Markers, max_scans: int) -> dict:
    """{"recompressed": the first compression found, or None}; {} where the coefficients
    cannot be read (the restore would say why)."""
    try:
        jpeg = read_jpeg(markers, keep_decoded=False, max_scans=max_scans)
    except QgacError:
        return {}
    found = find_first_compression(jpeg)
    return {"recompressed": found.as_dict() if found is not None else None}


def _color_space(header) -> str:
    if header.components == 4:
        return "YCCK" if header.adobe_transform == 2 else "CMYK"
    if header.components == 3:
        return "RGB" if header.rgb_coded else "YCbCr"
    return "Grayscale" if header.components == 1 else f"{header.components} components"
