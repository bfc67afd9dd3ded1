"""`qgac equivalent-quality` (paper, appendix B.3): the smallest JPEG quality whose plain
decode scores as well as the restoration of a lower-quality file, and the bytes saved."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from qgac_cli.api import RestoreOptions, restore_jpeg
from qgac_cli.choices import EVAL_SUBSAMPLINGS
from qgac_cli.codec.jpeg import decode_with_pillow, encode, read_jpeg
from qgac_cli.errors import UsageError
from qgac_cli.evaluate.scoring import _dataset_images, load_reference, score


@dataclass(frozen=True)
class EquivalentConfig:
    datasets: tuple[str, ...]
    qualities: tuple[int, ...]
    metric: str = "ssim"
    subsampling: str = EVAL_SUBSAMPLINGS[0]
    limit: int | None = None


def smallest_quality(target: float, score_at: Callable[[int], float]) -> int | None:
    """Smallest quality in 1..100 whose score reaches `target`, by binary search (scores rise
    with quality); None when even quality 100 falls short."""
    if score_at(100) < target:
        return None
    lo, hi = 1, 100
    while lo < hi:
        mid = (lo + hi) // 2
        if score_at(mid) >= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


def equivalent_for_image(reference: np.ndarray, quality: int, model, metric: str, subsampling: str) -> dict:
    cache: dict[int, tuple[float, int]] = {}

    def jpeg_at(q: int) -> tuple[float, int]:
        if q not in cache:
            data = encode(reference, q, subsampling)
            cache[q] = (score(decode_with_pillow(data), reference)[metric], len(data))
        return cache[q]

    data = encode(reference, quality, subsampling)
    with torch.no_grad():
        restored = restore_jpeg(read_jpeg(data), model, RestoreOptions(tile=0, bits=8))
    scores = score(restored, reference)
    found = smallest_quality(scores[metric], lambda q: jpeg_at(q)[0])
    equivalent = found if found is not None else 100
    return {
        "quality": quality,
        "restored_psnr": scores["psnr"],
        "restored_ssim": scores["ssim"],
        "equivalent_quality": found,
        "above_100": found is None,
        "bytes": len(data),
        "equivalent_bytes": jpeg_at(equivalent)[1],
    }


def equivalent_quality(cfg: EquivalentConfig, model, progress=None) -> list[dict]:
    """Per-image rows for every dataset, image and quality."""
    if cfg.metric not in ("ssim", "psnr"):
        raise UsageError(f"metric must be ssim or psnr, got {cfg.metric!r}")
    work = [(Path(d).name, p, q) for d in cfg.datasets for q in cfg.qualities for p in _dataset_images(d, cfg.limit)]
    rows = []
    for i, (dataset, path, quality) in enumerate(work):
        row = equivalent_for_image(load_reference(path), quality, model, cfg.metric, cfg.subsampling)
        rows.append({"dataset": dataset, "image": path.name, **row})
        if progress:
            progress(i + 1, len(work), f"{dataset} q{quality}")
    return rows


def summarize(rows: list[dict]) -> list[dict]:
    """Per dataset and quality: means of equivalent quality, increase, bytes; bytes saved.

    Images for which no quality up to 100 reaches the restoration count as quality 100 (a
    lower bound) and are counted in `above_100`.
    """
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["quality"]), []).append(r)
    out = []
    for (dataset, quality), g in sorted(groups.items()):
        eq = [r["equivalent_quality"] if r["equivalent_quality"] is not None else 100 for r in g]
        size = float(np.mean([r["bytes"] for r in g]))
        eq_size = float(np.mean([r["equivalent_bytes"] for r in g]))
        out.append(
            {
                "dataset": dataset,
                "quality": quality,
                "images": len(g),
                "equivalent_quality": float(np.mean(eq)),
                "quality_increase": float(np.mean(eq)) - quality,
                "bytes": size,
                "equivalent_bytes": eq_size,
                "bytes_saved": eq_size - size,
                "percent_saved": 100.0 * (eq_size - size) / eq_size if eq_size else 0.0,
                "above_100": sum(r["above_100"] for r in g),
            }
        )
    return out


_METRIC_NAMES = {"ssim": "SSIM", "psnr": "PSNR", "psnrb": "PSNR-B", "psnr_y": "PSNR-Y"}


def plot(summary: list[dict], path: str, metric: str = "ssim") -> None:
    """Equivalent quality and storage saved against input quality (paper, figure 19), under
    the `metric` the equivalence was judged by; the saving from 0 %, so shares compare."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for dataset in sorted({r["dataset"] for r in summary}):
        rows = [r for r in summary if r["dataset"] == dataset]
        qs = [r["quality"] for r in rows]
        a.plot(qs, [r["equivalent_quality"] for r in rows], marker="o", label=dataset)
        b.plot(qs, [r["percent_saved"] for r in rows], marker="o", label=dataset)
    lo, hi = min(r["quality"] for r in summary), max(r["quality"] for r in summary)
    a.plot([lo, hi], [lo, hi], "k--", linewidth=0.8, label="no gain")
    a.set_xlabel("input JPEG quality"), a.set_ylabel("equivalent JPEG quality"), a.set_title("equivalent quality")
    b.set_xlabel("input JPEG quality"), b.set_ylabel("storage saved (%)"), b.set_title("storage saved")
    b.set_ylim(bottom=0, top=max(5.0, 1.1 * max(r["percent_saved"] for r in summary)))
    fig.suptitle(f"restored by qgac against plain JPEG decodes, equal {_METRIC_NAMES.get(metric, metric)}")
    a.legend(), b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
