"""The training log (log.jsonl): one JSON record a line. Training records carry "loss",
validation records "gain_q*"; this module writes them, reads them back and plots them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import torch

Progress = Callable[[int, int, "dict | None"], None]  # (step, steps, the record logged at it or None)


def read_log(log_path: Path) -> list[dict]:
    """The records of a training log, in order."""
    return [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]


def patch_rate(log_path: Path, batch: int, since: int = 0) -> float:
    """Patches per second between training record `since` (an index, negative from the end)
    and the last one: the rate after warm-up, without the start-up in it."""
    records = [r for r in read_log(log_path) if "loss" in r]
    a, b = records[since], records[-1]
    return (b["step"] - a["step"]) * batch / (b["elapsed_s"] - a["elapsed_s"])


class TrainLog:
    """Appends records to log.jsonl and keeps the losses of the steps since the last training
    record on the device, so that a step never waits for the GPU to report its loss."""

    def __init__(self, path: Path, patches_per_step: int, start_step: int) -> None:
        self.path, self.patches_per_step, self.start_step = path, patches_per_step, start_step
        self.started = time.time()
        self.losses: list[torch.Tensor] = []

    def elapsed(self) -> float:
        return time.time() - self.started

    def add(self, loss: torch.Tensor) -> None:
        self.losses.append(loss)  # no float() here: it would wait for the GPU every step

    def write(self, record: dict) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def training_record(self, step: int, lr: float) -> dict:
        """The mean loss since the last record, the rate since the run started; written."""
        elapsed = self.elapsed()
        record = {
            "step": step,
            "loss": float(torch.stack(self.losses).mean()),  # the one wait for the device
            "lr": lr,
            "patches_per_s": (step - self.start_step) * self.patches_per_step / max(elapsed, 1e-9),
            "elapsed_s": elapsed,
        }
        self.losses.clear()
        self.write(record)
        return record


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
