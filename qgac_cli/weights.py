"""Checkpoints: save, load (weights_only), shipped weights by name, model interpolation.

Format (a dict saved with torch.save, loadable with weights_only=True):
    format: "qgac-checkpoint", version: 1,
    config: ModelConfig as a dict,
    normalization: {"mean": (2, 64), "std": (2, 64)} (luma row 0, chroma row 1),
    state_dict: the model's weights (EMA weights where training kept them),
    metadata: {"name", "stage", "steps", "data", "trained_on", "eval", ...} plain values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

from qgac_cli.errors import MissingWeightsError, WeightsError
from qgac_cli.model import QGAC, ModelConfig
from qgac_cli.model.growth import grow
from qgac_cli.shipping import DEFAULT_WEIGHTS, GAN_SIBLINGS, SHIPPED  # noqa: F401 - part of this module's API

FORMAT = "qgac-checkpoint"
VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    config: ModelConfig
    state_dict: dict[str, torch.Tensor]
    metadata: dict


def to_dict(model: QGAC, metadata: dict | None = None, state_dict: dict | None = None) -> dict:
    state = {k: v.detach().cpu().clone() for k, v in (state_dict or model.state_dict()).items()}
    return {
        "format": FORMAT,
        "version": VERSION,
        "config": model.config.to_dict(),
        "normalization": {"mean": state["mean"], "std": state["std"]},
        "state_dict": state,
        "metadata": dict(metadata or {}),
    }


def save(model: QGAC, path: str | os.PathLike, metadata: dict | None = None, state_dict: dict | None = None) -> None:
    """Write a checkpoint atomically (temporary name, then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(to_dict(model, metadata, state_dict), tmp)
    os.replace(tmp, path)


def _shipped_folder() -> Path:
    """Installed: the package `qgac_cli.shipped` (the repository's weights/ folder, mapped by
    pyproject.toml). From a source checkout: weights/ beside the package."""
    try:
        return Path(str(resources.files("qgac_cli.shipped")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "weights"


def shipped_path(name: str) -> Path | None:
    """The installed file of a shipped weights name, or None when it is not installed."""
    if name not in SHIPPED:
        return None
    candidate = _shipped_folder() / SHIPPED[name]
    return candidate if candidate.is_file() else None


def resolve(name_or_path: str | os.PathLike | None) -> Path:
    """A weights name (shipped) or a path -> an existing file."""
    spec = str(name_or_path or DEFAULT_WEIGHTS)
    if spec in SHIPPED:
        found = shipped_path(spec)
        if found is None:
            raise MissingWeightsError(f"shipped weights {spec!r} are not installed with this copy of qgac")
        return found
    path = Path(spec)
    if not path.is_file():
        raise MissingWeightsError(f"no such weights: {spec!r} (a path, or one of {sorted(SHIPPED)})")
    return path


def read(path: str | os.PathLike) -> Checkpoint:
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a file that is not a checkpoint
        raise WeightsError(f"not a readable checkpoint: {e.__class__.__name__}", str(path)) from e
    if isinstance(data, dict) and {"model", "ema", "optimizer"} <= set(data):
        raise WeightsError(
            "a training state (for qgac train --resume), not weights: use best.pt or final.pt beside it", str(path)
        )
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise WeightsError("not a qgac checkpoint", str(path))
    if data.get("version") != VERSION:
        raise WeightsError(f"checkpoint format version {data.get('version')} (this qgac reads {VERSION})", str(path))
    try:
        config = ModelConfig.from_dict(data["config"])
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise WeightsError(f"checkpoint has an invalid config: {e}", str(path)) from e
    state = data.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError("checkpoint has no valid state_dict", str(path))
    metadata = data.get("metadata", {})
    return Checkpoint(config, state, metadata if isinstance(metadata, dict) else {})


def build(checkpoint: Checkpoint, source: str = "<checkpoint>") -> QGAC:
    bad = [k for k, v in checkpoint.state_dict.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise WeightsError(f"non-finite weights (NaN or infinity) in {bad[0]}", source)
    model = QGAC(checkpoint.config)
    try:
        model.load_state_dict(checkpoint.state_dict)
    except RuntimeError as e:
        raise WeightsError(f"weights do not match their config: {str(e).splitlines()[0]}", source) from e
    return model.eval()


def load(name_or_path: str | os.PathLike | None = None) -> QGAC:
    """Load shipped weights by name or a checkpoint by path, ready for inference (eval mode)."""
    path = resolve(name_or_path)
    return build(read(path), str(path))


def match_config(checkpoint: Checkpoint, config: ModelConfig) -> Checkpoint:
    """The checkpoint in `config`: itself, or grown into it (same function, more blocks)."""
    if checkpoint.config == config:
        return checkpoint
    try:
        grown = grow(build(checkpoint), config)
    except ValueError as e:
        raise WeightsError(f"weights of another configuration that cannot grow into this one: {e}") from None
    return Checkpoint(config, grown.state_dict(), {**checkpoint.metadata, "grown_into": "match"})


def interpolate(regression: Checkpoint, gan: Checkpoint, alpha: float) -> Checkpoint:
    """θ = (1 − α)·θ_regression + α·θ_GAN for two checkpoints of the same config."""
    if regression.config != gan.config:
        raise WeightsError("cannot interpolate checkpoints of different configurations")
    if not 0.0 <= alpha <= 1.0:
        raise WeightsError(f"interpolation weight must be in [0, 1], got {alpha}")
    state = {
        k: torch.lerp(v, gan.state_dict[k], alpha) if v.is_floating_point() else v
        for k, v in regression.state_dict.items()
    }
    return Checkpoint(regression.config, state, {**regression.metadata, "interpolation": alpha})


def rebase(finetune: Checkpoint, old_base: Checkpoint, new_base: Checkpoint) -> Checkpoint:
    """Carry a fine-tune over to a newer base: θ = θ_new + (θ_finetune − θ_old) (task arithmetic).

    When the regression weights move on (more training of the same lineage), their GAN
    sibling follows at no training cost: the fine-tune's change is small next to the weights
    (≈ 0.5 % for `large-gan`) and is added to the new base. The three must share one config.
    The metadata is the fine-tune's, with the rebase recorded."""
    if not finetune.config == old_base.config == new_base.config:
        raise WeightsError("cannot rebase checkpoints of different configurations")
    state = {
        k: new + (finetune.state_dict[k] - old_base.state_dict[k]) if new.is_floating_point() else new
        for k, new in new_base.state_dict.items()
    }
    rebased = {
        "from": finetune.metadata.get("name", "?"),
        "old_base_steps": old_base.metadata.get("total_steps"),
        "new_base_steps": new_base.metadata.get("total_steps"),
    }
    return Checkpoint(new_base.config, state, {**finetune.metadata, "rebased": rebased})
