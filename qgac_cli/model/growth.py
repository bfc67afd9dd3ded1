"""Growing a trained network into a larger one that restores exactly as it did.

Growth adds residual blocks to the efficient networks' stages (Y encode / decode, colour
body). Every new block starts as the identity: its last convolution is zero, so the
grown model's output equals the original's bit for bit before any training, and every
training minute goes to improvement rather than relearning. The new block's first
convolution keeps its random initialization, so gradients reach both layers from the first
step (the zero layer gets a gradient from the random one's activations, and the random
one receives gradients as soon as the zero layer moves).

Blocks are appended at the end of each stage, so the original blocks keep their keys
(`y_net.encode.0...`) and their weights load unchanged.
"""

from __future__ import annotations

from dataclasses import fields

import torch
from torch import nn

from qgac_cli.model.networks import QGAC, ModelConfig, NetConfig

# The stages that grow, per network role: attribute names of nn.Sequential of ResidualBlock.
GROWING_STAGES = {"y": ("encode", "decode"), "color": ("body",)}


def check_growable(small: NetConfig, large: NetConfig, role: str) -> None:
    """Raise ValueError unless `large` differs from `small` only by more (or as many) blocks."""
    if small.kind != "efficient" or large.kind != "efficient":
        raise ValueError(f"{role} network: only efficient networks grow (got {small.kind} -> {large.kind})")
    changed = [
        f.name for f in fields(NetConfig) if f.name != "blocks" and getattr(small, f.name) != getattr(large, f.name)
    ]
    if changed:
        raise ValueError(f"{role} network: growth adds blocks only; {', '.join(changed)} differ")
    if large.blocks < small.blocks:
        raise ValueError(f"{role} network: cannot shrink from {small.blocks} to {large.blocks} blocks")


def _silence(block: nn.Module) -> None:
    """Zero the last convolution of a ResidualBlock: the block becomes the identity."""
    last = block.body[-1]
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)


def grow(model: QGAC, target: ModelConfig, seed: int = 0) -> QGAC:
    """A new QGAC of config `target`, holding `model`'s weights, whose new blocks start as the
    identity (same outputs as `model`). Raises ValueError for an impossible growth."""
    check_growable(model.config.y, target.y, "y")
    check_growable(model.config.color, target.color, "color")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        grown = QGAC(target)
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    if unexpected:
        raise ValueError(f"weights that the grown model lacks: {unexpected[:3]}")
    for role, net in (("y", grown.y_net), ("color", grown.color_net)):
        old_blocks = getattr(model.config, role).blocks
        for stage in GROWING_STAGES[role]:
            for block in list(getattr(net, stage))[old_blocks:]:
                _silence(block)
    prefixes = tuple(
        f"{role}_net.{stage}.{i}."
        for role in GROWING_STAGES
        for stage in GROWING_STAGES[role]
        for i in range(getattr(model.config, role).blocks, getattr(target, role).blocks)
    )
    unexplained = [k for k in missing if not k.startswith(prefixes)]
    if unexplained:
        raise ValueError(f"weights the original model lacks: {unexplained[:3]}")
    return grown.train(model.training)
