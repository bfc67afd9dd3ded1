"""XMP, IPTC and comments travel from the JPEG into every output format that can hold them."""

import json
import struct

import pytest
from click.testing import CliRunner
from conftest import photo, pillow_jpeg
from PIL import Image

from qgac_cli.cli import main
from qgac_cli.codec import metadata
from qgac_cli.codec.jpeg import carried_segments, read_info

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    b'tiff:Orientation="6"><dc:creator>Qgac Photographer</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>'
)
IPTC = b"\x1c\x02\x00\x00\x02\x00\x04" + b"\x1c\x02\x50\x00\x0bQgac Author"  # record version, by-line


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _photoshop(record: bytes) -> bytes:
    pad = b"\x00" if len(record) % 2 else b""
    return metadata.PHOTOSHOP_ID + b"8BIM" + struct.pack(">HBBI", 0x0404, 0, 0, len(record)) + record + pad


@pytest.fixture
def tagged(tmp_path):
    """A JPEG with EXIF (orientation 6), XMP, an IPTC record and two comments."""
    exif = Image.Exif()
    exif[0x0112] = 6
    extra = _segment(0xED, _photoshop(IPTC)) + _segment(0xFE, b"first note") + _segment(0xFE, b"second")
    data = pillow_jpeg(photo(32, 48), quality=30, exif=exif.tobytes(), xmp=XMP, extra=extra)
    path = tmp_path / "in.jpg"
    path.write_bytes(data)
    return path


def restore(src, out, tiny_weights, *options):
    result = CliRunner().invoke(main, ["restore", str(src), str(out), "--weights", tiny_weights, *options])
    assert result.exit_code == 0, result.output
    return out


def test_the_reader_finds_xmp_iptc_and_comments(tagged):
    segments = carried_segments(tagged.read_bytes())
    assert metadata.xmp_packet(segments) == XMP
    assert metadata.iptc_record(metadata.photoshop_resources(segments)) == IPTC
    assert metadata.comment(segments) == b"first note\nsecond"
    assert read_info(tagged.read_bytes()).segments == segments


def test_jpeg_output_keeps_the_segments_as_they_were(tagged, tmp_path, tiny_weights):
    kept = restore(tagged, tmp_path / "kept.jpg", tiny_weights, "--keep-orientation")
    assert carried_segments(kept.read_bytes()) == carried_segments(tagged.read_bytes())
    turned = restore(tagged, tmp_path / "turned.jpg", tiny_weights)
    segments = carried_segments(turned.read_bytes())
    assert b'tiff:Orientation="1"' in metadata.xmp_packet(segments)  # the pixels are upright now
    assert metadata.iptc_record(metadata.photoshop_resources(segments)) == IPTC
    with Image.open(turned) as im:
        assert im.size == (32, 48) and im.getexif().get(0x0112) == 1


@pytest.mark.parametrize("options", [(), ("--bit-depth", "16")])
def test_png_holds_xmp_and_the_comment(tagged, tmp_path, tiny_weights, options):
    out = restore(tagged, tmp_path / "out.png", tiny_weights, *options)
    with Image.open(out) as im:
        xmp = im.info["xmp"]
        assert b"Qgac Photographer" in xmp and b'tiff:Orientation="1"' in xmp
        assert im.info["Comment"] == "first note\nsecond"


def test_tiff_holds_xmp_iptc_photoshop_and_the_comment(tagged, tmp_path, tiny_weights):
    out = restore(tagged, tmp_path / "out.tif", tiny_weights)
    with Image.open(out) as im:
        tags = im.tag_v2
        assert b"Qgac Photographer" in bytes(tags[700])
        assert bytes(tags[33723]) == IPTC
        assert metadata.iptc_record(bytes(tags[34377])) == IPTC
        assert tags[270] == "first note\nsecond"


def test_webp_holds_xmp(tagged, tmp_path, tiny_weights):
    out = restore(tagged, tmp_path / "out.webp", tiny_weights)
    with Image.open(out) as im:
        assert b"Qgac Photographer" in im.info["xmp"]


@pytest.mark.parametrize("suffix", [".png", ".tif", ".webp", ".jpg"])
def test_strip_metadata_drops_all_of_it(tagged, tmp_path, tiny_weights, suffix):
    out = restore(tagged, tmp_path / f"bare{suffix}", tiny_weights, "--strip-metadata")
    with Image.open(out) as im:
        assert "xmp" not in im.info and "Comment" not in im.info and "comment" not in im.info
        if suffix == ".tif":
            assert not {700, 33723, 34377, 270} & set(im.tag_v2)
    if suffix == ".jpg":
        assert carried_segments(out.read_bytes()) == ()


def test_malformed_photoshop_blocks_give_no_record():
    assert metadata.iptc_record(b"8BIM\x04\x04\x00\x00\xff\xff\xff\xff") is None
    assert metadata.iptc_record(b"not resources") is None
    assert metadata.iptc_record(None) is None


def test_info_names_the_metadata(tagged):
    result = CliRunner().invoke(main, ["info", str(tagged), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["exif"] and record["xmp"] and record["iptc"] and record["comment"] == "first note\nsecond"
    table = CliRunner().invoke(main, ["info", str(tagged)])
    assert "EXIF, XMP, IPTC" in table.output


def test_jpeg_output_takes_the_inputs_subsampling_but_never_its_tables(tagged, tmp_path, tiny_weights):
    """The input's own tables would put the restored coefficients back in the input's bins:
    the input again, a little worse. That choice is refused with the reason."""
    from qgac_cli.codec.jpeg import read_jpeg

    out = restore(tagged, tmp_path / "same.jpg", tiny_weights, "--jpeg-quality", "90", "--jpeg-subsampling", "input")
    assert read_jpeg(out.read_bytes()).subsampling == read_jpeg(tagged.read_bytes()).subsampling == "4:2:0"
    refused = CliRunner().invoke(main, ["restore", str(tagged), str(tmp_path / "x.jpg"), "--jpeg-quality", "input"])
    assert refused.exit_code == 2 and "back where the input had them" in refused.output
    for bad in ("0", "101", "best"):
        result = CliRunner().invoke(main, ["restore", str(tagged), str(tmp_path / "x.jpg"), "--jpeg-quality", bad])
        assert result.exit_code == 2 and "--jpeg-quality" in result.output


def _camera_exif() -> Image.Exif:
    """EXIF as cameras and phones write it: main tags, an EXIF directory, a GPS directory."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Qgac", "Camera", 6
    details = exif.get_ifd(metadata.EXIF_IFD)
    details[0x9003], details[0x8827] = "2020:01:01 10:00:00", 200
    gps = exif.get_ifd(metadata.GPS_IFD)
    gps[1], gps[2], gps[3], gps[4] = "N", (52.0, 31.0, 0.5), "E", (13.0, 24.0, 0.25)
    return exif


@pytest.mark.parametrize("fmt", ["tif", "png", "webp", "jpg"])
def test_camera_exif_with_its_directories_reaches_every_format(tmp_path, tiny_weights, fmt):
    src = tmp_path / "camera.jpg"
    src.write_bytes(pillow_jpeg(photo(32, 48), quality=30, exif=_camera_exif().tobytes()))
    out = tmp_path / f"out.{fmt}"
    result = CliRunner().invoke(main, ["restore", str(src), str(out), "--weights", tiny_weights])
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    with Image.open(out) as im:
        exif = im.getexif()
        assert im.size == (32, 48)  # orientation 6 applied to the pixels
        details, gps = exif.get_ifd(metadata.EXIF_IFD), exif.get_ifd(metadata.GPS_IFD)
    assert exif[0x010F] == "Qgac" and exif[0x0112] == 1
    assert details[0x9003] == "2020:01:01 10:00:00" and details[0x8827] == 200
    assert gps[1] == "N" and tuple(float(v) for v in gps[2]) == (52.0, 31.0, 0.5)


def _exif_with_bad_directories() -> bytes:
    """Main directory of one tag and two pointers: the EXIF directory's offset outside the
    block, the GPS directory's pointing back at the main one (a loop)."""
    entries = [(0x010F, 2, 4, int.from_bytes(b"Qga\x00", "little")), (0x8769, 4, 1, 0x7FFF_FFF0), (0x8825, 4, 1, 8)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + struct.pack("<I", 8)
    return b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd


@pytest.mark.parametrize("fmt", ["tif", "png", "jpg"])
def test_exif_whose_directories_loop_or_point_outside_never_costs_the_image(tmp_path, tiny_weights, fmt):
    src = tmp_path / "bad-exif.jpg"
    src.write_bytes(pillow_jpeg(photo(32, 48), quality=30, exif=_exif_with_bad_directories()))
    out = tmp_path / f"out.{fmt}"
    result = CliRunner().invoke(main, ["restore", str(src), str(out), "--weights", tiny_weights])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    assert len(result.output.strip().splitlines()) <= 1  # at most one warning line for the file
    with Image.open(out) as im:
        im.load()
        assert im.size == (48, 32)


def test_exif_of_thousands_of_odd_tags_gives_no_library_warnings(tmp_path, tiny_weights):
    """2 000 tags whose values lie outside the block: Pillow warns about each; qgac says nothing
    for `info`, and for `restore` one line where something is not carried."""
    import subprocess
    import sys

    entries = b"".join(struct.pack("<HHII", 0xC000 + i, 2, 100, 0xFFFF00) for i in range(2000))
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 2000) + entries + struct.pack("<I", 0)
    src = tmp_path / "odd.jpg"
    src.write_bytes(pillow_jpeg(photo(32, 48), quality=30, exif=b"Exif\x00\x00" + tiff))
    env = {**__import__("os").environ, "PYTHONWARNINGS": "always"}
    info = subprocess.run([sys.executable, "-m", "qgac_cli", "info", str(src)], capture_output=True, env=env)
    assert info.returncode == 0 and b"Warning" not in info.stderr and not info.stderr.strip(), info.stderr[-300:]
    restore = subprocess.run(
        [sys.executable, "-m", "qgac_cli", "restore", str(src), str(tmp_path / "o.tif"), "--weights", tiny_weights],
        capture_output=True,
        env=env,
    )
    assert restore.returncode == 0 and b"Warning" not in restore.stderr
    assert len(restore.stderr.strip().splitlines()) <= 1
