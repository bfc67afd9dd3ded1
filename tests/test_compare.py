import numpy as np
import pytest
from click.testing import CliRunner
from conftest import photo, pillow_jpeg
from PIL import Image

from qgac_cli.cli import main
from qgac_cli.evaluate.compare import pick_crops, side_by_side


def test_crops_go_where_the_change_is():
    change = np.zeros((100, 120))
    change[60:80, 10:30] = 5.0
    change[5:15, 90:110] = 3.0
    crops = pick_crops(change, 20, 2)
    assert crops[0] == (60, 10)
    assert abs(crops[1][0] - 5) <= 5 and abs(crops[1][1] - 90) <= 5


def test_sheet_shows_jpeg_left_and_restored_right():
    jpeg = np.zeros((64, 64, 3), np.uint8)
    restored = jpeg.copy()
    restored[10:20, 30:40] = 200
    sheet = side_by_side(jpeg, restored, size=16, count=2, zoom=2)
    label = 16
    assert sheet.shape == (label + 2 * 32 + 8, 2 * 32 + 8, 3)
    left, right = sheet[label : label + 32, :32], sheet[label : label + 32, 40:]
    assert left.max() == 0 and right.max() == 200  # the first row holds the change
    assert (sheet[:label, :32] < 128).any() and (sheet[:label, 40:] < 128).any()  # "JPEG", "restored" written


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "in.jpg"
    path.write_bytes(pillow_jpeg(photo(64, 80), quality=15))
    return path


def sheet(src, out, tiny_weights):
    return CliRunner().invoke(main, ["compare", str(src), "-o", str(out), "--weights", tiny_weights, "--size", "32"])


def test_compare_command(tmp_path, src, tiny_weights):
    out = tmp_path / "sheet.png"
    result = sheet(src, out, tiny_weights)
    assert result.exit_code == 0, result.output
    with Image.open(out) as im:
        assert im.size == (2 * 96 + 8, 16 + 3 * 96 + 16)
    other = tmp_path / "other.png"
    Image.fromarray(photo(10, 10)).save(other)
    result = CliRunner().invoke(main, ["compare", str(src), str(other), "-o", str(tmp_path / "s2.png")])
    assert result.exit_code == 2 and "10x10" in result.output


def test_compare_refuses_what_would_make_a_meaningless_sheet(tmp_path, src):
    stranger = tmp_path / "stranger.png"
    Image.fromarray(photo(64, 80, seed=5)[::-1].copy()).save(stranger)  # another picture of the same size
    result = CliRunner().invoke(main, ["compare", str(src), str(stranger), "-o", str(tmp_path / "s.png")])
    assert result.exit_code == 2 and "does not look like a restoration" in result.output
    assert not (tmp_path / "s.png").exists()
    nameless = CliRunner().invoke(main, ["compare", str(src), "-o", str(tmp_path / "sheet")])
    assert nameless.exit_code == 2 and "-o" in nameless.output and "--plot" not in nameless.output


def test_a_sheet_may_be_a_jpeg(tmp_path, src, tiny_weights):
    out = tmp_path / "cmp.jpg"
    result = sheet(src, out, tiny_weights)
    assert result.exit_code == 0, result.output
    with Image.open(out) as im:
        assert im.format == "JPEG"
