import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import SHARED, image_folder, photo, tiny_model
from PIL import Image

from qgac_cli import weights
from qgac_cli.cli import main
from qgac_cli.evaluate.equivalent import smallest_quality, summarize
from qgac_cli.evaluate.scoring import EvalConfig, evaluate


@pytest.fixture
def dataset(tmp_path):
    folder = image_folder(tmp_path / "set", 2, 48, 64)
    gray = tmp_path / "gray"
    gray.mkdir()
    Image.fromarray(photo(40, 40, seed=5, channels=1)).save(gray / "g.png")
    return folder, gray


def test_eval_records_and_outputs(tmp_path, dataset):
    folder, gray = dataset
    ckpt = tmp_path / "tiny.pt"
    weights.save(tiny_model(), ckpt)
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    result = CliRunner().invoke(
        main,
        [
            "eval",
            str(folder),
            str(gray),
            "--quality",
            "10",
            "--quality",
            "50",
            "--weights",
            str(ckpt),
            "--weights",
            "base",
            "--json",
            str(out_json),
            "--csv",
            str(out_csv),
            "--per-image",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    records = json.loads(out_json.read_text())
    summary = [r for r in records if "image" not in r]
    assert len(summary) == 2 * 2 * 3  # datasets x qualities x methods
    for r in summary:
        assert set(r) >= {"dataset", "quality", "method", "psnr", "psnrb", "ssim", "images"}
        assert r["images"] == (2 if r["dataset"] == "set" else 1)
    assert {r["method"] for r in summary} == {"jpeg", str(ckpt), "base"}
    assert len([r for r in records if "image" in r]) == 2 * 3 * 3
    assert out_csv.read_text().startswith("dataset,quality,method")
    by = {(r["dataset"], r["quality"], r["method"]): r for r in summary}
    assert by[("set", 10, "jpeg")]["psnr"] < by[("set", 50, "jpeg")]["psnr"]
    assert by[("set", 10, "base")]["psnr"] > by[("set", 10, "jpeg")]["psnr"]
    # per-image accounting: how many restorations fall below their JPEG, and the worst gain
    per_image = {(r["dataset"], r["quality"], r["method"], r["image"]): r["psnr"] for r in records if "image" in r}
    for r in summary:
        if r["method"] == "jpeg":
            assert "below_jpeg" not in r
            continue
        gains = [
            per_image[(r["dataset"], r["quality"], r["method"], image)]
            - per_image[(r["dataset"], r["quality"], "jpeg", image)]
            for (d, q, m, image) in per_image
            if (d, q, m) == (r["dataset"], r["quality"], r["method"])
        ]
        assert r["worst_gain"] == pytest.approx(min(gains))
        assert r["below_jpeg"] == sum(g < 0 for g in gains)
    assert "worst" in result.output and "below" in result.output  # the table's new columns


def test_eval_is_deterministic_and_paired_mode(tmp_path, dataset):
    folder, _ = dataset
    cfg = EvalConfig(datasets=(str(folder),), qualities=(30,))
    model = tiny_model()
    assert evaluate(cfg, {"m": model}) == evaluate(cfg, {"m": model})
    jpegs = tmp_path / "jpegs"
    jpegs.mkdir()
    for path in folder.glob("*.png"):
        Image.open(path).save(jpegs / f"{path.stem}.jpg", quality=30)
    paired = evaluate(EvalConfig(paired=(str(jpegs), str(folder))), {})
    direct = evaluate(cfg, {})
    assert paired[0]["images"] == 2
    assert abs(paired[0]["psnr"] - direct[0]["psnr"]) < 1e-9


def test_eval_usage_errors(tmp_path):
    assert CliRunner().invoke(main, ["eval", str(tmp_path)]).exit_code == 2
    assert CliRunner().invoke(main, ["eval", str(tmp_path), "--quality", "10", "--jpeg-only", "-q"]).exit_code == 2


@pytest.mark.skipif(not (SHARED / "eval" / "live1").is_dir(), reason="shared Live-1 not available")
def test_live1_jpeg_row_matches_the_field():
    records = evaluate(EvalConfig(datasets=(str(SHARED / "eval" / "live1"),), qualities=(10, 50)), {})
    got = {r["quality"]: r for r in records}
    for quality, (p, pb, s) in {10: (25.69, 23.76, 0.759), 50: (31.03, 29.28, 0.908)}.items():
        assert abs(got[quality]["psnr"] - p) <= 0.02
        assert abs(got[quality]["psnrb"] - pb) <= 0.02
        assert abs(got[quality]["ssim"] - s) <= 0.002


def test_smallest_quality_search():
    scores = {q: q / 100 for q in range(1, 101)}
    assert smallest_quality(0.305, scores.__getitem__) == 31
    assert smallest_quality(0.01, scores.__getitem__) == 1
    assert smallest_quality(1.5, scores.__getitem__) is None  # no quality reaches it


def test_summary_counts_above_100():
    rows = [
        {
            "dataset": "d",
            "quality": 10,
            "equivalent_quality": 20,
            "above_100": False,
            "bytes": 100,
            "equivalent_bytes": 200,
        },
        {
            "dataset": "d",
            "quality": 10,
            "equivalent_quality": None,
            "above_100": True,
            "bytes": 100,
            "equivalent_bytes": 900,
        },
    ]
    (row,) = summarize(rows)
    assert row["above_100"] == 1 and row["equivalent_quality"] == 60.0
    assert row["bytes_saved"] == 450.0 and abs(row["percent_saved"] - 100 * 450 / 550) < 1e-9


def photo_crops(folder: Path, count: int = 2, size: tuple[int, int] = (64, 96)) -> tuple[Path, bool]:
    """Crops of Live-1 photos where the shared data is there, else generated photo-like images;
    and whether they are photos. The generated ones have colour noise that follows no luma
    edge, which the chroma refinement (built for photos, whose colour edges follow their luma)
    does not help: on them its gain at q30 is +0.29 dB, not +0.37 (weights/README.md)."""
    live1 = SHARED / "eval" / "live1"
    if not live1.is_dir():
        return image_folder(folder, count, *size), False
    folder.mkdir(parents=True)
    for path in sorted(live1.glob("*.png"))[:count]:
        with Image.open(path) as im:
            im.convert("RGB").crop((0, 0, size[1], size[0])).save(folder / path.name)
    return folder, True


def test_equivalent_quality_command(tmp_path):
    folder, photos = photo_crops(tmp_path / "photos")
    plot, out = tmp_path / "plot.png", tmp_path / "eq.json"
    result = CliRunner().invoke(
        main,
        [
            "equivalent-quality",
            str(folder),
            "--quality",
            "10",
            "--quality",
            "30",
            "--plot",
            str(plot),
            "--json",
            str(out),
            "--per-image",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    records = json.loads(out.read_text())
    summary = [r for r in records if "image" not in r]
    assert [r["quality"] for r in summary] == [10, 30]
    for r in summary:
        assert r["equivalent_quality"] >= r["quality"] or not photos  # the shipped model improves on photos' JPEGs
        assert r["bytes_saved"] >= 0
    assert Image.open(plot).format == "PNG"
    assert np.isfinite([r["percent_saved"] for r in summary]).all()


def test_report_paths_are_checked_before_the_work(tmp_path, dataset):
    folder, _ = dataset
    result = CliRunner().invoke(
        main, ["eval", str(folder), "--quality", "10", "--json", str(tmp_path / "missing" / "r.json"), "-q"]
    )
    assert result.exit_code == 2 and "no such folder" in result.output
    result = CliRunner().invoke(
        main, ["equivalent-quality", str(folder), "--quality", "10", "--plot", str(tmp_path / "p.gif"), "-q"]
    )
    assert result.exit_code == 2 and "--plot" in result.output


def test_an_empty_folder_is_refused_before_any_work(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "empty"), "--quality", "10", "--weights", "nope"])
    assert result.exit_code == 2 and "no images in" in result.output  # before the weights are even looked at
    assert "evaluating" not in result.output


def test_eval_scores_recompressed_sets(tmp_path):
    """--recompress Q1: each test JPEG saved at Q1, decoded, saved again at --quality (rows
    "Q1>Q2"); the files are recompressed (the first compression is found in them) and
    --first-quality off scores them as they are."""
    from qgac_cli.codec.jpeg import read_jpeg
    from qgac_cli.evaluate.scoring import compress
    from qgac_cli.recompression import find_first_compression

    pixels = photo(96, 128, seed=2)
    assert find_first_compression(read_jpeg(compress(pixels, 90, "4:2:0", first=30))).quality == 30
    folder = image_folder(tmp_path / "set", 1, 96, 128)
    records = {}
    for first_quality in ("auto", "off"):
        out = tmp_path / f"{first_quality}.json"
        args = ["eval", str(folder), "--recompress", "30", "--recompress", "50", "--quality", "90"]
        result = CliRunner().invoke(
            main, [*args, "--weights", "fast", "--first-quality", first_quality, "--json", str(out)]
        )
        assert result.exit_code == 0, result.output
        records[first_quality] = {(r["quality"], r["method"]): r["psnr"] for r in json.loads(out.read_text())}
    assert set(records["auto"]) == {(q, m) for q in ("30>90", "50>90") for m in ("jpeg", "fast")}
    for q in ("30>90", "50>90"):
        assert records["auto"][(q, "jpeg")] == records["off"][(q, "jpeg")]
        assert records["auto"][(q, "fast")] > records["off"][(q, "fast")]
    bad = CliRunner().invoke(main, ["eval", "--paired", str(folder), str(folder), "--recompress", "30"])
    assert bad.exit_code == 2


def test_chroma_psnr_says_where_the_error_lies():
    """An error put in Cb alone shows in psnr_cb, not in psnr_y or psnr_cr; grey has none."""
    import torch

    from qgac_cli.evaluate.scoring import score, to_tensor
    from qgac_cli.restore import dct

    reference = photo(64, 64, seed=3)
    ycbcr = dct.rgb_to_ycbcr(to_tensor(reference))
    ycbcr[:, 1] += 5.0  # Cb off by 5 levels everywhere
    shifted = dct.ycbcr_to_rgb(ycbcr).clamp(0, 1)[0].permute(1, 2, 0)
    moved = (shifted * 255).round().to(torch.uint8).numpy()
    s = score(moved, reference)
    assert abs(s["psnr_cb"] - 20 * np.log10(255 / 5)) < 1.0  # 34.2 dB, less the clamped pixels
    assert s["psnr_cr"] > s["psnr_cb"] + 8 and s["psnr_y"] > s["psnr_cb"] + 8
    assert "psnr_cb" not in score(reference[..., 0], reference[..., 0])
