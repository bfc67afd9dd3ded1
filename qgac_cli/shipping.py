"""The names of the shipped weights, without importing torch (shell completion reads them)."""

# Shipped weights: name -> file in the package's weights folder. The first is the default.
SHIPPED = {"large": "qgac-large.pt", "base": "qgac-base.pt", "base-gan": "qgac-base-gan.pt"}
DEFAULT_WEIGHTS = "large"
# The GAN weights that pair with each shipped regression name for --texture. `large` pairs
# with `base-gan` grown into the large preset (`match_config`): exactly base-gan's function.
GAN_SIBLINGS = {"large": "base-gan", "base": "base-gan"}
