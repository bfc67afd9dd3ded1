"""The codec calls, all of them: libjpeg-turbo through simplejpeg (the strict decode),
jpeglib (coefficients read and written exactly) and Pillow (metadata, the eval encoder)."""

from __future__ import annotations

import io
import os
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PIL import Image, JpegImagePlugin

from qgac_cli.choices import EVAL_SUBSAMPLINGS, SUBSAMPLING_CODES
from qgac_cli.codec.jpeg.header import JpegHeader
from qgac_cli.codec.jpeg.markers import Markers, without_metadata_segments
from qgac_cli.errors import JpegError

LIBJPEG_VERSION = "turbo210"


def decode_strict(data: bytes, header: JpegHeader, source: str, scaled: bool = False) -> np.ndarray:
    """libjpeg-turbo's own decode, (H, W, 3) or (H, W) uint8, in strict mode: libjpeg itself
    only *warns* about truncated or corrupt entropy-coded data (jpeglib passes that on
    silently), strict mode makes those warnings errors.

    `scaled` decodes at libjpeg's smallest scale (1/8 each way) instead: every scan is still
    entropy-decoded, so every such warning still fires, at a third of the time and 1/64 of
    the pixels (a corruption check whose pixels are not wanted; bench/pipeline_profile.py)."""
    import simplejpeg

    gray = header.components == 1
    smallest = {"min_height": 1, "min_width": 1} if scaled else {}
    try:
        pixels = simplejpeg.decode_jpeg(data, colorspace="GRAY" if gray else "RGB", strict=True, **smallest)
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


def _jpeglib():
    import jpeglib

    jpeglib.version.set(LIBJPEG_VERSION)
    return jpeglib


def pillow_metadata(data: bytes) -> tuple[bytes | None, bytes | None, int]:
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


def read_coefficients(data: bytes | Markers, components: int, source: str) -> list[np.ndarray]:
    """Each component's quantized coefficients, (blocks_y, blocks_x, 8, 8) int16 in natural
    order per block, read by jpeglib from the file without its metadata segments (from its
    `Markers` where the reader has them: no second walk)."""
    jpeglib = _jpeglib()
    with _as_file(without_metadata_segments(data)) as name:
        try:
            raw = jpeglib.read_dct(name)
            raw.load()
            planes = [raw.Y] + ([raw.Cb, raw.Cr] if components == 3 else [])
            return [np.asarray(p, dtype=np.int16) for p in planes]  # int16 already: no copy
        except (OSError, RuntimeError, ValueError, IndexError) as e:
            raise JpegError(f"corrupt JPEG: {e}", source) from e


def write_planes(template: bytes, planes: list[np.ndarray], path: str | os.PathLike) -> None:
    """Write quantized coefficient planes into a copy of `template` (same tables, markers,
    sampling)."""
    jpeglib = _jpeglib()
    with _as_file(template) as name:
        raw = jpeglib.read_dct(name)
        raw.load()
        raw.Y = planes[0]
        if len(planes) == 3:
            raw.Cb, raw.Cr = planes[1], planes[2]
        raw.write_dct(str(path))


def encode(pixels: np.ndarray, quality: int, subsampling: str = EVAL_SUBSAMPLINGS[0]) -> bytes:
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
