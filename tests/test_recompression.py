"""Recompressed JPEGs: the first compression found in generated files saved twice, no false
alarm on files saved once, the restore for it, and what the commands say of it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import SHARED, photo, pillow_jpeg
from PIL import Image, ImageFilter

from qgac_cli import api, weights
from qgac_cli.cli import main
from qgac_cli.codec.jpeg import decode_with_pillow, read_jpeg
from qgac_cli.codec.quality import standard_tables
from qgac_cli.evaluate.metrics import psnr
from qgac_cli.evaluate.scoring import to_tensor
from qgac_cli.recompression import (
    BINS,
    as_first_compression,
    find_first_compression,
    first_grid,
    given_first_compression,
    phase_steps,
    predicted,
    samples,
    single,
)

PIXELS = photo(192, 256, seed=3)
SMOOTH = np.asarray(Image.fromarray(PIXELS).filter(ImageFilter.GaussianBlur(1.0)))  # a restorer has more to give back


def _a_photo() -> np.ndarray:
    """A Live-1 crop where the shared data is there, else SMOOTH made grey (in RGB). The
    chroma refinement of every shipped weights assumes colour edges follow luma edges, which
    the generated image's colour noise does not: on it the refinement costs gain, on photos it
    adds gain (Live-1 crops saved at q30 then q90, `fast`: +0.65 → +0.80 dB restored for the
    first compression), so its colour is no measure of what restoring for the first
    compression gives."""
    live1 = SHARED / "eval" / "live1"
    if live1.is_dir():
        return np.ascontiguousarray(np.asarray(Image.open(sorted(live1.glob("*.png"))[0]).convert("RGB"))[:192, :256])
    return np.repeat(np.asarray(Image.fromarray(SMOOTH).convert("L"))[..., None], 3, axis=2)


PHOTO = _a_photo()


def twice(pixels: np.ndarray, first: int, second: int, crop: tuple[int, int] = (0, 0), subsampling: int = 2) -> bytes:
    """Saved at `first`, decoded, cut by `crop` (rows, columns) at the top left, saved at `second`."""
    decoded = decode_with_pillow(pillow_jpeg(pixels, quality=first, subsampling=subsampling))
    return pillow_jpeg(np.ascontiguousarray(decoded[crop[0] :, crop[1] :]), quality=second, subsampling=subsampling)


def test_the_models_are_distributions():
    p = predicted(np.array([3, 7, 20]), step=2, scale=6.0)
    assert p.shape == (3, 2 * BINS + 1)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-9)
    once = single(step=2, scale=6.0)
    np.testing.assert_allclose(once.sum(), 1.0, atol=1e-9)
    # a first step of 20 after which a step of 2 quantizes: only bins near multiples of 10 are reachable
    assert p[2, BINS + 5] < 1e-6 and p[2, BINS + 10] > 1e-3


@pytest.mark.parametrize(
    "first, second, crop, offset",
    [
        (30, 90, (0, 0), (0, 0)),
        (50, 90, (0, 0), (0, 0)),
        (20, 85, (0, 0), (0, 0)),
        (30, 90, (3, 5), (5, 3)),
        (40, 95, (2, 4), (6, 4)),
    ],
)
def test_the_first_compression_is_found(first, second, crop, offset):
    found = find_first_compression(read_jpeg(twice(PIXELS, first, second, crop)))
    assert found is not None
    assert abs(found.quality - first) <= 1
    assert found.offset == offset
    assert found.confidence == 1.0
    np.testing.assert_array_equal(found.luma, standard_tables(found.quality)[0])


@pytest.mark.parametrize("quality", [10, 30, 50, 70, 90, 95, 100])
def test_no_false_alarm_on_files_saved_once(quality):
    for subsampling in (0, 1, 2):
        assert find_first_compression(read_jpeg(pillow_jpeg(PIXELS, quality=quality, subsampling=subsampling))) is None
    assert find_first_compression(read_jpeg(pillow_jpeg(PIXELS[..., 1], quality=quality))) is None


def test_a_finer_first_compression_is_not_acted_on():
    assert find_first_compression(read_jpeg(twice(PIXELS, 90, 30))) is None


def test_requantizing_onto_the_first_grid_recovers_the_first_values():
    rng = np.random.default_rng(0)
    first, second = np.full((8, 8), 12), np.full((8, 8), 3)
    second[0, 1] = 11  # a frequency whose steps are too close: kept as the file has it
    m = rng.integers(-6, 7, size=(5, 4, 8, 8))
    noisy = m * first + rng.uniform(-1.4, 1.4, size=m.shape)
    k = np.round(noisy / second).astype(np.int16)
    coefficients, table = first_grid(k, second, first)
    assert table[0, 0] == 12 and table[0, 1] == 11
    np.testing.assert_array_equal(coefficients[..., 0, 0], m[..., 0, 0])
    np.testing.assert_array_equal(coefficients[..., 0, 1], k[..., 0, 1])


def test_the_jpeg_for_the_first_grid_keeps_the_picture():
    jpeg = read_jpeg(twice(PIXELS, 30, 90))
    found = find_first_compression(jpeg)
    first, cut = as_first_compression(jpeg, found)
    assert cut == (0, 0) and (first.width, first.height) == (jpeg.width, jpeg.height)
    assert first.table_for(0).tolist() == found.luma.tolist()
    assert [c.coefficients.shape for c in first.components] == [c.coefficients.shape for c in jpeg.components]
    shifted = read_jpeg(twice(PIXELS, 30, 90, (3, 5)))
    first, cut = as_first_compression(shifted, find_first_compression(shifted))
    assert cut == (3, 5)  # padded to the first grid's blocks: 3 rows, 5 columns
    assert (first.height - cut[0], first.width - cut[1]) == (shifted.height, shifted.width)


def _gain(data: bytes, reference: np.ndarray, model, first_quality) -> float:
    options = api.RestoreOptions(tile=0, precision="fp32", first_quality=first_quality)
    restored = api.restore(data, model, options).pixels
    decoded = decode_with_pillow(data)
    return float(psnr(to_tensor(restored), to_tensor(reference)) - psnr(to_tensor(decoded), to_tensor(reference)))


@pytest.mark.parametrize("crop", [(0, 0), (3, 5)])
def test_restoring_for_the_first_compression_gains_more(crop):
    model = weights.load("fast")
    data = twice(PHOTO, 30, 90, crop)
    reference = PHOTO[crop[0] :, crop[1] :]
    off, auto = _gain(data, reference, model, "off"), _gain(data, reference, model, "auto")
    assert auto > off + 0.1 and auto > 0.3, (off, auto)  # measured: +0.38 -> +0.89, shifted +0.27 -> +0.93
    assert _gain(data, reference, model, 30) == pytest.approx(auto, abs=1e-9)  # given by hand: the same


def test_a_first_quality_given_by_hand():
    jpeg = read_jpeg(twice(PIXELS, 30, 90))
    given = given_first_compression(jpeg, 30)
    assert given.given and given.quality == 30 and given.evidence > 3
    assert given_first_compression(jpeg, 15).evidence < 0  # the file speaks against it
    shifted = given_first_compression(read_jpeg(twice(PIXELS, 30, 90, (3, 5))), 30)
    assert shifted.given and shifted.offset == (5, 3)
    with pytest.raises(ValueError):
        given_first_compression(jpeg, 0)


def test_restore_names_it_and_can_be_told(tmp_path, tiny_weights):
    (tmp_path / "twice.jpg").write_bytes(twice(PIXELS, 30, 90))
    (tmp_path / "once.jpg").write_bytes(pillow_jpeg(PIXELS, quality=30))
    summary = tmp_path / "s.json"
    args = ["restore", str(tmp_path / "twice.jpg"), str(tmp_path / "once.jpg"), "-o", str(tmp_path / "out")]
    result = CliRunner().invoke(main, [*args, "--weights", tiny_weights, "-v", "--json", str(summary)])
    assert result.exit_code == 0, result.output
    assert "q~90 (recompressed: first q~30, confidence 1.00)" in result.output
    files = {f["source"].rsplit("/", 1)[-1]: f for f in json.loads(summary.read_text())["files"]}
    assert files["twice.jpg"]["first"]["first_quality"] == 30 and files["once.jpg"]["first"] is None
    for option, expected in (("off", None), ("30", 30)):
        result = CliRunner().invoke(
            main, [*args, "--weights", tiny_weights, "--overwrite", "--first-quality", option, "--json", str(summary)]
        )
        assert result.exit_code == 0, result.output
        first = json.loads(summary.read_text())["files"][0]["first"]
        assert (first and first["first_quality"]) == expected
    bad = CliRunner().invoke(main, [*args, "--first-quality", "101"])
    assert bad.exit_code == 2 and "--first-quality" in bad.output


def test_info_reports_it(tmp_path):
    path = tmp_path / "twice.jpg"
    path.write_bytes(twice(PIXELS, 30, 90, (3, 5)))
    result = CliRunner().invoke(main, ["info", "--json", str(path)])
    record = json.loads(result.output)
    assert record["recompressed"]["first_quality"] == 30 and record["recompressed"]["grid_offset"] == [5, 3]
    text = CliRunner().invoke(main, ["info", str(path)]).output
    assert "first quality ≈ 30" in text and "grid shifted" in text and "row 5, column 3" in text
    headers = CliRunner().invoke(main, ["info", "--json", "--headers-only", str(path)]).output
    assert "recompressed" not in json.loads(headers)
    (tmp_path / "once.jpg").write_bytes(pillow_jpeg(PIXELS, quality=30))
    once = CliRunner().invoke(main, ["info", "--json", str(tmp_path / "once.jpg")]).output
    assert json.loads(once)["recompressed"] is None


def test_the_grid_of_a_cropped_file_shows_in_its_steps():
    jpeg = read_jpeg(twice(PIXELS, 20, 95, (3, 5)))
    rows, columns = phase_steps(samples(jpeg.components[0].coefficients, jpeg.table_for(0)))
    assert rows.argmax() == 5 and columns.argmax() == 3


def test_a_first_save_with_tables_of_its_own_is_measured_not_fitted():
    """A flat table of 20 is no IJG table: its steps are measured where the file shows them,
    and the others are left as the file has them (IJG's steps there would requantize
    frequencies that were never that coarse)."""
    first = decode_with_pillow(pillow_jpeg(SMOOTH, qtables=[[20] * 64] * 2, subsampling=2))
    data = pillow_jpeg(first, quality=90, subsampling=2)
    jpeg = read_jpeg(data)
    found = find_first_compression(jpeg)
    assert found is not None and not found.ijg and not found.chroma_found
    assert found.measured and all(abs(step - 20) <= 1 for *_, step in found.measured)
    measured = {(r, c) for r, c, _ in found.measured}
    file_table = jpeg.table_for(0)
    assert all(found.luma[r, c] == file_table[r, c] for r in range(8) for c in range(8) if (r, c) not in measured)
    model = weights.load("fast")
    assert _gain(data, SMOOTH, model, "auto") > _gain(data, SMOOTH, model, "off")  # measured: +0.37 -> +0.44


@pytest.mark.parametrize("subsampling", [None, 0, 1])  # grey, 4:4:4, 4:2:2
@pytest.mark.parametrize("crop", [(0, 0), (3, 5)])
def test_every_subsampling_and_grey_is_restored_for_it(subsampling, crop):
    pixels = np.ascontiguousarray(SMOOTH[..., 1]) if subsampling is None else SMOOTH
    options = {} if subsampling is None else {"subsampling": subsampling}
    first = decode_with_pillow(pillow_jpeg(pixels, quality=30, **options))[crop[0] :, crop[1] :]
    data = pillow_jpeg(np.ascontiguousarray(first), quality=90, **options)
    found = find_first_compression(read_jpeg(data))
    assert found is not None and found.quality == 30 and found.offset == ((-crop[0]) % 8, (-crop[1]) % 8)
    model = weights.load("fast")
    reference = pixels[crop[0] :, crop[1] :]
    assert _gain(data, reference, model, "auto") > _gain(data, reference, model, "off") + 0.1
