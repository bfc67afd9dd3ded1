import io
import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import jpeglib_jpeg, photo, pillow_jpeg
from PIL import Image

from qgac_cli.cli import main
from qgac_cli.codec import jpeg as J
from qgac_cli.errors import ImageTooLargeError, JpegError, UnsupportedJpegError
from qgac_cli.restore.coefficients import from_jpeg, to_pixels

SIZES = [(667, 1001), (666, 1000), (9, 7), (48, 64)]


def flavours(tmp_path):
    """(name, bytes) for every flavour the JPEG layer must read."""
    rgb = photo(67, 101)
    gray = photo(67, 101, channels=1)
    return [
        ("baseline-444", pillow_jpeg(rgb, quality=40, subsampling=0)),
        ("baseline-422", pillow_jpeg(rgb, quality=40, subsampling=1)),
        ("baseline-420", pillow_jpeg(rgb, quality=40, subsampling=2)),
        ("progressive", pillow_jpeg(rgb, quality=40, progressive=True)),
        ("optimized", pillow_jpeg(rgb, quality=40, optimize=True)),
        ("restart", pillow_jpeg(rgb, quality=40, restart_marker_blocks=3)),
        ("gray", pillow_jpeg(gray, quality=40)),
        ("arithmetic", jpeglib_jpeg(rgb, tmp_path, 40, ["+ARITH_CODE"])),
        ("arithmetic-progressive", jpeglib_jpeg(rgb, tmp_path, 40, ["+ARITH_CODE", "+PROGRESSIVE_MODE"])),
        ("440", jpeglib_jpeg(rgb, tmp_path, 40, sampling=[[2, 1], [1, 1], [1, 1]])),
        ("411", jpeglib_jpeg(rgb, tmp_path, 40, sampling=[[1, 4], [1, 1], [1, 1]])),
    ]


def decode_difference(data: bytes) -> tuple[float, float]:
    mine = to_pixels(from_jpeg(J.read_jpeg(data)))[0].numpy()
    mine = mine[0] if mine.shape[0] == 1 else mine.transpose(1, 2, 0)
    ref = J.decode_with_pillow(data).astype(np.float64)
    diff = np.abs(np.round(mine * 255) - ref)
    return float(diff.max()), float(diff.mean())


def test_every_flavour_reads_and_decodes_like_libjpeg(tmp_path):
    for name, data in flavours(tmp_path):
        jpeg = J.read_jpeg(data)
        assert (jpeg.width, jpeg.height) == (101, 67), name
        biggest, mean = decode_difference(data)
        # libjpeg's integer IDCT and rounded colour conversion differ by a level or two
        assert mean < 1.0, (name, mean)
        assert biggest <= 4, (name, biggest)


def test_flavour_metadata(tmp_path):
    found = {name: J.read_jpeg(data) for name, data in flavours(tmp_path)}
    assert found["progressive"].progressive and found["progressive"].coding == "progressive"
    assert found["arithmetic"].arithmetic and not found["arithmetic"].progressive
    assert found["restart"].restart_interval == 3
    assert found["gray"].color_space == "Grayscale" and found["gray"].subsampling == "gray"
    expected = {
        "baseline-444": "4:4:4",
        "baseline-422": "4:2:2",
        "baseline-420": "4:2:0",
        "440": "4:4:0",
        "411": "4:1:1",
    }
    for name, sub in expected.items():
        assert found[name].subsampling == sub


@pytest.mark.parametrize("height,width", SIZES)
@pytest.mark.parametrize("subsampling", [0, 1, 2])
def test_odd_sizes(height, width, subsampling):
    data = pillow_jpeg(photo(height, width, seed=height), quality=30, subsampling=subsampling)
    jpeg = J.read_jpeg(data)
    planes = from_jpeg(jpeg)
    fy, fx = planes.factor
    assert planes.y.shape[-2] == planes.chroma.shape[-2] * fy and planes.y.shape[-1] == planes.chroma.shape[-1] * fx
    assert to_pixels(planes).shape == (1, 3, height, width)
    biggest, mean = decode_difference(data)
    assert biggest <= 4 and mean < 1.0


def test_encode_matches_pillow_bit_for_bit():
    rgb = photo(40, 56, seed=3)
    for quality in (5, 23, 50, 95):
        for code, name in ((0, "4:4:4"), (1, "4:2:2"), (2, "4:2:0")):
            ours = J.read_jpeg(J.encode(rgb, quality, name))
            theirs = J.read_jpeg(pillow_jpeg(rgb, quality=quality, subsampling=code))
            for a, b in zip(ours.components, theirs.components):
                assert np.array_equal(a.coefficients, b.coefficients)
            assert all(np.array_equal(a, b) for a, b in zip(ours.tables, theirs.tables))


def test_write_coefficients_round_trip(tmp_path):
    data = pillow_jpeg(photo(40, 56), quality=60, subsampling=2)
    jpeg = J.read_jpeg(data)
    planes = [c.coefficients.copy() for c in jpeg.components]
    planes[0][..., 4:, 4:] = 0  # drop some high frequencies
    planes[1][0, 0, 0, 0] += 3
    out = tmp_path / "modified.jpg"
    J.write_coefficients(data, J.with_coefficients(jpeg, planes), out)
    back = J.read_jpeg(out)
    for plane, component in zip(planes, back.components):
        assert np.array_equal(plane, component.coefficients)


def test_icc_and_orientation_are_read():
    icc = b"\x00\x00\x02\x0cfake-icc-profile" + bytes(500)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = pillow_jpeg(photo(24, 32), quality=80, icc_profile=icc, exif=exif.tobytes())
    jpeg = J.read_jpeg(data)
    assert jpeg.icc_profile == icc and jpeg.orientation == 6 and jpeg.exif


def _patched(data: bytes, marker: bytes, offset: int, value: bytes) -> bytes:
    pos = data.index(marker) + offset
    return data[:pos] + value + data[pos + len(value) :]


def test_bad_inputs_get_clear_errors(tmp_path):
    good = pillow_jpeg(photo(64, 64), quality=50)
    png = io.BytesIO()
    Image.fromarray(photo(8, 8)).save(png, format="PNG")
    cases = {
        "png": (png.getvalue(), JpegError, "PNG"),
        "random": (bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8)), JpegError, "not a JPEG"),
        "empty": (b"", JpegError, "empty"),
        "truncated": (good[: len(good) // 2], JpegError, "truncated"),
        "header-only": (good[:200], JpegError, ""),
        "12-bit": (_patched(good, b"\xff\xc0", 4, b"\x0c"), UnsupportedJpegError, "12-bit"),
        "lossless": (_patched(good, b"\xff\xc0", 0, b"\xff\xc3"), UnsupportedJpegError, "lossless"),
        "bomb": (_patched(good, b"\xff\xc0", 5, b"\xff\xff\xff\xff"), ImageTooLargeError, "larger than"),
    }
    for name, (data, error, words) in cases.items():
        path = tmp_path / f"{name}.jpg"
        path.write_bytes(data)
        with pytest.raises(error) as info:
            J.read_jpeg(path)
        assert str(path) in str(info.value), name
        assert words.lower() in str(info.value).lower(), (name, str(info.value))


def test_corrupt_scan_is_detected():
    good = pillow_jpeg(photo(128, 128, seed=5), quality=90)
    start = good.index(b"\xff\xda") + 20
    corrupt = bytearray(good)
    corrupt[start + 100 : start + 160] = bytes([0xFF, 0xD3]) * 30  # stray restart markers
    with pytest.raises(JpegError, match="corrupt"):
        J.read_jpeg(bytes(corrupt), source="corrupt.jpg")


def test_cmyk_is_unsupported():
    buffer = io.BytesIO()
    Image.fromarray(photo(16, 16)).convert("CMYK").save(buffer, format="JPEG")
    with pytest.raises(UnsupportedJpegError, match="CMYK"):
        J.read_jpeg(buffer.getvalue())


def test_zero_quantization_entry_is_an_error():
    good = pillow_jpeg(photo(16, 16), quality=50)
    dqt = good.index(b"\xff\xdb")
    bad = good[: dqt + 6] + b"\x00" + good[dqt + 7 :]  # second entry of table 0
    with pytest.raises(JpegError, match="zero"):
        J.read_jpeg(bad)


def test_info_json_agrees_with_pillow(tmp_path):
    paths = []
    for name, data in flavours(tmp_path):
        path = tmp_path / f"{name}.jpg"
        path.write_bytes(data)
        paths.append(path)
    result = CliRunner().invoke(main, ["info", "--json", *map(str, paths)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert len(records) == len(paths)
    for record, path in zip(records, paths):
        with Image.open(path) as im:
            pillow = im.quantization
            layer = getattr(im, "layer", None)
        assert len(record["quant_tables"]) == len(pillow)
        for i, table in enumerate(record["quant_tables"]):
            assert sum(table, []) == list(pillow[i])
        if layer:
            assert record["component_tables"] == [entry[3] for entry in layer]
        for key in ("path", "width", "height", "components", "subsampling", "quality_estimate"):
            assert key in record


def test_info_reports_bad_files_and_fails(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    good = tmp_path / "good.jpg"
    good.write_bytes(pillow_jpeg(photo(16, 16), quality=75))
    result = CliRunner().invoke(main, ["info", str(good), str(bad)])
    assert result.exit_code == 1
    assert "bad.jpg" in result.output and "Traceback" not in result.output


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (2 + len(payload)).to_bytes(2, "big") + payload


def _coefficients(data: bytes) -> list[np.ndarray]:
    return [c.coefficients for c in J.read_jpeg(data).components]


def test_empty_metadata_segments_do_not_crash_the_reader(tmp_path):
    # an empty COM (length 2) before a large one made jpeglib overrun its buffer (SIGBUS or
    # SIGSEGV): read in a child process, so a regression fails this test instead of pytest
    import subprocess
    import sys

    data = pillow_jpeg(photo(40, 48), quality=50)
    for marker in (0xFE, 0xE3):
        hostile = data[:2] + _segment(marker, b"") + _segment(0xFE, b"x" * 60000) + data[2:]
        path = tmp_path / f"m{marker:x}.jpg"
        path.write_bytes(hostile)
        code = (
            "import sys, numpy as np; from qgac_cli.codec import jpeg as J\n"
            f"a = J.read_jpeg({str(path)!r}); b = J.read_jpeg(sys.stdin.buffer.read())\n"
            "assert all(np.array_equal(x.coefficients, y.coefficients) for x, y in zip(a.components, b.components))\n"
        )
        child = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, timeout=120)
        assert child.returncode == 0, child.stderr.decode()[-500:]


def test_many_metadata_segments_are_read():
    data = pillow_jpeg(photo(40, 48), quality=50)
    many = data[:2] + b"".join(_segment(0xE5, b"app5 %d" % i) for i in range(80)) + data[2:]
    assert all(np.array_equal(a, b) for a, b in zip(_coefficients(many), _coefficients(data)))


def test_metadata_segments_are_removed_between_scans_too():
    data = pillow_jpeg(photo(40, 48), quality=50, progressive=True)
    second_scan = data.index(b"\xff\xda", data.index(b"\xff\xda") + 2)
    with_com = data[:second_scan] + _segment(0xFE, b"between scans") + data[second_scan:]
    assert J.without_metadata_segments(with_com) == J.without_metadata_segments(data)
    assert all(np.array_equal(a, b) for a, b in zip(_coefficients(with_com), _coefficients(data)))
    # nothing but APPn / COM goes: the plain file keeps every other byte
    plain = J.without_metadata_segments(data)
    assert b"\xff\xfe" not in plain and b"\xff\xe0" not in plain
    assert len(data) - len(plain) == int.from_bytes(data[4:6], "big") + 2  # only Pillow's APP0 (JFIF)


def test_a_zero_sampling_factor_is_a_clear_error():
    data = bytearray(pillow_jpeg(photo(16, 16), quality=50, subsampling=0))
    sof = data.index(b"\xff\xc0")
    data[sof + 2 + 2 + 6 + 1] = 0x00  # first component's sampling byte: 0x0
    with pytest.raises(JpegError, match="sampling factors"):
        J.read_jpeg(bytes(data))


def test_metadata_of_a_huge_header_is_read_without_pillows_own_limit():
    data = bytearray(pillow_jpeg(photo(16, 16), quality=50))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (13800).to_bytes(2, "big") + (13800).to_bytes(2, "big")  # 190 MP
    icc, exif, orientation = J.pillow_metadata(bytes(data))
    assert (icc, exif, orientation) == (None, None, 1)


def test_a_tiny_file_claiming_a_huge_image_is_refused_at_once():
    data = bytearray(pillow_jpeg(photo(16, 16), quality=50))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (9000).to_bytes(2, "big") + (18000).to_bytes(2, "big")  # 162 MP in < 1 KB
    with pytest.raises(ImageTooLargeError, match="no photo compresses that far"):
        J.read_jpeg(bytes(data))
    header = J.read_header(bytes(data))
    J.check_supported(header, "x", file_size=10_000_000)  # the same claim from a plausible file passes


def test_info_reads_headers_only_and_takes_stdin_and_folders(tmp_path):
    data = bytearray(pillow_jpeg(photo(16, 16), quality=50))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (60000).to_bytes(2, "big") + (60000).to_bytes(2, "big")  # 3.6 GP, nothing decoded
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "huge.jpg").write_bytes(bytes(data))
    (tmp_path / "d" / "small.jpeg").write_bytes(pillow_jpeg(photo(16, 24), quality=70))
    result = CliRunner().invoke(main, ["info", str(tmp_path / "d"), "--json"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["width"], r["height"]) for r in records] == [(60000, 60000), (24, 16)]
    assert records[1]["quality_estimate"]["quality"] == 70
    result = CliRunner().invoke(main, ["info", "-", "--json"], input=pillow_jpeg(photo(16, 24), quality=30))
    assert result.exit_code == 0 and json.loads(result.output)["path"] == "<stdin>"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert CliRunner().invoke(main, ["info", str(empty)]).exit_code == 1


def test_each_reader_walks_a_file_once(monkeypatch):
    """read_jpeg and info's description (with its look at the coefficients) share one walk of
    the markers: the header, the tables, the kept segments and the coefficient reader's copy."""
    from qgac_cli import info
    from qgac_cli.codec.jpeg import markers

    walks = []
    real = markers.walk

    def counted(data, source="<bytes>"):
        walks.append(source)
        return real(data, source)

    monkeypatch.setattr(markers, "walk", counted)
    data = pillow_jpeg(photo(64, 96), quality=50, progressive=True, comment=b"kept")
    jpeg = J.read_jpeg(data, "a.jpg")
    assert walks == ["a.jpg"] and jpeg.segments and jpeg.components[0].coefficients.any()
    walks.clear()
    described = info.describe("b.jpg", data)
    assert walks == ["b.jpg"] and described["comment"] == "kept" and described["recompressed"] is None


def test_a_problem_found_by_one_reader_is_raised_to_the_next():
    cut = pillow_jpeg(photo(64, 96), quality=50)[:-200]
    shared = J.Markers(cut, "cut.jpg")
    assert J.read_header(shared).width == 96  # the frame header lies before the cut
    for _ in range(2):
        with pytest.raises(JpegError, match="truncated"):
            J.read_tables(shared)
    with pytest.raises(JpegError, match="truncated"):
        J.read_jpeg(shared)
