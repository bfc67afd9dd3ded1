"""Fitting the luma-guided chroma refinement (`qgac_cli.model.refine`) to trained networks.

The refinement has no say in what the Y and colour networks compute, so it is fitted after
them, with both frozen: their outputs on a set of compressed patches are computed once and
kept (with the candidate corrections they imply), and the small MLP that weighs the
candidates is fitted to those by L2 on the chroma samples. A fit of 3 000 steps over 200
batches of 16 patches takes about a minute on two CPU cores once the outputs are kept.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass

import torch

from qgac_cli.data import PatchBank, compress, tables_at
from qgac_cli.model import QGAC
from qgac_cli.model.refine import ChromaRefine, candidates
from qgac_cli.restore import dct
from qgac_cli.restore.coefficients import project_coefficients, project_onto_stored, samples
from qgac_cli.restore.restoration import network_colour
from qgac_cli.train.colour_data import draw_batches
from qgac_cli.weights import Checkpoint


@dataclass(frozen=True)
class RefineSample:
    """One batch of patches as the frozen networks restored them."""

    colour: torch.Tensor  # (B, 2, H, W) restored chroma samples, before any projection
    corrections: torch.Tensor  # (B, K, 2, H, W) the candidate corrections (fp16 to save memory)
    truth: torch.Tensor  # (B, 2, H, W) the patches' own chroma samples
    y_table: torch.Tensor
    c_table: torch.Tensor
    factor: tuple[int, int]
    stored: torch.Tensor  # (B, 2, 64, hc, wc) the file's chroma coefficients (for the projection)

    def project(self, colour: torch.Tensor) -> torch.Tensor:
        """Chroma samples projected onto the stored chroma's intervals, as restoring does."""
        return project_onto_stored(colour, self.stored, self.c_table, self.factor)


@torch.no_grad()
def restore_batch(model: QGAC, rgb: torch.Tensor, qualities: torch.Tensor, factor: tuple[int, int]) -> RefineSample:
    """Compress RGB patches (B, 3, P, P) in [0, 1] at `qualities` and restore them as
    `restoration.restore_planes` does up to the refinement (Y projected, colour not yet)."""
    y_table, c_table = tables_at(qualities)
    planes = compress(rgb, y_table, c_table, factor)
    y = project_coefficients(model.restore_y(planes.y, y_table), planes.y, y_table)
    colour = network_colour(model, planes, y)
    truth = dct.rgb_to_ycbcr(rgb)[:, 1:]
    corrections = candidates(colour, samples(y), factor).half()
    return RefineSample(colour, corrections, truth, y_table, c_table, factor, planes.chroma)


def draw_samples(model: QGAC, bank: PatchBank, batches: int, batch: int, report: Callable | None = None):
    """`batches` batches of the bank's patches at its qualities and subsamplings, restored."""
    return draw_batches(restore_batch, model, bank, batches, batch, report)


def refined(refine: ChromaRefine, sample: RefineSample) -> torch.Tensor:
    w = refine.mix(sample.y_table, sample.c_table, sample.factor)
    return sample.colour + torch.einsum("bk,bkchw->bchw", w, sample.corrections.float())


def error(colour: torch.Tensor, sample: RefineSample, projected: bool) -> torch.Tensor:
    """Mean squared error of chroma samples against the truth (projected first, if asked)."""
    colour = sample.project(colour) if projected else colour
    return ((colour.clamp(0, 255) - sample.truth) ** 2).mean()


def mse(refine: ChromaRefine | None, data: list[RefineSample], projected: bool = False) -> float:
    """Mean squared error of the chroma samples over `data`, refined (or not, with None);
    with `projected`, after the exact projection."""
    total = 0.0
    with torch.no_grad():
        for s in data:
            colour = s.colour if refine is None else refined(refine, s)
            total += float(error(colour, s, projected))
    return total / max(1, len(data))


def fit(
    data: list[RefineSample],
    steps: int = 3000,
    lr: float = 3e-3,
    seed: int = 0,
    report: Callable | None = None,
    projected: bool = False,
) -> ChromaRefine:
    """Fit a refinement (from its identity start) to the kept samples: Adam, cosine schedule;
    with `projected`, the error counted after the exact projection (as restoring returns it)."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    refine = ChromaRefine()
    optimizer = torch.optim.Adam(refine.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for step in range(steps):
        sample = rng.choice(data)
        loss = error(refined(refine, sample), sample, projected)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if report:
            report(step + 1, steps, float(loss))
    return refine.eval()


def with_refine(checkpoint: Checkpoint, refine: ChromaRefine, metadata: dict | None = None) -> Checkpoint:
    """The checkpoint with this refinement in place of any it had (its networks untouched)."""
    state = {k: v for k, v in checkpoint.state_dict.items() if not k.startswith("refine.")}
    state.update({f"refine.{k}": v.detach().clone() for k, v in refine.state_dict().items()})
    config = dataclasses.replace(checkpoint.config, refine=True)
    return Checkpoint(config, state, {**checkpoint.metadata, **(metadata or {})})
