"""Training throughput (patches per second) of the efficient presets on this machine.

    python bench/train_speed.py TRAIN_DIR [--steps 40] [--threads 2] [--device auto]

Patches are compressed on the training device itself (no encoder in the loop); the rate is
measured after a warm-up, from the training log, for each preset in the same run: stage y
from scratch for both efficient presets, and stage joint (both networks, RGB loss) from the
shipped `base` weights.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import print_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    from qgac_cli.train import TrainConfig, patch_rate, train

    rows = []
    for preset, stage, init in (("small", "y", None), ("base", "y", None), ("base", "joint", "base")):
        with tempfile.TemporaryDirectory() as out:
            cfg = TrainConfig(
                stage=stage,
                init=init,
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
        rows.append([preset, stage, f"{args.patch}x{args.patch}", args.batch, f"{rate:.1f}"])
    print_table(
        f"training throughput ({args.device}, {args.threads} threads)",
        ["preset", "stage", "patch", "batch", "patches/s"],
        rows,
    )


if __name__ == "__main__":
    main()
