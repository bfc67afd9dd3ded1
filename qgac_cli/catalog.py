"""`qgac models`: the presets and the shipped weights as records."""

from __future__ import annotations

from qgac_cli import weights
from qgac_cli.model import PRESETS, QGAC, count_parameters


def preset_parameters(name: str) -> int:
    """Parameter count of a preset. The published one (259 M) is built on the meta device, no
    memory; ours, a few million, on the CPU in milliseconds (on the meta device their first
    initializer would load torch's reference ops, seconds of imports)."""
    import torch

    config = PRESETS[name].config
    with torch.device("meta" if "paper" in (config.y.kind, config.color.kind) else "cpu"):
        return count_parameters(QGAC(config))


def catalog() -> list[dict]:
    records = [
        {
            "name": name,
            "kind": "preset",
            "parameters": preset_parameters(name),
            "description": PRESETS[name].note,
        }
        for name in PRESETS
    ]
    for name in weights.SHIPPED:
        path = weights.shipped_path(name)
        if path is None:
            continue
        ckpt = weights.read(path)
        meta = ckpt.metadata
        records.append(
            {
                "name": name,
                "kind": "weights",
                "parameters": sum(v.numel() for k, v in ckpt.state_dict.items() if k not in ("mean", "std")),
                "file": weights.SHIPPED[name].file,
                "preset": meta.get("preset"),
                "stage": meta.get("stage"),
                "trained_on": ", ".join(meta.get("data", [])),
                "steps": meta.get("total_steps"),
                "headline": meta.get("headline", ""),
                "default": name == weights.DEFAULT_WEIGHTS,
            }
        )
    return records
