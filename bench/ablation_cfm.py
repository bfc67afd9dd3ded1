"""Ablation of the table conditioning (the paper's CFM question, REFERENCE.md §1): the same
small network trained identically with kernels generated from the quantization table
(basis), with fixed kernels plus a table-dependent term (concat), and ignoring the table
(none); then scored with `qgac eval` conventions on an evaluation set.

    python bench/ablation_cfm.py TRAIN_DIR... --minutes 5 --eval-set ../shared/data/eval/live1

Each variant trains for the same wall time and the same seed; the table gives the PSNR gain
over the JPEG decode at each quality.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import print_table

GENERATORS = ("basis", "concat", "none")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+")
    parser.add_argument("--minutes", type=float, default=5.0, help="training time per variant")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--out", default="runs/ablation")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--eval-set", default=None, help="folder of reference images (skip to only train)")
    parser.add_argument("--quality", type=int, action="append", default=None)
    args = parser.parse_args()

    from qgac_cli.train import TrainConfig, train

    checkpoints = {}
    for generator in GENERATORS:
        out = Path(args.out) / generator
        cfg = TrainConfig(
            stage="y",
            data=tuple(args.data),
            out=str(out),
            preset=args.preset,
            generator=generator,
            steps=10**7,
            batch=args.batch,
            patch=96,
            lr=5e-4,
            warmup=100,
            val_every=10**9,
            checkpoint_every=10**9,
            max_minutes=args.minutes,
            device=args.device,
            seed=0,
        )
        checkpoints[generator] = train(cfg)
        print(f"trained {generator}: {checkpoints[generator]}", flush=True)
    if not args.eval_set:
        return
    from qgac_cli import weights
    from qgac_cli.evaluate.scoring import EvalConfig, evaluate

    qualities = tuple(args.quality or (10, 30, 50))
    models = {g: weights.load(p) for g, p in checkpoints.items()}
    records = evaluate(EvalConfig(datasets=(args.eval_set,), qualities=qualities), models)
    jpeg = {r["quality"]: r["psnr"] for r in records if r["method"] == "jpeg"}
    rows = []
    for g in GENERATORS:
        mine = {r["quality"]: r for r in records if r["method"] == g}
        steps = weights.read(checkpoints[g]).metadata.get("steps")
        rows.append([g, steps, *(f"{mine[q]['psnr'] - jpeg[q]:+.3f}" for q in qualities)])
    print_table(
        f"CFM ablation, {args.preset} preset, Y stage, {args.minutes:g} min each (PSNR gain over JPEG, dB)",
        ["conditioning", "steps", *(f"q{q}" for q in qualities)],
        rows,
    )


if __name__ == "__main__":
    main()
