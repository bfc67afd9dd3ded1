"""Staged training (paper §3.4): Y network, then colour with Y frozen, then a GAN fine-tune
(stage "joint" fine-tunes both networks together with the regression loss).

Runs on one CPU, one GPU, or data-parallel under torchrun (NCCL on GPUs, gloo on CPUs).
Writes into its output folder: last.pt (everything needed to resume exactly), best.pt and
final.pt (shippable checkpoints holding the EMA weights), log.jsonl and curve.png.

The parts, each with one job: `config` (the typed config and the schedule), `losses`,
`step` (one update and what it works on), `validation`, `checkpoint`, `log`, `loop` (the
loop and its chores, and a run sized to a wall-clock budget), `sweep` (the fastest
configuration of a device, by measurement).
"""

from qgac_cli.train.config import STAGES, TrainConfig, lr_factor
from qgac_cli.train.log import patch_rate, plot_curve, read_log
from qgac_cli.train.loop import Budget, Context, prepare, run, sized_schedule, train, train_within
from qgac_cli.train.losses import PIXEL_LOSSES, pixel_loss, psnr_loss, relativistic_losses, texture_loss
from qgac_cli.train.step import EMA, StageLoss, train_step
from qgac_cli.train.validation import validate, validation_set

__all__ = [
    "EMA",
    "PIXEL_LOSSES",
    "STAGES",
    "Budget",
    "Context",
    "StageLoss",
    "TrainConfig",
    "lr_factor",
    "patch_rate",
    "pixel_loss",
    "plot_curve",
    "prepare",
    "psnr_loss",
    "read_log",
    "relativistic_losses",
    "run",
    "sized_schedule",
    "texture_loss",
    "train",
    "train_step",
    "train_within",
    "validate",
    "validation_set",
]
