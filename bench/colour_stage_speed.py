"""Patches a second through the colour stage (Y frozen), with and without the kept Y.

    python bench/colour_stage_speed.py [--weights large] [--threads 1] [--steps 20] [--kinds efficient:48:6,stored:64:6]

Without the kept Y each step runs the frozen Y network forward and then the colour network
forward and backward (what a colour stage through the whole model costs); with it
(`qgac_cli.train.colour_stage`), the colour network alone. Batches of 16 patches of 128²,
4:2:0, mixed qualities; generated patches (speed does not depend on the content). Each colour
network is new (from scratch) with the weights' Y network; the shipped colour network is the
weights' own (`own`).
"""

from __future__ import annotations

import argparse
import time

import torch

from qgac_cli import weights
from qgac_cli.model import QGAC
from qgac_cli.model.networks import NetConfig, count_parameters
from qgac_cli.train.colour_stage import colour, restore_batch, with_new_colour


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="large")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--kinds", default="own,stored:64:6")
    return parser.parse_args()


def _model(base: QGAC, kind: str) -> QGAC:
    if kind == "own":
        return base
    name, channels, blocks = kind.split(":")
    return with_new_colour(base, NetConfig(kind=name, channels=int(channels), blocks=int(blocks)))


def _step(model: QGAC, optimizer, sample) -> None:
    loss = ((colour(model, sample) - sample.truth.float()) ** 2).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def timed(model: QGAC, batches: list[torch.Tensor], kept: bool) -> float:
    """Patches a second over the batches (the first, a warm-up, not counted)."""
    optimizer = torch.optim.Adam(model.color_net.parameters(), lr=1e-5)
    qualities = torch.arange(16) * 6 + 5
    samples = [restore_batch(model, rgb, qualities, (2, 2)) for rgb in batches[:1]] if kept else []
    begun = None
    for i, rgb in enumerate(batches):
        if i == 1:
            begun = time.perf_counter()
        sample = samples[0] if kept else restore_batch(model, rgb, qualities, (2, 2))
        model.train()
        _step(model, optimizer, sample)
    return 16 * (len(batches) - 1) / (time.perf_counter() - begun)


def main() -> None:
    args = parse()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    base = weights.load(args.weights)
    batches = [torch.rand(16, 3, 128, 128) for _ in range(args.steps + 1)]
    print(f"colour stage behind `{args.weights}`'s frozen Y, {args.threads} thread(s); patches of 128² a second")
    print(f"{'colour network':<28} {'parameters':>10} {'through Y':>10} {'Y kept':>8} {'ratio':>6}")
    for kind in args.kinds.split(","):
        model = _model(base, kind)
        slow, fast = timed(model, batches, False), timed(model, batches, True)
        label = f"{kind} ({model.config.color.kind})"
        print(f"{label:<28} {count_parameters(model.color_net):>10} {slow:>10.1f} {fast:>8.1f} {fast / slow:>5.1f}x")


if __name__ == "__main__":
    main()
