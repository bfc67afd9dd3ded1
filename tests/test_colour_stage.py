"""The colour network on the stored chroma grid (issue #31) and the colour stage behind a
kept, frozen Y: where the luma guidance lands, identity at the start, tiles, checkpoints, and
a fit that trains the colour network alone."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import TINY, photo, tiny_model

from qgac_cli import api, weights
from qgac_cli.codec import jpeg
from qgac_cli.data import PatchBank, PatchConfig
from qgac_cli.model import QGAC, NetConfig
from qgac_cli.model.stored import unshuffled
from qgac_cli.restore.coefficients import from_jpeg, project_chroma
from qgac_cli.restore.restoration import restore_planes
from qgac_cli.restore.tiling import context_blocks, restore_jpeg_tiles
from qgac_cli.train.colour_stage import ColourFit, colour, draw_samples, fit, gains, with_new_colour

STORED = NetConfig(kind="stored", channels=8, blocks=1, basis=2)


def stored_tiny(seed: int = 0, randomize_output: bool = True) -> QGAC:
    """The tiny model with a stored-grid colour network (its output layer not zero)."""
    model = with_new_colour(tiny_model(seed), STORED, seed)
    if randomize_output:
        with torch.no_grad():
            for p in model.color_net.out.parameters():
                p.normal_(0, 0.05)
    return model.eval()


@pytest.mark.parametrize("factor", [(2, 2), (1, 2), (2, 1), (1, 1)])
def test_each_luma_block_of_a_chroma_block_has_channels_of_its_own(factor):
    fy, fx = factor
    features = torch.randn(2, 3, 4 * fy, 5 * fx)
    out = unshuffled(features, factor)
    assert out.shape == (2, 12, 4, 5)
    for i in range(2):
        for j in range(2):
            group = out[:, 3 * (2 * i + j) : 3 * (2 * i + j + 1)]
            if i < fy and j < fx:
                assert torch.equal(group, features[:, :, i::fy, j::fx])
            else:
                assert not group.any()


@pytest.mark.parametrize("factor", [(1, 4), (2, 4)])
def test_four_luma_blocks_across_a_chroma_block_share_two_groups_as_pairs(factor):
    """4:1:1 and 4:1:0: a chroma block covers four luma blocks across; each of the two
    groups across holds the mean of a neighbouring pair."""
    fy, fx = factor
    features = torch.randn(1, 3, 2 * fy, 3 * fx)
    out = unshuffled(features, factor)
    assert out.shape == (1, 12, 2, 3)
    for i in range(fy):
        for j in range(2):
            pair = (features[:, :, i::fy, 2 * j :: fx] + features[:, :, i::fy, 2 * j + 1 :: fx]) / 2
            assert torch.allclose(out[:, 3 * (2 * i + j) : 3 * (2 * i + j + 1)], pair, atol=1e-6)
    if fy == 1:
        assert not out[:, 6:].any()


@pytest.mark.parametrize("subsampling", ["4:2:0", "4:2:2", "4:4:4"])
def test_a_new_stored_grid_network_restores_the_stored_colour_and_tiles_equal_the_whole(subsampling):
    data = jpeg.encode(photo(320, 480, seed=3), 50, subsampling)
    planes = from_jpeg(jpeg.read_jpeg(data))
    efficient, new, trained = tiny_model(), stored_tiny(randomize_output=False), stored_tiny()
    with torch.no_grad():
        a, b, c = (restore_planes(m, planes, project=False) for m in (efficient, new, trained))
        tiles = list(restore_jpeg_tiles(trained, jpeg.read_jpeg(data), tile_pixels=96, project=False))
    # the same Y; at its zero start the colour is the decoder's, as the efficient net's is
    assert torch.equal(a.y, b.y) and torch.allclose(b.color, from_jpeg_colour(planes), atol=1e-4)
    assert not torch.allclose(b.color, c.color, atol=1e-3)
    tiled = torch.zeros_like(c.pixels)
    for tile in tiles:
        h, w = tile.pixels.shape[-2:]
        tiled[..., tile.top : tile.top + h, tile.left : tile.left + w] = tile.pixels
    assert len(tiles) > 2 and torch.allclose(tiled, c.pixels, atol=1e-5), float((tiled - c.pixels).abs().max())


@pytest.mark.parametrize("sampling", [[[2, 1], [1, 1], [1, 1]], [[1, 4], [1, 1], [1, 1]]])
def test_the_stored_grid_network_in_tiles_equals_the_whole_in_rarer_subsamplings(tmp_path, sampling):
    """4:4:0, and 4:1:1, whose chroma blocks cover four luma blocks across: tiles cut with
    the network's reach give the untiled restoration."""
    from conftest import jpeglib_jpeg

    data = jpeglib_jpeg(photo(400, 640, seed=4), tmp_path, 30, sampling=sampling)
    model = with_new_colour(tiny_model(2), dataclasses.replace(STORED, blocks=3), 2).eval()
    with torch.no_grad():
        for p in model.color_net.out.parameters():
            p.normal_(0, 0.05)
        whole = restore_planes(model, from_jpeg(jpeg.read_jpeg(data))).pixels
        tiles = list(restore_jpeg_tiles(model, jpeg.read_jpeg(data), tile_pixels=64))
    tiled = torch.full_like(whole, float("nan"))
    for tile in tiles:
        h, w = tile.pixels.shape[-2:]
        tiled[..., tile.top : tile.top + h, tile.left : tile.left + w] = tile.pixels
    assert len(tiles) > 1 and torch.allclose(tiled, whole, atol=1e-5), float((tiled - whole).abs().max())


def from_jpeg_colour(planes) -> torch.Tensor:
    from qgac_cli.restore.coefficients import chroma_samples

    return chroma_samples(planes, planes.chroma)


def test_the_stored_kind_is_a_colour_network_with_its_reach_and_round_trips(tmp_path):
    with pytest.raises(ValueError, match="unknown network kind"):
        QGAC(dataclasses.replace(TINY, y=STORED))
    config = dataclasses.replace(TINY, color=STORED)
    assert context_blocks(config) - context_blocks(TINY) == 8 * STORED.blocks - 2 * TINY.color.blocks
    deeper = with_new_colour(tiny_model(), dataclasses.replace(STORED, blocks=2))
    assert api.SHORT_REACH < context_blocks(deeper.config) <= api.MIDDLE_REACH  # 23 blocks: a halo of 6
    assert api.halo_for(deeper) == api.MIDDLE_HALO == 6 and api.halo_for(tiny_model()) == api.SHORT_HALO
    model = stored_tiny()
    weights.save(model, tmp_path / "s.pt")
    loaded = weights.load(tmp_path / "s.pt")
    assert loaded.config == config and loaded.stored_grid and not tiny_model().stored_grid
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))


@pytest.mark.parametrize("kind", ["efficient", "stored"])
def test_the_colour_stage_trains_the_colour_network_alone_on_kept_batches(kind):
    images = [photo(160, 160, seed=s) for s in range(3)]
    config = PatchConfig(size=64, qualities=(30, 90), grey_share=0, faded_share=0)
    model = with_new_colour(tiny_model(), dataclasses.replace(STORED, kind=kind))
    data = draw_samples(model, PatchBank(images, config, seed=0), batches=4, batch=4)
    assert abs(gains(model, data)["all"]) < 1e-3  # a new network is the decoder's colour
    y_before = {k: v.clone() for k, v in model.y_net.state_dict().items()}
    kept = [s.planes.y.clone() for s in data]
    fit(model, data, ColourFit(lr=3e-3, steps=150, minutes=5, ema=0.9))
    assert gains(model, data)["all"] > 0.1 and not model.training
    assert all(torch.equal(v, model.y_net.state_dict()[k]) for k, v in y_before.items())
    assert all(torch.equal(a, s.planes.y) for a, s in zip(kept, data))
    with torch.no_grad():
        assert colour(model, data[0], clamp=True).shape == data[0].truth.shape


def test_the_colour_stage_can_learn_through_the_frozen_refinement():
    images = [photo(160, 160, seed=s) for s in range(3)]
    config = PatchConfig(size=64, qualities=(30, 90), grey_share=0, faded_share=0)
    model = QGAC(dataclasses.replace(TINY, refine=True))
    model.load_state_dict(tiny_model().state_dict(), strict=False)
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.refine.weights[-1].parameters():
            p.uniform_(-0.2, 0.2)
    data = draw_samples(model.eval(), PatchBank(images, config, seed=0), batches=4, batch=4)
    refine = {k: v.clone() for k, v in model.refine.state_dict().items()}
    before = gains(model, data, refined=True)["all"]
    assert before != gains(model, data)["all"]  # the refinement is in what is scored
    fit(model, data, ColourFit(lr=3e-3, steps=100, minutes=5, ema=0.9, refined=True))
    assert gains(model, data, refined=True)["all"] > before + 0.05
    assert all(torch.equal(v, model.refine.state_dict()[k]) for k, v in refine.items())


def test_the_colour_stage_can_score_its_colour_after_the_projection():
    images = [photo(160, 160, seed=s) for s in range(3)]
    config = PatchConfig(size=64, qualities=(30, 90), grey_share=0, faded_share=0)
    model = with_new_colour(tiny_model(), STORED)
    data = draw_samples(model, PatchBank(images, config, seed=0), batches=4, batch=4)
    with torch.no_grad():
        wild = colour(model, data[0]) + 20 * torch.randn_like(data[0].truth.float())
        # the projection returns a colour within the stored chroma's intervals: projecting again moves nothing
        once = project_chroma(wild, data[0].planes)
        assert torch.allclose(project_chroma(once, data[0].planes), once, atol=1e-3)
    fit(model, data, ColourFit(lr=3e-3, steps=150, minutes=5, ema=0.9, projected=True))
    assert gains(model, data, projected=True)["all"] > 0.1
    assert gains(model, data, projected=True)["all"] != gains(model, data)["all"]
