"""Train one stage for a fixed wall-clock budget (how the shipped weights were trained on a
lent GPU): a short probe measures throughput, the cosine schedule is then sized to end
inside the budget.

    python tools/timed_train.py STAGE SECONDS OUT DATA_DIR... [--init W] [--grow PRESET]
        [--lr LR] [--batch B] [--precision auto|bf16|fp32] [--loss l1|l2] [--ssim-weight S]

Examples (on one H100):
    python tools/timed_train.py y 470 runs/y data/train/* --lr 4e-4 --batch 96
    python tools/timed_train.py joint 270 runs/joint data/train/* --init runs/color/best.pt --lr 1e-4
    python tools/timed_train.py joint 500 runs/large data/* --init base --grow large --batch 192
"""

from __future__ import annotations

import argparse

import torch

from qgac_cli.train import Budget, TrainConfig, train_within


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train one stage inside a wall-clock budget.")
    parser.add_argument("stage")
    parser.add_argument("seconds", type=float)
    parser.add_argument("out")
    parser.add_argument("data", nargs="+")
    parser.add_argument("--init", default=None)
    parser.add_argument("--grow", default=None)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch", type=int, default=96)
    parser.add_argument("--patch", type=int, default=128)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--loss", default="l1")
    parser.add_argument("--ssim-weight", type=float, default=0.05)
    parser.add_argument("--probe-steps", type=int, default=100)
    return parser.parse_args()


def main() -> None:
    args = parse()
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    common = dict(
        stage=args.stage,
        data=tuple(args.data),
        preset="base",
        init=args.init,
        grow=args.grow,
        batch=args.batch,
        patch=args.patch,
        lr=args.lr,
        warmup=100 if args.init else 300,
        precision=args.precision,
        loss=args.loss,
        ssim_weight=args.ssim_weight,
    )
    cfg = TrainConfig(out=args.out, **common)
    budget = Budget(args.seconds, probe_steps=args.probe_steps)
    # the probe still warms up (cuDNN autotuning): on the H100 it measured 3 150 patches/s
    # where the run went on at 3 600, hence the budget's margin of 0.95
    best, sized, rate = train_within(
        cfg, budget, progress=lambda s, n, r: print(s, n, r, flush=True) if s % 500 == 0 else None
    )
    print(f"probe: {rate:.0f} patches/s; trained a schedule of {sized.steps} steps", flush=True)
    print(best)


if __name__ == "__main__":
    main()
