"""The lease plan's trainer: on a lent GPU, sweep the training configurations for the
fastest (≤ SWEEP seconds), then train it to the end of its budget, in one process that
loads the images once.

    python tools/gpu_lease.py SECONDS OUT DATA_DIR... [--validation DIR] [--init large]
        [--grow SPEC] [--lr 1e-4] [--sweep-seconds 45] [--reuse-sweep OUT_EARLIER/sweep.json]
        [--compile inductor|none] [--patterns N] [--device auto]

Writes OUT/sweep.json (each candidate's rate, warm-up and error; the choice), and the run in
OUT/run (best.pt, final.pt, last.pt, log.jsonl, curve.png). The schedule is a cosine sized
from the chosen candidate's measured rate to end inside SECONDS, counted from this program's
start; its peak learning rate is --lr scaled by the square root of the step's pixels over
the last runs' (128² x 256), for steps larger than theirs. With --reuse-sweep (a second call
on the warm machine) the sweep is skipped and its choice taken. Compilation is tried on the
winner when enough time is left, its compile time counted (`train.sweep.worth_compiling`)."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from qgac_cli.train import Budget, TrainConfig, prepare, run, sized_schedule
from qgac_cli.train.sweep import Candidate, Measurement, fastest, measure, sweep, worth_compiling

# On a GPU: the last runs' configuration first (fp32/TF32, 128² x 256: the baseline of the
# ratio), then bf16 channels-last (cuDNN's fast bf16 layout) at the patch and batch sizes that
# fill an H200 (256² patches: a 32 x 32 block grid), then bf16 in the plain layout
GPU_CANDIDATES = [
    Candidate(128, 256, "fp32"),
    Candidate(128, 512, "bf16", channels_last=True),
    Candidate(256, 128, "bf16", channels_last=True),
    Candidate(128, 256, "bf16", channels_last=True),
    Candidate(128, 1024, "bf16", channels_last=True),
    Candidate(256, 64, "bf16", channels_last=True),
    Candidate(128, 256, "bf16"),
]
BASE_PIXELS = 128 * 128 * 256  # a step of the runs that set the learning rates (1e-4 / 5e-5)
# A dry run on a CPU: small and quick, the same code
CPU_CANDIDATES = [Candidate(64, 8, "fp32"), Candidate(64, 8, "fp32", channels_last=True), Candidate(96, 4, "fp32")]
COMPILE_MIN_SECONDS = 240  # left after the sweep, below which compiling is not tried


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seconds", type=float)
    parser.add_argument("out", type=Path)
    parser.add_argument("data", nargs="+")
    parser.add_argument("--validation", action="append", default=[])
    parser.add_argument("--init", default="large")
    parser.add_argument("--grow", default=None)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument(
        "--low-quality-share",
        type=float,
        default=0.3,
        help="share of patches from the lower half of the qualities (0.3: where photos live, as `fast` was trained)",
    )
    parser.add_argument("--sweep-seconds", type=float, default=45.0)
    parser.add_argument("--reuse-sweep", type=Path, default=None)
    parser.add_argument("--compile", default="inductor", help="the backend tried on the winner; none: eager only")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--reserve", type=float, default=15.0, help="seconds kept for the last validation and saving")
    parser.add_argument(
        "--patterns", type=int, default=0, help="generated regular patterns added to the training images"
    )
    return parser.parse_args()


def choose(cfg: TrainConfig, ctx, args: argparse.Namespace, deadline: float) -> tuple[Measurement, list[Measurement]]:
    """The sweep (or the earlier one's choice) and, where time allows, the winner compiled."""
    if args.reuse_sweep:
        earlier = json.loads(args.reuse_sweep.read_text())["chosen"]
        chosen = Measurement(Candidate(**earlier["candidate"]), earlier["patches_per_s"], earlier["first_s"])
        return chosen, []
    candidates = GPU_CANDIDATES if ctx.device.type == "cuda" else CPU_CANDIDATES
    measured = sweep(cfg, ctx, candidates, args.sweep_seconds)
    for m in measured:
        print(line(m))
    best = fastest(measured)
    left = deadline - time.time()
    if args.compile != "none" and left > COMPILE_MIN_SECONDS:
        compiled = measure(cfg, ctx, replace(best.candidate, compile=args.compile))
        measured.append(compiled)
        print(line(compiled))
        if worth_compiling(best, compiled, deadline - time.time()):
            best = compiled
    return best, measured


def line(m: Measurement) -> str:
    rate = f"{m.patches128_per_s:9.0f} patches of 128²/s"
    return f"sweep {m.candidate.label():40s} {rate}  warm-up {m.first_s:5.1f} s {m.error}"


def record(m: Measurement) -> dict:
    return {**asdict(m), "label": m.candidate.label(), "patches128_per_s": m.patches128_per_s}


def main() -> None:
    started = time.time()
    args = parse()
    deadline = started + args.seconds
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    args.out.mkdir(parents=True, exist_ok=True)
    cfg = TrainConfig(
        stage="joint", data=tuple(args.data), out=str(args.out / "run"), init=args.init, grow=args.grow,
        validation=tuple(args.validation), lr=args.lr, warmup=100, loss="l1", ssim_weight=0.05,
        device=args.device, overwrite=True, patterns=args.patterns, low_quality_share=args.low_quality_share,
    )  # fmt: skip
    ctx = prepare(cfg)
    loaded = time.time() - started
    print(f"{len(ctx.train_paths)} training images, {len(ctx.val_paths)} held out; loaded in {loaded:.1f} s")
    chosen, measured = choose(cfg, ctx, args, deadline)
    (args.out / "sweep.json").write_text(
        json.dumps({"chosen": record(chosen), "measured": [record(m) for m in measured]}, indent=1)
    )
    print(f"chosen: {chosen.candidate.label()}, {chosen.patches128_per_s:.0f} patches of 128²/s")
    chosen_cfg = chosen.candidate.apply(cfg)
    # a bigger step averages more pixels: the learning rate grows with the square root
    pixels = chosen_cfg.batch * chosen_cfg.patch**2
    chosen_cfg = replace(chosen_cfg, lr=cfg.lr * (pixels / BASE_PIXELS) ** 0.5 if pixels > BASE_PIXELS else cfg.lr)
    print(f"peak lr {chosen_cfg.lr:.3g} for {chosen_cfg.batch} x {chosen_cfg.patch}²")
    left = deadline - time.time()
    sized = sized_schedule(
        chosen_cfg, chosen.patches_per_s, left, Budget(seconds=left, margin=0.95, reserve=args.reserve)
    )
    print(f"training {sized.steps} steps of {sized.batch} x {sized.patch}² in {left:.0f} s")
    run(sized, ctx)
    print(f"done in {time.time() - started:.0f} s of {args.seconds:.0f}")


if __name__ == "__main__":
    main()
