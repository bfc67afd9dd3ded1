"""The shipped weights, without importing torch (shell completion reads them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shipped:
    file: str  # in the package's weights folder
    gan: str | None = None  # the GAN fine-tune of the same lineage that --texture blends it with


# name -> record; the first is the default
SHIPPED = {
    "large": Shipped("qgac-large.pt", gan="large-gan"),
    "base": Shipped("qgac-base.pt", gan="base-gan"),
    "fast": Shipped("qgac-fast.pt"),
    "large-gan": Shipped("qgac-large-gan.pt"),
    "base-gan": Shipped("qgac-base-gan.pt"),
}
DEFAULT_WEIGHTS = next(iter(SHIPPED))
