"""The training loop: set a run up, step it, and do its chores (log, validation, checkpoints)
when they fall due; and `train_within`, which sizes a run to a wall-clock budget."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from qgac_cli import weights
from qgac_cli.data import PatchBank, PatchConfig, list_images, load_rgb
from qgac_cli.devices import pick_device, pick_dtype
from qgac_cli.errors import UsageError
from qgac_cli.evaluate.patterns import random_pattern
from qgac_cli.model import QGAC, preset
from qgac_cli.model.growth import grow, growth_target
from qgac_cli.model.presets import PRESETS
from qgac_cli.restore import dct
from qgac_cli.train.checkpoint import Checkpoints, resume, run_metadata
from qgac_cli.train.config import TrainConfig, check, due
from qgac_cli.train.log import Progress, TrainLog, patch_rate, plot_curve
from qgac_cli.train.step import Parts, build_parts, train_step
from qgac_cli.train.validation import Validator, validation_set

# --------------------------------------------------------------------------- setting up


def split_images(cfg: TrainConfig) -> tuple[list[Path], list[Path]]:
    images = list_images(list(cfg.data))
    if not images:
        raise UsageError(f"no images found in {', '.join(cfg.data)}")
    if cfg.validation:
        return images, list_images(list(cfg.validation))
    held = set(images[:: cfg.holdout_every])
    return [p for p in images if p not in held], sorted(held)


def coefficient_statistics(bank: PatchBank, count: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frequency mean and std (2, 64) of luma and chroma DCT coefficients of patches."""
    rgb = bank.patches(count).float().cpu() / 255.0
    ycbcr = dct.rgb_to_ycbcr(rgb) - 128.0
    rows = []
    for planes in (ycbcr[:, :1], ycbcr[:, 1:].flatten(0, 1).unsqueeze(1)):
        blocks = dct.block_dct(dct.to_blocks(planes))  # (N, 64, h, w)
        rows.append(blocks.transpose(0, 1).reshape(64, -1))
    mean = torch.stack([r.mean(1) for r in rows])
    std = torch.stack([r.std(1) for r in rows]).clamp_min(1.0)
    return mean, std


def initial_model(cfg: TrainConfig, bank: PatchBank) -> tuple[QGAC, dict]:
    """The weights a run starts from (its init, grown if asked, or a fresh preset with the
    bank's coefficient statistics) and the metadata they came with."""
    if not cfg.init:
        config = preset(cfg.preset)
        if cfg.generator:
            networks = {net: replace(getattr(config, net), generator=cfg.generator) for net in ("y", "color")}
            config = replace(config, **networks)
        model = QGAC(config)
        mean, std = coefficient_statistics(bank)
        model.mean.copy_(mean)
        model.std.copy_(std)
        return model, {}
    ckpt = weights.read(weights.resolve(cfg.init))
    model = weights.build(ckpt, cfg.init).train()
    metadata = dict(ckpt.metadata)
    if cfg.grow:
        try:
            model = grow(model, growth_target(cfg.grow, model.config), seed=cfg.seed)
        except ValueError as e:
            raise UsageError(f"cannot grow {cfg.init} into {cfg.grow}: {e}") from None
        before = metadata.get("preset", "?")
        metadata.update(preset=cfg.grow if cfg.grow in PRESETS else f"{before}+{cfg.grow}", grown_from=before)
    return model, metadata


@dataclass
class Context:
    """What the runs of one process share: where it is in a data-parallel group, its device,
    and the loaded images (loaded once; a bank per patch size). Each run's precision is its
    own config's."""

    rank: int
    world: int
    device: torch.device
    train_paths: list[Path]
    val_paths: list[Path]
    images: list[np.ndarray]
    seed: int

    def bank(self, size: int, low_quality_share: float) -> PatchBank:
        config = PatchConfig(size=size, low_quality_share=low_quality_share)
        return PatchBank(self.images, config, seed=self.seed + self.rank, device=self.device)


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    return rank, world


def prepare(cfg: TrainConfig) -> Context:
    """Join the data-parallel group (under torchrun), pick the device, load the images."""
    check(cfg)
    rank, world = _distributed()
    device = pick_device(cfg.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    train_paths, val_paths = split_images(cfg)
    images = [load_rgb(p) for p in train_paths] + generated_patterns(cfg.patterns, cfg.seed)
    pick_dtype(cfg.precision, device)  # an unknown precision is refused before the images load
    return Context(rank, world, device, train_paths, val_paths, images, cfg.seed)


def generated_patterns(count: int, seed: int) -> list[np.ndarray]:
    """`count` random regular patterns (gratings, grids, brickwork, façades) to train on
    beside the photos: what photo sets hold too few of for a network to leave alone."""
    rng = np.random.default_rng([seed, 0x9A77E2])
    return [random_pattern(rng) for _ in range(count)]


def output_folder(cfg: TrainConfig, rank: int) -> Path:
    """The run's folder; refuses to mix a new run into an earlier one's."""
    out = Path(cfg.out)
    earlier = [name for name in ("log.jsonl", "last.pt", "best.pt") if (out / name).exists()]
    if earlier and not cfg.resume and not cfg.overwrite:
        raise UsageError(
            f"{out} holds an earlier run ({', '.join(earlier)}): --resume {out / 'last.pt'} to go on, "
            "--overwrite to start afresh, or another --out"
        )
    out.mkdir(parents=True, exist_ok=True)
    if cfg.overwrite and not cfg.resume and rank == 0:
        (out / "log.jsonl").unlink(missing_ok=True)  # a fresh run, a fresh log
    return out


# --------------------------------------------------------------------------- the loop


class Chores:
    """What rank 0 does between steps when it falls due: the log record and the progress
    report, validation (and best.pt), the resume checkpoint and final.pt."""

    def __init__(
        self, cfg: TrainConfig, parts: Parts, bank: PatchBank, log: TrainLog, validator: Validator,
        saver: Checkpoints, progress: Progress | None,
    ) -> None:  # fmt: skip
        self.cfg, self.parts, self.bank, self.log = cfg, parts, bank, log
        self.validator, self.saver, self.progress = validator, saver, progress

    def after(self, step: int, finishing: bool) -> None:
        cfg = self.cfg
        record = None
        if due(step, cfg.log_every, finishing):  # a short run logs its loss too
            record = self.log.training_record(step, self.parts.scheduler.get_last_lr()[0])
        if self.progress:
            self.progress(step, cfg.steps, record)
        if due(step, cfg.val_every, finishing):
            self.validate(step)
        if due(step, cfg.checkpoint_every, finishing):
            self.saver.save_resume(self.parts, self.bank, cfg, step, self.validator.best)
            self.saver.save_final(self.parts, step)

    def validate(self, step: int) -> None:
        scores = self.validator.scores(self.parts.model, self.parts.ema.state)
        self.log.write({"step": step, **scores})
        if self.validator.improves(scores) or not self.saver.has_best():
            self.saver.save_best(self.parts, step, scores)
        plot_curve(self.log.path, self.log.path.with_name("curve.png"))


def start(cfg: TrainConfig, ctx: Context) -> tuple[PatchBank, Parts, dict]:
    """A bank of `cfg`'s patch size, the weights `cfg` starts from (the same on every rank)
    with what trains them, and the metadata those weights came with."""
    bank = ctx.bank(cfg.patch, cfg.low_quality_share)
    model, metadata = initial_model(cfg, bank)
    if ctx.world > 1:  # every rank must start from identical weights and statistics
        for t in model.state_dict().values():
            dist.broadcast(t, 0)
    return bank, build_parts(model, cfg, ctx.device, pick_dtype(cfg.precision, ctx.device), ctx.world), metadata


def run(cfg: TrainConfig, ctx: Context, progress: Progress | None = None) -> Path:
    """Run one stage in the prepared context; returns the path of the best checkpoint."""
    check(cfg)
    torch.manual_seed(cfg.seed + ctx.rank)
    out = output_folder(cfg, ctx.rank)
    bank, parts, metadata = start(cfg, ctx)
    step, best = resume(cfg.resume, parts, bank) if cfg.resume else (0, -float("inf"))
    items = validation_set(ctx.val_paths[:12], cfg.val_qualities) if ctx.rank == 0 else []
    validator = Validator(items, ctx.device, best)
    log = TrainLog(out / "log.jsonl", cfg.batch * ctx.world, step)
    bf16 = pick_dtype(cfg.precision, ctx.device) is not None
    meta = run_metadata(cfg, metadata, len(ctx.train_paths), ctx.world, bf16)
    chores = Chores(cfg, parts, bank, log, validator, Checkpoints(out, meta, ctx.device, log.started), progress)
    if ctx.rank == 0 and cfg.init and step == 0:  # where a warm restart starts, for the ledger
        log.write({"step": 0, **validator.scores(parts.model)})
    deadline = log.started + cfg.max_minutes * 60 if cfg.max_minutes is not None else float("inf")
    parts.model.train()
    while step < cfg.steps:
        log.add(train_step(parts, bank, cfg, step))
        step += 1
        finishing = step >= cfg.steps or time.time() > deadline
        if ctx.rank == 0:
            chores.after(step, finishing)
        if finishing:
            break
    if ctx.world > 1:
        dist.barrier()
    return out / "best.pt"


def train(cfg: TrainConfig, progress: Progress | None = None) -> Path:
    """Run one stage; returns the path of the best checkpoint. `progress` hears of every step
    (step, steps, the training record where one was logged, else None)."""
    return run(cfg, prepare(cfg), progress)


# --------------------------------------------------------------------------- a wall-clock budget


@dataclass(frozen=True)
class Budget:
    """How `train_within` spends a wall-clock budget: a probe of `probe_steps` measures the
    throughput, then a cosine schedule is sized to end inside what is left."""

    seconds: float
    probe_steps: int = 100
    validations: int = 6  # validations (and checkpoints) over the sized run
    margin: float = 0.95  # schedule at this share of the probe's rate (the probe still warms up)
    reserve: float = 30.0  # seconds kept back for validation, saving and bringing files back


def sized_schedule(cfg: TrainConfig, rate: float, left: float, budget: Budget) -> TrainConfig:
    """`cfg` with its steps, validation and time limit sized so that, at `rate` patches per
    second, it ends inside the `left` seconds of the budget (at least 2 steps)."""
    usable = max(0.0, left - budget.reserve)
    steps = max(2, int(rate / cfg.batch * usable * budget.margin))
    every = max(1, steps // budget.validations)
    return replace(
        cfg,
        steps=steps,
        val_every=every,
        checkpoint_every=every,
        log_every=max(1, min(50, steps // 10)),
        max_minutes=max(usable, 1.0) / 60,
    )


def train_within(
    cfg: TrainConfig, budget: Budget, progress: Progress | None = None, ctx: Context | None = None
) -> tuple[Path, TrainConfig, float]:
    """Train `cfg` inside `budget.seconds` of wall time, the probe included (how the shipped
    weights were trained on lent GPUs). The probe runs in OUT/probe; the images are loaded
    once for both (or come in `ctx`). Returns the best checkpoint, the sized config and the
    probe's rate (patches per second, its second half)."""
    started = time.time()
    ctx = ctx or prepare(cfg)
    probe_dir = Path(cfg.out) / "probe"
    probe = replace(
        cfg,
        out=str(probe_dir),
        steps=budget.probe_steps,
        val_every=10**9,
        checkpoint_every=10**9,
        log_every=max(1, budget.probe_steps // 3),
        max_minutes=None,
        resume=None,
    )
    run(probe, ctx)
    rate = patch_rate(probe_dir / "log.jsonl", cfg.batch, since=-2)
    sized = sized_schedule(cfg, rate, budget.seconds - (time.time() - started), budget)
    return run(sized, ctx, progress), sized, rate
