"""Named model configurations: one table, name -> config."""

from __future__ import annotations

from dataclasses import dataclass

from qgac_cli.model.networks import ModelConfig, NetConfig


@dataclass(frozen=True)
class Preset:
    config: ModelConfig
    note: str  # what `qgac models` says of it


PRESETS: dict[str, Preset] = {
    # The published sizes (≈259.4 M parameters); for reference and comparison, not for CPUs.
    "paper": Preset(
        ModelConfig(
            y=NetConfig(kind="paper", channels=256, generator="full"),
            color=NetConfig(kind="paper", channels=32, generator="full"),
        ),
        "the published architecture (Ehrlich et al. 2020)",
    ),
    # Ours: 1.84 M parameters, trained and run on the 8x8 block grid.
    "base": Preset(
        ModelConfig(
            y=NetConfig(kind="efficient", channels=96, blocks=4),
            color=NetConfig(kind="efficient", channels=48, blocks=3),
        ),
        "efficient CPU architecture, half the time of large",
    ),
    # `base` grown by blocks (qgac_cli.model.growth): twice the Y depth, twice the colour depth.
    "large": Preset(
        ModelConfig(
            y=NetConfig(kind="efficient", channels=96, blocks=8),
            color=NetConfig(kind="efficient", channels=48, blocks=6),
        ),
        "base grown to twice its depth, the shipped default",
    ),
    # Built for speed on a CPU (issue: faster than the model-free restorers): `small`'s widths
    # with one channel per frequency, which makes the per-frequency stage depthwise (8x cheaper
    # in oneDNN than two channels per group at the same quality budget); its colour network
    # works where the colour is stored (a third of the time of one on the luma grid, #31).
    "fast": Preset(
        ModelConfig(
            y=NetConfig(kind="efficient", channels=48, blocks=2, freq_channels=1),
            color=NetConfig(kind="stored", channels=48, blocks=1),
        ),
        "small, depthwise per frequency: the fast choice",
    ),
    # A smaller sibling for quick experiments and ablations.
    "small": Preset(
        ModelConfig(
            y=NetConfig(kind="efficient", channels=48, blocks=2),
            color=NetConfig(kind="efficient", channels=32, blocks=1),
        ),
        "small efficient architecture for experiments",
    ),
}


def preset(name: str) -> ModelConfig:
    try:
        return PRESETS[name].config
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None
