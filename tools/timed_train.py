"""Train one stage for a fixed wall-clock budget (how the shipped weights were trained on a
lent GPU): a short probe measures throughput, the cosine schedule is then sized to end
inside the budget.

    python tools/timed_train.py STAGE SECONDS INIT|- LR BATCH OUT DATA_DIR...

Example (the shipped `base`, on one H100):
    python tools/timed_train.py y 470 - 4e-4 96 runs/y data/train/*
    python tools/timed_train.py color 240 runs/y/best.pt 4e-4 96 runs/color data/train/*
    python tools/timed_train.py joint 270 runs/color/best.pt 1e-4 96 runs/joint data/train/*
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from qgac_cli.train import TrainConfig, patch_rate, train


def main() -> None:
    stage, seconds, init, lr, batch, out, *data = sys.argv[1:]
    seconds, lr, batch = float(seconds), float(lr), int(batch)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    common = dict(
        stage=stage,
        data=tuple(data),
        preset="base",
        init=None if init == "-" else init,
        batch=batch,
        patch=128,
        lr=lr,
        warmup=100 if init != "-" else 300,
    )
    started = time.time()
    probe_dir = Path(out) / "probe"
    train(TrainConfig(out=str(probe_dir), steps=120, val_every=10**9, checkpoint_every=10**9, log_every=20, **common))
    rate = patch_rate(probe_dir / "log.jsonl", batch, since=-2)
    left = seconds - (time.time() - started)
    steps = int(rate / batch * (left - 25) * 0.85)
    print(f"probe: {rate:.0f} patches/s; training {steps} steps in {left:.0f} s", flush=True)
    cfg = TrainConfig(
        out=out,
        steps=steps,
        val_every=max(steps // 8, 50),
        checkpoint_every=max(steps // 4, 50),
        log_every=50,
        max_minutes=left / 60,
        **common,
    )
    best = train(cfg, progress=lambda s, n, r: print(s, n, r, flush=True) if s % 500 == 0 else None)
    print(best)


if __name__ == "__main__":
    main()
