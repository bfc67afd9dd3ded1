"""The names of the shipped weights, without importing torch (shell completion reads them)."""

# Shipped weights: name -> file in the package's weights folder. The first is the default.
SHIPPED = {
    "large": "qgac-large.pt",
    "base": "qgac-base.pt",
    "fast": "qgac-fast.pt",
    "large-gan": "qgac-large-gan.pt",
    "base-gan": "qgac-base-gan.pt",
}
DEFAULT_WEIGHTS = "large"
# The GAN weights that pair with each shipped regression name for --texture: each network's
# GAN fine-tune (model interpolation needs weights of one training lineage).
GAN_SIBLINGS = {"large": "large-gan", "base": "base-gan"}
