"""The colour stage at a CPU's cost (issue #31): the colour network trained behind a frozen Y.

In the colour stage the Y network does not learn, yet it is ≈ 85 % of the arithmetic of a
step (`large`). Its restored (and projected) Y is a function of the patch and its quality
alone, so it is computed once per patch and kept with the patch's stored chroma; a step is
then the colour network's forward and backward pass alone. The kept batches are a fixed set
(draw as many as the time allows to use); the qualities and subsamplings are the colour
fits' (`colour_data.COLOUR_PATCHES`: what users hold). Trained on the chroma samples after
the decoder's upsampling, unclamped, by L2; before or after the model's refinement
(`ColourFit.refined`), and before or after the exact projection onto the stored chroma
(`ColourFit.projected`: what restoring returns).
"""

from __future__ import annotations

import copy
import dataclasses
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from qgac_cli.data import PatchBank, compress, tables_at
from qgac_cli.model import QGAC
from qgac_cli.model.networks import NetConfig
from qgac_cli.restore import dct
from qgac_cli.restore.coefficients import Planes, chroma_samples, project_chroma, project_coefficients, samples
from qgac_cli.restore.restoration import network_colour
from qgac_cli.train.colour_data import BandedGains, budget_lr, draw_batches
from qgac_cli.train.step import EMA


@dataclass(frozen=True)
class ColourSample:
    """One batch of compressed patches with its restored Y, as the colour network sees them."""

    planes: Planes  # y: the frozen network's restored, projected Y; chroma: as stored
    truth: torch.Tensor  # (B, 2, H, W) the patches' own chroma samples, fp16
    qualities: torch.Tensor


@torch.no_grad()
def restore_batch(model: QGAC, rgb: torch.Tensor, qualities: torch.Tensor, factor: tuple[int, int]) -> ColourSample:
    """Compress RGB patches (B, 3, P, P) in [0, 1] at `qualities` and restore their Y."""
    y_table, c_table = tables_at(qualities)
    planes = compress(rgb, y_table, c_table, factor)
    y = project_coefficients(model.restore_y(planes.y, y_table), planes.y, y_table)
    return ColourSample(replace(planes, y=y), dct.rgb_to_ycbcr(rgb)[:, 1:].half(), qualities)


def draw_samples(model: QGAC, bank: PatchBank, batches: int, batch: int, report: Callable | None = None):
    """`batches` batches of the bank's patches at its qualities and subsamplings, Y restored."""
    return draw_batches(restore_batch, model, bank, batches, batch, report)


def colour(
    model: QGAC, sample: ColourSample, clamp: bool = False, refined: bool = False, projected: bool = False
) -> torch.Tensor:
    """The colour network's chroma samples (B, 2, H, W) for a kept batch; with `refined`, after
    the model's refinement (if it has one; its weights are not trained here, the gradient
    passes through it); with `projected`, projected onto the stored chroma's intervals."""
    planes = sample.planes
    out = network_colour(model, planes, planes.y, clamp=clamp)
    if refined and model.refine is not None:
        out = model.refine(out, samples(planes.y, clamp), planes.y_table, planes.c_table, planes.factor)
    return project_chroma(out, planes) if projected else out


@torch.no_grad()
def gains(model: QGAC, data: list[ColourSample], refined: bool = False, projected: bool = False) -> dict[str, float]:
    """Chroma PSNR gained over the file's own colour (dB), per band of qualities (`BANDS`)
    and in all ("all": the ratio of the summed squared errors); `refined` and `projected`
    as for `colour`."""
    tally = BandedGains()
    for s in data:
        before = chroma_samples(s.planes, s.planes.chroma)
        after = colour(model, s, clamp=True, refined=refined, projected=projected)
        tally.add(s.qualities, before, after, s.truth.float())
    return tally.db()


@dataclass(frozen=True)
class ColourFit:
    """How the colour network is trained: Adam on a cosine over a time budget (CPU time is
    what a session has) or a number of steps, whichever ends first; an EMA of the weights is
    what comes out."""

    lr: float = 3e-4
    minutes: float = 45.0
    steps: int = 1_000_000
    ema: float = 0.999
    seed: int = 0
    refined: bool = False  # the loss after the model's (frozen) refinement, as it restores
    projected: bool = False  # the loss after the exact projection onto the stored chroma, as it restores


def fit(
    model: QGAC,
    data: list[ColourSample],
    config: ColourFit = ColourFit(),
    report: Callable[[int, float, QGAC], None] | None = None,
) -> QGAC:
    """Train `model.color_net` on the kept batches (everything else untouched); the model
    comes back with the EMA of its colour network, in eval mode. `report(step, loss, model)`
    every 500 steps, the model then holding the EMA."""
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    net = model.color_net
    ema = EMA(net, config.ema)
    if model.refine is not None:
        model.refine.requires_grad_(False)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    begun, budget, step, smooth = time.monotonic(), config.minutes * 60.0, 0, 0.0
    model.train()
    while step < config.steps and (done := (time.monotonic() - begun) / budget) < 1.0:
        for group in optimizer.param_groups:
            group["lr"] = budget_lr(config.lr, done, step, config.steps)
        sample = rng.choice(data)
        restored = colour(model, sample, refined=config.refined, projected=config.projected)
        loss = ((restored - sample.truth.float()) ** 2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        ema.update(step)
        step, smooth = step + 1, 0.99 * smooth + 0.01 * float(loss.detach())
        if report and step % 500 == 0:
            _report(model, _averaged(net, ema), report, step, smooth)
    model.color_net = _averaged(net, ema)
    return model.eval()


def _averaged(net: torch.nn.Module, ema: EMA) -> torch.nn.Module:
    """A copy of the network holding the EMA's weights."""
    average = copy.deepcopy(net).requires_grad_(False)
    average.load_state_dict(ema.state)
    return average


def _report(model: QGAC, average: torch.nn.Module, report: Callable, step: int, loss: float) -> None:
    training = model.color_net
    model.color_net = average
    model.eval()
    report(step, loss, model)
    model.color_net = training
    model.train()


def with_new_colour(model: QGAC, color: NetConfig, seed: int = 0) -> QGAC:
    """The model with a fresh colour network of that shape (seeded), its Y network and
    statistics kept, and no refinement or detail network (they were fitted to the old colour)."""
    config = dataclasses.replace(model.config, color=color, refine=False, detail=0)
    torch.manual_seed(seed)
    fresh = QGAC(config)
    kept = {k: v for k, v in model.state_dict().items() if k.startswith("y_net.") or k in ("mean", "std")}
    fresh.load_state_dict(kept, strict=False)
    return fresh.eval()
