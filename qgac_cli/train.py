"""Staged training (paper §3.4): Y network, then colour with Y frozen, then a GAN fine-tune
(stage "joint" fine-tunes both networks together with the regression loss).

Runs on one CPU, one GPU, or data-parallel under torchrun (NCCL on GPUs, gloo on CPUs).
Writes into its output folder: last.pt (everything needed to resume exactly), best.pt and
final.pt (shippable checkpoints holding the EMA weights), log.jsonl and curve.png.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from qgac_cli import dct, weights
from qgac_cli.coefficients import Planes, chroma_at_luma_grid, color_samples, samples, to_pixels
from qgac_cli.data import PatchBank, PatchConfig, compress, list_images, load_rgb, tables_for
from qgac_cli.devices import pick_device, pick_dtype
from qgac_cli.errors import UsageError
from qgac_cli.metrics import psnr, ssim
from qgac_cli.model import QGAC, preset
from qgac_cli.model.discriminator import Discriminator, gram
from qgac_cli.model.growth import grow, growth_target
from qgac_cli.model.presets import PRESETS
from qgac_cli.restoration import restore_planes

STAGES = ("y", "color", "joint", "gan")


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
    resume: str | None = None
    overwrite: bool = False  # start afresh in an --out that holds an earlier run
    validation: tuple[str, ...] = ()
    holdout_every: int = 25  # without --validation: every N-th training image is held out
    steps: int = 10_000
    batch: int = 32
    patch: int = 128
    lr: float = 1e-3
    lr_min: float = 1e-6
    warmup: int = 200
    ema: float = 0.999
    clip: float = 1.0
    loss: str = "l1"  # regression loss: l1 (the paper's), l2, or psnr (each patch's dB alike)
    ssim_weight: float = 0.05
    adv_weight: float = 5e-3
    texture_weight: float = 1.0
    val_every: int = 500
    checkpoint_every: int = 500
    log_every: int = 50
    max_minutes: float | None = None
    device: str = "auto"
    threads: int | None = None
    seed: int = 0
    val_qualities: tuple[int, ...] = (10, 50, 90)  # validation crops' qualities; best = their mean gain


# --------------------------------------------------------------------------- helpers


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine from lr to lr_min."""
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    progress = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return (cfg.lr_min + (cfg.lr - cfg.lr_min) * 0.5 * (1 + math.cos(math.pi * progress))) / cfg.lr


def split_images(cfg: TrainConfig) -> tuple[list[Path], list[Path]]:
    images = list_images(list(cfg.data))
    if not images:
        raise UsageError(f"no images found in {', '.join(cfg.data)}")
    if cfg.validation:
        return images, list_images(list(cfg.validation))
    held = images[:: cfg.holdout_every]
    return [p for p in images if p not in set(held)], held


def coefficient_statistics(bank: PatchBank, count: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frequency mean and std (2, 64) of luma and chroma DCT coefficients of patches."""
    rgb = bank.patches(count).float() / 255.0
    ycbcr = dct.rgb_to_ycbcr(rgb) - 128.0
    rows = []
    for planes in (ycbcr[:, :1], ycbcr[:, 1:].flatten(0, 1).unsqueeze(1)):
        blocks = dct.block_dct(dct.to_blocks(planes))  # (N, 64, h, w)
        rows.append(blocks.transpose(0, 1).reshape(64, -1))
    mean = torch.stack([r.mean(1) for r in rows])
    std = torch.stack([r.std(1) for r in rows]).clamp_min(1.0)
    return mean, std


def validation_set(
    paths: list[Path], qualities: tuple[int, ...] = (10, 50, 90), size: int = 256
) -> list[tuple[int, Planes, torch.Tensor]]:
    """Centre crops of held-out images, 4:2:0-compressed in torch: (quality, planes, target).

    Compressed with the training pipeline's own encoder so training needs no codec library;
    `qgac eval` scores real libjpeg files.
    """
    items = []
    for path in paths:
        rgb = load_rgb(path)
        h, w = rgb.shape[:2]
        s = min(size, h // 16 * 16, w // 16 * 16)
        top, left = (h - s) // 2, (w - s) // 2
        crop = np.ascontiguousarray(rgb[top : top + s, left : left + s])
        target = torch.from_numpy(crop).permute(2, 0, 1).unsqueeze(0).float() / 255.0
        for q in qualities:
            y_table, c_table = tables_for([q], "cpu")
            items.append((q, compress(target, y_table, c_table, (2, 2)), target))
    return items


@torch.no_grad()
def validate(model: QGAC, items, device: torch.device) -> dict[str, float]:
    """Mean PSNR gain over the JPEG decode per quality on the validation crops."""
    gains: dict[int, list[float]] = {}
    model.eval()
    for q, planes, target in items:
        planes = planes.to(device)
        target = target.to(device)
        restored = restore_planes(model, planes, project=True).pixels
        jpeg = to_pixels(planes)
        gains.setdefault(q, []).append(float(psnr(restored, target) - psnr(jpeg, target)))
    return {f"gain_q{q}": float(np.mean(v)) for q, v in gains.items()}


class EMA:
    """Exponential moving average of a model's floating-point state."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        current = model.state_dict()
        floats = [k for k, v in current.items() if v.is_floating_point()]
        # one fused call, not one kernel per tensor (hundreds of launches a step on a GPU)
        torch._foreach_lerp_([self.state[k] for k in floats], [current[k].detach() for k in floats], 1 - decay)
        for k, v in current.items():
            if not v.is_floating_point():
                self.state[k].copy_(v)


# --------------------------------------------------------------------------- losses


def psnr_loss(restored: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over patches of 10·log10(MSE): minimizing it maximizes the mean PSNR.

    L2 over the batch weighs a patch by its squared error, so the q10 patches (errors ~50×
    those at q90) drive the gradient and the high qualities are neglected; here every patch
    counts by its decibels, as `qgac eval` averages them. The floor (1e-8, 80 dB) keeps a
    perfect patch finite.
    """
    mse = (restored - target).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(mse + 1e-8).mean()


PIXEL_LOSSES = {"l1": F.l1_loss, "l2": F.mse_loss, "psnr": psnr_loss}


def pixel_loss(restored: torch.Tensor, target: torch.Tensor, ssim_weight: float, norm: str = "l1") -> torch.Tensor:
    """L1, L2 or −PSNR, − ssim_weight · SSIM, in pixel space; the SSIM term is skipped at weight 0."""
    loss = PIXEL_LOSSES[norm](restored, target)
    return loss - ssim_weight * ssim(restored, target).mean() if ssim_weight else loss


class StageLoss(nn.Module):
    """The generator side of one stage: patches in, (loss, restored pixels) out."""

    def __init__(self, model: QGAC, stage: str, cfg: TrainConfig, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.model, self.stage, self.cfg, self.dtype = model, stage, cfg, dtype

    def forward(self, planes: Planes, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The networks run in `dtype` (autocast); normalization, pixels and loss in fp32."""
        model, dtype = self.model, self.dtype
        if self.stage == "y":
            y = model.restore_y(planes.y, planes.y_table, dtype)
            restored = (samples(y, clamp=False) / 255.0)[..., : planes.height, : planes.width]
            target_y = dct.rgb_to_ycbcr(target)[:, :1] / 255.0
            return pixel_loss(restored, target_y, self.cfg.ssim_weight, self.cfg.loss), restored
        if self.stage == "color":
            with torch.no_grad():
                y = model.restore_y(planes.y, planes.y_table, dtype)
        else:
            y = model.restore_y(planes.y, planes.y_table, dtype)
        chroma = model.restore_color(chroma_at_luma_grid(planes), y, planes.c_table, planes.y_table, dtype)
        restored = to_pixels(planes, y=y, color=color_samples(chroma, clamp=False), clamp=False)
        return pixel_loss(restored, target, self.cfg.ssim_weight, self.cfg.loss), restored


def relativistic_losses(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Relativistic average GAN: (discriminator loss, generator loss) from logits."""
    bce = F.binary_cross_entropy_with_logits
    d_real, d_fake = real - fake.mean(), fake - real.mean()
    d_loss = (bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))) / 2
    g_loss = (bce(d_real, torch.zeros_like(d_real)) + bce(d_fake, torch.ones_like(d_fake))) / 2
    return d_loss, g_loss


def texture_loss(fake_features: list[torch.Tensor], real_features: list[torch.Tensor]) -> torch.Tensor:
    """Gram-matrix (style) distance on the discriminator's features: our stand-in for the
    paper's MINC texture loss, which needs a pretrained network we cannot ship."""
    return sum(F.l1_loss(gram(f), gram(r.detach())) for f, r in zip(fake_features, real_features))


# --------------------------------------------------------------------------- the loop


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    rank = dist.get_rank() if dist.is_initialized() else 0
    return rank, world


def _prepare_model(cfg: TrainConfig, bank: PatchBank) -> tuple[QGAC, dict]:
    if cfg.stage != "y" and not cfg.init:
        raise UsageError(f"stage {cfg.stage} starts from trained weights: give --init")
    if cfg.init:
        ckpt = weights.read(weights.resolve(cfg.init))
        model = weights.build(ckpt, cfg.init).train()
        metadata = dict(ckpt.metadata)
        if cfg.grow:
            try:
                model = grow(model, growth_target(cfg.grow, model.config), seed=cfg.seed)
            except ValueError as e:
                raise UsageError(f"cannot grow {cfg.init} into {cfg.grow}: {e}") from None
            before = metadata.get("preset", "?")
            named = cfg.grow if cfg.grow in PRESETS else f"{before}+{cfg.grow}"
            metadata.update(preset=named, grown_from=before)
        return model, metadata
    if cfg.grow:
        raise UsageError("--grow needs trained weights to grow: give --init")
    config = preset(cfg.preset)
    if cfg.generator:
        config = replace(
            config,
            y=replace(config.y, generator=cfg.generator),
            color=replace(config.color, generator=cfg.generator),
        )
    model = QGAC(config)
    mean, std = coefficient_statistics(bank)
    model.mean.copy_(mean)
    model.std.copy_(std)
    return model, {}


def _trainable(model: QGAC, stage: str) -> list[nn.Parameter]:
    both = [model.y_net, model.color_net]
    nets = {"y": [model.y_net], "color": [model.color_net], "joint": both, "gan": both}[stage]
    for p in model.parameters():
        p.requires_grad_(False)
    params = [p for net in nets for p in net.parameters()]
    for p in params:
        p.requires_grad_(True)
    return params


def _rng_state(bank: PatchBank) -> dict:
    return {
        "torch": torch.get_rng_state(),
        "bank": list(bank.rng.getstate()),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_state(state: dict, bank: PatchBank) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["bank"]
    bank.rng.setstate((version, tuple(internal), gauss))
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def read_log(log_path: Path) -> list[dict]:
    """The records of a training log (log.jsonl): training records carry "loss", validation
    records "gain_q*"."""
    return [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]


def patch_rate(log_path: Path, batch: int, since: int = 0) -> float:
    """Patches per second between training record `since` (an index, negative from the end)
    and the last one: the rate after warm-up, without the start-up in it."""
    records = [r for r in read_log(log_path) if "loss" in r]
    a, b = records[since], records[-1]
    return (b["step"] - a["step"]) * batch / (b["elapsed_s"] - a["elapsed_s"])


def plot_curve(log_path: Path, png_path: Path) -> None:
    """Training loss and validation gains against steps, as a PNG (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    records = read_log(log_path)
    train = [r for r in records if "loss" in r]
    val = [r for r in records if any(k.startswith("gain_") for k in r)]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot([r["step"] for r in train], [r["loss"] for r in train])
    a.set_xlabel("step"), a.set_ylabel("training loss"), a.set_title("loss")
    for key in sorted({k for r in val for k in r if k.startswith("gain_")}):
        b.plot([r["step"] for r in val], [r[key] for r in val], marker="o", label=key)
    b.set_xlabel("step"), b.set_ylabel("PSNR gain over JPEG (dB)"), b.set_title("validation")
    b.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)
    plt.close(fig)


def train(cfg: TrainConfig, progress: Callable[[int, int, dict | None], None] | None = None) -> Path:
    """Run one stage; returns the path of the best checkpoint. `progress` hears of every step
    (step, steps, the training record where one was logged, else None)."""
    if cfg.stage not in STAGES:
        raise UsageError(f"unknown stage {cfg.stage!r}; choose one of {', '.join(STAGES)}")
    if cfg.loss not in PIXEL_LOSSES:
        raise UsageError(f"unknown loss {cfg.loss!r}; choose one of {', '.join(PIXEL_LOSSES)}")
    rank, world = _distributed()
    device = pick_device(cfg.device)
    dtype = pick_dtype(cfg.precision, device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed + rank)
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

    train_paths, val_paths = split_images(cfg)
    bank = PatchBank([load_rgb(p) for p in train_paths], PatchConfig(size=cfg.patch), seed=cfg.seed + rank)
    model, metadata = _prepare_model(cfg, bank)
    if world > 1:  # every rank must start from identical weights and statistics
        for t in model.state_dict().values():
            dist.broadcast(t, 0)
    model.to(device)
    params = _trainable(model, cfg.stage)
    gen = StageLoss(model, cfg.stage, cfg, dtype)
    gen_ddp = nn.parallel.DistributedDataParallel(gen) if world > 1 else gen
    optimizer = torch.optim.Adam(params, lr=cfg.lr, betas=(0.9, 0.99))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg))
    disc = d_opt = None
    if cfg.stage == "gan":
        disc = Discriminator().to(device)
        d_opt = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
        if world > 1:
            disc = nn.parallel.DistributedDataParallel(disc)
    ema = EMA(model, cfg.ema)
    step, best = 0, -float("inf")
    if cfg.resume:
        state = torch.load(cfg.resume, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        ema.state = {k: v.to(device) for k, v in state["ema"].items()}
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if disc is not None and "disc" in state:
            (disc.module if world > 1 else disc).load_state_dict(state["disc"])
            d_opt.load_state_dict(state["d_opt"])
        step, best = state["step"], state["best"]
        _set_rng_state(state["rng"], bank)
    val_items = validation_set(val_paths[:12], cfg.val_qualities) if rank == 0 else []
    log_path = out / "log.jsonl"
    own = ("validation", "headline", "eval", "name", "note")  # what describes one checkpoint only
    inherited = {k: v for k, v in metadata.items() if k not in own}
    meta = {
        **inherited,
        "stage": cfg.stage,
        "preset": cfg.preset if not cfg.init else metadata.get("preset", cfg.preset),
        "data": [Path(d).name for d in cfg.data],
        "train_images": len(train_paths),
        "patch": cfg.patch,
        "batch": cfg.batch * world,
        "precision": "bf16" if dtype is not None else "fp32",
    }
    if cfg.stage == "gan":  # what the GAN weights were trained to trade against PSNR
        meta.update(adv_weight=cfg.adv_weight, texture_weight=cfg.texture_weight)
    steps_before = int(metadata.get("total_steps", 0))
    started, start_step = time.time(), step
    seconds_before = float(metadata.get("total_seconds", 0.0))

    def checkpoint_meta(current: int) -> dict:
        elapsed = time.time() - started
        return {
            **meta,
            "steps": current,
            "total_steps": steps_before + current,
            "total_seconds": seconds_before + elapsed,
            "device": str(device),
        }

    def save_resume(current: int) -> None:
        state = {
            "model": model.state_dict(),
            "ema": ema.state,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "step": current,
            "best": best,
            "rng": _rng_state(bank),
            "config": asdict(cfg),
        }
        if disc is not None:
            state["disc"] = (disc.module if world > 1 else disc).state_dict()
            state["d_opt"] = d_opt.state_dict()
        tmp = out / "last.pt.tmp"
        torch.save(state, tmp)
        os.replace(tmp, out / "last.pt")

    if rank == 0 and cfg.init and step == 0:  # where a warm restart starts, for the ledger
        scores = validate(model, val_items, device)
        model.train()
        with log_path.open("a") as f:
            f.write(json.dumps({"step": 0, **scores}) + "\n")
    deadline = started + cfg.max_minutes * 60 if cfg.max_minutes is not None else None
    running: list[torch.Tensor] = []  # the loss of each step since the last record, on the device
    model.train()
    while step < cfg.steps:
        patches = bank.patches(cfg.batch)
        if device.type == "cuda":  # pinned, the copy is asynchronous: the next batch is cut while the GPU works
            patches = patches.pin_memory()
        rgb = patches.to(device, non_blocking=True).float() / 255.0
        y_table, c_table = tables_for(bank.qualities(cfg.batch), device)
        planes = compress(rgb, y_table, c_table, bank.factor())
        loss, restored = gen_ddp(planes, rgb)
        if disc is not None:
            real_logits, real_features = disc(rgb)
            fake_logits, fake_features = disc(restored)
            _, g_adv = relativistic_losses(real_logits, fake_logits)
            loss = loss + cfg.adv_weight * g_adv + cfg.texture_weight * texture_loss(fake_features, real_features)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.clip)
        optimizer.step()
        scheduler.step()
        if disc is not None:
            real_logits, _ = disc(rgb)
            fake_logits, _ = disc(restored.detach())
            d_loss, _ = relativistic_losses(real_logits, fake_logits)
            d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            d_opt.step()
        ema.update(model, step)
        step += 1
        running.append(loss.detach())  # no float() here: it would wait for the GPU every step
        finishing = step >= cfg.steps or (deadline is not None and time.time() > deadline)
        if rank == 0 and (step % cfg.log_every == 0 or finishing):  # a short run logs its loss too
            rate = (step - start_step) * cfg.batch * world / (time.time() - started)
            record = {
                "step": step,
                "loss": float(torch.stack(running).mean()),
                "lr": scheduler.get_last_lr()[0],
                "patches_per_s": rate,
                "elapsed_s": time.time() - started,
            }
            running.clear()
            with log_path.open("a") as f:
                f.write(json.dumps(record) + "\n")
            if progress:
                progress(step, cfg.steps, record)
        elif rank == 0 and progress:
            progress(step, cfg.steps, None)
        if rank == 0 and (step % cfg.val_every == 0 or finishing):
            ema_model = copy.deepcopy(model)
            ema_model.load_state_dict(ema.state)
            scores = validate(ema_model, val_items, device)
            model.train()
            record = {"step": step, **scores}
            with log_path.open("a") as f:
                f.write(json.dumps(record) + "\n")
            score = float(np.mean(list(scores.values()))) if scores else -float("inf")
            if score > best or not (out / "best.pt").exists():
                best = score
                weights.save(model, out / "best.pt", {**checkpoint_meta(step), "validation": scores}, ema.state)
            plot_curve(log_path, out / "curve.png")
        if rank == 0 and (step % cfg.checkpoint_every == 0 or finishing):
            save_resume(step)
            weights.save(model, out / "final.pt", checkpoint_meta(step), ema.state)
        if finishing:
            break
    if world > 1:
        dist.barrier()
    return out / "best.pt"


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
    cfg: TrainConfig, budget: Budget, progress: Callable[[int, int, dict | None], None] | None = None
) -> tuple[Path, TrainConfig, float]:
    """Train `cfg` inside `budget.seconds` of wall time, the probe included (how the shipped
    weights were trained on lent GPUs). The probe runs in OUT/probe. Returns the best
    checkpoint, the sized config and the probe's rate (patches per second, its second half)."""
    started = time.time()
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
    train(probe)
    rate = patch_rate(probe_dir / "log.jsonl", cfg.batch, since=-2)
    sized = sized_schedule(cfg, rate, budget.seconds - (time.time() - started), budget)
    return train(sized, progress), sized, rate
