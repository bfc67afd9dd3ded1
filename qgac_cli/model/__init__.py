"""Networks (no I/O): layers, the Y and colour networks, the full model, presets."""

from qgac_cli.model.networks import QGAC, ModelConfig, NetConfig, count_parameters
from qgac_cli.model.presets import PRESETS, preset

__all__ = ["QGAC", "PRESETS", "ModelConfig", "NetConfig", "count_parameters", "preset"]
