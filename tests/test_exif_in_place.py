"""EXIF carried as it was: a camera's maker note keeps its offsets (it breaks when the block
is re-serialized), only the orientation (and after a quarter turn the pixel dimensions) is
written over in place; in TIFF a maker note that cannot move is left out with a warning, and
a stale layout tag no longer costs the main directory."""

from __future__ import annotations

import io

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import photo
from PIL import Image

from qgac_cli.cli import main
from qgac_cli.codec.metadata import upright_exif

# a maker note of Canon's kind: a directory whose entry points, by an offset from the TIFF
# header, at data elsewhere in the block: moved, the offset points at something else
ENTRY = b"\x07\x00\x02\x00\x20\x00\x00\x00\x00\x01\x00\x00"  # tag 7, ASCII, 32 bytes at offset 256
MAKER_NOTE = b"\x01\x00" + ENTRY + b"\x00" * 4 + b"Canon EOS owner\x00" * 2


def exif_block(orientation: int, endian: str = "MM") -> bytes:
    exif = Image.Exif()
    exif.endian = ">" if endian == "MM" else "<"
    exif[0x010F] = "Canon"
    exif[0x0112] = orientation
    exif[0x013B] = "Ansel"
    sub = exif.get_ifd(0x8769)
    sub[0xA002], sub[0xA003] = 96, 64  # the stored picture: 96 wide, 64 high
    sub[0x927C] = MAKER_NOTE
    return exif.tobytes()


def jpeg_with(exif: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(photo(64, 96)).save(buffer, format="JPEG", exif=exif, quality=80)
    return buffer.getvalue()


def tiff_part(exif: bytes) -> bytes:
    return exif[6:] if exif.startswith(b"Exif\x00\x00") else exif


@pytest.mark.parametrize("endian", ["MM", "II"])
def test_only_the_values_a_restore_changes_are_written_over(endian):
    block = exif_block(6, endian)
    patched = upright_exif(block, quarter_turn=True)
    assert len(patched) == len(block)
    changed = np.flatnonzero(np.frombuffer(patched, np.uint8) != np.frombuffer(block, np.uint8))
    assert 0 < len(changed) <= 6  # the orientation's and the two dimensions' low bytes
    read = Image.Exif()
    read.load(tiff_part(patched))
    assert read[0x0112] == 1 and read[0x013B] == "Ansel"
    sub = read.get_ifd(0x8769)
    assert (sub[0xA002], sub[0xA003]) == (64, 96) and sub[0x927C] == MAKER_NOTE
    assert upright_exif(b"Exif\x00\x00garbage", quarter_turn=False) is None


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_the_maker_note_survives_byte_for_byte(tmp_path, tiny_weights, suffix):
    block = exif_block(6)
    source = tmp_path / "camera.jpg"
    source.write_bytes(jpeg_with(block))
    out = tmp_path / f"out{suffix}"
    result = CliRunner().invoke(main, ["restore", str(source), str(out), "--weights", tiny_weights])
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    with Image.open(out) as im:
        assert im.size == (64, 96)  # turned a quarter
        carried = tiff_part(im.info["exif"])
    assert carried == tiff_part(upright_exif(block, quarter_turn=True))  # the whole block, in place


def test_tiff_leaves_a_maker_note_out_with_a_warning_and_keeps_the_rest(tmp_path, tiny_weights):
    exif = Image.Exif()
    exif[0x013B] = "Ansel"
    exif[0x0131] = "Editor 1.0"
    exif[256] = 4134  # a Photoshop document's width: stale, refused by libtiff
    exif.get_ifd(0x8769)[0x927C] = MAKER_NOTE
    exif.get_ifd(0x8769)[0x829A] = (1, 250)
    source = tmp_path / "edited.jpg"
    source.write_bytes(jpeg_with(exif.tobytes()))
    out = tmp_path / "out.tif"
    result = CliRunner().invoke(main, ["restore", str(source), str(out), "--weights", tiny_weights])
    assert result.exit_code == 0, result.output
    assert "maker note" in result.output and "libtiff refused" not in result.output
    with Image.open(out) as im:
        assert im.size == (96, 64)
        assert im.tag_v2[315] == "Ansel" and im.tag_v2[305] == "Editor 1.0"  # the main directory kept
        sub = im.getexif().get_ifd(0x8769)
        exposure = sub[0x829A]
        assert 0x927C not in sub and (exposure[0] / exposure[1] if isinstance(exposure, tuple) else exposure) == 1 / 250


def test_what_no_output_holds_is_said(tmp_path, tiny_weights):
    """A multi-picture file (MPO; a Pillow save_all named .jpg, as cameras' 3D and depth
    shots) and a second EXIF segment: restored, with a warning, and named by info."""
    buffer = io.BytesIO()
    first, second = Image.fromarray(photo(48, 64)), Image.fromarray(photo(48, 64, seed=1))
    first.save(buffer, format="MPO", save_all=True, append_images=[second])
    (tmp_path / "mpo.jpg").write_bytes(buffer.getvalue())
    data = jpeg_with(exif_block(1))
    extra = b"\xff\xe1" + (2 + len(exif_block(3))).to_bytes(2, "big") + exif_block(3)
    (tmp_path / "two-exif.jpg").write_bytes(data[:2] + data[2:].replace(b"\xff\xdb", extra + b"\xff\xdb", 1))
    said = {"mpo.jpg": "multi-picture file (MPO) of 2 pictures", "two-exif.jpg": "further EXIF segment"}
    for name, words in said.items():
        args = ["restore", str(tmp_path / name), str(tmp_path / "out.png"), "--overwrite", "--weights", tiny_weights]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0 and f"warning: {tmp_path / name}: " in result.output and words in result.output
        info = CliRunner().invoke(main, ["info", str(tmp_path / name)]).output
        assert words in info
