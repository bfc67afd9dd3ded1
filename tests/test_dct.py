import math

import torch

from qgac_cli.restore import dct


def test_dct_matrix_is_orthonormal():
    d = dct.dct_matrix(torch.float64)
    assert torch.allclose(d @ d.T, torch.eye(8, dtype=torch.float64), atol=1e-12)


def test_constant_block_has_only_dc():
    plane = torch.full((1, 1, 8, 8), 10.0)
    coef = dct.dct_plane(plane)
    assert math.isclose(float(coef[0, 0, 0, 0]), 80.0, rel_tol=1e-6)  # 8 * value
    coef[0, 0, 0, 0] = 0
    assert float(coef.abs().max()) < 1e-4


def test_known_cosine_lands_in_one_frequency():
    n = torch.arange(8, dtype=torch.float64)
    basis = torch.cos((2 * n + 1) * 3 * math.pi / 16)  # horizontal frequency 3
    plane = basis.repeat(8, 1).view(1, 1, 8, 8)
    coef = dct.dct_plane(plane)[0, 0]
    assert int(coef.abs().argmax()) == 3  # row 0, column 3 (natural order)


def test_dct_idct_round_trip_and_block_layout():
    plane = torch.randn(2, 1, 24, 32, dtype=torch.float64)
    assert torch.allclose(dct.idct_plane(dct.dct_plane(plane)), plane, atol=1e-10)
    blocks = dct.to_blocks(plane)
    assert blocks.shape == (2, 64, 3, 4)
    # block (1, 2), offset (u, v) = (3, 5) -> channel 3*8+5
    assert blocks[0, 29, 1, 2] == plane[0, 0, 8 + 3, 16 + 5]
    assert torch.equal(dct.from_blocks(blocks), plane)


def test_zigzag_order():
    assert dct.ZIGZAG[:10] == (0, 1, 8, 16, 9, 2, 3, 10, 17, 24)
    assert sorted(dct.ZIGZAG) == list(range(64))
    values = torch.arange(64.0)
    assert torch.equal(dct.zigzag_to_natural(dct.natural_to_zigzag(values)), values)


def test_colour_conversion_known_values_and_round_trip():
    white = torch.ones(1, 3, 1, 1)
    assert torch.allclose(dct.rgb_to_ycbcr(white).flatten(), torch.tensor([255.0, 128.0, 128.0]), atol=1e-3)
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    y, cb, cr = dct.rgb_to_ycbcr(red).flatten().tolist()
    assert math.isclose(y, 76.245, abs_tol=1e-3) and math.isclose(cr, 255.5, abs_tol=1e-3)
    assert math.isclose(cb, 128 - 0.168736 * 255, abs_tol=1e-3)
    rgb = torch.rand(2, 3, 5, 7, dtype=torch.float64)
    assert torch.allclose(dct.ycbcr_to_rgb(dct.rgb_to_ycbcr(rgb)), rgb, atol=1e-6)


def test_sampling_helpers():
    plane = torch.arange(16.0).view(1, 1, 4, 4)
    low = dct.downsample(plane, (2, 2))
    assert torch.equal(low, torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
    assert torch.equal(dct.downsample(dct.replicate(low, (2, 2)), (2, 2)), low)
    const = torch.full((1, 1, 3, 5), 7.0)
    for factor in ((2, 2), (1, 2), (2, 1), (1, 4)):
        up = dct.upsample(const, factor)
        assert up.shape[-2:] == (3 * factor[0], 5 * factor[1])
        assert torch.allclose(up, torch.full_like(up, 7.0))


def test_dct_domain_resampling_is_consistent():
    blocks = torch.randn(1, 64, 3, 4, dtype=torch.float64)
    up = dct.dct_upsample_2x(blocks)
    assert up.shape == (1, 64, 6, 8)
    assert torch.allclose(dct.dct_downsample_2x(up), blocks, atol=1e-9)
    # a flat plane stays flat at twice the resolution (DC scales by 1 per 8x8 block)
    flat = torch.zeros(1, 64, 1, 1, dtype=torch.float64)
    flat[0, 0] = 80.0
    assert torch.allclose(dct.dct_upsample_2x(flat)[0, 0], torch.full((2, 2), 80.0, dtype=torch.float64))
