"""Fit the luma-guided chroma refinement to trained weights and write them with it.

    python tools/fit_chroma_refine.py WEIGHTS OUT DATA_DIR... [--batches 200] [--steps 3000]
        [--scale NAME=N ...] [--also OTHER=OUT ...] [--projected] [--seed 0]

The networks stay frozen; only the refinement's small MLP is fitted (qgac_cli.train.refine).
`--also` writes other weights (a GAN fine-tune of the same networks) with the same refinement.
Every 25th image (the trainer's hold-out) is left out. A folder whose photos carry colour
flattened by a JPEG past or by their camera's processing is brought by area to the scale at
which its colour is real (issue #31's colour test: the PSNR of Cb/Cr against a 2x round trip
falls to a real photo's at these scales), or with `--scale auto` each photo by its own audit
(`qgac_cli.train.audit`, `tools/audit_pool.py`):

    python tools/fit_chroma_refine.py large runs/large-refine.pt data/train/* \\
        --scale sunhays80=3 --scale realsr=3 --scale bsds500-trainval=2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from qgac_cli import weights
from qgac_cli.data import PatchBank
from qgac_cli.train.colour_data import COLOUR_PATCHES, load_pool
from qgac_cli.train.refine import draw_samples, fit, mse, with_refine


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Fit the chroma refinement to trained weights.")
    parser.add_argument("weights")
    parser.add_argument("out")
    parser.add_argument("data", nargs="+")
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument(
        "--scale",
        action="append",
        default=[],
        help="FOLDER=N: shrink that folder's photos N times; auto: each photo by its audit",
    )
    parser.add_argument("--also", action="append", default=[], help="OTHER=OUT: OTHER weights with this refinement")
    parser.add_argument("--holdout-every", type=int, default=25)
    parser.add_argument(
        "--projected",
        action="store_true",
        help="count the error after the exact projection onto the stored chroma (as restoring returns it)",
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse()
    auto = args.scale == ["auto"]
    scales = {} if auto else {k: int(v) for k, v in (s.split("=", 1) for s in args.scale)}
    path = weights.resolve(args.weights)
    checkpoint = weights.read(path)
    model = weights.build(checkpoint, str(path))
    pool = load_pool(args.data, scales, args.holdout_every, auto)
    bank = PatchBank(pool, COLOUR_PATCHES, seed=args.seed)
    start = time.time()
    data = draw_samples(model, bank, args.batches, args.batch)
    print(f"{len(pool)} photos; {args.batches} x {args.batch} patches restored in {time.time() - start:.0f} s")
    refine = fit(data, steps=args.steps, seed=args.seed, projected=args.projected)
    before, after = mse(None, data, args.projected), mse(refine, data, args.projected)
    print(f"chroma MSE on the fitted patches: {before:.3f} -> {after:.3f} ({time.time() - start:.0f} s in all)")
    note = {
        "refine": {
            "data": [Path(d).name for d in args.data],
            "scales": "auto (qgac_cli.train.audit)" if auto else scales,
            "batches": args.batches,
            "batch": args.batch,
            "steps": args.steps,
            "projected": args.projected,
            "mse_before": round(before, 4),
            "mse_after": round(after, 4),
        }
    }
    refined = with_refine(checkpoint, refine, note)
    weights.save(weights.build(refined, args.out), args.out, refined.metadata)
    print(f"wrote {args.out}")
    for pair in args.also:
        other, out = pair.split("=", 1)
        carried = with_refine(
            weights.read(weights.resolve(other)), refine, {"refine": {**note["refine"], "fitted_to": args.weights}}
        )
        weights.save(weights.build(carried, out), out, carried.metadata)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
