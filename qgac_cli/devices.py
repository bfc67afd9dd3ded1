"""Choosing a torch device from a user's word: auto, cpu, cuda or cuda:N."""

from __future__ import annotations

from qgac_cli.errors import UsageError


def pick_device(name: str):
    """A torch.device; "auto" prefers CUDA. Raises UsageError for unknown or absent devices."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise UsageError(f"unknown device {name!r} (auto, cpu, cuda, cuda:N)") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("CUDA was asked for but is not available on this machine")
    return device
