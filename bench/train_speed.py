"""Training throughput (patches per second) of the efficient presets on this machine.

    python bench/train_speed.py TRAIN_DIR [--steps 40] [--threads 2] [--device auto]

Patches are compressed on the training device itself (no encoder in the loop); the rate is
measured after a warm-up, from the training log, for each preset in the same run: stage y
from scratch for both efficient presets, stage joint (both networks, RGB loss) from the
shipped `base` weights, and stage joint of `base` grown into `large`; each in fp32 and, on a
GPU or a CPU with AMX or AVX-512 BF16, in bf16 autocast side by side (elsewhere bf16 is
emulated, far slower, and skipped unless --bf16 always).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import print_table

from qgac_cli.devices import BF16_CPU_FLAGS, cpu_flags

RUNS = (  # preset, stage, init, grow
    ("small", "y", None, None),
    ("base", "y", None, None),
    ("base", "joint", "base", None),
    ("large", "joint", "base", "large"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--bf16",
        choices=["auto", "always"],
        default="auto",
        help="bf16 rows only where it runs natively (auto); emulated bf16 convolutions take minutes",
    )
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    from qgac_cli.train import TrainConfig, patch_rate, train

    rows = []
    native = bool(cpu_flags() & set(BF16_CPU_FLAGS)) or args.device.startswith("cuda")
    precisions = ("fp32", "bf16") if native or args.bf16 == "always" else ("fp32",)
    for (preset, stage, init, grow), precision in ((run, p) for run in RUNS for p in precisions):
        with tempfile.TemporaryDirectory() as out:
            cfg = TrainConfig(
                stage=stage,
                init=init,
                grow=grow,
                precision=precision,
                data=tuple(args.data),
                out=out,
                preset=preset,
                steps=args.steps,
                batch=args.batch,
                patch=args.patch,
                log_every=max(args.steps // 4, 1),
                val_every=10**9,
                checkpoint_every=10**9,
                threads=args.threads,
                device=args.device,
                holdout_every=10**9,
            )
            train(cfg)
            rate = patch_rate(Path(out) / "log.jsonl", args.batch)  # after the first quarter (warm-up)
        rows.append([preset, stage, precision, f"{args.patch}x{args.patch}", args.batch, f"{rate:.1f}"])
    fp32 = {tuple(r[:2]): float(r[-1]) for r in rows if r[2] == "fp32"}
    for r in rows:
        r.append(f"{float(r[-1]) / fp32[tuple(r[:2])]:.2f}x")
    print_table(
        f"training throughput ({args.device}, {args.threads} threads; bf16 native: {'yes' if native else 'no'})",
        ["preset", "stage", "precision", "patch", "batch", "patches/s", "vs fp32"],
        rows,
    )


if __name__ == "__main__":
    main()
