"""The colour detail network after the refinement (issue #31): identity at its start, its
reach in the tiling, its config and checkpoints, and a fit that lowers the chroma error."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import TINY, photo, tiny_model
from test_refine import edges

from qgac_cli import weights
from qgac_cli.codec import jpeg
from qgac_cli.data import PatchBank, PatchConfig, tables_at
from qgac_cli.model import QGAC, ModelConfig
from qgac_cli.model.detail import ChromaDetail, reach
from qgac_cli.restore.coefficients import from_jpeg
from qgac_cli.restore.restoration import restore_planes
from qgac_cli.restore.tiling import context_blocks, restore_jpeg_tiles
from qgac_cli.train.detail import DetailFit, draw_samples, fit, gains, with_detail

DETAILED = dataclasses.replace(TINY, refine=True, detail=8, detail_layers=1)


def detailed_tiny(seed: int = 0) -> QGAC:
    """The tiny model with a refinement and a detail network whose last layers are not zero."""
    model = QGAC(DETAILED)
    model.load_state_dict(tiny_model(seed).state_dict(), strict=False)
    torch.manual_seed(seed + 1)
    with torch.no_grad():
        for p in (*model.refine.weights[-1].parameters(), *model.detail.tail.parameters()):
            p.uniform_(-0.2, 0.2)
    return model.eval()


def test_an_untrained_detail_network_changes_nothing():
    luma, colour = edges(33, 47), 60 + 120 * torch.rand(1, 2, 33, 47)  # odd sizes: padded inside
    y_table, c_table = tables_at(torch.tensor([70]))
    with torch.no_grad():
        assert torch.equal(ChromaDetail(8, 1)(colour, luma, y_table, c_table, (2, 2)), colour)
        changed = detailed_tiny().detail(colour, luma, y_table, c_table, (2, 2))
    assert changed.shape == colour.shape and not torch.equal(changed, colour)


def test_the_config_checks_and_old_configs_load_without_one():
    data = TINY.to_dict()
    for key in ("detail", "detail_layers"):
        data.pop(key)
    assert ModelConfig.from_dict(data) == TINY and QGAC(TINY).detail is None
    assert ModelConfig.from_dict(DETAILED.to_dict()) == DETAILED
    for bad in ({"detail": -1}, {"detail": 10_000}, {"detail": 8, "detail_layers": 0}, {"detail": 2.5}):
        with pytest.raises(ValueError, match="detail"):
            ModelConfig.from_dict({**data, **bad})


def test_a_detailed_checkpoint_round_trips_in_fp32_and_adds_its_reach(tmp_path):
    model = detailed_tiny()
    weights.save(model, tmp_path / "d.pt")
    loaded = weights.load(tmp_path / "d.pt")
    assert loaded.config == DETAILED
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    halved = weights.halved(model.state_dict())
    assert all(v.dtype == torch.float32 for k, v in halved.items() if k.startswith("detail."))
    refined = dataclasses.replace(DETAILED, detail=0)
    assert context_blocks(DETAILED) == context_blocks(refined) + reach(1) and reach(2) == 1 and reach(6) == 2


@pytest.mark.parametrize("subsampling", ["4:2:0", "4:4:4"])
def test_the_detail_changes_the_colour_only_and_tiles_equal_the_whole(subsampling):
    data = jpeg.encode(photo(272, 400, seed=5), 60, subsampling)
    planes = from_jpeg(jpeg.read_jpeg(data))
    model = detailed_tiny()
    without = QGAC(dataclasses.replace(DETAILED, detail=0))
    without.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("detail.")})
    with torch.no_grad():
        a, b = restore_planes(without.eval(), planes), restore_planes(model, planes)
        tiles = list(restore_jpeg_tiles(model, jpeg.read_jpeg(data), tile_pixels=96))
    assert torch.equal(a.y, b.y) and not torch.equal(a.color, b.color)
    tiled = torch.zeros_like(b.pixels)
    for tile in tiles:
        h, w = tile.pixels.shape[-2:]
        tiled[..., tile.top : tile.top + h, tile.left : tile.left + w] = tile.pixels
    assert len(tiles) > 2 and torch.allclose(tiled, b.pixels, atol=1e-5), float((tiled - b.pixels).abs().max())


def test_fitting_lowers_the_chroma_error_and_leaves_the_rest_alone():
    images = [photo(160, 160, seed=s) for s in range(3)]
    bank = PatchBank(images, PatchConfig(size=64, qualities=(40, 95), grey_share=0, faded_share=0), seed=0)
    model = tiny_model().eval()
    data = draw_samples(model, bank, batches=4, batch=4)
    assert gains(None, data)["all"] == 0.0
    detail = fit(data, DetailFit(channels=8, layers=1, lr=3e-3, steps=200, minutes=5))
    assert gains(detail, data)["all"] > 0.1
    checkpoint = weights.Checkpoint(TINY, model.state_dict(), {"name": "tiny"})
    both = with_detail(checkpoint, detail, {"detail": {"steps": 200}})
    assert both.config.detail == 8 and both.config.detail_layers == 1 and both.metadata["name"] == "tiny"
    rebuilt = weights.build(both)
    assert all(torch.equal(rebuilt.state_dict()[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(rebuilt.state_dict()[f"detail.{k}"], v) for k, v in detail.state_dict().items())
