"""Files and requests refused early and by name, and the JPEGs libjpeg reads that qgac now
reads as libjpeg does: devices qgac does not run on, images too large for the output
format, the colour transform rule, runs of 0xFF inside a scan."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import photo, pillow_jpeg

from qgac_cli import api
from qgac_cli.cli import main
from qgac_cli.codec.jpeg import read_header, read_jpeg
from qgac_cli.devices import pick_device
from qgac_cli.errors import JpegError, UnsupportedJpegError, UsageError

ADOBE_RGB = b"\xff\xee" + (14).to_bytes(2, "big") + b"Adobe" + b"\x00\x64\x00\x00\x00\x00\x00"  # transform 0


def without_jfif(data: bytes) -> bytes:
    """The file with its APP0 JFIF segment (the first after SOI, as Pillow writes it) cut."""
    assert data[2:4] == b"\xff\xe0"
    return data[:2] + data[4 + int.from_bytes(data[4:6], "big") :]


@pytest.mark.parametrize("name", ["mps", "xpu", "meta", "hpu"])
def test_a_device_qgac_does_not_run_on_is_a_usage_error(name, tmp_path, tiny_weights):
    with pytest.raises(UsageError, match="not one qgac runs on"):
        pick_device(name)
    (tmp_path / "a.jpg").write_bytes(pillow_jpeg(photo(16, 16)))
    result = CliRunner().invoke(main, ["restore", str(tmp_path / "a.jpg"), str(tmp_path / "a.png"), "--device", name])
    assert result.exit_code == 2 and "not one qgac runs on" in result.output and "Traceback" not in result.output


def test_webp_too_wide_is_refused_before_any_work(tmp_path, tiny_weights):
    wide = tmp_path / "wide.jpg"
    wide.write_bytes(pillow_jpeg(photo(8, 16400), quality=90))
    out = tmp_path / "wide.webp"
    dry = CliRunner().invoke(main, ["restore", str(wide), str(out), "--dry-run"])
    assert dry.exit_code == 1 and "refused" in dry.output and "16,383" in dry.output
    result = CliRunner().invoke(main, ["restore", str(wide), str(out), "--weights", tiny_weights, "-v"])
    assert result.exit_code == 1 and "too large for WEBP output" in result.output and not out.exists()
    assert "unexpected" not in result.output
    png = CliRunner().invoke(main, ["restore", str(wide), str(tmp_path / "wide.png"), "--weights", tiny_weights])
    assert png.exit_code == 0, png.output


def test_jfif_wins_over_an_adobe_transform_as_in_libjpeg(tiny):
    data = pillow_jpeg(photo(48, 64), quality=80)
    dqt = data.index(b"\xff\xdb")
    both = data[:dqt] + ADOBE_RGB + data[dqt:]  # JFIF and Adobe transform 0: libjpeg decodes YCbCr
    assert read_header(both).jfif and read_header(both).adobe_transform == 0 and not read_header(both).rgb_coded
    options = api.RestoreOptions(precision="fp32", tile=0)
    np.testing.assert_array_equal(api.restore(both, tiny, options).pixels, api.restore(data, tiny, options).pixels)
    adobe_only = without_jfif(both)
    with pytest.raises(UnsupportedJpegError, match="RGB-coded"):
        read_jpeg(adobe_only)
    plain = without_jfif(data)  # no JFIF, no Adobe: the component ids decide ('R', 'G', 'B' is RGB)
    sof = plain.index(b"\xff\xc0") + 2 + 2 + 6
    rgb_ids = bytearray(plain)
    rgb_ids[sof], rgb_ids[sof + 3], rgb_ids[sof + 6] = 82, 71, 66
    assert not read_header(plain).rgb_coded and read_header(bytes(rgb_ids)).rgb_coded
    record = json.loads(CliRunner().invoke(main, ["info", "--json", "-"], input=adobe_only).output)
    assert record["color_space"] == "RGB" and not record["restorable"]


def test_a_run_of_0xff_in_a_scan_reads_as_libjpeg_reads_it(tmp_path):
    data = pillow_jpeg(photo(64, 96), quality=80)
    stuffed = data.index(b"\xff\x00", data.index(b"\xff\xda") + 10)
    padded = data[:stuffed] + b"\xff\xff\xff\xff" + data[stuffed + 1 :]  # FF FF FF FF 00: one stuffed FF
    for a, b in zip(read_jpeg(padded).components, read_jpeg(data).components):
        np.testing.assert_array_equal(a.coefficients, b.coefficients)
    corrupt = data[:stuffed] + b"\xff\xff\x3a" + data[stuffed + 2 :]  # 0xFF 0x3A: no marker
    with pytest.raises(JpegError, match="corrupt data in scan 1: 0xFF 0x3A"):
        read_jpeg(corrupt)
    path = tmp_path / "corrupt.jpg"
    path.write_bytes(corrupt)
    result = CliRunner().invoke(main, ["info", "--json", str(path)])
    record = json.loads(result.stdout)  # described all the same, what is wrong named (and exit 1)
    assert result.exit_code == 1 and record["width"] == 96 and not record["restorable"]
    assert record["problem"].startswith("corrupt data in scan 1")


def test_info_gives_sampling_factors_as_libjpeg_does():
    data = pillow_jpeg(photo(32, 32), quality=80, subsampling=1)  # 4:2:2: Y is 2 wide, 1 high
    record = json.loads(CliRunner().invoke(main, ["info", "--json", "-"], input=data).output)
    assert record["sampling_factors"] == [[2, 1], [1, 1], [1, 1]]


def test_a_file_name_that_is_not_utf8_comes_out_of_json_usable(tmp_path, tiny_weights):
    import base64
    import os
    import subprocess
    import sys

    folder = tmp_path / "in"
    folder.mkdir()
    raw = os.fsencode(str(folder)) + b"/caf\xe9.jpg"  # Latin-1, not UTF-8
    with open(raw, "wb") as f:
        f.write(pillow_jpeg(photo(16, 16)))
    summary = tmp_path / "s.json"
    command = [sys.executable, "-m", "qgac_cli", "restore", str(folder), "-o", str(tmp_path / "out")]
    done = subprocess.run([*command, "--weights", tiny_weights, "--json", str(summary)], capture_output=True)
    assert done.returncode == 0, done.stderr
    record = json.loads(summary.read_bytes().decode("utf-8"))["files"][0]  # strict UTF-8 JSON
    assert record["source"].endswith("caf\\xe9.jpg") and base64.b64decode(record["source_bytes"]) == raw
    assert os.path.exists(base64.b64decode(record["target_bytes"]))


def test_tables_piped_have_no_trailing_spaces_and_help_lists_every_exit_code():
    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 0 and not [line for line in result.output.splitlines() if line != line.rstrip()]
    for command in (["--help"], ["restore", "--help"]):
        assert "129" in CliRunner().invoke(main, command).output
