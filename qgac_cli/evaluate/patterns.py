"""A generated set of fine regular patterns: what JPEG restoration finds hardest to leave
alone. Photos of façades (rows of windows), brickwork and gratings carry energy at a few
sharp frequencies that the quantizer keeps or drops block by block; a network trained on
ordinary photos can mistake what survives for artefacts. `qgac eval --patterns` scores this
set beside the photo sets; nothing is read from disk.

Every image is 384 × 512 RGB uint8, drawn at 4× and box-filtered down (a camera's optics
and sensor average over each pixel: no aliasing a lens would not make), deterministic.
"""

from __future__ import annotations

import functools

import numpy as np

HEIGHT, WIDTH, OVERSAMPLE = 384, 512, 4


def _grid(angle_degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """Oversampled coordinates in output pixels, (u along the pattern, v across), rotated."""
    y, x = np.mgrid[0 : HEIGHT * OVERSAMPLE, 0 : WIDTH * OVERSAMPLE].astype(np.float32) / OVERSAMPLE
    a = np.deg2rad(angle_degrees)
    return x * np.cos(a) + y * np.sin(a), -x * np.sin(a) + y * np.cos(a)


def _down(values: np.ndarray) -> np.ndarray:
    """(H·4, W·4[, 3]) in [0, 1] -> (H, W, 3) uint8, each pixel the mean of its 4 × 4."""
    if values.ndim == 2:
        values = values[..., None].repeat(3, axis=-1)
    h, w = values.shape[0] // OVERSAMPLE, values.shape[1] // OVERSAMPLE
    mean = values.reshape(h, OVERSAMPLE, w, OVERSAMPLE, 3).mean(axis=(1, 3))
    return np.clip(np.round(mean * 255), 0, 255).astype(np.uint8)


def _mix(mask: np.ndarray, on: tuple[float, ...], off: tuple[float, ...]) -> np.ndarray:
    """Colour `on` where mask is 1, `off` where 0 (mask in [0, 1]), (..., 3)."""
    m = mask[..., None]
    return m * np.asarray(on) + (1 - m) * np.asarray(off)


def grating(period: float, angle: float, square: bool = False, tint=(0.5, 0.5, 0.5)) -> np.ndarray:
    """Sinusoidal (or square-wave) bars of `period` pixels at `angle` degrees."""
    u, _ = _grid(angle)
    wave = 0.5 + 0.5 * np.cos(2 * np.pi * u / period)
    if square:
        wave = (wave > 0.5).astype(np.float64)
    return _down(_mix(0.1 + 0.8 * wave, (1.0, 1.0, 1.0), tint))


def grid(spacing: float, width: float, angle: float, paper=(0.93, 0.92, 0.88), ink=(0.15, 0.2, 0.35)) -> np.ndarray:
    """Lines `width` pixels wide every `spacing` pixels, both ways (graph paper, a fence)."""
    u, v = _grid(angle)
    line = (np.mod(u, spacing) < width) | (np.mod(v, spacing) < width)
    return _down(_mix(line.astype(np.float64), ink, paper))


def brickwork(brick: tuple[float, float], mortar: float, angle: float, seed: int = 0) -> np.ndarray:
    """Running bond: bricks (length, height) with mortar joints, each brick's colour varied."""
    u, v = _grid(angle)
    length, height = brick
    row = np.floor(v / height)
    shifted = u + (np.mod(row, 2) * length / 2)
    column = np.floor(shifted / length)
    joint = (np.mod(v, height) < mortar) | (np.mod(shifted, length) < mortar)
    rng = np.random.default_rng(seed)
    shades = rng.uniform(-0.08, 0.08, size=4096)
    shade = shades[(row.astype(np.int64) * 97 + column.astype(np.int64) * 31) % shades.size][..., None]
    brick_colour = np.asarray((0.62, 0.3, 0.22)) + shade
    return _down(np.where(joint[..., None], np.asarray((0.78, 0.76, 0.7)), brick_colour))


def facade(period: tuple[float, float], window: tuple[float, float], frame: float, angle: float) -> np.ndarray:
    """A wall with a regular array of windows (period and size (across, up) in pixels), each
    with a light frame and a dark pane split by a glazing bar."""
    u, v = _grid(angle)
    pu, pv = np.mod(u, period[0]), np.mod(v, period[1])
    inside = (pu < window[0]) & (pv < window[1])
    pane = inside & (pu >= frame) & (pu < window[0] - frame) & (pv >= frame) & (pv < window[1] - frame)
    bar = pane & (np.abs(pu - window[0] / 2) < frame / 2)
    wall, frame_colour, glass = (
        np.asarray((0.8, 0.74, 0.62)),
        np.asarray((0.95, 0.95, 0.93)),
        np.asarray((0.18, 0.22, 0.28)),
    )
    out = np.where(inside[..., None], frame_colour, wall)
    out = np.where((pane & ~bar)[..., None], glass + 0.1 * (pv / period[1])[..., None], out)
    return _down(out)


@functools.lru_cache(maxsize=1)
def pattern_set() -> tuple[tuple[str, np.ndarray], ...]:
    """(name, (384, 512, 3) uint8) for each pattern, in a fixed order."""
    items = []
    for period, angle in ((3.0, 0), (4.5, 30), (6.0, 45), (9.0, 80)):
        items.append((f"grating-sine-p{period:g}-a{angle}", grating(period, angle, tint=(0.3, 0.35, 0.5))))
    for period, angle in ((4.0, 0), (7.0, 15), (11.0, 60)):
        items.append((f"grating-bars-p{period:g}-a{angle}", grating(period, angle, square=True, tint=(0.45, 0.3, 0.2))))
    for spacing, width, angle in ((6.0, 1.0, 0), (9.0, 1.5, 20), (16.0, 2.0, 0)):
        items.append((f"grid-s{spacing:g}-a{angle}", grid(spacing, width, angle)))
    for brick, mortar, angle in (((16.0, 6.0), 1.0, 0), ((24.0, 10.0), 2.0, 0), ((40.0, 14.0), 2.5, -7)):
        items.append((f"bricks-{brick[0]:g}x{brick[1]:g}-a{angle}", brickwork(brick, mortar, angle)))
    for period, window, frame, angle in (
        ((10.0, 14.0), (6.0, 8.0), 1.0, 0),
        ((18.0, 24.0), (10.0, 14.0), 1.5, 0),
        ((28.0, 36.0), (16.0, 22.0), 2.0, 3),
    ):
        items.append((f"facade-{period[0]:g}x{period[1]:g}-a{angle}", facade(period, window, frame, angle)))
    return tuple(items)


def _colour(rng: np.random.Generator, low: float = 0.05, high: float = 0.95) -> tuple[float, float, float]:
    return tuple(float(c) for c in rng.uniform(low, high, 3))


def random_pattern(rng: np.random.Generator) -> np.ndarray:
    """One pattern for training, (384, 512, 3) uint8: a kind of the evaluation set's, with its
    period, angle, colours and contrast drawn at random (never one of `pattern_set`'s exact
    images), and sensor-like noise (σ up to 3 levels) on half of them."""
    kind = rng.integers(4)
    near_axis = float(rng.normal(0, 6))  # façades and walls are photographed nearly square
    if kind == 0:
        image = grating(float(rng.uniform(2.5, 14)), float(rng.uniform(0, 180)), bool(rng.integers(2)), _colour(rng))
    elif kind == 1:
        spacing = float(rng.uniform(4, 20))
        image = grid(spacing, float(rng.uniform(0.8, spacing / 3)), float(rng.uniform(0, 90)), _colour(rng, 0.6),
                     _colour(rng, 0.0, 0.5))  # fmt: skip
    elif kind == 2:
        length = float(rng.uniform(10, 48))
        brick = (length, length * float(rng.uniform(0.3, 0.5)))
        image = brickwork(brick, float(rng.uniform(0.8, 3)), near_axis, seed=int(rng.integers(1 << 30)))
    else:
        across, up = float(rng.uniform(8, 36)), float(rng.uniform(10, 44))
        window = (across * float(rng.uniform(0.4, 0.75)), up * float(rng.uniform(0.4, 0.75)))
        image = facade((across, up), window, float(rng.uniform(0.8, 2.5)), near_axis)
    if rng.integers(2):
        noisy = image.astype(np.float32) + rng.normal(0, float(rng.uniform(0.5, 3)), image.shape)
        image = np.clip(np.round(noisy), 0, 255).astype(np.uint8)
    return image
