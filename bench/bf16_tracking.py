"""Does bf16 training track fp32? Two runs from the same start, seed and patches, one in
fp32 and one in bf16 autocast, their validation curves side by side.

    python bench/bf16_tracking.py TRAIN_DIR... [--preset small] [--steps 300] [--every 100]
        [--init base --grow large] [--threads 2] [--device auto]

Prints, per validation step, the training loss of both runs (the mean since the last
record) and the PSNR gain over the JPEG at q10 and q50 of both runs and
their difference, and each run's wall time. The held-out images are every 25th of the data.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import print_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--init", default=None)
    parser.add_argument("--grow", default=None)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=4e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    from qgac_cli.train import TrainConfig, read_log, train

    curves, losses, seconds = {}, {}, {}
    for precision in ("fp32", "bf16"):
        with tempfile.TemporaryDirectory() as out:
            cfg = TrainConfig(
                stage="joint" if args.init else "y",
                data=tuple(args.data),
                out=out,
                preset=args.preset,
                init=args.init,
                grow=args.grow,
                precision=precision,
                steps=args.steps,
                batch=args.batch,
                patch=args.patch,
                lr=args.lr,
                warmup=min(100, args.steps // 5),
                val_every=args.every,
                checkpoint_every=10**9,
                log_every=args.every,
                threads=args.threads,
                device=args.device,
            )
            start = time.perf_counter()
            train(cfg)
            seconds[precision] = time.perf_counter() - start
            records = read_log(Path(out) / "log.jsonl")
            losses[precision] = {r["step"]: r["loss"] for r in records if "loss" in r}
            curves[precision] = {r["step"]: r for r in records if "gain_q10" in r}
    rows = []
    for step in sorted(curves["fp32"]):
        a, b = curves["fp32"][step], curves["bf16"].get(step)
        if b is None:
            continue
        loss_a, loss_b = losses["fp32"].get(step, float("nan")), losses["bf16"].get(step, float("nan"))
        rows.append(
            [
                step,
                f"{loss_a:.5f} / {loss_b:.5f} ({(loss_b - loss_a) / loss_a:+.2%})",
                f"{a['gain_q10']:+.4f} / {a['gain_q50']:+.4f}",
                f"{b['gain_q10']:+.4f} / {b['gain_q50']:+.4f}",
                f"{b['gain_q10'] - a['gain_q10']:+.4f} / {b['gain_q50'] - a['gain_q50']:+.4f}",
            ]
        )
    what = f"{args.init} grown into {args.grow}" if args.grow else (args.init or f"{args.preset} from scratch")
    print_table(
        f"validation gain q10 / q50 (dB), {what}; fp32 {seconds['fp32']:.0f} s, bf16 {seconds['bf16']:.0f} s",
        ["step", "training loss fp32 / bf16", "fp32", "bf16", "bf16 - fp32"],
        rows,
    )


if __name__ == "__main__":
    main()
