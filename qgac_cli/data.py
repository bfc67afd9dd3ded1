"""Training pairs: random patches from image folders, compressed on the fly in torch.

Compression follows libjpeg step by step (JFIF colour conversion on 8-bit samples, box
chroma downsampling, orthonormal DCT, rounding to the standard tables at a random quality),
on the training device, so the accelerator never waits on an encoder. Evaluation always uses
real libjpeg files (`qgac_cli.codec.jpeg.encode`).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from qgac_cli.codec.quality import standard_tables
from qgac_cli.restore import dct
from qgac_cli.restore.coefficients import Planes

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
    low_quality_share: float = 0.5  # share of samples drawn from the lower half of the range
    subsampling_weights: tuple[tuple[tuple[int, int], float], ...] = (((2, 2), 0.7), ((1, 1), 0.2), ((1, 2), 0.1))
    # share of patches made grey, and share whose colour is faded toward grey (saturation × U(0, 0.5)):
    # grey and nearly grey photos must not come back with colour the network made up
    grey_share: float = 0.05
    faded_share: float = 0.05


def desaturate(crops: torch.Tensor, saturation: float | torch.Tensor) -> torch.Tensor:
    """uint8 RGB crops (..., 3, H, W) with their colour scaled toward their luma by
    `saturation` (0: grey, 1: unchanged), one value or one per crop."""
    rgb = crops.float()
    luma = 0.299 * rgb[..., :1, :, :] + 0.587 * rgb[..., 1:2, :, :] + 0.114 * rgb[..., 2:, :, :]  # JFIF weights
    s = torch.as_tensor(saturation, dtype=rgb.dtype, device=rgb.device)
    s = s.view(*s.shape, *([1] * (rgb.dim() - s.dim()))) if s.dim() else s
    return torch.round(luma + s * (rgb - luma)).clamp(0, 255).to(torch.uint8)


def _symmetry(crops: torch.Tensor, k: int) -> torch.Tensor:
    """Square crops (..., P, P) under symmetry k of 8: k % 4 quarter turns, then a mirror if k ≥ 4."""
    turned = torch.rot90(crops, k % 4, dims=(-2, -1))
    return turned.flip(-1) if k >= 4 else turned


class PatchBank:
    """Images held in one flat uint8 buffer on a device; draws augmented random patches.

    Every draw is vectorized and made by a torch generator on the bank's device: no Python
    loop per patch and, on a GPU, neither the host nor a copy in the training loop. Only the
    chroma subsampling of a batch (which sets the tensor shapes) is drawn on the host.
    """

    def __init__(
        self, images: list[np.ndarray], config: PatchConfig, seed: int = 0, device: torch.device | str = "cpu"
    ) -> None:
        kept = [i for i in images if min(i.shape[:2]) >= config.size]
        if not kept:
            raise ValueError(f"no training image is at least {config.size} pixels on each side")
        self.config, self.device = config, torch.device(device)
        sizes = [i.shape[0] * i.shape[1] * 3 for i in kept]
        flat = np.empty(sum(sizes), dtype=np.uint8)
        offsets = np.cumsum([0, *sizes[:-1]])
        for image, offset, size in zip(kept, offsets, sizes):
            flat[offset : offset + size] = np.asarray(image, dtype=np.uint8).reshape(-1)
        self.flat = torch.from_numpy(flat).to(self.device)  # (H, W, 3) of every image, one after another
        as_tensor = functools.partial(torch.tensor, dtype=torch.int64, device=self.device)
        self.offsets = as_tensor(offsets.tolist())
        self.heights = as_tensor([i.shape[0] for i in kept])
        self.widths = as_tensor([i.shape[1] for i in kept])
        areas = (self.heights * self.widths).double()
        self.cdf = (areas.cumsum(0) / areas.sum()).float()  # an image is drawn by its area
        self.generator = torch.Generator(self.device)
        self.generator.manual_seed(seed)
        self.rng = random.Random(seed)  # the host's draws: the subsampling of a batch

    def __len__(self) -> int:
        return len(self.offsets)

    def _uniform(self, count: int) -> torch.Tensor:
        return torch.rand(count, generator=self.generator, device=self.device)

    def _integers(self, low: int, high: torch.Tensor | int, count: int) -> torch.Tensor:
        """Integers in low..high inclusive (high per element or shared), uniformly."""
        span = high - low + 1  # a draw of exactly 1.0 after rounding wraps to low
        return low + (self._uniform(count) * span).long().remainder(span)

    def patches(self, count: int) -> torch.Tensor:
        """(count, 3, P, P) uint8 random crops, each under one of the 8 flips and rotations
        of the square, some made grey or faded (`PatchConfig`).

        The crops come in random order, so the symmetries and the colour changes are given
        to runs of the batch (each symmetry to an eighth, a run of one share's size to each
        colour change) instead of patch by patch: choosing per patch costs passes over the
        whole batch, and a version that did was 13x slower on a CPU when measured."""
        p = self.config.size
        which = torch.searchsorted(self.cdf, self._uniform(count), right=True).clamp_max(len(self) - 1)
        width = self.widths[which].view(-1, 1)
        top = self._integers(0, self.heights[which] - p, count)
        left = self._integers(0, self.widths[which] - p, count)
        rows = self.offsets[which].view(-1, 1) // 3 + (top.view(-1, 1) + torch.arange(p, device=self.device)) * width
        rows = rows.view(-1, p) + left.view(-1, 1)  # (B, P): the first pixel of each crop row
        windows = self.flat.unfold(0, 3 * p, 3)  # a view: window k holds the P pixels from pixel k on
        crops = windows[rows].view(-1, p, p, 3).permute(0, 3, 1, 2)  # (B, P, P, 3) -> (B, 3, P, P)
        return self._recolour(self._symmetries(crops))

    def _symmetries(self, crops: torch.Tensor) -> torch.Tensor:
        """The batch in 8 runs, each run under one of the square's 8 symmetries (assigned at
        random to the runs)."""
        order = list(range(8))
        self.rng.shuffle(order)
        runs = crops.tensor_split(8)
        return torch.cat([_symmetry(run, k) for run, k in zip(runs, order)]).contiguous()

    def _recolour(self, crops: torch.Tensor) -> torch.Tensor:
        """The first share of the batch made grey, the next faded (saturation × U(0, 0.5))."""
        count = crops.shape[0]
        grey, faded = self._share(count, self.config.grey_share), self._share(count, self.config.faded_share)
        if grey + faded == 0:
            return crops
        saturation = torch.cat([torch.zeros(grey, device=self.device), self._uniform(faded) * 0.5])
        changed = desaturate(crops[: grey + faded], saturation)
        return torch.cat([changed, crops[grey + faded :]])

    def _share(self, count: int, share: float) -> int:
        """How many of `count` patches get a change of this share: count · share rounded
        up or down at random, so that the share is exact on average also for small batches."""
        return int(count * share + self.rng.random())

    def qualities(self, count: int) -> torch.Tensor:
        """(count,) int64 qualities on the bank's device: a share `low_quality_share` from the
        lower half of the range, the rest from all of it."""
        lo, hi = self.config.qualities
        low = self._uniform(count) < self.config.low_quality_share
        return torch.where(low, self._integers(lo, (lo + hi) // 2, count), self._integers(lo, hi, count))

    def factor(self) -> tuple[int, int]:
        factors, weights = zip(*self.config.subsampling_weights)
        return self.rng.choices(factors, weights=weights)[0]

    def get_state(self) -> dict:
        return {"generator": self.generator.get_state(), "rng": list(self.rng.getstate())}

    def set_state(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))


@functools.lru_cache(maxsize=4)
def _standard_table_stack(device: str = "cpu") -> torch.Tensor:
    """(100, 2, 8, 8) float32 on `device`: the standard (luma, chroma) tables of qualities 1 to 100."""
    stack = np.stack([np.stack(standard_tables(q)) for q in range(1, 101)]).astype(np.float32)
    return torch.from_numpy(stack).to(device)


def tables_at(qualities: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Standard (luma, chroma) tables, each (B, 1, 8, 8), for qualities (B,) in 1..100 on
    their own device: looked up there, so a GPU trainer drawing hundreds of qualities a step
    neither computes tables nor waits for a copy."""
    both = _standard_table_stack(str(qualities.device))[qualities.long() - 1]  # (B, 2, 8, 8)
    return both[:, :1].contiguous(), both[:, 1:].contiguous()


def tables_for(qualities: list[int], device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """Standard (luma, chroma) tables for each quality (checked to be 1..100), each (B, 1, 8, 8)."""
    index = np.asarray(qualities)
    if index.size and (index.min() < 1 or index.max() > 100):
        raise ValueError(f"qualities must be 1 to 100, got {min(qualities)} to {max(qualities)}")
    return tables_at(torch.from_numpy(index).to(device))


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
