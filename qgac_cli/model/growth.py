"""Growing a trained network into a larger one that restores exactly as it did.

Two ways to grow the efficient networks, which combine:

- **Depth**: residual blocks appended to each stage (Y encode / decode, colour body). Every
  new block starts as the identity: its last convolution is zero, so it adds nothing before
  training. Its first convolution keeps its random initialization, so gradients reach both
  layers from the first step.
- **Width** (Net2Net-style): more channels in a network. The old weights keep their place
  (in concatenations such as the fusion's `[e, f, d]`, each piece keeps its place within its
  piece); the new channels are computed with fresh random weights, but every weight that
  carries a new channel into an old one is zero. The new channels are live from the first
  step, the old ones see none of them, and the network's output is unchanged until training
  moves those zero weights (which get gradients at once: their inputs are not zero).

Old parameters keep their keys (`y_net.encode.0...`), so the original weights load unchanged.
"""

from __future__ import annotations

from dataclasses import fields, replace

import torch
from torch import nn

from qgac_cli.model.layers import QuantConv
from qgac_cli.model.networks import QGAC, ModelConfig, NetConfig
from qgac_cli.model.presets import PRESETS

# The stages that grow, per network role: attribute names of nn.Sequential of ResidualBlock.
GROWING_STAGES = {"y": ("encode", "decode"), "color": ("body",)}
NETWORKS = {"y": "y_net", "color": "color_net"}
GROWING_FIELDS = ("blocks", "channels")


def check_growable(small: NetConfig, large: NetConfig, role: str) -> None:
    """Raise ValueError unless `large` differs from `small` only by more (or as many) blocks
    and channels."""
    if small.kind != "efficient" or large.kind != "efficient":
        raise ValueError(f"{role} network: only efficient networks grow (got {small.kind} -> {large.kind})")
    changed = [
        f.name
        for f in fields(NetConfig)
        if f.name not in GROWING_FIELDS and getattr(small, f.name) != getattr(large, f.name)
    ]
    if changed:
        raise ValueError(f"{role} network: growth adds blocks and channels only; {', '.join(changed)} differ")
    for name in GROWING_FIELDS:
        if getattr(large, name) < getattr(small, name):
            raise ValueError(
                f"{role} network: cannot shrink {name} from {getattr(small, name)} to {getattr(large, name)}"
            )
    if large.channels != small.channels and small.generator == "full":
        raise ValueError(f"{role} network: the full generator scales its kernels by their width; it cannot widen")


def growth_target(spec: str, current: ModelConfig) -> ModelConfig:
    """What `spec` grows `current` into: a preset name, or changes such as
    "y.channels=128,color.blocks=8" (role.field=whole number, comma-separated) applied to
    `current`. Raises ValueError for anything else (the growth itself is checked by `grow`)."""
    if spec in PRESETS:
        return PRESETS[spec].config
    target = current
    for change in spec.split(","):
        key, _, value = change.strip().partition("=")
        role, _, name = key.partition(".")
        if role not in NETWORKS or name not in GROWING_FIELDS or not value.strip().isdigit():
            raise ValueError(
                f"cannot read growth {change.strip()!r}: give a preset ({', '.join(sorted(PRESETS))}) "
                f"or ROLE.FIELD=N with ROLE y or color and FIELD {' or '.join(GROWING_FIELDS)}"
            )
        target = replace(target, **{role: replace(getattr(target, role), **{name: int(value)})})
    return target


def _silence(block: nn.Module) -> None:
    """Zero the last convolution of a ResidualBlock: the block becomes the identity."""
    last = block.body[-1]
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)


def positions(old: int, new: int, old_c: int, new_c: int) -> torch.Tensor:
    """Where each of a dimension's `old` entries lands when the network widens from `old_c` to
    `new_c` channels: a dimension of k concatenated pieces of `old_c` becomes k pieces of
    `new_c`, each old piece at the start of its new one. An unchanged dimension maps to itself."""
    if old == new:
        return torch.arange(old)
    pieces, rest = divmod(old, old_c)
    if rest or new != pieces * new_c:
        raise ValueError(f"a dimension of {old} cannot widen to {new} with channels {old_c} -> {new_c}")
    return (torch.arange(pieces)[:, None] * new_c + torch.arange(old_c)[None, :]).flatten()


def widen(
    old: torch.Tensor, fresh: torch.Tensor, old_c: int, new_c: int, out_in: tuple[int, int] | None
) -> torch.Tensor:
    """`fresh` (the grown parameter, freshly initialized) holding `old` in its old places, with
    the weights from new input channels to old output channels zeroed. `out_in`: the output
    and input dimensions of a weight (None for biases and per-channel vectors)."""
    where = [positions(o, n, old_c, new_c) for o, n in zip(old.shape, fresh.shape)]
    grown = fresh.detach().clone()
    index = tuple(w.view([-1 if d == k else 1 for k in range(old.dim())]) for d, w in enumerate(where))
    grown[index] = old.to(grown.dtype)
    if out_in is not None:
        out_dim, in_dim = out_in
        new_inputs = torch.ones(fresh.shape[in_dim], dtype=torch.bool)
        new_inputs[where[in_dim]] = False
        if new_inputs.any():
            view = grown.movedim((out_dim, in_dim), (0, 1))
            view[where[out_dim][:, None], new_inputs.nonzero().flatten()[None, :]] = 0
    return grown


def _grown_value(grown: QGAC, old_state: dict, key: str, fresh: torch.Tensor, old_c: int, new_c: int) -> torch.Tensor:
    """One parameter or buffer of the widened model, from its old value."""
    old = old_state[key]
    owner_name, _, leaf = key.rpartition(".")
    owner = grown.get_submodule(owner_name)
    if isinstance(owner, QuantConv) and leaf == "basis":  # (basis, cout * cin) holds (basis, cout, cin)
        old_cout, old_cin = old_state[f"{owner_name}.shared"].shape
        b = fresh.shape[0]
        value = widen(old.view(b, old_cout, old_cin), fresh.view(b, owner.cout, owner.cin), old_c, new_c, (1, 2))
        return value.reshape(fresh.shape)
    return widen(old, fresh, old_c, new_c, (0, 1) if fresh.dim() in (2, 4) else None)


def grow(model: QGAC, target: ModelConfig, seed: int = 0) -> QGAC:
    """A new QGAC of config `target`, holding `model`'s weights, whose new blocks and channels
    start silent (same outputs as `model`). Raises ValueError for an impossible growth."""
    for role in NETWORKS:
        check_growable(getattr(model.config, role), getattr(target, role), role)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        grown = QGAC(target)
    old_state, state = model.state_dict(), grown.state_dict()
    unexpected = [k for k in old_state if k not in state]
    if unexpected:
        raise ValueError(f"weights that the grown model lacks: {unexpected[:3]}")
    for key, old in old_state.items():
        role = next((r for r, net in NETWORKS.items() if key.startswith(f"{net}.")), None)
        if state[key].shape == old.shape or role is None:
            state[key] = old.clone()
            continue
        old_c, new_c = getattr(model.config, role).channels, getattr(target, role).channels
        state[key] = _grown_value(grown, old_state, key, state[key], old_c, new_c)
    grown.load_state_dict(state)
    for role, net_name in NETWORKS.items():
        net = getattr(grown, net_name)
        old_blocks = getattr(model.config, role).blocks
        for stage in GROWING_STAGES[role]:
            for block in list(getattr(net, stage))[old_blocks:]:
                _silence(block)
    prefixes = tuple(
        f"{NETWORKS[role]}.{stage}.{i}."
        for role in GROWING_STAGES
        for stage in GROWING_STAGES[role]
        for i in range(getattr(model.config, role).blocks, getattr(target, role).blocks)
    )
    unexplained = [k for k in state if k not in old_state and not k.startswith(prefixes)]
    if unexplained:
        raise ValueError(f"weights the original model lacks: {unexplained[:3]}")
    return grown.train(model.training)
