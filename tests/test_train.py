import dataclasses
import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import image_folder

from qgac_cli import weights
from qgac_cli.codec.quality import standard_tables
from qgac_cli.data import tables_for
from qgac_cli.errors import UsageError
from qgac_cli.train import (
    Budget,
    TrainConfig,
    lr_factor,
    patch_rate,
    pixel_loss,
    sized_schedule,
    train,
    train_within,
)


@pytest.fixture
def images(tmp_path):
    return image_folder(tmp_path / "train", 6, 64, 80)


def config(images, out, **changes):
    base = dict(
        stage="y",
        data=(str(images),),
        out=str(out),
        preset="small",
        steps=4,
        batch=2,
        patch=32,
        val_every=2,
        checkpoint_every=2,
        log_every=1,
        holdout_every=3,
        threads=1,
        warmup=2,
    )
    return TrainConfig(**{**base, **changes})


def test_stages_write_checkpoints_logs_and_plot(images, tmp_path):
    best = train(config(images, tmp_path / "y"))
    assert best.is_file() and (tmp_path / "y" / "last.pt").is_file() and (tmp_path / "y" / "curve.png").is_file()
    records = [json.loads(line) for line in (tmp_path / "y" / "log.jsonl").read_text().splitlines()]
    assert any("loss" in r for r in records) and any("gain_q10" in r for r in records)
    ckpt = weights.read(best)
    assert ckpt.metadata["stage"] == "y" and ckpt.metadata["steps"] >= 2
    y_weights = dict(ckpt.state_dict)
    color = train(config(images, tmp_path / "c", stage="color", init=str(best)))
    after = weights.read(color).state_dict
    # the colour stage leaves the Y network untouched
    assert all(torch.equal(after[k], v) for k, v in y_weights.items() if k.startswith("y_net"))
    gan = train(config(images, tmp_path / "g", stage="gan", init=str(color), steps=2))
    assert weights.read(gan).metadata["stage"] == "gan"


def test_l2_loss_without_ssim_trains_and_unknown_losses_are_refused(images, tmp_path):
    best = train(config(images, tmp_path / "l2", loss="l2", ssim_weight=0.0, steps=2))
    assert weights.read(best).metadata["stage"] == "y"
    with pytest.raises(UsageError, match="unknown loss"):
        train(config(images, tmp_path / "bad", loss="huber"))


def test_pixel_loss_norms():
    a, b = torch.zeros(1, 1, 16, 16), torch.full((1, 1, 16, 16), 0.5)
    assert float(pixel_loss(a, b, 0.0, "l1")) == pytest.approx(0.5)
    assert float(pixel_loss(a, b, 0.0, "l2")) == pytest.approx(0.25)
    # the SSIM term lowers the loss by weight * SSIM (1 for identical images)
    assert float(pixel_loss(b, b, 0.05, "l2")) == pytest.approx(-0.05)


def test_psnr_loss_weighs_every_patch_by_its_decibels():
    target = torch.zeros(2, 3, 16, 16)
    restored = target.clone()
    restored[0] += 0.1  # MSE 1e-2: 20 dB
    restored[1] += 0.01  # MSE 1e-4: 40 dB
    assert float(pixel_loss(restored, target, 0.0, "psnr")) == pytest.approx(-30.0, abs=1e-3)
    # halving the error of the good patch gains as much as halving that of the bad one
    better_good, better_bad = restored.clone(), restored.clone()
    better_good[1] /= 2
    better_bad[0] /= 2
    assert float(pixel_loss(better_good, target, 0.0, "psnr")) == pytest.approx(
        float(pixel_loss(better_bad, target, 0.0, "psnr")), abs=1e-3
    )
    # whereas L2 barely notices the good patch
    assert float(pixel_loss(better_good, target, 0.0, "l2")) > 0.9 * float(pixel_loss(restored, target, 0.0, "l2"))


@pytest.mark.parametrize("stage", ["y", "joint"])
def test_a_projected_loss_scores_what_restoring_returns(stage):
    from conftest import tiny_model

    from qgac_cli.data import compress, tables_at
    from qgac_cli.restore.restoration import restore_planes
    from qgac_cli.train.step import StageLoss

    torch.manual_seed(0)
    rgb = torch.rand(2, 3, 32, 32)
    planes = compress(rgb, *tables_at(torch.tensor([60, 90])), (2, 2))
    model = tiny_model().train()
    cfg = TrainConfig(stage=stage, data=(), out="", projected=True, init="tiny")
    loss, restored = StageLoss(model, stage, cfg)(planes, rgb)
    wanted = planes if stage != "y" else dataclasses.replace(planes, chroma=None, c_table=None)
    expected = restore_planes(model, wanted, project=True, clamp=False).pixels
    assert torch.allclose(restored, expected)
    unprojected = restore_planes(model, wanted, project=False, clamp=False).pixels
    assert not torch.allclose(restored, unprojected)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.y_net.parameters() if p.requires_grad)


def test_color_stage_needs_init(images, tmp_path):
    with pytest.raises(UsageError):
        train(config(images, tmp_path / "c", stage="color"))


def test_resume_is_exact(images, tmp_path):
    train(config(images, tmp_path / "full", steps=4))
    interrupted = config(images, tmp_path / "split", steps=4)
    _run_until(interrupted, 3)  # killed after step 3; the last checkpoint is step 2
    assert torch.load(tmp_path / "split" / "last.pt", weights_only=True)["step"] == 2
    train(config(images, tmp_path / "split", steps=4, resume=str(tmp_path / "split" / "last.pt")))
    full = torch.load(tmp_path / "full" / "last.pt", weights_only=True)
    split = torch.load(tmp_path / "split" / "last.pt", weights_only=True)
    assert split["step"] == full["step"] == 4
    for k, v in full["model"].items():
        assert torch.equal(v, split["model"][k]), k
    for k, v in full["ema"].items():
        assert torch.equal(v, split["ema"][k]), k


def test_time_budget_stops_and_saves(images, tmp_path):
    train(config(images, tmp_path / "t", steps=50, max_minutes=0.0))
    assert torch.load(tmp_path / "t" / "last.pt", weights_only=True)["step"] == 1


def _run_until(cfg, step):
    """Train cfg but stop after `step` steps (interrupt through the progress callback)."""

    class Stop(Exception):
        pass

    def progress(current, total, record):
        if current >= step:
            raise Stop

    with pytest.raises(Stop):
        train(cfg, progress)


def test_patch_rate_skips_the_warm_up_and_validation_records(tmp_path):
    log = tmp_path / "log.jsonl"
    records = [
        {"step": 10, "loss": 1.0, "elapsed_s": 50.0},  # slow start-up
        {"step": 20, "loss": 1.0, "elapsed_s": 52.0},
        {"step": 20, "gain_q10": 0.5},
        {"step": 30, "loss": 1.0, "elapsed_s": 54.0},
    ]
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert patch_rate(log, batch=4) == pytest.approx(20 * 4 / 4.0)
    assert patch_rate(log, batch=4, since=-2) == pytest.approx(10 * 4 / 2.0)


def test_a_sized_schedule_ends_inside_the_budget(images, tmp_path):
    cfg = config(images, tmp_path, batch=16)
    budget = Budget(600, validations=6, margin=0.9, reserve=30)
    sized = sized_schedule(cfg, rate=160.0, left=330.0, budget=budget)
    assert sized.steps == int(160 / 16 * 300 * 0.9)  # 10 steps/s over the 300 s after the reserve
    assert sized.steps * 16 / 160.0 <= 300 and sized.max_minutes * 60 <= 300
    assert sized.val_every == sized.checkpoint_every == sized.steps // 6
    assert (sized.stage, sized.batch, sized.lr) == (cfg.stage, cfg.batch, cfg.lr)
    late = sized_schedule(cfg, rate=160.0, left=10.0, budget=budget)  # the probe ate the budget
    assert late.steps == 2 and late.val_every == 1 and late.max_minutes > 0


def test_training_within_a_budget_probes_then_trains_the_sized_schedule(images, tmp_path):
    cfg = config(images, tmp_path / "b", steps=10**6, max_minutes=None)
    best, sized, rate = train_within(cfg, Budget(4, probe_steps=3, validations=1, reserve=0.0))
    assert best.is_file() and rate > 0 and 2 <= sized.steps < 10**6
    probe = [json.loads(line) for line in (tmp_path / "b" / "probe" / "log.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in probe if "loss" in r) == 3
    assert weights.read(best).metadata["stage"] == "y"


def test_lr_schedule():
    cfg = TrainConfig(stage="y", data=(), out="", steps=100, warmup=10, lr=1e-3, lr_min=1e-6)
    assert lr_factor(0, cfg) == pytest.approx(0.1)
    assert lr_factor(10, cfg) == pytest.approx(1.0)
    assert lr_factor(100, cfg) * cfg.lr == pytest.approx(1e-6)


@pytest.mark.slow
def test_two_gloo_processes(images, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29533",
        "-m",
        "qgac_cli",
        "train",
        str(images),
        "--stage",
        "y",
        "--out",
        str(out),
        "--preset",
        "small",
        "--steps",
        "3",
        "--batch",
        "2",
        "--patch",
        "32",
        "--val-every",
        "3",
        "--device",
        "cpu",
    ]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    ckpt = weights.read(out / "best.pt")
    assert ckpt.metadata["batch"] == 4  # two processes of two patches each


def test_grow_starts_from_the_init_weights(images, tmp_path, monkeypatch):
    from dataclasses import replace

    from qgac_cli.model import presets

    small = presets.PRESETS["small"].config
    deeper = replace(small, y=replace(small.y, blocks=3), color=replace(small.color, blocks=2))
    monkeypatch.setitem(presets.PRESETS, "small-deeper", presets.Preset(deeper, "deeper"))
    first = train(config(images, tmp_path / "y", steps=2))
    grown = train(config(images, tmp_path / "g", stage="joint", init=str(first), grow="small-deeper", steps=2))
    ckpt = weights.read(grown)
    assert ckpt.config == deeper and ckpt.metadata["preset"] == "small-deeper"
    assert ckpt.metadata["grown_from"] == "small"
    with pytest.raises(UsageError, match="cannot grow"):
        train(config(images, tmp_path / "bad", stage="joint", init=str(first), grow="paper"))
    with pytest.raises(UsageError, match="--init"):
        train(config(images, tmp_path / "bad2", grow="small-deeper"))
    wider = train(
        config(images, tmp_path / "w", stage="joint", init=str(first), grow="y.channels=56,color.blocks=2", steps=2)
    )
    ckpt = weights.read(wider)
    assert ckpt.config == replace(small, y=replace(small.y, channels=56), color=replace(small.color, blocks=2))
    assert ckpt.metadata["preset"] == "small+y.channels=56,color.blocks=2"
    for bad in ("y.width=60", "colour.blocks=2", "y.channels=many", "y.channels=8"):
        with pytest.raises(UsageError, match="cannot grow"):
            train(config(images, tmp_path / "bad3", stage="joint", init=str(first), grow=bad, steps=2))


def test_bf16_training_runs_and_records_its_precision(images, tmp_path):
    best = train(config(images, tmp_path / "bf16", precision="bf16", steps=2))
    assert weights.read(best).metadata["precision"] == "bf16"
    fp32 = train(config(images, tmp_path / "fp32", precision="fp32", steps=2))
    assert weights.read(fp32).metadata["precision"] == "fp32"


def test_training_tables_are_the_standard_ones_and_qualities_are_checked():
    luma, chroma = tables_for([5, 50, 100, 50], "cpu")
    assert luma.shape == chroma.shape == (4, 1, 8, 8) and luma.dtype == torch.float32
    for i, q in enumerate([5, 50, 100, 50]):
        expected = standard_tables(q)
        assert torch.equal(luma[i, 0], torch.tensor(expected[0], dtype=torch.float32))
        assert torch.equal(chroma[i, 0], torch.tensor(expected[1], dtype=torch.float32))
    for bad in ([0], [101]):
        with pytest.raises(ValueError, match="1 to 100"):
            tables_for(bad, "cpu")


def test_patch_bank_makes_grey_and_faded_patches():
    import numpy as np
    from conftest import photo

    from qgac_cli.data import PatchBank, PatchConfig, desaturate

    crop = torch.from_numpy(photo(16, 16)).permute(2, 0, 1)
    grey = desaturate(crop, 0.0)
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])
    assert torch.equal(desaturate(crop, 1.0), crop)
    bank = PatchBank([photo(64, 64)], PatchConfig(size=16, grey_share=0.5, faded_share=0.5), seed=1)
    patches = bank.patches(40).int()
    spread = (patches - patches.float().mean(1, keepdim=True).round().int()).abs().amax(dim=(1, 2, 3))
    original = torch.from_numpy(np.array(photo(64, 64))).int()
    assert spread.max() < (original - original.float().mean(-1, keepdim=True).round().int()).abs().max()
    assert (spread <= 1).sum() > 5  # about half of them grey


def test_an_earlier_run_is_not_overwritten_silently(images, tmp_path):
    out = tmp_path / "run"
    train(config(images, out, steps=2))
    with pytest.raises(UsageError, match="earlier run"):
        train(config(images, out, steps=2))
    train(config(images, out, steps=2, overwrite=True))
    from qgac_cli.train import read_log

    steps = [r["step"] for r in read_log(out / "log.jsonl") if "loss" in r]
    assert steps == [1, 2]  # a fresh log, not appended to the old one


def test_a_short_run_logs_its_loss_and_reports_every_step(images, tmp_path):
    seen = []
    train(config(images, tmp_path / "short", steps=3, log_every=50), lambda s, t, r: seen.append((s, t, r)))
    assert [(s, t) for s, t, _ in seen] == [(1, 3), (2, 3), (3, 3)]
    assert seen[-1][2] is not None and "loss" in seen[-1][2]  # the last step logs what it has
    records = [json.loads(line) for line in (tmp_path / "short" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [3]


def test_the_train_command_ends_with_its_best_checkpoint(images, tmp_path):
    from click.testing import CliRunner

    from qgac_cli.cli import main

    out = tmp_path / "cli"
    args = ["train", str(images), "--stage", "y", "--out", str(out), "--preset", "small", "--steps", "2"]
    args += ["--batch", "2", "--patch", "32", "--val-every", "2", "--threads", "1", "--patterns", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("best.pt") and (out / "best.pt").is_file()
    assert weights.read(out / "best.pt").metadata["patterns"] == 1


def test_the_gan_loss_weights_reach_the_trainer_and_the_checkpoint(images, tmp_path):
    from click.testing import CliRunner

    from qgac_cli.cli import main

    y = train(config(images, tmp_path / "y", steps=2))
    out = tmp_path / "gan"
    args = ["train", str(images), "--stage", "gan", "--init", str(y), "--out", str(out), "--steps", "2"]
    args += ["--batch", "2", "--patch", "32", "--val-every", "2", "--threads", "1"]
    result = CliRunner().invoke(main, [*args, "--adv-weight", "0.02", "--texture-weight", "0.5"])
    assert result.exit_code == 0, result.output
    metadata = weights.read(out / "best.pt").metadata
    assert metadata["stage"] == "gan" and metadata["adv_weight"] == 0.02 and metadata["texture_weight"] == 0.5
    refused = CliRunner().invoke(main, [*args, "--overwrite", "--adv-weight", "-1"])
    assert refused.exit_code == 2 and "adv-weight" in refused.output
