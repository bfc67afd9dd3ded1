"""qgac: quantization-guided JPEG artifact correction (Ehrlich et al., ECCV 2020)."""

__version__ = "0.1.0"
