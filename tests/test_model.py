import dataclasses

import numpy as np
import pytest
import torch
from conftest import TINY, photo, pillow_jpeg, tiny_model

from qgac_cli import weights
from qgac_cli.codec.jpeg import read_jpeg
from qgac_cli.codec.quality import standard_tables
from qgac_cli.errors import WeightsError
from qgac_cli.model import QGAC, count_parameters, preset
from qgac_cli.model.discriminator import Discriminator
from qgac_cli.model.layers import QuantConv, ResidualBlock, TableCode
from qgac_cli.model.networks import FrequencyStage
from qgac_cli.restore.coefficients import from_jpeg, to_pixels
from qgac_cli.restore.restoration import restore_planes
from qgac_cli.restore.tiling import context_blocks


def test_paper_preset_has_the_published_size():
    with torch.device("meta"):
        model = QGAC(preset("paper"))
    assert abs(count_parameters(model) - 259.4e6) / 259.4e6 < 0.01
    assert abs(count_parameters(model.color_net) - 2.645e6) / 2.645e6 < 0.01


def test_shipped_preset_is_small():
    with torch.device("meta"):
        assert count_parameters(QGAC(preset("base"))) < 3e6


@pytest.mark.parametrize("height,width", [(9, 7), (67, 101), (48, 64)])
@pytest.mark.parametrize("mode", ["444", "422", "420", "gray"])
def test_shapes_for_odd_sizes_and_every_subsampling(height, width, mode, tiny):
    if mode == "gray":
        data = pillow_jpeg(photo(height, width, channels=1), quality=30)
    else:
        data = pillow_jpeg(photo(height, width), quality=30, subsampling={"444": 0, "422": 1, "420": 2}[mode])
    planes = from_jpeg(read_jpeg(data))
    with torch.no_grad():
        out = restore_planes(tiny, planes)
    assert out.pixels.shape == (1, 1 if mode == "gray" else 3, height, width)
    assert out.y.shape == planes.y.shape
    assert torch.isfinite(out.pixels).all()


def test_zero_initialized_residual_returns_the_input_decode():
    model = tiny_model(randomize_output=False)
    data = pillow_jpeg(photo(40, 56), quality=20, subsampling=2)
    planes = from_jpeg(read_jpeg(data))
    with torch.no_grad():
        restored = restore_planes(model, planes, project=False).pixels
    assert torch.allclose(restored, to_pixels(planes), atol=1e-5)


def test_different_tables_generate_different_kernels():
    torch.manual_seed(0)
    code, conv = TableCode(), QuantConv(64, 16, "basis", 4)
    tables = torch.tensor(np.stack([standard_tables(10)[0], standard_tables(90)[0]]), dtype=torch.float32).unsqueeze(1)
    kernels = conv.kernels(code(tables))
    assert kernels.shape == (2, 16, 64)
    assert not torch.allclose(kernels[0], kernels[1])
    full = QuantConv(64, 4, "full")
    assert not torch.allclose(*full.kernels(code(tables)))
    none = QuantConv(64, 4, "none")
    assert torch.equal(*none.kernels(code(tables)))


def test_save_load_round_trip_is_exact(tmp_path, tiny):
    path = tmp_path / "tiny.pt"
    weights.save(tiny, path, {"steps": 3})
    loaded = weights.load(path)
    assert loaded.config == TINY
    for (k, a), (_, b) in zip(tiny.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    assert weights.read(path).metadata["steps"] == 3
    data = torch.load(path, weights_only=True)
    assert data["format"] == "qgac-checkpoint" and data["version"] == 1 and "normalization" in data


def test_foreign_checkpoints_are_refused(tmp_path, tiny):
    other = tmp_path / "other.pt"
    torch.save({"state_dict": tiny.state_dict()}, other)
    with pytest.raises(WeightsError, match="not a qgac checkpoint"):
        weights.load(other)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"garbage")
    with pytest.raises(WeightsError):
        weights.load(junk)
    mismatched = weights.to_dict(tiny)
    mismatched["config"] = preset("small").to_dict()
    bad = tmp_path / "mismatch.pt"
    torch.save(mismatched, bad)
    with pytest.raises(WeightsError, match="do not match"):
        weights.load(bad)
    with pytest.raises(WeightsError, match="no such weights"):
        weights.load(tmp_path / "missing.pt")


def test_interpolation():
    a, b = tiny_model(0), tiny_model(1)
    ca = weights.Checkpoint(TINY, a.state_dict(), {})
    cb = weights.Checkpoint(TINY, b.state_dict(), {})
    for alpha, expected in ((0.0, a), (1.0, b)):
        mixed = weights.interpolate(ca, cb, alpha).state_dict
        assert all(torch.allclose(mixed[k], v) for k, v in expected.state_dict().items())
    half = weights.interpolate(ca, cb, 0.5).state_dict
    key = next(k for k, v in a.state_dict().items() if v.is_floating_point() and not torch.equal(v, b.state_dict()[k]))
    assert torch.allclose(half[key], (a.state_dict()[key] + b.state_dict()[key]) / 2)
    with pytest.raises(WeightsError):
        weights.interpolate(ca, weights.Checkpoint(preset("small"), {}, {}), 0.5)


def test_a_fine_tune_rebased_onto_a_newer_base_carries_its_change():
    old, tuned, new = tiny_model(0), tiny_model(1), tiny_model(2)
    c_old, c_new = (weights.Checkpoint(TINY, m.state_dict(), {"total_steps": s}) for m, s in ((old, 10), (new, 20)))
    c_tuned = weights.Checkpoint(TINY, tuned.state_dict(), {"name": "tiny-gan"})
    rebased = weights.rebase(c_tuned, c_old, c_new)
    for k, v in new.state_dict().items():
        if v.is_floating_point():
            change = tuned.state_dict()[k] - old.state_dict()[k]
            assert torch.allclose(rebased.state_dict[k] - v, change, atol=1e-6), k
    assert rebased.metadata["name"] == "tiny-gan" and rebased.metadata["rebased"]["new_base_steps"] == 20
    same = weights.rebase(c_tuned, c_old, c_old).state_dict  # onto its own base: the fine-tune itself
    assert all(torch.allclose(same[k], v, atol=1e-6) for k, v in tuned.state_dict().items())
    with pytest.raises(WeightsError, match="different configurations"):
        weights.rebase(c_tuned, c_old, weights.Checkpoint(preset("small"), {}, {}))


def test_discriminator_and_context():
    logits, features = Discriminator(channels=4, depth=2)(torch.rand(2, 3, 32, 32))
    assert logits.shape == (2,) and len(features) == 2
    assert context_blocks(TINY) == (4 * 1 + 2) + 2 + 1


def test_shipped_weights_load():
    model = weights.load()
    assert isinstance(model, QGAC) and not model.training
    assert model.std.min() > 0


def test_every_shipped_name_loads_in_its_preset_and_restores_better_than_the_jpeg():
    from qgac_cli import api
    from qgac_cli.evaluate.metrics import psnr
    from qgac_cli.model.presets import PRESETS

    truth = photo(96, 128, seed=11)
    jpeg = read_jpeg(pillow_jpeg(truth, quality=20, subsampling=2))
    reference = torch.from_numpy(truth).permute(2, 0, 1)[None].float() / 255
    before = psnr(torch.from_numpy(jpeg.decoded).permute(2, 0, 1)[None].float() / 255, reference)
    for name in weights.SHIPPED:
        checkpoint = weights.read(weights.resolve(name))
        networks = dataclasses.replace(checkpoint.config, refine=False)  # fitted after training, not a preset's
        assert networks == PRESETS[checkpoint.metadata["preset"]].config, name
        restored = api.restore_jpeg(jpeg, weights.load(name), api.RestoreOptions(precision="fp32"))
        after = psnr(torch.from_numpy(restored).permute(2, 0, 1)[None], reference)
        assert after > before, name


def test_frequency_stage_layout_is_invisible():
    # channels-last inside the stage is a speed choice: same values, contiguous result
    torch.manual_seed(0)
    stage = FrequencyStage(16, 2)
    for p in stage.parameters():
        torch.nn.init.normal_(p, std=0.1)
    x = torch.randn(2, 16, 5, 7)
    with torch.no_grad():
        expected = x + stage.body(x)
        for mode in (True, False):
            out = stage.train(mode)(x)
            assert out.is_contiguous()
            assert torch.allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("name", ["fast", "base"])
def test_the_y_network_runs_channels_last_at_inference_and_restores_the_same(name, monkeypatch):
    # a speed choice on the CPU: the same coefficients as in the trainer's layout, contiguous out
    torch.manual_seed(0)
    model = QGAC(preset(name)).eval()
    for p in model.y_net.parameters():
        torch.nn.init.normal_(p, std=0.05)
    y, table = torch.randn(1, 64, 12, 10) * 40, torch.full((1, 1, 8, 8), 12.0)
    seen = []  # the feature maps the residual blocks are given
    block = ResidualBlock.forward
    monkeypatch.setattr(ResidualBlock, "forward", lambda self, x: seen.append(x) or block(self, x))
    with torch.no_grad():
        fast_layout = model.restore_y(y, table)
        assert seen and all(x.is_contiguous(memory_format=torch.channels_last) for x in seen)
        model.inference_y_layout = torch.contiguous_format
        seen.clear()
        plain = model.restore_y(y, table)
        assert all(x.is_contiguous() for x in seen)
    assert fast_layout.is_contiguous()
    assert not torch.equal(plain, y)
    torch.testing.assert_close(fast_layout, plain, rtol=0, atol=1e-3)
    model.train()
    model.inference_y_layout = torch.channels_last
    seen.clear()
    model.restore_y(y, table)
    assert seen and all(x.is_contiguous() for x in seen)  # training keeps the trainer's layout


def test_grown_model_restores_exactly_as_the_original():
    from dataclasses import replace

    from qgac_cli.model.growth import grow

    small = tiny_model(0)
    target = replace(TINY, y=replace(TINY.y, blocks=3), color=replace(TINY.color, blocks=2))
    grown = grow(small, target).eval()
    assert grown.config == target and count_parameters(grown) > count_parameters(small)
    data = pillow_jpeg(photo(40, 56), quality=20, subsampling=2)
    planes = from_jpeg(read_jpeg(data))
    with torch.no_grad():
        expected = restore_planes(small.eval(), planes).pixels
        assert torch.equal(restore_planes(grown, planes).pixels, expected)
    # the new blocks are live: one gradient step changes the output
    grown.train()
    y = torch.randn(1, 64, 6, 7)
    table = torch.full((1, 1, 8, 8), 10.0)
    grown.y_net(y, table).square().sum().backward()
    new_last = grown.y_net.encode[2].body[-1].weight
    assert new_last.grad is not None and new_last.grad.abs().sum() > 0


def test_widened_model_restores_as_the_original_and_its_new_channels_learn():
    from dataclasses import replace

    from qgac_cli.model.growth import grow

    small = tiny_model(0)
    target = replace(TINY, y=replace(TINY.y, channels=12, blocks=2), color=replace(TINY.color, channels=16))
    grown = grow(small, target).eval()
    assert grown.config == target
    data = pillow_jpeg(photo(40, 56), quality=20, subsampling=2)
    planes = from_jpeg(read_jpeg(data))
    with torch.no_grad():
        expected = restore_planes(small.eval(), planes).pixels
        restored = restore_planes(grown, planes).pixels
    # equal up to the order of float sums (more channels, other kernels): far below one level
    assert torch.allclose(restored, expected, atol=1e-5)
    # the new channels are live (random) and the zero weights reading them get gradients
    grown.train()
    y, table = torch.randn(1, 64, 6, 7), torch.full((1, 1, 8, 8), 10.0)
    grown.y_net(y, table).square().sum().backward()
    fuse = grown.y_net.fuse.shared  # (64, 3 * 12): columns 8..11 of each piece are new
    assert torch.all(fuse[:, 8:12] == 0) and fuse.grad[:, 8:12].abs().sum() > 0
    assert grown.y_net.head.shared[8:].abs().sum() > 0  # new channels computed from the input


def test_growth_positions_keep_each_piece_of_a_concatenation_in_place():
    from qgac_cli.model.growth import positions

    assert positions(6, 6, 2, 3).tolist() == list(range(6))
    assert positions(6, 9, 2, 3).tolist() == [0, 1, 3, 4, 6, 7]
    with pytest.raises(ValueError):
        positions(5, 9, 2, 3)


def test_growth_only_adds_blocks_and_channels():
    from dataclasses import replace

    from qgac_cli.model.growth import grow

    small = tiny_model(0)
    for target in (
        replace(TINY, y=replace(TINY.y, channels=4)),
        replace(TINY, y=replace(TINY.y, blocks=0)),
        replace(TINY, y=replace(TINY.y, freq_channels=2)),
        replace(TINY, color=replace(TINY.color, basis=3)),
        preset("paper"),
    ):
        with pytest.raises(ValueError):
            grow(small, target)
    full = replace(TINY, y=replace(TINY.y, generator="full"))
    with pytest.raises(ValueError, match="cannot widen"):
        grow(QGAC(full), replace(full, y=replace(full.y, channels=16)))


def test_match_config_grows_a_checkpoint_and_refuses_other_shapes():
    from dataclasses import replace

    small = tiny_model(0)
    deeper = replace(TINY, y=replace(TINY.y, blocks=2))
    ckpt = weights.Checkpoint(TINY, small.state_dict(), {})
    assert weights.match_config(ckpt, TINY) is ckpt
    grown = weights.build(weights.match_config(ckpt, deeper))
    y, table = torch.randn(1, 64, 5, 6), torch.full((1, 1, 8, 8), 30.0)
    with torch.no_grad():
        assert torch.equal(grown.restore_y(y, table), small.eval().restore_y(y, table))
    with pytest.raises(WeightsError, match="cannot grow"):
        weights.match_config(ckpt, replace(TINY, y=replace(TINY.y, channels=4)))


def test_texture_blends_the_default_with_its_gan_sibling():
    from qgac_cli import api

    data = pillow_jpeg(photo(48, 64), quality=15, subsampling=2)
    jpeg = read_jpeg(data)
    options = api.RestoreOptions(bits=None, precision="fp32")
    with torch.no_grad():
        plain = api.restore_jpeg(jpeg, api.load_model(), options)
        at_zero = api.restore_jpeg(jpeg, api.load_model(texture=0.0), options)
        at_one = api.restore_jpeg(jpeg, api.load_model(texture=1.0), options)
        gan = api.restore_jpeg(jpeg, api.load_model(api.gan_sibling(None)), options)
    assert np.allclose(at_zero, plain, atol=1e-6)
    assert np.allclose(at_one, gan, atol=1e-5)  # the sibling, grown where it must be, is itself
    assert not np.allclose(plain, gan, atol=1e-3)


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "transformer"},
        {"channels": -4},
        {"channels": 10**6},
        {"channels": 8.5},
        {"channels": "8"},
        {"blocks": True},
        {"generator": "magic"},
    ],
)
def test_malformed_checkpoint_configs_are_refused_before_building(tmp_path, change):
    data = weights.to_dict(tiny_model(0))
    data["config"]["y"].update(change)
    path = tmp_path / "bad.pt"
    torch.save(data, path)
    with pytest.raises(WeightsError, match="invalid config"):
        weights.read(path)


def test_non_finite_weights_and_results_are_errors(tmp_path):
    from qgac_cli import api

    model = tiny_model(0)
    state = model.state_dict()
    state["y_net.head.shared"][0, 0] = float("nan")
    path = tmp_path / "nan.pt"
    weights.save(model, path, state_dict=state)
    with pytest.raises(WeightsError, match="non-finite weights"):
        weights.load(path)
    blown = tiny_model(0)
    with torch.no_grad():
        blown.y_net.fuse.shared.fill_(1e38)
        blown.y_net.fuse.bias.weight.fill_(1e38)
    jpeg = read_jpeg(pillow_jpeg(photo(24, 32), quality=30))
    with pytest.raises(WeightsError, match="non-finite values"):
        api.restore_jpeg(jpeg, blown, api.RestoreOptions(project=False))


def test_a_checkpoint_that_expands_far_beyond_its_file_is_refused_unread(tmp_path, monkeypatch):
    """A zip bomb: torch writes its records stored, so one deflated record of 400 MB in a file
    of 0.4 MB is no checkpoint of ours; it is refused from the archive's directory alone."""
    import zipfile

    path = tmp_path / "bomb.pt"
    weights.save(tiny_model(0), path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb/data/999", bytes(400_000_000))
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("read a checkpoint refused by its directory"))
    with pytest.raises(WeightsError, match="expand to 400 MB"):
        weights.read(path)


@pytest.mark.parametrize(
    "key,value,words",
    [
        ("y_net.head.shared", 1e38, "magnitude 1e\\+38"),
        ("y_net.fuse.shared", 5e3, "trained weights stay near 1"),
        ("std", 0.0, "zero"),
        ("mean", 1e6, "beyond any 8-bit JPEG"),
    ],
)
def test_weights_absurd_for_a_trained_network_are_refused(tmp_path, key, value, words):
    model = tiny_model(0)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state[key].view(-1)[0] = value
    path = tmp_path / "absurd.pt"
    weights.save(model, path, state_dict=state)
    with pytest.raises(WeightsError, match=words):
        weights.load(path)


def test_bad_weights_are_usage_errors_named_by_their_file(tmp_path):
    """Weights are loaded before the first image: bad ones exit 2, the line names the file
    (with --gan-weights too) and is whole."""
    from click.testing import CliRunner

    from qgac_cli.cli import main

    src = tmp_path / "in.jpg"
    src.write_bytes(pillow_jpeg(photo(24, 32), quality=30))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    other = tmp_path / "other.pt"
    weights.save(tiny_model(0), other)
    for options, named in (
        (["--weights", str(junk)], junk),
        (["--weights", "base", "--texture", "0.5", "--gan-weights", str(junk)], junk),
        (["--weights", "base", "--texture", "0.5", "--gan-weights", str(other)], other),
    ):
        result = CliRunner().invoke(main, ["restore", str(src), str(tmp_path / "out.png"), *options])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and str(named) in lines[0] and "<checkpoint>" not in lines[0], lines
        assert not (tmp_path / "out.png").exists()
