"""The generated pattern set: what it holds, that `qgac eval --patterns` scores it beside the
photo sets (luma PSNR too), and that training can draw such patterns."""

import json

import numpy as np
from click.testing import CliRunner
from conftest import tiny_model

from qgac_cli import weights
from qgac_cli.cli import main
from qgac_cli.evaluate.patterns import HEIGHT, WIDTH, facade, grating, pattern_set, random_pattern
from qgac_cli.evaluate.scoring import luma, score, to_tensor
from qgac_cli.train.loop import generated_patterns


def test_the_set_is_fixed_regular_and_of_every_kind():
    items = pattern_set()
    names = [n for n, _ in items]
    assert len(set(names)) == len(names) == 16
    assert {n.split("-")[0] for n in names} == {"grating", "grid", "bricks", "facade"}
    assert all(a.shape == (HEIGHT, WIDTH, 3) and a.dtype == np.uint8 for _, a in items)
    assert all(a.std() > 20 for _, a in items)  # patterns, not flat fields
    bars = grating(8.0, 0)  # vertical bars of 8 px: every row alike, period 8 along a row
    assert np.array_equal(bars[0], bars[-1]) and np.array_equal(bars[:, :8], bars[:, 8:16])
    windows = facade((16.0, 16.0), (8.0, 8.0), 1.0, 0)
    assert np.array_equal(windows[:16, :16], windows[16:32, 32:48])  # the same window everywhere


def test_training_patterns_are_drawn_not_copied_from_the_set():
    rng = np.random.default_rng(0)
    drawn = [random_pattern(rng) for _ in range(6)]
    fixed = [a for _, a in pattern_set()]
    assert not any(np.array_equal(d, f) for d in drawn for f in fixed)
    assert len({d.tobytes() for d in drawn}) == 6
    assert [a.tobytes() for a in generated_patterns(2, seed=3)] == [a.tobytes() for a in generated_patterns(2, seed=3)]
    assert generated_patterns(0, seed=3) == []


def test_luma_psnr_is_scored_and_is_the_psnr_of_grey():
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    noisy = np.clip(ref.astype(int) + rng.integers(-3, 4, ref.shape), 0, 255).astype(np.uint8)
    s = score(noisy, ref)
    assert set(s) == {"psnr", "psnrb", "ssim", "psnr_y", "psnr_cb", "psnr_cr"} and 35 < s["psnr_y"] < 60
    grey = ref[..., 0]
    assert score(grey, grey[::-1].copy())["psnr_y"] == score(grey, grey[::-1].copy())["psnr"]
    assert luma(to_tensor(ref)).shape == (1, 1, 16, 16)


def test_eval_scores_the_patterns_beside_a_photo_set(tmp_path):
    ckpt = tmp_path / "tiny.pt"
    weights.save(tiny_model(), ckpt)
    out = tmp_path / "r.json"
    args = ["eval", "--patterns", "--limit", "2", "--quality", "50", "--weights", str(ckpt), "--json", str(out), "-q"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    records = json.loads(out.read_text())
    assert {r["dataset"] for r in records} == {"patterns"}
    assert len({r["method"] for r in records}) == 2 and "jpeg" in {r["method"] for r in records}
    assert all(r["images"] == 2 and "psnr_y" in r for r in records)
    assert "PSNR-Y" in result.output
