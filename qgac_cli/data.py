"""Training pairs: random patches from image folders, compressed on the fly in torch.

Compression follows libjpeg step by step (JFIF colour conversion on 8-bit samples, box
chroma downsampling, orthonormal DCT, rounding to the standard tables at a random quality),
on the training device, so the accelerator never waits on an encoder. Evaluation always uses
real libjpeg files (`qgac_cli.jpeg.encode`).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from qgac_cli import dct
from qgac_cli.coefficients import Planes
from qgac_cli.quality import standard_tables

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm"}


def list_images(folders: list[str | Path]) -> list[Path]:
    """Every image file under the folders (recursively), sorted for determinism."""
    found: list[Path] = []
    for folder in folders:
        root = Path(folder)
        found.extend(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return sorted(found)


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))  # (H, W, 3) uint8


@dataclass(frozen=True)
class PatchConfig:
    size: int = 128
    qualities: tuple[int, int] = (5, 100)
    low_quality_bias: float = 0.5  # share of samples drawn from the lower half of the range
    subsampling_weights: tuple[tuple[tuple[int, int], float], ...] = (((2, 2), 0.7), ((1, 1), 0.2), ((1, 2), 0.1))
    # share of patches made grey, and share whose colour is faded toward grey (saturation × U(0, 0.5)):
    # grey and nearly grey photos must not come back with colour the network made up
    grey_share: float = 0.05
    faded_share: float = 0.05


def desaturate(crop: torch.Tensor, saturation: float) -> torch.Tensor:
    """A uint8 RGB crop (3, H, W) with its colour scaled toward its luma by `saturation` (0: grey)."""
    rgb = crop.float()
    luma = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]).unsqueeze(0)  # (1, H, W), JFIF weights
    return torch.round(luma + saturation * (rgb - luma)).clamp(0, 255).to(torch.uint8)


class PatchBank:
    """Images held in memory as uint8 tensors; draws augmented random patches."""

    def __init__(self, images: list[np.ndarray], config: PatchConfig, seed: int = 0) -> None:
        self.images = [
            torch.from_numpy(np.array(i)).permute(2, 0, 1) for i in images if min(i.shape[:2]) >= config.size
        ]
        if not self.images:
            raise ValueError(f"no training image is at least {config.size} pixels on each side")
        self.config = config
        self.rng = random.Random(seed)
        weights = np.array([i.shape[1] * i.shape[2] for i in self.images], dtype=np.float64)
        self.weights = (weights / weights.sum()).tolist()

    def patches(self, count: int) -> torch.Tensor:
        """(count, 3, P, P) uint8 random crops with random flips and 90° rotations."""
        p = self.config.size
        out = []
        for image in self.rng.choices(self.images, weights=self.weights, k=count):
            top = self.rng.randrange(image.shape[1] - p + 1)
            left = self.rng.randrange(image.shape[2] - p + 1)
            crop = image[:, top : top + p, left : left + p]
            if self.rng.random() < 0.5:
                crop = crop.flip(-1)
            draw = self.rng.random()
            if draw < self.config.grey_share:
                crop = desaturate(crop, 0.0)
            elif draw < self.config.grey_share + self.config.faded_share:
                crop = desaturate(crop, self.rng.uniform(0.0, 0.5))
            out.append(torch.rot90(crop, self.rng.randrange(4), dims=(-2, -1)))
        return torch.stack(out)

    def qualities(self, count: int) -> list[int]:
        lo, hi = self.config.qualities
        mid = (lo + hi) // 2
        return [
            self.rng.randint(lo, mid) if self.rng.random() < self.config.low_quality_bias else self.rng.randint(lo, hi)
            for _ in range(count)
        ]

    def factor(self) -> tuple[int, int]:
        factors, weights = zip(*self.config.subsampling_weights)
        return self.rng.choices(factors, weights=weights)[0]


@functools.lru_cache(maxsize=1)
def _standard_table_stack() -> np.ndarray:
    """(100, 2, 8, 8) float32: the standard (luma, chroma) tables of qualities 1 to 100."""
    return np.stack([np.stack(standard_tables(q)) for q in range(1, 101)]).astype(np.float32)


def tables_for(qualities: list[int], device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """Standard (luma, chroma) tables for each quality, each (B, 1, 8, 8). Looked up, not
    computed: on a GPU the trainer draws 10+ batches a second, each of hundreds of qualities."""
    index = np.asarray(qualities) - 1
    if index.size and (index.min() < 0 or index.max() > 99):
        raise ValueError(f"qualities must be 1 to 100, got {min(qualities)} to {max(qualities)}")
    both = torch.from_numpy(_standard_table_stack()[index]).to(device)  # (B, 2, 8, 8)
    return both[:, :1].contiguous(), both[:, 1:].contiguous()


def _quantized(samples: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Samples (B, 1, H, W) in 0..255 -> dequantized coefficients (B, 64, H/8, W/8)."""
    coefficients = dct.block_dct(dct.to_blocks(samples - 128.0))
    step = dct.table_channels(table)
    return torch.round(coefficients / step) * step


def compress(rgb: torch.Tensor, y_table: torch.Tensor, c_table: torch.Tensor, factor: tuple[int, int]) -> Planes:
    """JPEG-compress RGB patches (B, 3, H, W) in [0, 1] (H, W multiples of 8·factor)."""
    ycbcr = torch.round(dct.rgb_to_ycbcr(rgb)).clamp(0, 255)
    y = _quantized(ycbcr[:, :1], y_table)
    low = torch.round(dct.downsample(ycbcr[:, 1:], factor))  # (B, 2, H/fy, W/fx)
    b = rgb.shape[0]
    chroma = _quantized(low.flatten(0, 1).unsqueeze(1), c_table.repeat_interleave(2, dim=0))
    chroma = chroma.view(b, 2, *chroma.shape[1:])  # (B, 2, 64, hc, wc)
    return Planes(y, y_table, chroma, c_table, factor, rgb.shape[-2], rgb.shape[-1])
