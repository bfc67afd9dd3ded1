"""Training the colour detail network (`qgac_cli.model.detail`) behind frozen networks.

Everything before it (the Y and colour networks, the refinement) is frozen, so their outputs
on a set of compressed patches are computed once and kept: a step then costs only the small
network's forward and backward pass (about 0.1 s for 16 patches of 128² on two CPU cores,
against ~2 s through the whole model). The kept samples take 2.6 MB a batch of 16 (fp16).
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from qgac_cli.data import PatchBank, compress, tables_at
from qgac_cli.model import QGAC
from qgac_cli.model.detail import ChromaDetail
from qgac_cli.restore import dct
from qgac_cli.restore.coefficients import project_coefficients, samples
from qgac_cli.restore.restoration import network_colour
from qgac_cli.train.colour_data import BandedGains, budget_lr, draw_batches
from qgac_cli.weights import Checkpoint


@dataclass(frozen=True)
class DetailSample:
    """One batch of patches as the frozen model restored them, up to the detail network."""

    colour: torch.Tensor  # (B, 2, H, W) refined chroma samples, fp16
    luma: torch.Tensor  # (B, 1, H, W) restored luma samples, fp16
    truth: torch.Tensor  # (B, 2, H, W) the patches' own chroma samples, fp16
    y_table: torch.Tensor
    c_table: torch.Tensor
    factor: tuple[int, int]
    qualities: torch.Tensor


@torch.no_grad()
def restore_batch(model: QGAC, rgb: torch.Tensor, qualities: torch.Tensor, factor: tuple[int, int]) -> DetailSample:
    """Compress RGB patches (B, 3, P, P) in [0, 1] at `qualities` and restore them as
    `restoration.restore_planes` does up to the detail network (Y projected, colour refined)."""
    y_table, c_table = tables_at(qualities)
    planes = compress(rgb, y_table, c_table, factor)
    y = project_coefficients(model.restore_y(planes.y, y_table), planes.y, y_table)
    luma, colour = samples(y), network_colour(model, planes, y)
    if model.refine is not None:
        colour = model.refine(colour, luma, y_table, c_table, factor)
    truth = dct.rgb_to_ycbcr(rgb)[:, 1:]
    return DetailSample(colour.half(), luma.half(), truth.half(), y_table, c_table, factor, qualities)


def draw_samples(model: QGAC, bank: PatchBank, batches: int, batch: int, report: Callable | None = None):
    """`batches` batches of the bank's patches at its qualities and subsamplings, restored."""
    return draw_batches(restore_batch, model, bank, batches, batch, report)


def corrected(detail: ChromaDetail, sample: DetailSample) -> torch.Tensor:
    return detail(sample.colour.float(), sample.luma.float(), sample.y_table, sample.c_table, sample.factor)


@torch.no_grad()
def gains(detail: ChromaDetail | None, data: list[DetailSample]) -> dict[str, float]:
    """Chroma PSNR gained over the refined colour (dB), per band of qualities (`BANDS`), and
    in all ("all": the ratio of the summed squared errors)."""
    tally = BandedGains()
    for s in data:
        truth, before = s.truth.float(), s.colour.float().clamp(0, 255)
        after = before if detail is None else corrected(detail, s).clamp(0, 255)
        tally.add(s.qualities, before, after, truth)
    return tally.db()


@dataclass(frozen=True)
class DetailFit:
    """How a detail network is fitted: its size, and a cosine schedule over a time budget
    (CPU time is what a session has) or a number of steps, whichever ends first."""

    channels: int = 24
    layers: int = 2
    lr: float = 1e-3
    minutes: float = 45.0
    steps: int = 1_000_000
    seed: int = 0


def fit(
    data: list[DetailSample],
    config: DetailFit = DetailFit(),
    start: ChromaDetail | None = None,
    report: Callable[[int, float, ChromaDetail], None] | None = None,
) -> ChromaDetail:
    """Fit a detail network (from its identity start, or from `start`: a warm restart) to the
    kept samples by L2 on the chroma samples; `report(step, loss, net)` every 1 000 steps."""
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    detail = start if start is not None else ChromaDetail(config.channels, config.layers)
    detail.train()
    optimizer = torch.optim.Adam(detail.parameters(), lr=config.lr)
    begun, budget, step, average = time.monotonic(), config.minutes * 60.0, 0, 0.0
    while step < config.steps and (done := (time.monotonic() - begun) / budget) < 1.0:
        for group in optimizer.param_groups:
            group["lr"] = budget_lr(config.lr, done, step, config.steps)
        sample = rng.choice(data)
        loss = ((corrected(detail, sample) - sample.truth.float()) ** 2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step, average = step + 1, 0.99 * average + 0.01 * float(loss.detach())
        if report and step % 1000 == 0:
            report(step, average, detail)
    return detail.eval()


def with_detail(checkpoint: Checkpoint, detail: ChromaDetail, metadata: dict | None = None) -> Checkpoint:
    """The checkpoint with this detail network in place of any it had (the rest untouched)."""
    state = {k: v for k, v in checkpoint.state_dict.items() if not k.startswith("detail.")}
    state.update({f"detail.{k}": v.detach().clone() for k, v in detail.state_dict().items()})
    config = dataclasses.replace(checkpoint.config, detail=detail.channels, detail_layers=detail.layers)
    return Checkpoint(config, state, {**checkpoint.metadata, **(metadata or {})})
