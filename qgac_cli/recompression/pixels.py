"""Pixels from coefficients and back, in numpy: (blocks_y, blocks_x, 8, 8) blocks of a
component, sample planes (H, W) float in 0..255."""

from __future__ import annotations

import numpy as np


def _dct_matrix() -> np.ndarray:
    """The orthonormal 8-point DCT-II matrix (numpy float64)."""
    u, x = np.mgrid[0:8, 0:8]
    d = np.cos((2 * x + 1) * u * np.pi / 16) * np.sqrt(2 / 8)
    d[0] /= np.sqrt(2)
    return d


_D = _dct_matrix()


def samples(coefficients: np.ndarray, table: np.ndarray) -> np.ndarray:
    """A component's samples (8·by, 8·bx) float, 0..255, from its quantized coefficients
    (by, bx, 8, 8) and table: a float IDCT (libjpeg's integer one differs by a level at most)."""
    blocks = _D.T @ (coefficients * np.asarray(table, dtype=np.float64)) @ _D + 128.0  # (by, bx, 8, 8)
    by, bx = blocks.shape[:2]
    return np.clip(blocks.transpose(0, 2, 1, 3).reshape(by * 8, bx * 8), 0.0, 255.0)


def block_coefficients(plane: np.ndarray) -> np.ndarray:
    """The DCT (by, bx, 8, 8) of a sample plane's level-shifted 8×8 blocks (sides cut to
    multiples of 8)."""
    h, w = plane.shape[0] // 8, plane.shape[1] // 8
    blocks = (plane[: h * 8, : w * 8] - 128.0).reshape(h, 8, w, 8).transpose(0, 2, 1, 3)  # (h, w, 8, 8)
    return _D @ blocks @ _D.T


def downsampled(plane: np.ndarray, offset: tuple[int, int], factor: tuple[int, int]) -> np.ndarray:
    """A full-resolution plane from `offset` on, box-averaged by `factor` as an encoder does."""
    fy, fx = factor
    part = plane[offset[0] :, offset[1] :]
    h, w = part.shape[0] // fy * fy, part.shape[1] // fx * fx
    return part[:h, :w].reshape(h // fy, fy, w // fx, fx).mean((1, 3))
