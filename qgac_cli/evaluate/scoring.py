"""`qgac eval`: PSNR / PSNR-B / SSIM of the JPEG decode and of restorations.

Conventions (REFERENCE.md §2): references compressed with libjpeg's standard tables at each
quality (4:2:0 for colour unless asked otherwise; grayscale stays grayscale); the JPEG row
is libjpeg's own decode; restorations are scored as the 8-bit images a user receives.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from qgac_cli.api import RestoreOptions, restore_jpeg
from qgac_cli.choices import EVAL_SUBSAMPLINGS
from qgac_cli.codec.jpeg import decode_with_pillow, encode, read_jpeg
from qgac_cli.data import list_images
from qgac_cli.errors import UsageError
from qgac_cli.evaluate.metrics import psnr, psnrb, ssim
from qgac_cli.evaluate.patterns import pattern_set
from qgac_cli.restore import dct

Progress = Callable[[int, int, str], None]
METRICS = ("psnr", "psnrb", "ssim", "psnr_y")
CHROMA_METRICS = ("psnr_cb", "psnr_cr")  # colour images only
PATTERNS = "patterns"  # the name of the generated set (qgac_cli.evaluate.patterns) in the records


@dataclass(frozen=True)
class EvalConfig:
    datasets: tuple[str, ...] = ()
    qualities: tuple[int, ...] = ()
    subsampling: str = EVAL_SUBSAMPLINGS[0]
    paired: tuple[str, str] | None = None
    project: bool = True
    per_image: bool = False
    limit: int | None = None
    precision: str = "auto"  # the networks' arithmetic (RestoreOptions.precision)
    grey_guard: bool = True  # RestoreOptions.grey_guard
    patterns: bool = False  # also score the generated set of fine regular patterns (qgac_cli.evaluate.patterns)
    # each test JPEG saved first at each of these qualities, decoded and saved again at the
    # quality scored (labelled "Q1>Q2"): a set of recompressed photos
    recompress: tuple[int, ...] = ()
    first_quality: int | str = "auto"  # RestoreOptions.first_quality
    tta: int = 1  # RestoreOptions.tta: mirror images averaged


def load_reference(path: Path) -> np.ndarray:
    """(H, W) uint8 for grayscale images, (H, W, 3) uint8 otherwise."""
    with Image.open(path) as im:
        gray = im.mode in ("L", "1", "I;16", "I")
        return np.asarray(im.convert("L" if gray else "RGB"))


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """(H, W[, C]) uint8 or float in [0, 1] -> (1, C, H, W) float64 in [0, 1]."""
    t = torch.from_numpy(np.array(pixels))
    t = t.double() / 255.0 if t.dtype == torch.uint8 else t.double()
    return (t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1)).unsqueeze(0)


def luma(image: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) in [0, 1] -> its JFIF luma (1, 1, H, W) in [0, 1] (grey stays as it is)."""
    return image if image.shape[1] == 1 else dct.rgb_to_ycbcr(image)[:, :1] / 255.0


def score(restored: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """PSNR (all channels jointly), PSNR-B, SSIM, and the PSNR of the JFIF luma alone
    (psnr_y) and, for colour, of each chroma plane (psnr_cb, psnr_cr; 0..255 as 0..1): where
    the error lies, luma or colour."""
    r, t = to_tensor(restored), to_tensor(reference)
    scores = {
        "psnr": float(psnr(r, t)),
        "psnrb": float(psnrb(r, t)),
        "ssim": float(ssim(r, t)),
        "psnr_y": float(psnr(luma(r), luma(t))),
    }
    if r.shape[1] == 3:
        yr, yt = dct.rgb_to_ycbcr(r) / 255.0, dct.rgb_to_ycbcr(t) / 255.0
        for name, c in (("psnr_cb", 1), ("psnr_cr", 2)):
            scores[name] = float(psnr(yr[:, c : c + 1], yt[:, c : c + 1]))
    return scores


def _dataset_images(folder: str, limit: int | None) -> list[Path]:
    images = list_images([folder])
    if not images:
        raise UsageError(f"no images in {folder}")
    return images[:limit] if limit else images


def jpeg_references(cfg: EvalConfig) -> list[str]:
    """The dataset folders whose reference images are themselves JPEG files."""
    return [
        folder
        for folder in cfg.datasets
        if any(p.suffix.lower() in (".jpg", ".jpeg") for p in _dataset_images(folder, cfg.limit))
    ]


def per_image_gains(rows: list[dict]) -> dict[tuple, list[float]]:
    """(dataset, quality, method) -> each image's PSNR gain over its own JPEG decode."""
    jpeg = {(r["dataset"], r["quality"], r["image"]): r["psnr"] for r in rows if r["method"] == "jpeg"}
    gains: dict[tuple, list[float]] = {}
    for r in rows:
        if r["method"] != "jpeg":
            key = (r["dataset"], r["quality"], r["method"])
            gains.setdefault(key, []).append(r["psnr"] - jpeg[(r["dataset"], r["quality"], r["image"])])
    return gains


def _summaries(rows: list[dict]) -> list[dict]:
    """Means per (dataset, quality, method); restorations also count the images that fall
    below their JPEG (`below_jpeg`) and give the smallest per-image gain (`worst_gain`)."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["quality"], row["method"]), []).append(row)
    gains = per_image_gains(rows)
    summaries = []
    for (d, q, m), g in groups.items():
        record = {
            "dataset": d,
            "quality": q,
            "method": m,
            "images": len(g),
            **{k: float(np.mean([r[k] for r in g])) for k in METRICS},
            **{k: float(np.mean([r[k] for r in g])) for k in CHROMA_METRICS if all(k in r for r in g)},
        }
        if (d, q, m) in gains:
            record["below_jpeg"] = sum(x < 0 for x in gains[(d, q, m)])
            record["worst_gain"] = float(min(gains[(d, q, m)]))
        summaries.append(record)
    return summaries


def evaluate(cfg: EvalConfig, methods: dict, progress: Progress | None = None) -> list[dict]:
    """Records (dataset, quality, method, psnr, psnrb, ssim, images), per-image rows too if
    asked (with an `image` field). `methods` maps a name to a loaded model."""
    options = RestoreOptions(  # scored as users receive it
        project=cfg.project,
        tile=0,
        bits=8,
        precision=cfg.precision,
        grey_guard=cfg.grey_guard,
        first_quality=cfg.first_quality,
        tta=cfg.tta,
    )
    work = plan(cfg)
    rows: list[dict] = []
    total = len(work)
    for i, (dataset, quality, name, make_jpeg, reference) in enumerate(work):
        data = make_jpeg()
        reference = reference()
        rows.append(
            {
                "dataset": dataset,
                "quality": quality,
                "method": "jpeg",
                "image": name,
                **score(decode_with_pillow(data), reference),
            }
        )
        jpeg = read_jpeg(data, source=name) if methods else None
        for method, model in methods.items():
            with torch.no_grad():
                restored = restore_jpeg(jpeg, model, options)
            rows.append(
                {"dataset": dataset, "quality": quality, "method": method, "image": name, **score(restored, reference)}
            )
        if progress:
            progress(i + 1, total, f"{dataset} q{quality}")
    summary = _summaries(rows)
    return summary + (rows if cfg.per_image else [])


def plan(cfg: EvalConfig) -> list[tuple]:
    """The work, one (dataset, quality, image, make JPEG, load reference) per image and
    quality; raises UsageError for an empty folder or a missing reference, before any work."""
    work = _paired_work(cfg) if cfg.paired else _compressed_work(cfg)
    if not work:
        raise UsageError(f"no JPEG images in {cfg.paired[0]}" if cfg.paired else "nothing to evaluate")
    return work


def _compressed_work(cfg: EvalConfig) -> list[tuple]:
    work = []
    for folder in cfg.datasets:
        dataset = Path(folder).name
        for quality, first in _qualities(cfg):
            for path in _dataset_images(folder, cfg.limit):

                def make(path=path, quality=quality, first=first):
                    return compress(load_reference(path), quality, cfg.subsampling, first)

                work.append((dataset, _label(quality, first), path.name, make, lambda path=path: load_reference(path)))
    if cfg.patterns:
        work.extend(_pattern_work(cfg))
    return work


def _qualities(cfg: EvalConfig) -> list[tuple[int, int | None]]:
    """(quality scored, first quality or None) for every test file kind asked for."""
    return [(q, first) for q in cfg.qualities for first in (cfg.recompress or (None,))]


def _label(quality: int, first: int | None) -> int | str:
    return quality if first is None else f"{first}>{quality}"


def compress(pixels: np.ndarray, quality: int, subsampling: str, first: int | None = None) -> bytes:
    """A test JPEG: saved at `quality`, or saved at `first`, decoded and saved again at
    `quality` (a recompressed photo; both saves on one grid, with one subsampling)."""
    if first is not None:
        pixels = decode_with_pillow(encode(pixels, first, subsampling))
    return encode(pixels, quality, subsampling)


def _pattern_work(cfg: EvalConfig) -> list[tuple]:
    work = []
    for quality, first in _qualities(cfg):
        for name, pixels in pattern_set()[: cfg.limit]:

            def make(pixels=pixels, quality=quality, first=first):
                return compress(pixels, quality, cfg.subsampling, first)

            work.append((PATTERNS, _label(quality, first), name, make, lambda pixels=pixels: pixels))
    return work


def _paired_work(cfg: EvalConfig) -> list[tuple]:
    jpeg_dir, ref_dir = (Path(p) for p in cfg.paired)
    references = {p.stem: p for p in list_images([ref_dir])}
    work = []
    for path in list_images([jpeg_dir])[: cfg.limit]:
        if path.stem not in references:
            raise UsageError(f"no reference image named {path.stem}.* in {ref_dir}")
        ref = references[path.stem]
        work.append(
            (jpeg_dir.name, "file", path.name, lambda path=path: path.read_bytes(), lambda ref=ref: load_reference(ref))
        )
    return work


def write_json(records: list[dict], path: str) -> None:
    Path(path).write_text(json.dumps(records, indent=2) + "\n")


def write_csv(records: list[dict], path: str) -> None:
    fields: list[str] = []
    for record in records:
        fields.extend(k for k in record if k not in fields)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(records)
