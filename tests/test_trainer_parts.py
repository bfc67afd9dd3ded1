"""The trainer's parts on the CPU, in the configurations a lent GPU runs: the patch bank on
the device, channels-last, bf16, torch.compile, the throughput sweep, fp16 weights on disk."""

import copy
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import image_folder, photo

from qgac_cli import weights
from qgac_cli.data import PatchBank, PatchConfig
from qgac_cli.model import QGAC, preset
from qgac_cli.model.layers import QuantConv
from qgac_cli.train import TrainConfig, prepare, read_log, train
from qgac_cli.train.sweep import Candidate, Measurement, fastest, sweep, worth_compiling


@pytest.fixture
def images(tmp_path):
    return image_folder(tmp_path / "train", 6, 64, 80)


def config(images, out, **changes):
    base = dict(
        stage="y", data=(str(images),), out=str(out), preset="small", steps=3, batch=2, patch=32,
        val_every=3, checkpoint_every=3, log_every=1, holdout_every=3, threads=1, warmup=2, precision="fp32",
    )  # fmt: skip
    return TrainConfig(**{**base, **changes})


def symmetries(crop: np.ndarray) -> list[np.ndarray]:
    """The 8 flips and rotations of a square (3, P, P) crop."""
    turns = [np.rot90(crop, k, axes=(1, 2)) for k in range(4)]
    return turns + [t[:, :, ::-1] for t in turns]


def test_patches_are_crops_of_the_images_under_all_eight_symmetries():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    bank = PatchBank([image], PatchConfig(size=6, grey_share=0, faded_share=0), seed=3)
    known = {}
    chw = image.transpose(2, 0, 1)
    for top in range(20 - 6 + 1):
        for left in range(24 - 6 + 1):
            for k, s in enumerate(symmetries(chw[:, top : top + 6, left : left + 6])):
                known.setdefault(np.ascontiguousarray(s).tobytes(), k)
    seen = [known.get(p.numpy().tobytes()) for p in bank.patches(300)]
    assert None not in seen  # every patch is a real crop, flipped or turned
    assert set(seen) == set(range(8))  # and every symmetry is drawn


def test_the_bank_draws_from_every_image_by_area_and_its_state_round_trips():
    small, big = np.zeros((16, 16, 3), np.uint8), np.full((16, 64, 3), 255, np.uint8)
    bank = PatchBank([small, big], PatchConfig(size=16, grey_share=0, faded_share=0), seed=1)
    white = (bank.patches(400).float().mean(dim=(1, 2, 3)) > 128).float().mean()
    assert 0.7 < float(white) < 0.9  # 4 times the area: drawn 4 times as often
    state = bank.get_state()
    first = (bank.patches(8), bank.qualities(8), bank.factor())
    bank.set_state(state)
    again = (bank.patches(8), bank.qualities(8), bank.factor())
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1]) and first[2] == again[2]


def test_qualities_cover_the_range_with_the_low_half_favoured():
    bank = PatchBank([photo(32, 32)], PatchConfig(size=16, qualities=(5, 95)), seed=0)
    q = bank.qualities(4000)
    assert int(q.min()) == 5 and int(q.max()) == 95 and q.dtype == torch.int64
    assert 0.70 < float((q <= 50).float().mean()) < 0.80  # half from 5..50, half from all of it


def test_a_run_draws_its_qualities_with_its_own_low_quality_share(images):
    from qgac_cli.errors import UsageError
    from qgac_cli.train.config import check

    ctx = prepare(config(images, "unused"))
    for share, expected in ((0.5, 0.75), (0.1, 0.55)):  # P(q in the low half) = share + (1 - share) / 2
        q = ctx.bank(16, share).qualities(6000)
        assert abs(float((q <= 52).float().mean()) - expected) < 0.03
    with pytest.raises(UsageError, match="low-quality-share"):
        check(config(images, "unused", low_quality_share=1.5))


def test_a_channels_last_quant_conv_agrees_and_stays_channels_last():
    torch.manual_seed(0)
    conv = QuantConv(8, 12)
    x, code = torch.randn(3, 8, 5, 7), torch.randn(3, 64)
    nhwc = conv(x.contiguous(memory_format=torch.channels_last), code)
    assert nhwc.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(nhwc, conv(x, code), rtol=1e-5, atol=1e-5)


def losses(out):
    return [r["loss"] for r in read_log(out / "log.jsonl") if "loss" in r]


def test_channels_last_training_follows_the_contiguous_run(images, tmp_path):
    train(config(images, tmp_path / "nchw"))
    train(config(images, tmp_path / "nhwc", channels_last=True))
    np.testing.assert_allclose(losses(tmp_path / "nhwc"), losses(tmp_path / "nchw"), rtol=1e-4)
    shipped = weights.read(tmp_path / "nhwc" / "final.pt")  # saved as plain contiguous tensors
    assert all(v.is_contiguous() for v in shipped.state_dict.values())


def test_the_lease_configuration_trains_on_the_cpu_compiled_bf16_channels_last(images, tmp_path):
    """What a lent GPU runs (both networks, compiled, bf16, NHWC) runs here first: traced by
    dynamo and differentiated by AOTAutograd as on the GPU; the backend here is aot_eager,
    since inductor's C++ compile of even the small networks takes minutes on two cores."""
    first = train(config(images, tmp_path / "y", steps=2))
    cfg = config(images, tmp_path / "joint", stage="joint", init=str(first), steps=2, precision="bf16")
    best = train(replace(cfg, channels_last=True, compile="aot_eager"))
    assert weights.read(best).metadata["precision"] == "bf16"
    assert all(np.isfinite(losses(tmp_path / "joint")))


def test_the_sweep_measures_each_candidate_and_survives_one_that_fails(images, tmp_path):
    cfg = config(images, tmp_path / "unused")
    ctx = prepare(cfg)
    candidates = [Candidate(32, 2), Candidate(16, 4, channels_last=True), Candidate(4096, 2)]  # no image is 4096²
    measured = sweep(cfg, ctx, candidates, seconds=600, warmup=1, steps=2)
    assert [m.candidate for m in measured] == candidates
    assert measured[0].patches_per_s > 0 and measured[1].patches_per_s > 0
    assert measured[2].patches_per_s == 0 and "4096" in measured[2].error
    assert fastest(measured).candidate in candidates[:2]
    assert json.dumps([m.candidate.label() for m in measured])  # labels for the lease's log
    with pytest.raises(ValueError, match="every candidate failed"):
        fastest(measured[2:])


def test_compiling_pays_only_when_its_compile_time_comes_back():
    eager = Measurement(Candidate(128, 256), 1000.0, 2.0)
    compiled = Measurement(Candidate(128, 256, compile="inductor"), 1500.0, 60.0)
    assert worth_compiling(eager, compiled, seconds_left=400)  # 1.5 x 340 > 400
    assert not worth_compiling(eager, compiled, seconds_left=150)  # 1.5 x 90 < 150
    assert not worth_compiling(eager, replace(compiled, patches_per_s=0.0), seconds_left=400)


def test_fp16_weights_on_disk_load_as_fp32_and_keep_the_statistics_exact(tmp_path):
    torch.manual_seed(0)
    model = QGAC(preset("small"))
    model.mean.normal_()
    model.std.uniform_(1, 50)
    path = tmp_path / "half.pt"
    data = weights.to_dict(model)
    data["state_dict"] = weights.halved(data["state_dict"])
    torch.save(data, path)
    full = tmp_path / "full.pt"
    weights.save(model, full)
    assert path.stat().st_size < 0.6 * full.stat().st_size
    back = weights.read(path).state_dict
    assert all(v.dtype == torch.float32 for v in back.values() if v.is_floating_point())
    assert torch.equal(back["mean"], model.mean) and torch.equal(back["std"], model.std)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(back[key], value, rtol=1e-3, atol=1e-4)


def test_each_run_in_a_shared_context_keeps_its_own_precision(images, tmp_path):
    from qgac_cli.train import run

    cfg = config(images, tmp_path / "fp32", steps=2)
    ctx = prepare(cfg)  # fp32 here, as the lease's context is "auto" while its sweep chooses
    run(cfg, ctx)
    run(replace(cfg, out=str(tmp_path / "bf16"), precision="bf16"), ctx)
    assert weights.read(tmp_path / "fp32" / "final.pt").metadata["precision"] == "fp32"
    assert weights.read(tmp_path / "bf16" / "final.pt").metadata["precision"] == "bf16"


def test_distillation_scores_the_student_against_the_truth_and_the_teacher(images, tmp_path):
    from qgac_cli.train.step import StageLoss, draw_batch

    torch.manual_seed(0)
    student, teacher = QGAC(preset("small")), QGAC(preset("small")).eval()
    for p in teacher.y_net.parameters():
        torch.nn.init.normal_(p, std=0.02)  # a teacher that restores differently from the student
    ctx = prepare(config(images, tmp_path / "unused"))
    planes, rgb = draw_batch(ctx.bank(32, 0.5), 4)
    cfg = config(images, tmp_path / "unused", loss="l2", ssim_weight=0.0)
    truth_only = StageLoss(student, "y", cfg)(planes, rgb)[0]
    same = StageLoss(student, "y", replace(cfg, teacher_weight=0.0), teacher=teacher)(planes, rgb)[0]
    torch.testing.assert_close(same, truth_only)  # weight 0: the truth alone
    twin = copy.deepcopy(student).eval()
    own = StageLoss(student, "y", replace(cfg, teacher_weight=1.0), teacher=twin)(planes, rgb)[0]
    assert float(own.detach()) < 1e-10  # its own teacher, wholly: nothing to learn (the layouts may round apart)
    half = StageLoss(student, "y", cfg, teacher=teacher)
    taught = StageLoss(student, "y", replace(cfg, teacher_weight=1.0), teacher=teacher)(planes, rgb)[0]
    torch.testing.assert_close(half(planes, rgb)[0], 0.5 * truth_only + 0.5 * taught)
    assert float(taught.detach()) > 0.0 and not torch.allclose(taught, truth_only)
    half(planes, rgb)[0].backward()
    assert all(p.grad is None for p in teacher.parameters())  # the teacher only teaches
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in student.y_net.parameters())


def test_a_y_run_distils_from_saved_weights_and_other_stages_refuse_a_teacher(images, tmp_path):
    from qgac_cli.errors import UsageError
    from qgac_cli.train.config import check

    torch.manual_seed(1)
    teacher = tmp_path / "teacher.pt"
    weights.save(QGAC(preset("small")), teacher)
    best = train(config(images, tmp_path / "run", teacher=str(teacher), teacher_weight=0.3))
    assert weights.read(best).config == preset("small")
    assert read_log(tmp_path / "run" / "log.jsonl")
    with pytest.raises(UsageError, match="stage y"):
        check(config(images, tmp_path / "c", stage="color", init=str(teacher), teacher=str(teacher)))
    with pytest.raises(UsageError, match="teacher-weight"):
        check(config(images, tmp_path / "w", teacher=str(teacher), teacher_weight=1.5))
