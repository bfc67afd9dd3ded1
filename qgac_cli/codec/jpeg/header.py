"""The frame header: what the markers before the first scan say, and which files this tool
restores (`check_supported`)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from qgac_cli.choices import DEFAULT_MAX_PIXELS
from qgac_cli.codec.jpeg.markers import DRI, Markers, before_first_scan
from qgac_cli.errors import ImageTooLargeError, JpegError, UnsupportedJpegError

# A file this many times smaller than its pixel count, above BOMB_MIN_PIXELS, holds no photo:
# optimized Huffman coding needs ≈ 5 900 bytes per megapixel even for one flat colour, and
# arithmetic coding ≈ 10; a 649-byte file claiming 162 MP would cost minutes and gigabytes
# to restore nothing
BOMB_PIXELS_PER_BYTE = 20_000
BOMB_MIN_PIXELS = 16_000_000

SOF_KINDS = {  # marker -> (coding, progressive, arithmetic, supported)
    0xC0: ("baseline", False, False, True),
    0xC1: ("extended", False, False, True),
    0xC2: ("progressive", True, False, True),
    0xC3: ("lossless", False, False, False),
    0xC5: ("hierarchical", False, False, False),
    0xC6: ("hierarchical progressive", True, False, False),
    0xC7: ("hierarchical lossless", False, False, False),
    0xC9: ("arithmetic", False, True, True),
    0xCA: ("arithmetic progressive", True, True, True),
    0xCB: ("arithmetic lossless", False, True, False),
    0xCD: ("hierarchical arithmetic", False, True, False),
    0xCE: ("hierarchical arithmetic progressive", True, True, False),
    0xCF: ("hierarchical arithmetic lossless", False, True, False),
}

SUBSAMPLING_NAMES = {
    (1, 1): "4:4:4",
    (1, 2): "4:2:2",
    (2, 2): "4:2:0",
    (2, 1): "4:4:0",
    (1, 4): "4:1:1",
    (2, 4): "4:1:0",
}


def subsampling_name(sampling: tuple[tuple[int, int], ...]) -> str:
    """ "4:2:0" and the like from the (vertical, horizontal) sampling factors of each component;
    "gray" for one component, "FYxFX" for factors without a common name."""
    if len(sampling) == 1:
        return "gray"
    (yv, yh), (cv, ch) = sampling[0], sampling[1]
    factor = (yv // cv, yh // ch)
    return SUBSAMPLING_NAMES.get(factor, f"{factor[0]}x{factor[1]}")


def chroma_factor(sampling: tuple[tuple[int, int], ...]) -> tuple[int, int]:
    """How many times Y's resolution exceeds the chroma's, (vertical, horizontal); (1, 1) for
    one component."""
    if len(sampling) == 1:
        return (1, 1)
    (yv, yh), (cv, ch) = sampling[0], sampling[1]
    return (yv // cv, yh // ch)


@dataclass(frozen=True)
class JpegHeader:
    """What the markers before the first scan say, parsed without decoding anything."""

    width: int
    height: int
    precision: int
    coding: str
    progressive: bool
    arithmetic: bool
    supported_coding: bool
    components: int
    sampling: tuple[tuple[int, int], ...]  # (vertical, horizontal) per component
    adobe_transform: int | None
    restart_interval: int
    jfif: bool = False  # an APP0 JFIF segment before the first scan
    component_ids: tuple[int, ...] = ()

    @property
    def chroma_factor(self) -> tuple[int, int]:
        return chroma_factor(self.sampling)

    @property
    def rgb_coded(self) -> bool:
        """Whether libjpeg decodes the three components as RGB rather than YCbCr, by its own
        rule (jdapimin.c): a JFIF marker means YCbCr; else an Adobe marker says (transform 0:
        RGB); else component ids 'R', 'G', 'B' mean RGB."""
        if self.components != 3 or self.jfif:
            return False
        if self.adobe_transform is not None:
            return self.adobe_transform == 0
        return self.component_ids == (82, 71, 66)


def read_header(data: bytes | Markers, source: str = "<bytes>") -> JpegHeader:
    """Parse the frame header without decoding; raises JpegError for non-JPEG data."""
    sof: tuple[int, bytes] | None = None
    adobe: int | None = None
    restart = 0
    jfif = False
    for marker in before_first_scan(data, source):
        payload = marker.payload
        if marker.code in SOF_KINDS and sof is None:
            sof = (marker.code, payload)
        elif marker.code == 0xE0 and payload.startswith(b"JFIF\x00"):
            jfif = True
        elif marker.code == 0xEE and payload.startswith(b"Adobe") and len(payload) >= 12:
            adobe = payload[11]
        elif marker.code == DRI and len(payload) >= 2:
            (restart,) = struct.unpack(">H", payload[:2])
    if sof is None:
        raise JpegError("no frame header (SOF) before the first scan", source)
    code, payload = sof
    if len(payload) < 6:
        raise JpegError("truncated frame header", source)
    precision, height, width, count = struct.unpack(">BHHB", payload[:6])
    if len(payload) < 6 + 3 * count:
        raise JpegError("truncated frame header", source)
    sampling = tuple((payload[6 + 3 * i + 1] & 0x0F, payload[6 + 3 * i + 1] >> 4) for i in range(count))
    ids = tuple(payload[6 + 3 * i] for i in range(count))
    coding, progressive, arithmetic, supported = SOF_KINDS[code]
    return JpegHeader(
        width,
        height,
        precision,
        coding,
        progressive,
        arithmetic,
        supported,
        count,
        sampling,
        adobe,
        restart,
        jfif,
        ids,
    )


def check_supported(
    header: JpegHeader, source: str, max_pixels: int = DEFAULT_MAX_PIXELS, file_size: int | None = None
) -> None:
    """Raise a clear error for every JPEG this tool does not restore."""
    if not header.supported_coding:
        raise UnsupportedJpegError(f"{header.coding} JPEG is not supported", source)
    if header.precision != 8:
        raise UnsupportedJpegError(f"{header.precision}-bit JPEG is not supported (8-bit only)", source)
    if header.components == 4:
        raise UnsupportedJpegError("CMYK/YCCK JPEG is not supported", source)
    if header.components not in (1, 3):
        raise UnsupportedJpegError(f"{header.components}-component JPEG is not supported", source)
    if header.rgb_coded:
        raise UnsupportedJpegError("RGB-coded JPEG (no YCbCr transform) is not supported", source)
    if header.width == 0 or header.height == 0:
        raise JpegError("image size of zero in the frame header", source)
    if any(not (1 <= v <= 4 and 1 <= h <= 4) for v, h in header.sampling):
        raise JpegError(f"invalid sampling factors {header.sampling} (each must be 1 to 4)", source)
    if header.width * header.height > max_pixels:
        raise ImageTooLargeError(
            f"{header.width}x{header.height} is larger than the limit of {max_pixels:,} pixels"
            " (raise it with --max-pixels)",
            source,
        )
    pixels = header.width * header.height
    if file_size is not None and pixels > BOMB_MIN_PIXELS and pixels > file_size * BOMB_PIXELS_PER_BYTE:
        raise ImageTooLargeError(
            f"claims {header.width}x{header.height} in {file_size:,} bytes: no photo compresses that far"
            " (a flat synthetic image or a decompression bomb); not restored",
            source,
        )
    if header.components == 3:
        (yv, yh), cb, cr = header.sampling
        if cb != cr or yv % cb[0] or yh % cb[1] or (yv // cb[0], yh // cb[1]) not in SUBSAMPLING_NAMES:
            raise UnsupportedJpegError(f"unusual sampling factors {header.sampling}", source)
