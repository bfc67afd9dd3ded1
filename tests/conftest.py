"""Shared fixtures: deterministic generated images, JPEG flavours, tiny models."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from qgac_cli.model import QGAC, ModelConfig, NetConfig

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

TINY = ModelConfig(
    y=NetConfig(kind="efficient", channels=8, blocks=1, freq_channels=1, basis=2),
    color=NetConfig(kind="efficient", channels=8, blocks=1, basis=2),
)


def photo(height: int, width: int, seed: int = 0, channels: int = 3) -> np.ndarray:
    """A deterministic photo-like image: gradients, edges, texture (uint8)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = []
    for c in range(channels):
        base = 128 + 60 * np.sin(xx / (9 + 4 * c) + c) * np.cos(yy / (13 + c))
        base += 40 * ((xx + 2 * yy + 7 * c) % 37 > 18)
        base += rng.normal(0, 8, size=(height, width))
        planes.append(base)
    image = np.clip(np.stack(planes, -1), 0, 255).astype(np.uint8)
    return image[..., 0] if channels == 1 else image


def image_folder(folder: Path, count: int, height: int, width: int) -> Path:
    """A folder of `count` generated colour PNGs."""
    folder.mkdir(parents=True)
    for i in range(count):
        Image.fromarray(photo(height, width, seed=i)).save(folder / f"c{i}.png")
    return folder


def pillow_jpeg(pixels: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def jpeglib_jpeg(pixels: np.ndarray, tmp_path: Path, quality: int = 50, flags=(), sampling=None) -> bytes:
    import jpeglib

    jpeglib.version.set("turbo210")
    image = jpeglib.from_spatial(np.ascontiguousarray(pixels))
    if sampling is not None:
        image.samp_factor = np.array(sampling)
    path = tmp_path / f"j{abs(hash((quality, tuple(flags), str(sampling))))}.jpg"
    image.write_spatial(str(path), qt=quality, flags=list(flags))
    return path.read_bytes()


def tiny_model(seed: int = 0, randomize_output: bool = True) -> QGAC:
    """A tiny model; with randomize_output its residual branches are not zero."""
    torch.manual_seed(seed)
    model = QGAC(TINY)
    if randomize_output:
        with torch.no_grad():
            for net in (model.y_net, model.color_net):
                last = net.fuse if hasattr(net, "fuse") else net.out
                for p in last.parameters():
                    p.normal_(0, 0.05)
    return model.eval()


@pytest.fixture
def tiny():
    return tiny_model()


@pytest.fixture
def tiny_weights(tmp_path):
    """A tiny model saved as a checkpoint: its path, for --weights."""
    from qgac_cli import weights

    path = tmp_path / "tiny.pt"
    weights.save(tiny_model(), path)
    return str(path)


@pytest.fixture
def image():
    return photo(75, 101)


# --------------------------------------------------------------------------- the CPU's kind
# `--precision auto` runs bf16 on CPUs with AMX or AVX-512 BF16 and fp32 elsewhere, so the
# same test meets different arithmetic on different machines. QGAC_TEST_CPU=bf16 runs the
# suite as a bf16 CPU would (emulated where the CPU lacks it: slower, the same arithmetic),
# QGAC_TEST_CPU=avx2 as a CPU without it would; unset, the machine's own kind.


def simulate_cpu(monkeypatch, kind: str) -> None:
    """Make `qgac_cli.devices` see a CPU of `kind` ("bf16" or "avx2")."""
    from qgac_cli import devices

    real = devices.cpu_flags
    bf16 = set(devices.BF16_CPU_FLAGS)
    if kind == "bf16":
        monkeypatch.setattr(devices, "cpu_flags", lambda cpuinfo=None: real(cpuinfo) | {"avx512_bf16"})
    elif kind == "avx2":
        monkeypatch.setattr(devices, "cpu_flags", lambda cpuinfo=None: real(cpuinfo) - bf16)
    else:
        raise ValueError(f"QGAC_TEST_CPU must be bf16 or avx2, not {kind!r}")


@pytest.fixture(autouse=True)
def _cpu_kind(monkeypatch):
    import os

    kind = os.environ.get("QGAC_TEST_CPU")
    if kind:
        simulate_cpu(monkeypatch, kind)
    yield


@pytest.fixture(params=["avx2", "bf16"])
def cpu_kind(request, monkeypatch):
    """Runs a test once as each kind of CPU would (bf16 emulated where it is not native)."""
    simulate_cpu(monkeypatch, request.param)
    return request.param
