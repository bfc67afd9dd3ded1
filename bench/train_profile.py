"""Where a training step's time goes: the torch profiler over a few steps of one
configuration, after a warm-up; per phase of the step (the labels of `train_step`: batch,
forward, backward, optimizer, ema) and the operators that take the most time.

    python bench/train_profile.py TRAIN_DIR... [--init large] [--stage joint] [--batch 16]
        [--patch 128] [--steps 4] [--precision fp32] [--channels-last] [--compile inductor]
        [--device auto] [--threads 2]

On a GPU the device times are CUDA kernel times and the host times show whether the host
keeps up (host time per step above the device's: the GPU waits on Python and launches).
"""

from __future__ import annotations

import argparse
import time

from common import print_table
from torch.profiler import ProfilerActivity, profile

PHASES = ("batch", "forward", "backward", "optimizer", "discriminator", "ema")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+")
    parser.add_argument("--init", default="large")
    parser.add_argument("--preset", default="base")
    parser.add_argument("--stage", default="joint")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", default="", help="a torch.compile backend (inductor); eager without")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()

    from qgac_cli.train import TrainConfig, prepare, train_step
    from qgac_cli.train.loop import start
    from qgac_cli.train.sweep import synchronize

    cfg = TrainConfig(
        stage=args.stage, data=tuple(args.data), out="unused", preset=args.preset, init=args.init or None,
        batch=args.batch, patch=args.patch, precision=args.precision, channels_last=args.channels_last,
        compile=args.compile, device=args.device, threads=args.threads, holdout_every=10**9,
    )  # fmt: skip
    ctx = prepare(cfg)
    bank, parts, _ = start(cfg, ctx)
    cuda = ctx.device.type == "cuda"
    started = time.perf_counter()
    for step in range(args.warmup):
        train_step(parts, bank, cfg, step)
    synchronize(ctx.device)
    warm_s = time.perf_counter() - started
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        begun = time.perf_counter()
        for step in range(args.warmup, args.warmup + args.steps):
            train_step(parts, bank, cfg, step)
        synchronize(ctx.device)
        wall = (time.perf_counter() - begun) / args.steps
    events = {e.key: e for e in prof.key_averages()}
    rows = []
    for phase in PHASES:
        if phase in events:
            e = events[phase]
            device_us = e.device_time_total if cuda else 0.0
            rows.append([phase, f"{e.cpu_time_total / 1e3 / args.steps:.1f}", f"{device_us / 1e3 / args.steps:.1f}"])
    title = (
        f"{args.init or args.preset} {cfg.stage}, {args.batch} x {args.patch}², {args.precision}"
        f"{', channels-last' if args.channels_last else ''}{', compiled' if args.compile else ''} on {ctx.device}: "
        f"{wall * 1e3:.1f} ms a step (profiled), {args.batch / wall:.1f} patches/s; warm-up {warm_s:.1f} s"
    )
    print_table(title, ["phase", "host ms/step", "device ms/step"], rows)
    key = "self_device_time_total" if cuda else "self_cpu_time_total"
    ops = [e for e in prof.key_averages() if e.key not in PHASES and not e.key.startswith("ProfilerStep")]
    ops.sort(key=lambda e: getattr(e, key), reverse=True)
    total = sum(getattr(e, key) for e in ops) or 1.0
    top = []
    for e in ops[: args.top]:
        us = getattr(e, key)
        top.append([e.key[:48], e.count // args.steps, f"{us / 1e3 / args.steps:.1f}", f"{us / total:.0%}"])
    print_table("operators by self time", ["operator", "calls/step", "ms/step", "share"], top)


if __name__ == "__main__":
    main()
