"""Metadata an output carries over from its JPEG: which segments hold what, and where each
output format keeps it.

ICC and EXIF travel as Pillow reads them (`jpeg.JpegData.icc_profile`, `.exif`); the other
segments travel raw, as `Segment`s in file order: XMP (APP1), Photoshop resources with the
IPTC record (APP13) and comments (COM). Where they go:

| format | EXIF | ICC | XMP | IPTC | comment |
|---|---|---|---|---|---|
| JPEG | APP1 | APP2 | the segments as they were (extended XMP too) | APP13 as it was | COM as it was |
| PNG | eXIf | iCCP | iTXt `XML:com.adobe.xmp` | — | tEXt `Comment` |
| TIFF | EXIF IFD | tag 34675 | tag 700 | tags 33723 (IPTC) and 34377 (Photoshop) | tag 270 |
| WebP | EXIF | ICCP | XMP | — | — |

PNG and WebP define no place for IPTC, and WebP none for a comment: those are not kept there
(IPTC's fields are mirrored in XMP by every current editor).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from PIL import Image

XMP_ID = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXTENSION_ID = b"http://ns.adobe.com/xmp/extension/\x00"
PHOTOSHOP_ID = b"Photoshop 3.0\x00"
APP1, APP13, COM = 0xE1, 0xED, 0xFE
IPTC_RESOURCE = 0x0404
MAX_PAYLOAD = 65533  # a marker segment's length field counts itself


@dataclass(frozen=True)
class Segment:
    marker: int
    payload: bytes


def is_carried(marker: int, payload: bytes) -> bool:
    """XMP, extended XMP, Photoshop/IPTC and comment segments: what an output keeps besides
    EXIF and ICC (and not JFIF, Adobe or maker segments, which describe the JPEG itself)."""
    if marker == APP1:
        return payload.startswith((XMP_ID, XMP_EXTENSION_ID))
    if marker == APP13:
        return payload.startswith(PHOTOSHOP_ID)
    return marker == COM


def xmp_packet(segments: tuple[Segment, ...]) -> bytes | None:
    """The main XMP packet (without its namespace header), or None."""
    for s in segments:
        if s.marker == APP1 and s.payload.startswith(XMP_ID):
            return s.payload[len(XMP_ID) :]
    return None


def comment(segments: tuple[Segment, ...]) -> bytes | None:
    """The COM segments' text, joined by newlines, or None."""
    texts = [s.payload for s in segments if s.marker == COM and s.payload]
    return b"\n".join(texts) if texts else None


def photoshop_resources(segments: tuple[Segment, ...]) -> bytes | None:
    """The Photoshop image resource blocks of the APP13 segments, concatenated, or None."""
    blocks = [s.payload[len(PHOTOSHOP_ID) :] for s in segments if s.marker == APP13]
    return b"".join(blocks) or None


def iptc_record(resources: bytes | None) -> bytes | None:
    """The IPTC-NAA record (resource 0x0404) of Photoshop resource blocks, or None where
    there is none or the blocks are malformed."""
    pos, data = 0, resources or b""
    while pos + 12 <= len(data) and data[pos : pos + 4] == b"8BIM":
        (resource,) = struct.unpack(">H", data[pos + 4 : pos + 6])
        name_length = data[pos + 6]
        pos += 6 + (name_length + 2 if name_length % 2 == 0 else name_length + 1)  # Pascal name, even
        if pos + 4 > len(data):
            return None
        (size,) = struct.unpack(">I", data[pos : pos + 4])
        pos += 4
        if pos + size > len(data):
            return None
        if resource == IPTC_RESOURCE:
            return data[pos : pos + size]
        pos += size + size % 2
    return None


def exif_payload(exif: bytes) -> bytes:
    """An EXIF block's TIFF structure, without the "Exif\\0\\0" header of its JPEG segment."""
    return exif[6:] if exif.startswith(b"Exif\x00\x00") else exif


def parse_exif(exif: bytes | None) -> Image.Exif | None:
    """Pillow's reading of an EXIF block, or None where there is none or it cannot be parsed."""
    if not exif:
        return None
    data = Image.Exif()
    try:
        data.load(exif_payload(exif))
    except (SyntaxError, ValueError, struct.error, TypeError):
        return None
    return data


# --------------------------------------------------------------------------- EXIF patched in place
# A camera's maker note holds offsets that stay valid only while the EXIF block keeps its
# layout (most count from the block's TIFF header), so the block is carried as it was and the
# few values a restore must change are written over in place.

ORIENTATION, PIXEL_X, PIXEL_Y = 0x0112, 0xA002, 0xA003
EXIF_IFD, GPS_IFD, INTEROP_IFD = 0x8769, 0x8825, 0xA005
_SHORT, _LONG = 3, 4


def _ifd_entries(tiff: bytes, endian: str, offset: int) -> dict[int, tuple[int, int, int]] | None:
    """tag -> (type, count, position of its 4-byte value field) of the directory at
    `offset` of a TIFF structure, or None where it lies outside it."""
    if offset < 8 or offset + 2 > len(tiff):
        return None
    (count,) = struct.unpack(endian + "H", tiff[offset : offset + 2])
    if offset + 2 + 12 * count > len(tiff):
        return None
    entries = {}
    for i in range(count):
        at = offset + 2 + 12 * i
        tag, kind, n = struct.unpack(endian + "HHI", tiff[at : at + 8])
        entries[tag] = (kind, n, at + 8)
    return entries


def _value(tiff: bytes, endian: str, entry: tuple[int, int, int]) -> int | None:
    kind, n, at = entry
    if n != 1 or kind not in (_SHORT, _LONG):
        return None
    return struct.unpack(endian + ("H" if kind == _SHORT else "I"), tiff[at : at + (2 if kind == _SHORT else 4)])[0]


def _put(tiff: bytearray, endian: str, entry: tuple[int, int, int], value: int) -> bool:
    kind, n, at = entry
    if n != 1 or kind not in (_SHORT, _LONG) or (kind == _SHORT and value > 0xFFFF):
        return False
    tiff[at : at + (2 if kind == _SHORT else 4)] = struct.pack(endian + ("H" if kind == _SHORT else "I"), value)
    return True


def _swap_dimensions(tiff: bytearray, endian: str, pointer: tuple[int, int, int]) -> bool:
    """Swap the EXIF directory's pixel dimensions in place (True where there are none)."""
    offset = _value(tiff, endian, pointer)
    sub = _ifd_entries(tiff, endian, offset) if offset is not None else None
    if sub is None or PIXEL_X not in sub or PIXEL_Y not in sub:
        return True
    x, y = _value(tiff, endian, sub[PIXEL_X]), _value(tiff, endian, sub[PIXEL_Y])
    return (
        x is not None and y is not None and _put(tiff, endian, sub[PIXEL_X], y) and _put(tiff, endian, sub[PIXEL_Y], x)
    )


def _first_directory(tiff: bytes) -> tuple[str, dict[int, tuple[int, int, int]]] | None:
    """(struct byte order, the entries of the first directory) of a TIFF structure (an EXIF
    block without its header, an MPF segment's), or None where its header cannot be read."""
    endian = {b"II": "<", b"MM": ">"}.get(bytes(tiff[:2]))
    if endian is None or len(tiff) < 8 or struct.unpack(endian + "H", tiff[2:4])[0] != 42:
        return None
    entries = _ifd_entries(tiff, endian, struct.unpack(endian + "I", tiff[4:8])[0])
    return None if entries is None else (endian, entries)


def upright_exif(exif: bytes | None, quarter_turn: bool) -> bytes | None:
    """The EXIF block byte for byte as it was, but for its orientation tag set to 1 (the
    pixels are turned) and, after a quarter turn, its pixel dimensions swapped: written over in
    place, so maker notes, the thumbnail and every offset stay valid. None where the block's
    structure cannot be read or those values cannot be written in place."""
    if not exif:
        return None
    prefix = 6 if exif.startswith(b"Exif\x00\x00") else 0
    tiff = bytearray(exif[prefix:])
    read = _first_directory(tiff)
    if read is None:
        return None
    endian, main = read
    if ORIENTATION in main and not _put(tiff, endian, main[ORIENTATION], 1):
        return None
    if quarter_turn and EXIF_IFD in main and not _swap_dimensions(tiff, endian, main[EXIF_IFD]):
        return None
    return exif[:prefix] + bytes(tiff)


MPF_ID, APP2 = b"MPF\x00", 0xE2
NUMBER_OF_IMAGES = 0xB001


def mpf_pictures(payload: bytes) -> int | None:
    """How many pictures a multi-picture file's MPF segment (APP2, "MPF\\0") lists, or None
    where it cannot be read."""
    tiff = payload[len(MPF_ID) :]
    read = _first_directory(tiff)
    if read is None or NUMBER_OF_IMAGES not in read[1]:
        return None
    return _value(tiff, read[0], read[1][NUMBER_OF_IMAGES])


def reading_notes(segments: list[tuple[int, bytes]]) -> tuple[str, ...]:
    """What an output of the file will not hold, from its segments before the first scan:
    the further pictures of a multi-picture file (MPO), a second EXIF segment."""
    notes = []
    for marker, payload in segments:
        if marker == APP2 and payload.startswith(MPF_ID):
            pictures = mpf_pictures(payload)
            if pictures is not None and pictures > 1:
                notes.append(f"a multi-picture file (MPO) of {pictures} pictures: only the first is restored")
    exif = [p for m, p in segments if m == APP1 and p.startswith(b"Exif\x00\x00")]
    if len(exif) > 1:
        further = len(exif) - 1
        notes.append(f"{further} further EXIF segment{'s' if further > 1 else ''} not carried (only the first is)")
    return tuple(notes)


def exif_without_orientation(exif: bytes | None) -> bytes | None:
    """The EXIF block with its orientation tag set to 1 (pixels already turned), or None where
    there is none or Pillow cannot parse it."""
    data = parse_exif(exif)
    if data is None:
        return None
    data[0x0112] = 1
    return data.tobytes()


_XMP_ORIENTATION = re.compile(
    rb"""(tiff:Orientation\s*=\s*["'])[1-8](["'])|(<tiff:Orientation>\s*)[1-8](\s*</tiff:Orientation>)"""
)


def xmp_without_orientation(segments: tuple[Segment, ...]) -> tuple[Segment, ...]:
    """The segments with the XMP orientation (tiff:Orientation) set to 1, for pixels already
    turned: a viewer that reads XMP must not turn them again."""

    def upright(match: re.Match) -> bytes:
        if match.group(1) is not None:
            return match.group(1) + b"1" + match.group(2)
        return match.group(3) + b"1" + match.group(4)

    return tuple(
        Segment(s.marker, _XMP_ORIENTATION.sub(upright, s.payload))
        if s.marker == APP1 and s.payload.startswith(XMP_ID)
        else s
        for s in segments
    )


def insert_into_jpeg(jpeg: bytes, segments: tuple[Segment, ...]) -> bytes:
    """The JPEG with the segments inserted after its leading APPn segments (JFIF, EXIF, ICC
    as the encoder wrote them), in their original order."""
    if not segments:
        return jpeg
    pos = 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF and 0xE0 <= jpeg[pos + 1] <= 0xEF:
        pos += 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
    raw = b"".join(
        bytes([0xFF, s.marker]) + struct.pack(">H", len(s.payload) + 2) + s.payload
        for s in segments
        if len(s.payload) <= MAX_PAYLOAD
    )
    return jpeg[:pos] + raw + jpeg[pos:]


def png_text_chunks(segments: tuple[Segment, ...]) -> list[tuple[bytes, bytes]]:
    """(chunk type, data) of the PNG chunks that hold the XMP packet and the comment."""
    chunks = []
    xmp = xmp_packet(segments)
    if xmp:
        chunks.append((b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp))
    text = comment(segments)
    if text:
        chunks.append((b"tEXt", b"Comment\x00" + text.decode("utf-8", "replace").encode("latin-1", "replace")))
    return chunks


def tiff_tags(segments: tuple[Segment, ...]) -> dict[int, bytes | str]:
    """TIFF tags for XMP (700), IPTC (33723), Photoshop resources (34377) and the comment
    (ImageDescription, 270)."""
    tags: dict[int, bytes | str] = {}
    xmp = xmp_packet(segments)
    if xmp:
        tags[700] = xmp
    resources = photoshop_resources(segments)
    record = iptc_record(resources)
    if record:
        tags[33723] = record
    if resources:
        tags[34377] = resources
    text = comment(segments)
    if text:
        tags[270] = text.decode("utf-8", "replace")
    return tags


# --------------------------------------------------------------------------- EXIF in TIFF

_DIRECTORY_NAMES = {EXIF_IFD: "EXIF", GPS_IFD: "GPS", INTEROP_IFD: "interoperability"}
# pointers that only make sense inside the file they came from (TIFF's SubIFDs, JPEG thumbnail)
_FOREIGN_POINTERS = (0x014A, 0x0201, 0x0202)
# tags that describe the layout of another file's image data (a Photoshop document's
# ImageWidth, say): libtiff refuses a directory that contradicts the image it writes, and
# writes its own
_IMAGE_LAYOUT = (256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 322, 323, 324, 325, 338, 339, 347, 530)
# a camera's maker note: in TIFF it moves, which breaks the offsets of most makers' (Canon's,
# Panasonic's, Sanyo's... count from the EXIF block's start), and even Nikon's own-header notes
# came out with sub-directories exiftool calls bad (exif-samples): never carried into TIFF
MAKER_NOTE = 0x927C


@dataclass(frozen=True)
class TiffExif:
    """An EXIF block made ready for a TIFF file: the main directory's tags (for Pillow's
    writer, which cannot write directory pointers through libtiff), the EXIF and GPS
    directories (written after it, `with_exif_directories`), and what could not be carried."""

    tags: Image.Exif
    directories: dict[int, dict]
    dropped: tuple[str, ...] = ()


def _directory(exif: Image.Exif, tag: int) -> dict | None:
    """A sub-directory as plain tags, or None where its offset is unreadable (out of the
    block, looping, malformed)."""
    try:
        found = dict(exif.get_ifd(tag))
    except (KeyError, ValueError, TypeError, SyntaxError, OSError, struct.error, RecursionError):
        return None
    return found if isinstance(found, dict) else None


def tiff_exif(exif: bytes | None) -> TiffExif:
    """Split an EXIF block into what a TIFF holds: main tags and the EXIF/GPS directories
    (the interoperability directory nested in EXIF's). A directory that cannot be read is
    dropped and named in `dropped`; an unreadable block drops everything."""
    if not exif:
        return TiffExif(Image.Exif(), {})
    data = parse_exif(exif)
    if data is None:
        return TiffExif(Image.Exif(), {}, ("EXIF (unreadable)",))
    directories, dropped = {}, []
    for tag in (EXIF_IFD, GPS_IFD):
        if tag not in data:
            continue
        found = _directory(data, tag)
        if found is None:
            dropped.append(f"the {_DIRECTORY_NAMES[tag]} directory (unreadable)")
            continue
        if INTEROP_IFD in found:
            interop = _directory(data, INTEROP_IFD) if tag == EXIF_IFD else None
            if interop:
                found[INTEROP_IFD] = interop
            else:
                del found[INTEROP_IFD]
        if MAKER_NOTE in found:
            del found[MAKER_NOTE]
            dropped.append("the camera's maker note (TIFF would move it, which breaks its offsets)")
        directories[tag] = found
    tags = Image.Exif()
    for tag, value in data.items():
        if tag not in (EXIF_IFD, GPS_IFD, *_FOREIGN_POINTERS, *_IMAGE_LAYOUT):
            tags[tag] = value
    return TiffExif(tags, {tag: d for tag, d in directories.items() if d}, tuple(dropped))


def with_exif_directories(tiff: bytes, directories: dict[int, dict]) -> bytes:
    """A classic TIFF with EXIF sub-directories added to its first directory: each is written
    after the file's data and a new first directory, the old one plus the pointers, replaces
    the old one (which stays behind unreferenced). Tags are typed by Pillow's tables."""
    from PIL import TiffImagePlugin

    if not directories:
        return tiff
    order = tiff[:2]
    endian = "<" if order == b"II" else ">"
    (first,) = struct.unpack(endian + "I", tiff[4:8])
    (count,) = struct.unpack(endian + "H", tiff[first : first + 2])
    entries = {}
    for i in range(count):
        entry = tiff[first + 2 + 12 * i : first + 14 + 12 * i]
        entries[struct.unpack(endian + "H", entry[:2])[0]] = entry
    (following,) = struct.unpack(endian + "I", tiff[first + 2 + 12 * count : first + 6 + 12 * count])
    out = bytearray(tiff)
    for tag, values in sorted(directories.items()):
        out += b"\x00" * (len(out) % 2)  # directories start on a word boundary
        ifd = TiffImagePlugin.ImageFileDirectory_v2(order + b"\x2a\x00\x00\x00\x00\x00", group=tag)
        for key, value in values.items():
            ifd[key] = value
        entries[tag] = struct.pack(endian + "HHII", tag, 4, 1, len(out))  # LONG: the directory's offset
        out += ifd.tobytes(len(out))
    out += b"\x00" * (len(out) % 2)
    start = len(out)
    out += struct.pack(endian + "H", len(entries)) + b"".join(entries[t] for t in sorted(entries))
    out += struct.pack(endian + "I", following)
    out[4:8] = struct.pack(endian + "I", start)
    return bytes(out)
