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
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

from qgac_cli.errors import MissingWeightsError, UnusableWeightsError, WeightsError
from qgac_cli.model import QGAC, ModelConfig
from qgac_cli.model.growth import grow
from qgac_cli.shipping import DEFAULT_WEIGHTS, SHIPPED  # noqa: F401 - part of this module's API

FORMAT = "qgac-checkpoint"
VERSION = 1
# torch.save stores its records uncompressed: a checkpoint that expands far beyond its file is
# a zip bomb (a 2.9 MB file of one deflated 3 GB tensor), refused before anything is read
MAX_EXPANSION = 4.0
# What trained weights look like: learned tensors of magnitude ~1 (shipped: at most 1.2) and
# per-frequency statistics of raw DCT coefficients, whose 8-bit range is about ±1024. Far
# beyond these (a checkpoint scaled by 1e38 is finite and restores 20 dB off) is refused.
MAX_WEIGHT = 1e3
MAX_STATISTIC = 4096.0
MIN_STD = 1e-3


@dataclass(frozen=True)
class Checkpoint:
    config: ModelConfig
    state_dict: dict[str, torch.Tensor]
    metadata: dict


def to_dict(model: QGAC, metadata: dict | None = None, state_dict: dict | None = None) -> dict:
    state = {
        k: v.detach().to("cpu", memory_format=torch.contiguous_format, copy=True)
        for k, v in (state_dict or model.state_dict()).items()
    }
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
    candidate = _shipped_folder() / SHIPPED[name].file
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


def _check_archive(path: str | os.PathLike) -> None:
    """Refuse a zip archive whose records expand beyond MAX_EXPANSION times its size."""
    if not zipfile.is_zipfile(path):
        return  # torch's legacy format: the file is what is read
    try:
        with zipfile.ZipFile(path) as archive:
            expanded = sum(entry.file_size for entry in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise UnusableWeightsError(f"not a readable checkpoint ({e.__class__.__name__})", str(path)) from e
    packed = os.path.getsize(path)
    if expanded > MAX_EXPANSION * packed + (1 << 20):
        raise UnusableWeightsError(
            f"its records expand to {expanded / 1e6:,.0f} MB from a {packed / 1e6:,.1f} MB file"
            " (torch stores checkpoints uncompressed): not read",
            str(path),
        )


def read(path: str | os.PathLike) -> Checkpoint:
    source = str(path)
    _check_archive(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a file that is not a checkpoint
        raise UnusableWeightsError(f"not a readable checkpoint ({e.__class__.__name__})", source) from e
    if isinstance(data, dict) and {"model", "ema", "optimizer"} <= set(data):
        raise UnusableWeightsError(
            "a training state (for qgac train --resume), not weights: use best.pt or final.pt beside it", source
        )
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UnusableWeightsError("not a qgac checkpoint", source)
    if data.get("version") != VERSION:
        raise UnusableWeightsError(
            f"checkpoint format version {data.get('version')} (this qgac reads {VERSION})", source
        )
    try:
        config = ModelConfig.from_dict(data["config"])
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise UnusableWeightsError(f"checkpoint has an invalid config ({e})", source) from e
    state = data.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UnusableWeightsError("checkpoint has no valid state_dict", source)
    metadata = data.get("metadata", {})
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}  # fp16 on disk: upcast
    return Checkpoint(config, state, metadata if isinstance(metadata, dict) else {})


NORMALIZATION_KEYS = ("mean", "std")


def halved(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The learned floating-point tensors in fp16, for shipping at half the bytes (`read`
    upcasts them); the coefficient statistics, the chroma refinement and the colour detail
    network (a few thousand numbers that weigh whole corrections, and a few ten thousand)
    stay fp32. Shipped only where `qgac eval` moves by
    less than 0.001 dB (weights/README.md)."""
    return {k: v.half() if v.is_floating_point() and not _kept_fp32(k) else v for k, v in state.items()}


def _kept_fp32(key: str) -> bool:
    return key.split(".")[-1] in NORMALIZATION_KEYS or key.startswith(("refine.", "detail."))


def implausible(state: dict[str, torch.Tensor]) -> str | None:
    """Why these weights cannot be trained ones (non-finite, absurdly large, a zero spread of
    the statistics), or None."""
    for key, value in state.items():
        if not value.is_floating_point() or not value.numel():
            continue
        if not torch.isfinite(value).all():
            return f"non-finite weights (NaN or infinity) in {key}"
        largest = float(value.abs().max())
        if key in ("mean", "std"):
            if largest > MAX_STATISTIC:
                return f"coefficient statistics {key} of {largest:.3g}, beyond any 8-bit JPEG's range"
            if key == "std" and float(value.min()) < MIN_STD:
                return "coefficient statistics std with a zero (or negative) entry"
        elif largest > MAX_WEIGHT:
            return f"a weight of magnitude {largest:.3g} in {key} (trained weights stay near 1)"
    return None


def build(checkpoint: Checkpoint, source: str = "<checkpoint>") -> QGAC:
    problem = implausible(checkpoint.state_dict)
    if problem:
        raise UnusableWeightsError(problem, source)
    model = QGAC(checkpoint.config)
    try:
        model.load_state_dict(checkpoint.state_dict)
    except RuntimeError as e:
        raise UnusableWeightsError(f"weights do not match their config ({str(e).splitlines()[0]})", source) from e
    return model.eval()


def load(name_or_path: str | os.PathLike | None = None) -> QGAC:
    """Load shipped weights by name or a checkpoint by path, ready for inference (eval mode)."""
    path = resolve(name_or_path)
    return build(read(path), str(path))


def match_config(checkpoint: Checkpoint, config: ModelConfig, source: str = "<checkpoint>") -> Checkpoint:
    """The checkpoint in `config`: itself, or grown into it (same function, more blocks)."""
    if checkpoint.config == config:
        return checkpoint
    try:
        grown = grow(build(checkpoint, source), config)
    except ValueError as e:
        raise UnusableWeightsError(
            f"weights of another configuration that cannot grow into the regression weights' ({e})", source
        ) from None
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
