"""Writing restored images: the output format, EXIF orientation, metadata in every format
(which goes where: `metadata`), 8/16-bit encoding, and atomic writes with the usual file mode."""

from __future__ import annotations

import errno
import io
import os
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from qgac_cli.choices import (
    BIT_DEPTHS,
    DEFAULT_JPEG_QUALITY,
    EXTENSIONS,
    FORMATS,
    OUTPUT_SUBSAMPLINGS,
    SUBSAMPLING_CODES,
)
from qgac_cli.codec import metadata
from qgac_cli.codec.metadata import Segment
from qgac_cli.codec.png import write_png
from qgac_cli.errors import OutputAppearedError, OutputTooLargeError, UsageError
from qgac_cli.restore.restored import RestoredImage, quantize

PNG_LEVEL = 1  # deflate level of PNG outputs (png.deflater): chosen for throughput


@dataclass(frozen=True)
class OutputOptions:
    format: str | None = None  # png | tiff | webp | jpeg; None: from the extension
    bit_depth: int = 8
    jpeg_quality: int = DEFAULT_JPEG_QUALITY  # 1..100
    jpeg_subsampling: str = OUTPUT_SUBSAMPLINGS[0]  # choices.OUTPUT_SUBSAMPLINGS
    keep_orientation: bool = False
    strip_metadata: bool = False  # drop EXIF, XMP, IPTC and comments; the ICC profile is always kept


def check_size(fmt: str, width: int, height: int, source: str | None = None) -> None:
    """Refuse, before any work, an image the output format cannot hold."""
    limit = FORMATS[fmt].max_side
    if limit is not None and max(width, height) > limit:
        raise OutputTooLargeError(
            f"{width}x{height} is too large for {fmt.upper()} output (at most {limit:,} pixels a side); "
            "write PNG or TIFF",
            source,
        )


# EXIF orientation -> (transpose?, flip vertical?, flip horizontal?) applied in that order.
_ORIENT = {
    1: (False, False, False),
    2: (False, False, True),
    3: (False, True, True),
    4: (False, True, False),
    5: (True, False, False),
    6: (True, False, True),
    7: (True, True, True),
    8: (True, True, False),
}


def oriented(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Stored pixels (H, W[, C]) turned into display orientation per the EXIF tag, as a view
    (nothing copied)."""
    transpose, flip_v, flip_h = _ORIENT.get(orientation, _ORIENT[1])
    if transpose:
        pixels = pixels.swapaxes(0, 1)
    if flip_v:
        pixels = pixels[::-1]
    if flip_h:
        pixels = pixels[:, ::-1]
    return pixels


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels (H, W[, C]) into display orientation per the EXIF tag (a copy where
    they turn)."""
    return np.ascontiguousarray(oriented(pixels, orientation))


def format_for(path: str | os.PathLike | None, explicit: str | None) -> str:
    """The output format: explicit, else from the extension; PNG for standard output."""
    if explicit:
        if explicit not in FORMATS:
            raise UsageError(f"unknown output format {explicit!r}; choose one of {', '.join(FORMATS)}")
        return explicit
    if path is None:
        return "png"
    suffix = Path(str(path)).suffix.lower()
    if suffix not in EXTENSIONS:
        raise UsageError(
            f"cannot tell the output format from {str(path)!r}; use an extension "
            f"({', '.join(sorted(EXTENSIONS))}) or --format"
        )
    return EXTENSIONS[suffix]


def _jpeg_subsampling(choice: str, input_subsampling: str | None) -> int:
    """Pillow's subsampling code for a JPEG output: the choice, or with "input" the input's
    own where JPEG writers offer it (4:4:4 otherwise: never less colour than asked for)."""
    if choice == "input":
        return SUBSAMPLING_CODES.get(input_subsampling or "", 0)
    if choice not in SUBSAMPLING_CODES:
        raise UsageError(f"unknown JPEG subsampling {choice!r}; choose one of {', '.join(OUTPUT_SUBSAMPLINGS)}")
    return SUBSAMPLING_CODES[choice]


def encode_image(
    image: RestoredImage, fmt: str, options: OutputOptions = OutputOptions(), notes: list[str] | None = None
) -> bytes:
    """The bytes of the output file: orientation applied (unless kept), metadata carried over
    (what could not be is added to `notes`, when given)."""
    buffer = io.BytesIO()
    said = write_image(buffer, image, fmt, options)
    if notes is not None:
        notes.extend(said)
    return buffer.getvalue()


def write_image(out: BinaryIO, image: RestoredImage, fmt: str, options: OutputOptions = OutputOptions()) -> list[str]:
    """Write the output file to a binary stream. PNG streams a band of rows at a time (no
    second copy of the image); the other formats go through Pillow. Returns a note for each
    piece of metadata that could not be carried (the image is written all the same)."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
    check_bit_depth(fmt, options.bit_depth)
    pixels = image.pixels if options.keep_orientation else oriented(image.pixels, image.orientation)
    # metadata goes into every format that can hold it; the orientation tags (EXIF and XMP) say
    # 1 once the pixels are turned, and keep their value where they stay as stored
    # (--keep-orientation), so viewers turn them
    exif, segments, notes = None, (), []
    if not options.strip_metadata:
        exif = image.exif if options.keep_orientation else _upright_exif(image, notes)
        segments = image.segments if options.keep_orientation else metadata.xmp_without_orientation(image.segments)
    _WRITERS[fmt](out, Written(image, pixels, exif, segments, notes), options)
    return notes


def check_bit_depth(fmt: str, bits: int, target: str | None = None) -> None:
    """Refuse a bit depth the format does not write."""
    if bits not in BIT_DEPTHS:
        raise UsageError(f"bit depth must be {' or '.join(map(str, BIT_DEPTHS))}, got {bits}")
    if bits not in FORMATS[fmt].bit_depths:
        holding = " and ".join(name.upper() for name, f in FORMATS.items() if bits in f.bit_depths)
        where = f" ({target} would be {fmt})" if target else ""
        raise UsageError(f"{bits}-bit output is available for {holding} only{where}")


@dataclass(frozen=True)
class Written:
    """What a format's writer gets: the image, its pixels turned as asked, the metadata to
    carry and the notes to add to."""

    image: RestoredImage
    pixels: np.ndarray
    exif: bytes | None
    segments: tuple[Segment, ...]
    notes: list[str]

    def pil(self) -> Image.Image:
        return Image.fromarray(np.ascontiguousarray(quantize(self.pixels, 8)))

    def icc(self) -> dict:
        return {"icc_profile": self.image.icc_profile} if self.image.icc_profile else {}


def _write_png(out: BinaryIO, w: Written, options: OutputOptions) -> None:
    # level 1: zlib's 2.8x faster than its 6 for 2.5 % more bytes on Live-1 photos, ISA-L's 4.9x
    # faster than zlib's 1 for 3 % more (bench/pipeline_profile.py)
    text = metadata.png_text_chunks(w.segments)
    write_png(out, quantize(w.pixels, options.bit_depth), w.image.icc_profile, w.exif, text, PNG_LEVEL)


def _write_tiff(out: BinaryIO, w: Written, options: OutputOptions) -> None:
    out.write(_tiff(w.pil(), w.exif, w.segments, w.icc(), w.notes))


def _write_webp(out: BinaryIO, w: Written, options: OutputOptions) -> None:
    xmp = metadata.xmp_packet(w.segments)
    out.write(_saved(w.pil(), "WEBP", {"lossless": True, **({"xmp": xmp} if xmp else {}), **w.icc()}, w.exif, w.notes))


def _write_jpeg(out: BinaryIO, w: Written, options: OutputOptions) -> None:
    subsampling = _jpeg_subsampling(options.jpeg_subsampling, w.image.subsampling)
    settings = {"subsampling": subsampling, "quality": int(options.jpeg_quality), **w.icc()}
    out.write(metadata.insert_into_jpeg(_saved(w.pil(), "JPEG", settings, w.exif, w.notes), w.segments))


_WRITERS: dict[str, Callable[[BinaryIO, Written, OutputOptions], None]] = {
    "png": _write_png,
    "tiff": _write_tiff,
    "webp": _write_webp,
    "jpeg": _write_jpeg,
}


def _upright_exif(image: RestoredImage, notes: list[str]) -> bytes | None:
    """The EXIF block for turned pixels: as it was, with its orientation (and, after a quarter
    turn, its pixel dimensions) written over in place, so that a maker note's offsets hold;
    where that cannot be done, re-written by Pillow (a note says so), or left out."""
    if not image.exif:
        return None
    patched = metadata.upright_exif(image.exif, image.orientation in (5, 6, 7, 8))
    if patched is not None:
        return patched
    rewritten = metadata.exif_without_orientation(image.exif)
    notes.append(
        "EXIF re-written, its layout not kept (a maker note may not survive)"
        if rewritten
        else "EXIF not carried (unreadable)"
    )
    return rewritten


def _saved(pil: Image.Image, fmt: str, options: dict, exif: bytes | None, notes: list[str]) -> bytes:
    """The image saved by Pillow with its EXIF; where the EXIF cannot be written, without it
    (and a note): metadata never costs the image."""
    buffer = io.BytesIO()
    if exif:
        try:
            pil.save(buffer, format=fmt, exif=exif, **options)
            return buffer.getvalue()
        except (ValueError, TypeError, OSError, RuntimeError, struct.error) as e:
            notes.append(f"EXIF not carried ({type(e).__name__})")
            buffer = io.BytesIO()
    pil.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _tiff(pil: Image.Image, exif: bytes | None, segments: tuple[Segment, ...], extra: dict, notes: list[str]) -> bytes:
    """TIFF through libtiff (deflate) with the main tags, then the EXIF and GPS directories
    added after it (libtiff cannot be handed directory pointers through Pillow). What libtiff
    refuses is left out a part at a time, each with a note: the EXIF main directory's tags,
    then XMP, IPTC and the comment; the image is always written."""
    split = metadata.tiff_exif(exif)
    notes.extend(f"{what} not carried" for what in split.dropped)
    others = metadata.tiff_tags(segments)
    steps = [
        ("", {**dict(split.tags), **others}),
        ("the EXIF main directory", others),
        ("XMP, IPTC and the comment", {}),
    ]
    data, tried = None, None
    for dropped, tags in steps:
        if tags == tried:
            continue  # leaving this part out changes nothing: it was not there
        if dropped:
            notes.append(f"{dropped} not carried (libtiff refused it)")
        data, tried = _libtiff(pil, tags, extra, last=not tags), tags
        if data is not None:
            break
    try:
        return metadata.with_exif_directories(data, split.directories)
    except (ValueError, TypeError, KeyError, struct.error) as e:
        notes.append(f"the EXIF and GPS directories not carried ({type(e).__name__})")
        return data


def _libtiff(pil: Image.Image, tags: dict, extra: dict, last: bool) -> bytes | None:
    """The TIFF file with these tags, or None where libtiff refuses them (raises if `last`)."""
    exif = Image.Exif()
    for tag, value in tags.items():
        exif[tag] = value
    buffer = io.BytesIO()
    try:
        pil.save(buffer, format="TIFF", compression="tiff_deflate", **({"exif": exif} if tags else {}), **extra)
    except (ValueError, TypeError, OSError, RuntimeError, struct.error):
        if last:
            raise
        return None
    return buffer.getvalue()


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it (/proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, data: bytes | Callable[[BinaryIO], None], replace: bool = True) -> None:
    """Write bytes, or whatever `data(file)` writes, to a temporary name in the same folder,
    then rename: never a truncated file. The file gets the mode any new file gets here (0666
    less the umask), not mkstemp's 0600. With replace=False a file that appeared at `path`
    meanwhile (another run) is never replaced: OutputAppearedError."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        if replace:
            os.replace(tmp, path)
        else:
            _publish_new(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# file systems without hard links (FAT, some network shares) answer these
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}


def _publish_new(tmp: str, path: Path) -> None:
    """Give `tmp` the name `path` only if no file has it: a hard link is created atomically or
    not at all (rename would replace). Where links are not supported, a last check, then rename."""
    appeared = OutputAppearedError(f"{path} appeared while this file was restored (another run?); left as it is")
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise appeared from None
    except OSError as e:
        if e.errno not in _NO_LINKS:
            raise
        if os.path.lexists(path):
            raise appeared from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)
