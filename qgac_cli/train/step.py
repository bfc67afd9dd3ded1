"""One training step and what it works on: the networks, the optimizer and its schedule,
the EMA weights and, for the GAN stage, the discriminator.

A step draws its patches on the training device, compresses them there, runs the stage's
loss and updates the weights without waiting for the device: no host copy, no `.item()`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.profiler import record_function

from qgac_cli import weights
from qgac_cli.data import PatchBank, compress, tables_at
from qgac_cli.model import QGAC
from qgac_cli.model.discriminator import Discriminator
from qgac_cli.restore import dct
from qgac_cli.restore.coefficients import Planes
from qgac_cli.restore.restoration import restore_planes
from qgac_cli.train.config import TrainConfig, lr_factor
from qgac_cli.train.losses import pixel_loss, relativistic_losses, texture_loss


class StageLoss(nn.Module):
    """The generator side of one stage: patches in, (loss, restored pixels) out."""

    def __init__(
        self,
        model: QGAC,
        stage: str,
        cfg: TrainConfig,
        dtype: torch.dtype | None = None,
        teacher: QGAC | None = None,
    ) -> None:
        super().__init__()
        self.model, self.stage, self.cfg, self.dtype = model, stage, cfg, dtype
        self.pixel_loss = torch.compile(pixel_loss, backend=cfg.compile) if cfg.compile else pixel_loss
        self.teacher = teacher  # in eval mode, frozen: it runs without autograd

    def forward(self, planes: Planes, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The networks run in `dtype` (autocast); normalization, pixels and loss in fp32. The
        path is the restoring one (`restore_planes`), unclamped, and unprojected unless the
        config asks for the projection (`projected`: the error of what restoring returns,
        no gradient where the projection clamps); the Y stage runs it on the luma alone and
        scores the luma; with a teacher, against the truth and the teacher's restored luma,
        weighted by `teacher_weight` (knowledge distillation)."""
        if self.stage == "y":
            luma = replace(planes, chroma=None, c_table=None)
            restored = restore_planes(
                self.model, luma, project=self.cfg.projected, dtype=self.dtype, clamp=False
            ).pixels
            target = dct.rgb_to_ycbcr(target)[:, :1] / 255.0
            if self.teacher is not None:
                return self._distilled(luma, restored, target), restored
        else:
            restored = restore_planes(
                self.model,
                planes,
                project=self.cfg.projected,
                dtype=self.dtype,
                clamp=False,
                frozen_y=self.stage == "color",
            ).pixels
        return self.pixel_loss(restored, target, self.cfg.ssim_weight, self.cfg.loss), restored

    def _distilled(self, luma: Planes, restored: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
        """(1 - w) x the loss against the truth + w x the loss against the teacher's luma."""
        cfg = self.cfg
        with torch.no_grad():
            taught = restore_planes(self.teacher, luma, project=cfg.projected, dtype=self.dtype, clamp=False).pixels
        to_truth, to_teacher = (self.pixel_loss(restored, t, cfg.ssim_weight, cfg.loss) for t in (truth, taught))
        return (1 - cfg.teacher_weight) * to_truth + cfg.teacher_weight * to_teacher


class EMA:
    """Exponential moving average of a model's floating-point state, updated by one fused
    call over tensors paired once (not one kernel per tensor: hundreds of launches a step)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        live = model.state_dict()  # detached views of the model's own tensors
        self.state = {k: v.detach().clone() for k, v in live.items()}
        floats = [k for k, v in live.items() if v.is_floating_point()]
        self._averages, self._live = [self.state[k] for k in floats], [live[k] for k in floats]
        self._others = [(self.state[k], v) for k, v in live.items() if not v.is_floating_point()]

    @torch.no_grad()
    def update(self, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        torch._foreach_lerp_(self._averages, self._live, 1 - decay)
        for mine, theirs in self._others:
            mine.copy_(theirs)

    @torch.no_grad()
    def load(self, state: dict[str, torch.Tensor]) -> None:
        """Take the averages of a saved run (in place: the pairing stays)."""
        for k, v in state.items():
            self.state[k].copy_(v)


def trainable(model: QGAC, stage: str) -> list[nn.Parameter]:
    """Freeze what the stage does not train; the parameters it does."""
    both = [model.y_net, model.color_net]
    nets = {"y": [model.y_net], "color": [model.color_net], "joint": both, "gan": both}[stage]
    for p in model.parameters():
        p.requires_grad_(False)
    params = [p for net in nets for p in net.parameters()]
    for p in params:
        p.requires_grad_(True)
    return params


# the devices whose Adam torch fuses into one kernel (the CPU's since torch 2.4)
FUSED_ADAM = ("cuda", "cpu") if tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 4) else ("cuda",)


def adam(params, lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam with the fused kernel where torch has one for the device."""
    return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.99), fused=device.type in FUSED_ADAM)


@dataclass
class Parts:
    """What a step updates. `loss` is the stage's loss module as the step calls it
    (data-parallel or plain); `disc` likewise, `disc_module` the bare discriminator."""

    model: QGAC
    params: list[nn.Parameter]
    loss: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    ema: EMA
    disc: nn.Module | None = None
    disc_module: Discriminator | None = None
    d_opt: torch.optim.Optimizer | None = None


def build_parts(model: QGAC, cfg: TrainConfig, device: torch.device, dtype: torch.dtype | None, world: int) -> Parts:
    """Move `model` to the device (channels-last if asked) and build what trains it."""
    layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model.to(device, memory_format=layout)
    model.layout = layout
    params = trainable(model, cfg.stage)
    if cfg.compile:  # each network alone: its inputs are on the luma grid whatever the chroma
        # subsampling, so one graph serves every batch; the JPEG maths between stays eager
        model.y_net.compile(backend=cfg.compile)
        model.color_net.compile(backend=cfg.compile)
    teacher = weights.load(cfg.teacher).to(device).requires_grad_(False) if cfg.teacher else None
    loss: nn.Module = StageLoss(model, cfg.stage, cfg, dtype, teacher)
    if world > 1:
        loss = nn.parallel.DistributedDataParallel(loss)
    optimizer = adam(params, cfg.lr, device)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg))
    parts = Parts(model, params, loss, optimizer, scheduler, EMA(model, cfg.ema))
    if cfg.stage == "gan":
        parts.disc_module = Discriminator().to(device)
        parts.d_opt = adam(parts.disc_module.parameters(), cfg.lr, device)
        parts.disc = nn.parallel.DistributedDataParallel(parts.disc_module) if world > 1 else parts.disc_module
    return parts


def draw_batch(bank: PatchBank, batch: int) -> tuple[Planes, torch.Tensor]:
    """Patches (B, 3, P, P) in [0, 1] and their JPEG planes at random qualities, all made on
    the bank's device."""
    rgb = bank.patches(batch).float() / 255.0
    y_table, c_table = tables_at(bank.qualities(batch))
    return compress(rgb, y_table, c_table, bank.factor()), rgb


def train_step(parts: Parts, bank: PatchBank, cfg: TrainConfig, step: int) -> torch.Tensor:
    """One update of the generator (and of the discriminator in the GAN stage) and of the EMA
    weights; the loss, detached, still on the device. Its phases are labelled for the torch
    profiler (bench/train_profile.py)."""
    with record_function("batch"):
        planes, rgb = draw_batch(bank, cfg.batch)
    with record_function("forward"):
        loss, restored = parts.loss(planes, rgb)
        if parts.disc is not None:
            real_logits, real_features = parts.disc(rgb)
            fake_logits, fake_features = parts.disc(restored)
            _, g_adv = relativistic_losses(real_logits, fake_logits)
            loss = loss + cfg.adv_weight * g_adv + cfg.texture_weight * texture_loss(fake_features, real_features)
    with record_function("backward"):
        parts.optimizer.zero_grad(set_to_none=True)
        loss.backward()
    with record_function("optimizer"):
        torch.nn.utils.clip_grad_norm_(parts.params, cfg.clip, foreach=True)
        parts.optimizer.step()
        parts.scheduler.step()
    if parts.disc is not None:
        with record_function("discriminator"):
            discriminator_step(parts, rgb, restored.detach())
    with record_function("ema"):
        parts.ema.update(step)
    return loss.detach()


def discriminator_step(parts: Parts, real: torch.Tensor, fake: torch.Tensor) -> None:
    real_logits, _ = parts.disc(real)
    fake_logits, _ = parts.disc(fake)
    d_loss, _ = relativistic_losses(real_logits, fake_logits)
    parts.d_opt.zero_grad(set_to_none=True)
    d_loss.backward()
    parts.d_opt.step()
