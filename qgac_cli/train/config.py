"""What one training run is: its typed config, and the learning-rate schedule it implies."""

from __future__ import annotations

import math
from dataclasses import dataclass

from qgac_cli.choices import LOSSES, STAGES, VALIDATION_QUALITIES
from qgac_cli.errors import UsageError


@dataclass(frozen=True)
class TrainConfig:
    stage: str
    data: tuple[str, ...]
    out: str
    preset: str = "base"
    generator: str | None = None  # override the preset's weight generator (CFM ablation)
    init: str | None = None  # weights to start from (required for every stage but y)
    grow: str | None = None  # grow the init weights: a larger preset or "y.channels=128,..." (model.growth)
    precision: str = "auto"  # the networks' autocast: auto (bf16 where native) | bf16 | fp32
    channels_last: bool = False  # the networks' feature maps channels-last (NHWC: cuDNN's bf16 layout)
    compile: str = ""  # torch.compile the networks and the loss with this backend ("inductor"); "" not
    resume: str | None = None
    overwrite: bool = False  # start afresh in an --out that holds an earlier run
    validation: tuple[str, ...] = ()
    holdout_every: int = 25  # without --validation: every N-th training image is held out
    patterns: int = 0  # generated pattern images (evaluate.patterns.random_pattern) added to the training images
    steps: int = 10_000
    batch: int = 32
    patch: int = 128
    low_quality_share: float = 0.5  # share of patches drawn from the lower half of the qualities (PatchConfig)
    lr: float = 1e-3
    lr_min: float = 1e-6
    warmup: int = 200
    ema: float = 0.999
    clip: float = 1.0
    loss: str = LOSSES[0]  # regression loss (choices.LOSSES): l1 (the paper's), l2, or psnr
    ssim_weight: float = 0.05
    projected: bool = False  # score the output after the projection into the file's intervals, as restoring returns it
    teacher: str | None = None  # stage y: weights whose restored luma is also a target (distillation)
    teacher_weight: float = 0.5  # the teacher's share of the loss, the truth's the rest
    adv_weight: float = 5e-3
    texture_weight: float = 1.0
    val_every: int = 500
    checkpoint_every: int = 500
    log_every: int = 50
    max_minutes: float | None = None
    device: str = "auto"
    threads: int | None = None
    seed: int = 0
    val_qualities: tuple[int, ...] = VALIDATION_QUALITIES  # validation crops' qualities; best = their mean gain


def check(cfg: TrainConfig) -> None:
    """Raises UsageError for a stage or loss this trainer does not know."""
    if cfg.stage not in STAGES:
        raise UsageError(f"unknown stage {cfg.stage!r}; choose one of {', '.join(STAGES)}")
    if cfg.loss not in LOSSES:
        raise UsageError(f"unknown loss {cfg.loss!r}; choose one of {', '.join(LOSSES)}")
    if cfg.stage != "y" and not cfg.init:
        raise UsageError(f"stage {cfg.stage} starts from trained weights: give --init")
    if not 0.0 <= cfg.low_quality_share <= 1.0:
        raise UsageError(f"--low-quality-share must lie in [0, 1], not {cfg.low_quality_share}")
    if cfg.teacher and cfg.stage != "y":
        raise UsageError(f"--teacher distils the Y network: stage y, not {cfg.stage}")
    if not 0.0 <= cfg.teacher_weight <= 1.0:
        raise UsageError(f"--teacher-weight must lie in [0, 1], not {cfg.teacher_weight}")
    if cfg.grow and not cfg.init:
        raise UsageError("--grow needs trained weights to grow: give --init")


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine from lr to lr_min."""
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    progress = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return (cfg.lr_min + (cfg.lr - cfg.lr_min) * 0.5 * (1 + math.cos(math.pi * progress))) / cfg.lr


def due(step: int, every: int, finishing: bool) -> bool:
    """Whether a chore done every `every` steps is due after `step` (always on the last one)."""
    return finishing or step % every == 0
