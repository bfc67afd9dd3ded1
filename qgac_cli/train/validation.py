"""Validation: held-out centre crops, compressed in torch at a few qualities, scored by the
EMA weights' mean PSNR gain over the JPEG decode; the best score decides best.pt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from qgac_cli.choices import VALIDATION_QUALITIES
from qgac_cli.data import compress, load_rgb, tables_for
from qgac_cli.evaluate.metrics import psnr
from qgac_cli.model import QGAC
from qgac_cli.restore.coefficients import Planes, to_pixels
from qgac_cli.restore.restoration import restore_planes

Item = tuple[int, Planes, torch.Tensor]  # (quality, compressed planes, target pixels (1, 3, s, s))


def validation_set(paths: list[Path], qualities: tuple[int, ...] = VALIDATION_QUALITIES, size: int = 256) -> list[Item]:
    """Centre crops of held-out images, 4:2:0-compressed in torch: (quality, planes, target).

    Compressed with the training pipeline's own encoder so training needs no codec library;
    `qgac eval` scores real libjpeg files.
    """
    items = []
    for path in paths:
        rgb = load_rgb(path)
        h, w = rgb.shape[:2]
        s = min(size, h // 16 * 16, w // 16 * 16)
        top, left = (h - s) // 2, (w - s) // 2
        crop = np.array(rgb[top : top + s, left : left + s])  # a writable copy
        target = torch.from_numpy(crop).permute(2, 0, 1).unsqueeze(0).float() / 255.0
        for q in qualities:
            y_table, c_table = tables_for([q], "cpu")
            items.append((q, compress(target, y_table, c_table, (2, 2)), target))
    return items


@torch.no_grad()
def validate(model: QGAC, items: list[Item], device: torch.device) -> dict[str, float]:
    """Mean PSNR gain over the JPEG decode per quality on the validation crops."""
    gains: dict[int, list[float]] = {}
    model.eval()
    for q, planes, target in items:
        planes = planes.to(device)
        target = target.to(device)
        restored = restore_planes(model, planes, project=True).pixels
        jpeg = to_pixels(planes)
        gains.setdefault(q, []).append(float(psnr(restored, target) - psnr(jpeg, target)))
    return {f"gain_q{q}": float(np.mean(v)) for q, v in gains.items()}


class Validator:
    """Scores weights on the validation items and remembers the best mean gain."""

    def __init__(self, items: list[Item], device: torch.device, best: float = -float("inf")) -> None:
        self.items, self.device, self.best = items, device, best

    def scores(self, model: QGAC, state: dict[str, torch.Tensor] | None = None) -> dict[str, float]:
        """The gains of `model`, or of a fresh model of its config holding `state` (the EMA
        weights; never compiled, whatever the training model is); the training model is left
        in training mode."""
        scored = model
        if state is not None:
            scored = QGAC(model.config).to(self.device)
            scored.load_state_dict(state)
        try:
            return validate(scored, self.items, self.device)
        finally:
            model.train()

    def improves(self, scores: dict[str, float]) -> bool:
        """Whether `scores` beat the best so far (then they are the best)."""
        score = float(np.mean(list(scores.values()))) if scores else -float("inf")
        if score <= self.best:
            return False
        self.best = score
        return True
