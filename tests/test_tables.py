"""Quantization tables read as libjpeg reads them: latched per component at its first scan,
from any slot, the same reading for `info` and `restore`; and the scan limit."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import photo
from test_tools import load_tool

from qgac_cli.cli import main
from qgac_cli.codec import jpeg as J
from qgac_cli.errors import JpegError
from qgac_cli.restore.coefficients import from_jpeg, to_pixels

shapes = load_tool("jpeg_shapes")
RGB = photo(96, 128, seed=3)


def decode_error(data: bytes) -> tuple[float, float]:
    """(largest, mean) difference in levels between our dequantization of the file's own
    coefficients and libjpeg's decode: the tables are right only if both are small."""
    jpeg = J.read_jpeg(data)
    mine = to_pixels(from_jpeg(jpeg))[0].numpy() * 255
    mine = mine[0] if mine.shape[0] == 1 else mine.transpose(1, 2, 0)
    difference = np.abs(np.round(mine) - jpeg.decoded.astype(np.float64))
    return float(difference.max()), float(difference.mean())


def unusual_files() -> dict[str, bytes]:
    progressive = shapes.pillow(RGB, quality=30, progressive=True)
    return {
        "redefined-after-dc-scan": shapes.redefine_after_first_scan(progressive),
        "chroma-on-slot-2": shapes.relabel_tables(shapes.pillow(RGB, quality=30), {1: 2}),
        "grey-on-slot-1": shapes.relabel_tables(shapes.pillow(photo(96, 128, channels=1), quality=30), {0: 1}),
        "chroma-table-between-scans": shapes.one_scan_per_component(RGB, (30, 80), (0, 1)),
        "slot-redefined-between-scans": shapes.one_scan_per_component(RGB, (30, 80), (0, 0)),
    }


@pytest.mark.parametrize("name", sorted(unusual_files()))
def test_unusual_table_layouts_dequantize_as_libjpeg_does(name):
    largest, mean = decode_error(unusual_files()[name])
    assert largest <= 2 and mean < 0.5  # the wrong table is tens of levels off


def test_a_component_keeps_the_table_latched_at_its_first_scan():
    progressive = shapes.pillow(RGB, quality=30, progressive=True)
    before = J.read_jpeg(progressive)
    after = J.read_jpeg(shapes.redefine_after_first_scan(progressive))
    assert all(np.array_equal(a, b) for a, b in zip(before.tables, after.tables))
    same_slot = J.read_tables(shapes.one_scan_per_component(RGB, (30, 80), (0, 0)))
    assert same_slot.slots == (0, 0, 0) and same_slot.component_tables == (0, 1, 1)
    assert same_slot.tables[0][0, 0] > same_slot.tables[1][0, 0]  # q30 for Y, q80 for chroma


def test_info_and_restore_read_the_same_tables(tmp_path, tiny_weights):
    for name, data in unusual_files().items():
        path = tmp_path / f"{name}.jpg"
        path.write_bytes(data)
        info = CliRunner().invoke(main, ["info", "--json", str(path)])
        assert info.exit_code == 0, info.output
        record = json.loads(info.output)
        jpeg = J.read_jpeg(data)
        assert [np.asarray(t).tolist() for t in jpeg.tables] == record["quant_tables"], name
        assert [c.table_index for c in jpeg.components] == record["component_tables"], name
        restored = CliRunner().invoke(
            main, ["restore", str(path), str(tmp_path / f"{name}.png"), "--weights", tiny_weights]
        )
        assert restored.exit_code == 0, (name, restored.output)
    record = json.loads(CliRunner().invoke(main, ["info", "--json", str(tmp_path / "chroma-on-slot-2.jpg")]).output)
    assert record["table_slots"] == [0, 2, 2] and record["scans"] == 1


def test_a_table_used_before_it_is_defined_is_refused_by_both():
    parts = shapes.split(shapes.one_scan_per_component(RGB, (30, 80), (0, 1)))
    dqt_1 = next(i for i, (m, p, _) in enumerate(parts) if m == 0xDB and p[0] & 0x0F == 1)
    cb_scan = next(i for i, (m, p, _) in enumerate(parts) if m == 0xDA and p[1] == 2)
    moved = parts[:dqt_1] + parts[dqt_1 + 1 : cb_scan + 1] + [parts[dqt_1]] + parts[cb_scan + 1 :]
    data = shapes.join(moved)  # Cb's scan comes before its table: libjpeg refuses it too
    with pytest.raises(JpegError, match="table 1 is used but not defined"):
        J.read_jpeg(data)
    assert "table 1 is used but not defined" in J.read_info(data).problem  # info describes it all the same


def test_a_file_cut_short_is_truncated_for_info_too(tmp_path):
    data = shapes.pillow(RGB, quality=30)
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    result = CliRunner().invoke(main, ["info", str(path)])
    assert result.exit_code == 1 and "truncated" in result.output and "Traceback" not in result.output
    with pytest.raises(JpegError, match="truncated"):
        J.read_jpeg(data[: len(data) // 2])


def test_scans_beyond_the_limit_are_refused_before_any_decoding(tmp_path, monkeypatch):
    bomb = shapes.many_scans(shapes.pillow(photo(64, 64), quality=30, progressive=True), 1_500)
    assert J.read_tables(bomb, max_scans=2_000).scans == 1_500
    with monkeypatch.context() as m:
        m.setattr(J.codec, "decode_strict", lambda *a: pytest.fail("decoded a file the marker walk refuses"))
        with pytest.raises(JpegError, match="more than 1,000 scans"):
            J.read_jpeg(bomb)
    path = tmp_path / "bomb.jpg"
    path.write_bytes(bomb)
    result = CliRunner().invoke(main, ["restore", str(path), str(tmp_path / "out.png")])
    assert result.exit_code == 1 and "--max-scans" in result.output
    assert not (tmp_path / "out.png").exists()
    info = CliRunner().invoke(main, ["info", str(path), "--max-scans", "2000"])
    assert info.exit_code == 0, info.output
