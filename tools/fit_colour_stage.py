"""Train a colour network behind the frozen Y network of trained weights (issue #31).

    python tools/fit_colour_stage.py WEIGHTS OUT DATA_DIR... [--kind efficient|stored]
        [--channels C] [--blocks N] [--minutes 45] [--batches 800] [--cache FILE]
        [--threads T] [--lr 3e-4] [--through-refine] [--projected] [--seed 0]
        [--low-quality-share 0.3]

With `--kind` the colour network is new (from scratch, that shape); without it, WEIGHTS' own
colour network is trained further (a warm restart). The restored Y of `--batches` x 16
patches of 128² is computed once (qgac_cli.train.colour_stage) and kept in `--cache` where
given (another run on the same pool, weights and seed reuses it), and every step trains the
colour network alone. Folders are shrunk to real colour as for the refinement
(`POOL_SCALES`); the hold-out (every 25th photo) gives the chroma gains printed every 500
steps. OUT has no refinement where the colour network is new (fit one after:
tools/fit_chroma_refine.py).

    python tools/fit_colour_stage.py large runs/stored.pt data/train/* --kind stored \\
        --channels 64 --blocks 6 --cache runs/colour-cache.pt
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch

from qgac_cli import weights
from qgac_cli.data import PatchBank
from qgac_cli.model import QGAC
from qgac_cli.model.networks import NetConfig, count_parameters
from qgac_cli.train.colour_data import COLOUR_PATCHES, POOL_SCALES, load_pool
from qgac_cli.train.colour_stage import ColourFit, draw_samples, fit, gains, with_new_colour


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train a colour network behind a frozen Y network.")
    parser.add_argument("weights")
    parser.add_argument("out")
    parser.add_argument("data", nargs="+")
    parser.add_argument("--kind", choices=["efficient", "stored"], help="a new colour network of this kind")
    parser.add_argument("--channels", type=int, default=48)
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--minutes", type=float, default=ColourFit.minutes)
    parser.add_argument("--lr", type=float, default=ColourFit.lr)
    parser.add_argument("--batches", type=int, default=800)
    parser.add_argument("--holdout-batches", type=int, default=60)
    parser.add_argument("--cache", help="where the kept batches are saved, or read from if there")
    parser.add_argument("--threads", type=int, default=0, help="torch's threads (0: as it chooses)")
    parser.add_argument("--holdout-every", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--through-refine", action="store_true", help="the loss after the weights' refinement")
    parser.add_argument(
        "--projected", action="store_true", help="the loss and gains after the exact projection onto the stored chroma"
    )
    parser.add_argument(
        "--low-quality-share",
        type=float,
        default=COLOUR_PATCHES.low_quality_share,
        help="share of patches from the lower half of the qualities (the rest drawn evenly over them all)",
    )
    return parser.parse_args()


def kept_batches(model: QGAC, args: argparse.Namespace):
    if args.cache and Path(args.cache).is_file():
        return torch.load(args.cache, weights_only=False)
    pools = [load_pool(args.data, POOL_SCALES, args.holdout_every, holdout=h) for h in (False, True)]
    patches = dataclasses.replace(COLOUR_PATCHES, low_quality_share=args.low_quality_share)
    banks = [PatchBank(pool, patches, seed=args.seed + 7 * h) for h, pool in enumerate(pools)]
    found = tuple(draw_samples(model, bank, n, 16) for bank, n in zip(banks, (args.batches, args.holdout_batches)))
    if args.cache:
        torch.save(found, args.cache)
    return found


def _line(found: dict[str, float]) -> str:
    return " ".join(f"{k} {v:+.3f}" for k, v in found.items())


def main() -> None:
    args = parse()
    if args.threads:
        torch.set_num_threads(args.threads)
    path = weights.resolve(args.weights)
    checkpoint = weights.read(path)
    model = weights.build(checkpoint, str(path)).eval()
    begun = time.time()
    data, held = kept_batches(model, args)
    print(f"{len(data)} + {len(held)} kept batches in {time.time() - begun:.0f} s", flush=True)
    if args.kind:
        model = with_new_colour(model, NetConfig(kind=args.kind, channels=args.channels, blocks=args.blocks), args.seed)
    print(f"colour network: {model.config.color} ({count_parameters(model.color_net)} parameters)", flush=True)
    refined, projected = args.through_refine, args.projected
    print(f"held-out chroma dB at the start: {_line(gains(model, held, refined, projected))}", flush=True)

    def report(step: int, loss: float, net: QGAC) -> None:
        found = _line(gains(net, held, refined, projected))
        print(f"step {step}: loss {loss:.3f}; held-out chroma dB {found}", flush=True)

    config = ColourFit(args.lr, args.minutes, seed=args.seed, refined=refined, projected=projected)
    model = fit(model, data, config, report)
    found = gains(model, held, refined, projected)
    print(f"held-out chroma PSNR gained (dB): {_line(found)} ({time.time() - begun:.0f} s in all)")
    note = {
        "colour_stage": {
            "from": args.weights,
            "new_colour": bool(args.kind),
            "data": [Path(d).name for d in args.data],
            "batches": len(data),
            "minutes": args.minutes,
            "through_refine": refined,
            "projected": projected,
            "low_quality_share": args.low_quality_share,
            "held_out_chroma_db": {k: round(v, 3) for k, v in found.items()},
        }
    }
    weights.save(model, args.out, {**checkpoint.metadata, **note})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
