"""Named model configurations: one table, name -> config."""

from __future__ import annotations

from qgac_cli.model.networks import ModelConfig, NetConfig

PRESETS: dict[str, ModelConfig] = {
    # The published sizes (≈259.4 M parameters); for reference and comparison, not for CPUs.
    "paper": ModelConfig(
        y=NetConfig(kind="paper", channels=256, generator="full"),
        color=NetConfig(kind="paper", channels=32, generator="full"),
    ),
    # Ours: 1.84 M parameters, trained and run on the 8x8 block grid.
    "base": ModelConfig(
        y=NetConfig(kind="efficient", channels=96, blocks=4),
        color=NetConfig(kind="efficient", channels=48, blocks=3),
    ),
    # `base` grown by blocks (qgac_cli.model.growth): twice the Y depth, twice the colour depth.
    "large": ModelConfig(
        y=NetConfig(kind="efficient", channels=96, blocks=8),
        color=NetConfig(kind="efficient", channels=48, blocks=6),
    ),
    # Built for speed on a CPU (issue: faster than the model-free restorers): `small`'s widths
    # with one channel per frequency, which makes the per-frequency stage depthwise (8x cheaper
    # in oneDNN than two channels per group at the same quality budget).
    "fast": ModelConfig(
        y=NetConfig(kind="efficient", channels=48, blocks=2, freq_channels=1),
        color=NetConfig(kind="efficient", channels=32, blocks=1),
    ),
    # A smaller sibling for quick experiments and ablations.
    "small": ModelConfig(
        y=NetConfig(kind="efficient", channels=48, blocks=2),
        color=NetConfig(kind="efficient", channels=32, blocks=1),
    ),
}

PRESET_NOTES = {
    "paper": "the published architecture (Ehrlich et al. 2020)",
    "base": "efficient CPU architecture, half the time of large",
    "large": "base grown to twice its depth, the shipped default",
    "fast": "small, depthwise per frequency: the fast choice",
    "small": "small efficient architecture for experiments",
}


def preset(name: str) -> ModelConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None
