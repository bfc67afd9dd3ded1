"""`qgac info`: what a JPEG file holds, as plain data."""

from __future__ import annotations

import os

from qgac_cli.jpeg import read_jpeg


def describe(path: str | os.PathLike) -> dict:
    """A JSON-ready description of a JPEG file (raises JpegError for bad files)."""
    jpeg = read_jpeg(path)
    estimate = jpeg.quality()
    return {
        "path": str(path),
        "width": jpeg.width,
        "height": jpeg.height,
        "components": len(jpeg.components),
        "color_space": jpeg.color_space,
        "subsampling": jpeg.subsampling,
        "sampling_factors": [list(c.sampling) for c in jpeg.components],
        "coding": jpeg.coding,
        "progressive": jpeg.progressive,
        "arithmetic": jpeg.arithmetic,
        "restart_interval": jpeg.restart_interval,
        "quality_estimate": {
            "quality": estimate.quality,
            "exact": estimate.exact,
            "mean_abs_error": round(estimate.mean_abs_error, 4),
        },
        "quant_tables": [table.astype(int).tolist() for table in jpeg.tables],
        "component_tables": [c.table_index for c in jpeg.components],
        "icc_profile": jpeg.icc_profile is not None,
        "exif": jpeg.exif is not None,
        "orientation": jpeg.orientation,
    }
