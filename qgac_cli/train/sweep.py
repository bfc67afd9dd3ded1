"""The fastest training configuration of a device, by measurement: a few steps of each
candidate (patch size, batch, precision, layout, compilation), timed after a warm-up with
the device synchronized at both ends; the one that moves the most pixels a second wins."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import torch

from qgac_cli.train.config import TrainConfig
from qgac_cli.train.loop import Context, start
from qgac_cli.train.step import train_step


@dataclass(frozen=True)
class Candidate:
    patch: int
    batch: int
    precision: str = "fp32"
    channels_last: bool = False
    compile: str = ""  # a torch.compile backend, "" for eager

    def apply(self, cfg: TrainConfig) -> TrainConfig:
        return replace(
            cfg,
            patch=self.patch,
            batch=self.batch,
            precision=self.precision,
            channels_last=self.channels_last,
            compile=self.compile,
        )

    def label(self) -> str:
        layout = " NHWC" if self.channels_last else ""
        compiled = f" compiled ({self.compile})" if self.compile else ""
        return f"{self.patch}² x {self.batch} {self.precision}{layout}{compiled}"


@dataclass(frozen=True)
class Measurement:
    candidate: Candidate
    patches_per_s: float  # 0 where it failed
    first_s: float  # the warm-up steps: cuDNN's choice of kernels, compilation
    error: str = ""

    @property
    def megapixels_per_s(self) -> float:
        return self.patches_per_s * self.candidate.patch**2 / 1e6

    @property
    def patches128_per_s(self) -> float:
        """The rate in patches of 128², the unit of the trainer's earlier runs."""
        return self.megapixels_per_s * 1e6 / 128**2


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU), so that a timer measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(cfg: TrainConfig, ctx: Context, candidate: Candidate, warmup: int = 3, steps: int = 5) -> Measurement:
    """Train `steps` steps of `cfg` under `candidate` after `warmup` untimed ones, from the
    weights `cfg` starts from. A candidate that fails (out of memory, a compiler error) is
    measured as 0 patches a second with its error, not raised."""
    run = candidate.apply(cfg)
    started = time.perf_counter()
    try:
        bank, parts, _ = start(run, ctx)
        for step in range(warmup):
            train_step(parts, bank, run, step)
        synchronize(ctx.device)
        begun = time.perf_counter()
        for step in range(warmup, warmup + steps):
            train_step(parts, bank, run, step)
        synchronize(ctx.device)
        seconds = time.perf_counter() - begun
    except (RuntimeError, ValueError) as e:  # out of memory and the compiler's errors are RuntimeErrors
        return Measurement(candidate, 0.0, time.perf_counter() - started, str(e).strip().splitlines()[0][:200])
    finally:
        if ctx.device.type == "cuda":
            torch.cuda.empty_cache()
    return Measurement(candidate, steps * run.batch / seconds, begun - started)


def sweep(
    cfg: TrainConfig, ctx: Context, candidates: list[Candidate], seconds: float, warmup: int = 3, steps: int = 5
) -> list[Measurement]:
    """Measure candidates in order until `seconds` have gone (the first is always measured)."""
    started, measured = time.perf_counter(), []
    for candidate in candidates:
        if measured and time.perf_counter() - started > seconds:
            break
        measured.append(measure(cfg, ctx, candidate, warmup, steps))
    return measured


def fastest(measured: list[Measurement]) -> Measurement:
    """The measurement that moves the most pixels a second; raises ValueError if all failed."""
    working = [m for m in measured if m.patches_per_s > 0]
    if not working:
        raise ValueError("every candidate failed: " + "; ".join(f"{m.candidate.label()}: {m.error}" for m in measured))
    return max(working, key=lambda m: m.megapixels_per_s)


def worth_compiling(eager: Measurement, compiled: Measurement, seconds_left: float) -> bool:
    """Whether the compiled run moves more pixels in the seconds left, its compile time (spent
    again, from the cache, when the run starts) counted against it."""
    if compiled.patches_per_s <= 0:
        return False
    return compiled.megapixels_per_s * max(0.0, seconds_left - compiled.first_s) > eager.megapixels_per_s * seconds_left
