import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from qgac_cli.evaluate.metrics import blocking_effect_factor, box_mean, psnr, psnrb, ssim


def test_identical_images():
    x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    assert torch.isinf(psnr(x, x)).all()
    assert torch.allclose(ssim(x, x), torch.ones(2, dtype=torch.float64))


def test_constant_offset_psnr():
    x = torch.full((1, 3, 16, 16), 0.5, dtype=torch.float64)
    assert math.isclose(float(psnr(x + 0.1, x)), 20.0, rel_tol=1e-9)  # MSE 0.01
    # joint MSE over channels: only one of three channels off by 0.3 -> MSE 0.03
    y = x.clone()
    y[:, 0] += 0.3
    assert math.isclose(float(psnr(y, x)), 10 * math.log10(1 / 0.03), rel_tol=1e-9)


def test_bef_by_hand():
    # 16x16, left block column 0.0, right 0.5: only the border pairs (column 7|8) differ
    img = torch.zeros(1, 1, 16, 16, dtype=torch.float64)
    img[..., 8:] = 0.5
    # boundary pairs: 16 rows x 1 column (horizontal) + 16 columns x 1 row (vertical) = 32
    d_b = 16 * 0.25 / 32
    d_bc = 0.0
    eta = math.log2(8) / math.log2(16)
    assert math.isclose(float(blocking_effect_factor(img)), eta * (d_b - d_bc), rel_tol=1e-12)
    # smooth ramp: no blocking
    ramp = torch.linspace(0, 1, 16, dtype=torch.float64).repeat(16, 1).view(1, 1, 16, 16)
    assert float(blocking_effect_factor(ramp)) == 0.0


def test_psnrb_argument_order():
    clean = torch.full((1, 1, 32, 32), 0.5, dtype=torch.float64)
    blocky = clean.clone()
    blocky[..., ::8, :] += 0  # same shape
    blocky += torch.kron(torch.tensor([[0.05, -0.05] * 2] * 4, dtype=torch.float64), torch.ones(8, 8))
    good_order = float(psnrb(blocky, clean))
    swapped = float(psnrb(clean, blocky))
    assert math.isclose(swapped, float(psnr(blocky, clean)), rel_tol=1e-12)  # clean has no BEF
    assert good_order < swapped


def _ssim_reference(x: np.ndarray, y: np.ndarray) -> float:
    """Straight loops over every 8x8 window."""
    c1, c2 = 0.01**2, 0.03**2
    values = []
    for i in range(x.shape[0] - 7):
        for j in range(x.shape[1] - 7):
            a, b = x[i : i + 8, j : j + 8], y[i : i + 8, j : j + 8]
            ma, mb = a.mean(), b.mean()
            va, vb = a.var(), b.var()
            cov = ((a - ma) * (b - mb)).mean()
            values.append(((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    return float(np.mean(values))


def test_ssim_matches_a_direct_computation():
    rng = np.random.default_rng(0)
    x = rng.random((20, 23))
    y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1)
    got = float(ssim(torch.from_numpy(y)[None, None], torch.from_numpy(x)[None, None]))
    assert math.isclose(got, _ssim_reference(y, x), rel_tol=1e-9)
    # colour: mean over channels
    xs = torch.from_numpy(np.stack([x, 1 - x]))[None]
    ys = torch.from_numpy(np.stack([y, 1 - y]))[None]
    expected = (_ssim_reference(y, x) + _ssim_reference(1 - y, 1 - x)) / 2
    assert math.isclose(float(ssim(ys, xs)), expected, rel_tol=1e-9)


def test_ssim_is_differentiable():
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64, requires_grad=True)
    y = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    ssim(x, y).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (1, 1, 9, 30), (3, 2, 41, 17)])
def test_box_mean_is_a_valid_stride_one_average(shape):
    x = torch.rand(*shape, dtype=torch.float64, requires_grad=True)
    got = box_mean(x)
    expected = F.avg_pool2d(x, 8, stride=1)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, rtol=0, atol=1e-12)
    (grad_got,) = torch.autograd.grad(got.sum(), x)
    (grad_expected,) = torch.autograd.grad(expected.sum(), x)
    assert torch.allclose(grad_got, grad_expected, rtol=0, atol=1e-12)


def test_ssim_in_float32_on_a_large_image_keeps_its_precision():
    # a running sum over thousands of samples must not drift: compare against float64
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 1, 600, 2400, generator=g, dtype=torch.float64)
    y = (x + 0.02 * torch.randn(x.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    assert float(ssim(y.float(), x.float())) == pytest.approx(float(ssim(y, x)), abs=1e-5)
