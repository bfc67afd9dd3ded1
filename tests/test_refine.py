"""The luma-guided chroma refinement: its maths, its place in the model and its fitting."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from conftest import TINY, photo, tiny_model

from qgac_cli import weights
from qgac_cli.codec import jpeg
from qgac_cli.data import PatchBank, PatchConfig, tables_at
from qgac_cli.model import QGAC, ModelConfig
from qgac_cli.model.refine import CANDIDATES, ChromaRefine, candidates
from qgac_cli.restore import dct
from qgac_cli.restore.coefficients import Planes, from_jpeg, project_chroma
from qgac_cli.restore.restoration import restore_planes
from qgac_cli.restore.tiling import context_blocks, restore_jpeg_tiles
from qgac_cli.train.refine import draw_samples, fit, mse, refined, with_refine

REFINED = dataclasses.replace(TINY, refine=True)


def refined_tiny(seed: int = 0) -> QGAC:
    """The tiny model with a refinement whose weights are not zero (it changes the colour)."""
    base = tiny_model(seed)
    model = QGAC(REFINED)
    model.load_state_dict(base.state_dict(), strict=False)
    torch.manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.refine.weights[-1].parameters():
            p.uniform_(-0.2, 0.2)
    return model.eval()


def edges(height: int, width: int) -> torch.Tensor:
    """Luma samples (1, 1, H, W) with sharp edges at odd positions (lost to 2x subsampling)."""
    yy, xx = np.mgrid[0:height, 0:width]
    plane = 60 + 120 * ((xx // 3 + yy // 5) % 2) + 30 * np.sin(xx / 7.0)
    return torch.from_numpy(plane.astype(np.float32)).view(1, 1, height, width)


def test_the_guided_candidate_recovers_colour_that_follows_the_luma():
    """Where colour is a linear function of the luma, the colour a 4:2:0 decoder brings back
    is blurred; the guided estimate fitted to a luma blurred alike (candidates 4, 5) puts the
    edges back, and the others move toward them."""
    luma = edges(64, 64)
    truth = torch.cat([0.5 * luma + 40, 200 - 0.3 * luma], dim=1)  # (1, 2, H, W)
    blurred = dct.upsample(dct.downsample(truth, (2, 2)), (2, 2))
    corrections = candidates(blurred, luma, (2, 2))
    assert corrections.shape == (1, CANDIDATES, 2, 64, 64)
    before = float((blurred - truth).abs().mean())
    after = [float((blurred + corrections[:, k] - truth).abs().mean()) for k in range(CANDIDATES)]
    assert before > 5 and max(after[4:6]) < before / 20 and max(after[:4]) < before, (before, after)


def test_grey_stays_grey_and_an_untrained_refinement_changes_nothing():
    luma = edges(32, 48)
    grey = torch.full((1, 2, 32, 48), 128.0)
    y_table, c_table = tables_at(torch.tensor([90]))
    model = refined_tiny()
    assert torch.equal(model.refine_color(grey, luma, y_table, c_table, (2, 2)), grey)
    colour = grey + 20 * torch.rand(1, 2, 32, 48)
    untrained = ChromaRefine()
    assert torch.equal(untrained(colour, luma, y_table, c_table, (2, 2)), colour)


def test_the_weights_depend_on_the_tables():
    refine = refined_tiny().refine
    low, high = (tables_at(torch.tensor([q])) for q in (20, 95))
    assert not torch.allclose(refine.mix(*low, (2, 2)), refine.mix(*high, (2, 2)))
    assert not torch.allclose(refine.mix(*high, (2, 2)), refine.mix(*high, (1, 1)))


def test_a_config_written_before_the_refinement_loads_without_one(tmp_path):
    data = TINY.to_dict()
    data.pop("refine")
    assert ModelConfig.from_dict(data) == TINY and QGAC(TINY).refine is None
    assert ModelConfig.from_dict(REFINED.to_dict()) == REFINED
    with pytest.raises(ValueError, match="refine"):
        ModelConfig.from_dict({**data, "refine": "yes"})


def test_a_refined_checkpoint_round_trips_and_adds_its_reach(tmp_path):
    model = refined_tiny()
    weights.save(model, tmp_path / "r.pt")
    loaded = weights.load(tmp_path / "r.pt")
    assert loaded.config.refine and all(
        torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values())
    )
    assert context_blocks(REFINED) == context_blocks(TINY) + ChromaRefine.reach_blocks


@pytest.mark.parametrize("subsampling", ["4:2:0", "4:2:2", "4:4:4"])
def test_the_refinement_changes_the_colour_only_and_tiles_equal_the_whole(subsampling):
    pixels = photo(136, 200, seed=3)
    planes = from_jpeg(jpeg.read_jpeg(jpeg.encode(pixels, 60, subsampling)))
    plain, refined = tiny_model(), refined_tiny()
    with torch.no_grad():
        a, b = restore_planes(plain, planes), restore_planes(refined, planes)
    assert torch.equal(a.y, b.y) and not torch.equal(a.color, b.color)
    read = jpeg.read_jpeg(jpeg.encode(pixels, 60, subsampling))
    with torch.no_grad():
        whole = b.pixels
        tiled = torch.zeros_like(whole)
        for tile in restore_jpeg_tiles(refined, read, tile_pixels=64):
            h, w = tile.pixels.shape[-2:]
            tiled[..., tile.top : tile.top + h, tile.left : tile.left + w] = tile.pixels
    assert torch.allclose(tiled, whole, atol=1e-5), float((tiled - whole).abs().max())


def test_fitting_lowers_the_chroma_error_and_leaves_the_networks_alone():
    images = [photo(160, 160, seed=s) for s in range(3)]
    bank = PatchBank(images, PatchConfig(size=64, qualities=(60, 95), grey_share=0, faded_share=0), seed=0)
    model = tiny_model().eval()
    data = draw_samples(model, bank, batches=4, batch=4)
    refine = fit(data, steps=150, lr=1e-2)
    assert mse(refine, data) < 0.97 * mse(None, data)
    checkpoint = weights.Checkpoint(TINY, model.state_dict(), {"name": "tiny"})
    both = with_refine(checkpoint, refine, {"refine": {"steps": 150}})
    assert both.config.refine and both.metadata["name"] == "tiny" and both.metadata["refine"]["steps"] == 150
    rebuilt = weights.build(both)
    assert all(torch.equal(rebuilt.state_dict()[k], v) for k, v in model.state_dict().items())


def test_a_projected_fit_counts_the_error_as_restoring_returns_it():
    images = [photo(160, 160, seed=s) for s in range(3)]
    bank = PatchBank(images, PatchConfig(size=64, qualities=(60, 95), grey_share=0, faded_share=0), seed=0)
    data = draw_samples(tiny_model().eval(), bank, batches=4, batch=4)
    refine = fit(data, steps=150, lr=1e-2, projected=True)
    assert mse(refine, data, projected=True) < 0.97 * mse(None, data, projected=True)
    # a sample's projection is restoring's: from the stored coefficients, their table and factor
    s = data[0]
    colour = refined(refine, s).detach()
    planes = Planes(torch.zeros(1), s.y_table, s.stored, s.c_table, s.factor, *colour.shape[-2:])
    assert torch.equal(s.project(colour), project_chroma(colour, planes))
    assert not torch.equal(s.project(colour), colour)


@pytest.mark.parametrize("factor", [(2, 2), (1, 2), (1, 1)])
def test_the_refinement_sums_its_candidates_with_its_weights(factor):
    """The forward pass forms the weighted sum at the chroma's resolution; it must equal the
    candidates (as the fit sees them) weighed by the MLP, with and without autograd."""
    refine = refined_tiny().refine
    torch.manual_seed(3)
    colour, luma = 60 + 120 * torch.rand(2, 2, 48, 64), edges(48, 64).expand(2, 1, 48, 64)
    y_table, c_table = tables_at(torch.tensor([30, 95]))
    w = refine.mix(y_table, c_table, factor).detach()
    with torch.no_grad():
        explicit = colour + torch.einsum("bk,bkchw->bchw", w, candidates(colour, luma, factor))
        summed = refine(colour, luma, y_table, c_table, factor)
    assert (explicit - colour).abs().max() > 1 and torch.allclose(summed, explicit, atol=1e-3)
    assert torch.equal(refine(colour, luma, y_table, c_table, factor).detach(), summed)


@pytest.mark.parametrize("factor", [(2, 2), (1, 2), (1, 1)])
def test_the_refinement_leaves_its_inputs_as_they_were(factor):
    """Inference adds into buffers of its own: with nothing to upsample (4:4:4) those must be
    copies, not the caller's colour and luma, which the pixels are made of afterwards."""
    refine = refined_tiny().refine
    colour, luma = 60 + 120 * torch.rand(1, 2, 32, 48), edges(32, 48)
    before = colour.clone(), luma.clone()
    y_table, c_table = tables_at(torch.tensor([50]))
    with torch.no_grad():
        refine(colour, luma, y_table, c_table, factor)
    assert torch.equal(colour, before[0]) and torch.equal(luma, before[1])
