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

import importlib

# what each name is, by the module that holds it: imported when first asked for, so that the
# CLI reads the config's defaults (`config` needs no torch) without loading the trainer
_HOME = {
    "STAGES": "config",
    "TrainConfig": "config",
    "lr_factor": "config",
    "patch_rate": "log",
    "plot_curve": "log",
    "read_log": "log",
    "Budget": "loop",
    "Context": "loop",
    "prepare": "loop",
    "run": "loop",
    "sized_schedule": "loop",
    "train": "loop",
    "train_within": "loop",
    "PIXEL_LOSSES": "losses",
    "pixel_loss": "losses",
    "psnr_loss": "losses",
    "relativistic_losses": "losses",
    "texture_loss": "losses",
    "EMA": "step",
    "StageLoss": "step",
    "train_step": "step",
    "validate": "validation",
    "validation_set": "validation",
}


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)


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
