"""Fit the luma-guided chroma refinement to trained weights and write them with it.

    python tools/fit_chroma_refine.py WEIGHTS OUT DATA_DIR... [--batches 200] [--steps 3000]
        [--scale NAME=N ...] [--also OTHER=OUT ...] [--seed 0]

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

import numpy as np

from qgac_cli import weights
from qgac_cli.data import PatchBank, PatchConfig, list_images, load_rgb
from qgac_cli.train.audit import real_colour_scale, shrink
from qgac_cli.train.refine import draw_samples, fit, mse, with_refine

# what users hold: more high quality and 4:2:0 than the networks' training drew
PATCHES = PatchConfig(
    size=128,
    qualities=(5, 100),
    low_quality_bias=0.3,
    subsampling_weights=(((2, 2), 0.7), ((1, 1), 0.15), ((1, 2), 0.15)),
    grey_share=0.02,
    faded_share=0.03,
)


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
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def load_pool(folders: list[str], scales: dict[str, int], holdout_every: int, auto: bool = False) -> list[np.ndarray]:
    """The training photos without the hold-out, each shrunk by its folder's scale, or with
    `auto` by its own least scale to real colour (`qgac_cli.train.audit`; a photo that never
    reaches it is left out)."""
    images = []
    for i, path in enumerate(list_images(folders)):
        if holdout_every and i % holdout_every == 0:
            continue
        rgb = load_rgb(path)
        if auto:
            found = real_colour_scale(rgb)
            if found.real:
                images.append(shrink(rgb, found.scale))
        else:
            images.append(shrink(rgb, scales.get(path.parent.name, 1)))
    return images


def main() -> None:
    args = parse()
    auto = args.scale == ["auto"]
    scales = {} if auto else {k: int(v) for k, v in (s.split("=", 1) for s in args.scale)}
    path = weights.resolve(args.weights)
    checkpoint = weights.read(path)
    model = weights.build(checkpoint, str(path))
    pool = load_pool(args.data, scales, args.holdout_every, auto)
    bank = PatchBank(pool, PATCHES, seed=args.seed)
    start = time.time()
    data = draw_samples(model, bank, args.batches, args.batch)
    print(f"{len(pool)} photos; {args.batches} x {args.batch} patches restored in {time.time() - start:.0f} s")
    refine = fit(data, steps=args.steps, seed=args.seed)
    before, after = mse(None, data), mse(refine, data)
    print(f"chroma MSE on the fitted patches: {before:.3f} -> {after:.3f} ({time.time() - start:.0f} s in all)")
    note = {
        "refine": {
            "data": [Path(d).name for d in args.data],
            "scales": "auto (qgac_cli.train.audit)" if auto else scales,
            "batches": args.batches,
            "batch": args.batch,
            "steps": args.steps,
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
