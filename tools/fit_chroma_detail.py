"""Train the colour detail network behind trained weights and write them with it.

    python tools/fit_chroma_detail.py WEIGHTS OUT DATA_DIR... [--channels 24] [--layers 2]
        [--minutes 45] [--batches 1200] [--scale NAME=N ...] [--also OTHER=OUT ...]
        [--start WEIGHTS_WITH_DETAIL] [--seed 0]

Everything before the detail network (the networks, the refinement) stays frozen; its outputs
on `--batches` x 16 patches of 128² are computed once and kept (2.6 MB a batch: 3.1 GB for
1 200), then the network is trained on them for `--minutes` (qgac_cli.train.detail). The
hold-out (every 25th photo of the pool) gives the gains printed every 1 000 steps. Folders
are shrunk to real colour as for the refinement (default: the shared pool's `POOL_SCALES`).
`--start` continues from the detail network of other weights (a warm restart). `--also`
writes other weights (a GAN fine-tune of the same networks) with the same detail network.

    python tools/fit_chroma_detail.py large runs/large-detail.pt data/train/* --minutes 60
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from qgac_cli import weights
from qgac_cli.data import PatchBank
from qgac_cli.train.colour_data import COLOUR_PATCHES, POOL_SCALES, load_pool
from qgac_cli.train.detail import DetailFit, draw_samples, fit, gains, with_detail


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train the colour detail network behind trained weights.")
    parser.add_argument("weights")
    parser.add_argument("out")
    parser.add_argument("data", nargs="+")
    parser.add_argument("--channels", type=int, default=DetailFit.channels)
    parser.add_argument("--layers", type=int, default=DetailFit.layers)
    parser.add_argument("--minutes", type=float, default=DetailFit.minutes)
    parser.add_argument("--lr", type=float, default=DetailFit.lr)
    parser.add_argument("--batches", type=int, default=1200)
    parser.add_argument("--holdout-batches", type=int, default=60)
    parser.add_argument("--scale", action="append", default=None, help="FOLDER=N: shrink that folder's photos N times")
    parser.add_argument("--start", help="weights whose detail network to continue from")
    parser.add_argument("--also", action="append", default=[], help="OTHER=OUT: OTHER weights with this network")
    parser.add_argument("--holdout-every", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def _line(found: dict[str, float]) -> str:
    return " ".join(f"{k} {v:+.3f}" for k, v in found.items())


def main() -> None:
    args = parse()
    scales = POOL_SCALES if args.scale is None else {k: int(v) for k, v in (s.split("=", 1) for s in args.scale)}
    path = weights.resolve(args.weights)
    checkpoint = weights.read(path)
    model = weights.build(checkpoint, str(path)).eval()
    model.detail = None  # the samples are what comes before it
    begun = time.time()
    pools = [load_pool(args.data, scales, args.holdout_every, holdout=h) for h in (False, True)]
    banks = [PatchBank(pool, COLOUR_PATCHES, seed=args.seed + 7 * h) for h, pool in enumerate(pools)]
    data, held = (draw_samples(model, bank, n, 16) for bank, n in zip(banks, (args.batches, args.holdout_batches)))
    print(f"{len(pools[0])} + {len(pools[1])} held-out photos; patches restored in {time.time() - begun:.0f} s")
    start = None
    if args.start:
        start = weights.build(weights.read(weights.resolve(args.start)), args.start).detail
    config = DetailFit(args.channels, args.layers, args.lr, args.minutes, seed=args.seed)

    def report(step: int, loss: float, net) -> None:
        print(f"step {step}: loss {loss:.3f}; held-out chroma dB {_line(gains(net.eval(), held))}", flush=True)
        net.train()

    detail = fit(data, config, start, report)
    found = gains(detail, held)
    print(f"held-out chroma PSNR gained (dB): {_line(found)} ({time.time() - begun:.0f} s in all)")
    note = {
        "detail": {
            "data": [Path(d).name for d in args.data],
            "scales": scales,
            "batches": args.batches,
            "minutes": args.minutes,
            "warm_start": args.start,
            "held_out_chroma_db": {k: round(v, 3) for k, v in found.items()},
        }
    }
    for source, out, extra in [(checkpoint, args.out, {}), *_others(args.also, args.weights)]:
        written = with_detail(source, detail, {**note, **extra})
        weights.save(weights.build(written, out), out, written.metadata)
        print(f"wrote {out}")


def _others(pairs: list[str], fitted_to: str):
    for pair in pairs:
        other, out = pair.split("=", 1)
        yield weights.read(weights.resolve(other)), out, {"detail_fitted_to": fitted_to}


if __name__ == "__main__":
    main()
