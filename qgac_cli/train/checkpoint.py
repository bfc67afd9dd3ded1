"""Checkpoints of a run: last.pt (everything needed to resume exactly), best.pt and final.pt
(shippable: the EMA weights and the metadata the model card's ledger reads)."""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from pathlib import Path

import torch

from qgac_cli import weights
from qgac_cli.data import PatchBank
from qgac_cli.train.config import TrainConfig
from qgac_cli.train.step import Parts

OWN = ("validation", "headline", "eval", "name", "note")  # what describes one checkpoint only


def run_metadata(cfg: TrainConfig, inherited: dict, train_images: int, world: int, bf16: bool) -> dict:
    """What every checkpoint of this run says of its training, over what its init said."""
    meta = {
        **{k: v for k, v in inherited.items() if k not in OWN},
        "stage": cfg.stage,
        "preset": cfg.preset if not cfg.init else inherited.get("preset", cfg.preset),
        "data": [Path(d).name for d in cfg.data],
        "train_images": train_images,
        "patterns": cfg.patterns,  # generated pattern images beside them
        "patch": cfg.patch,
        "batch": cfg.batch * world,
        "precision": "bf16" if bf16 else "fp32",
    }
    if cfg.stage == "gan":  # what the GAN weights were trained to trade against PSNR
        meta.update(adv_weight=cfg.adv_weight, texture_weight=cfg.texture_weight)
    return meta


def _rng_state(bank: PatchBank) -> dict:
    return {
        "torch": torch.get_rng_state(),
        "bank": bank.get_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_state(state: dict, bank: PatchBank) -> None:
    torch.set_rng_state(state["torch"])
    bank.set_state(state["bank"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Checkpoints:
    """Writes a run's checkpoints into its output folder, atomically."""

    def __init__(self, out: Path, meta: dict, device: torch.device, started: float) -> None:
        """`started`: when the run began (time.time()), the clock of its log too."""
        self.out, self.meta, self.device, self.started = out, meta, device, started
        self.steps_before = int(meta.get("total_steps", 0))
        self.seconds_before = float(meta.get("total_seconds", 0.0))

    def metadata(self, step: int) -> dict:
        return {
            **self.meta,
            "steps": step,
            "total_steps": self.steps_before + step,
            "total_seconds": self.seconds_before + time.time() - self.started,
            "device": str(self.device),
        }

    def has_best(self) -> bool:
        return (self.out / "best.pt").exists()

    def save_best(self, parts: Parts, step: int, scores: dict[str, float]) -> None:
        weights.save(parts.model, self.out / "best.pt", {**self.metadata(step), "validation": scores}, parts.ema.state)

    def save_final(self, parts: Parts, step: int) -> None:
        weights.save(parts.model, self.out / "final.pt", self.metadata(step), parts.ema.state)

    def save_resume(self, parts: Parts, bank: PatchBank, cfg: TrainConfig, step: int, best: float) -> None:
        state = {
            "model": parts.model.state_dict(),
            "ema": parts.ema.state,
            "optimizer": parts.optimizer.state_dict(),
            "scheduler": parts.scheduler.state_dict(),
            "step": step,
            "best": best,
            "rng": _rng_state(bank),
            "config": asdict(cfg),
        }
        if parts.disc_module is not None:
            state["disc"] = parts.disc_module.state_dict()
            state["d_opt"] = parts.d_opt.state_dict()
        tmp = self.out / "last.pt.tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.out / "last.pt")


def resume(path: str, parts: Parts, bank: PatchBank) -> tuple[int, float]:
    """Restore a run from its last.pt into `parts` and `bank`: (step, best score)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    parts.model.load_state_dict(state["model"])
    parts.ema.load(state["ema"])
    parts.optimizer.load_state_dict(state["optimizer"])
    parts.scheduler.load_state_dict(state["scheduler"])
    if parts.disc_module is not None and "disc" in state:
        parts.disc_module.load_state_dict(state["disc"])
        parts.d_opt.load_state_dict(state["d_opt"])
    _set_rng_state(state["rng"], bank)
    return state["step"], state["best"]
