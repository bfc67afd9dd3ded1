"""Test-time augmentation (`qgac_cli.restore.mirror`, `restore --tta`): mirrors of the file's
coefficients are mirrors of its pixels, the mean is that of the mirrored files' restorations,
and on photos it is closer to the truth than one restoration."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import SHARED, photo, pillow_jpeg
from PIL import Image

from qgac_cli import api
from qgac_cli.cli import main
from qgac_cli.codec.jpeg.data import with_coefficients
from qgac_cli.codec.jpeg.reading import read_jpeg
from qgac_cli.evaluate.metrics import psnr
from qgac_cli.restore.coefficients import from_jpeg, to_pixels
from qgac_cli.restore.mirror import MIRRORS, mean_of_mirrors, mirror_planes, unmirror
from qgac_cli.restore.restoration import restore_planes

FP32 = api.RestoreOptions(tile=0, precision="fp32", first_quality="off")


@pytest.mark.parametrize(
    "size, options",
    [
        ((61, 83), {"subsampling": "4:2:0"}),
        ((64, 48), {"subsampling": "4:2:2"}),
        ((37, 50), {"subsampling": "4:4:4"}),
        ((45, 70), None),  # grayscale
    ],
)
@pytest.mark.parametrize("horizontal, vertical", MIRRORS[1:])
def test_mirrored_coefficients_decode_to_mirrored_pixels(size, options, horizontal, vertical):
    channels = 1 if options is None else 3
    jpeg = read_jpeg(pillow_jpeg(photo(*size, seed=3, channels=channels), quality=40, **(options or {})))
    planes = from_jpeg(jpeg)
    mirrored = to_pixels(mirror_planes(planes, horizontal, vertical))
    assert mirrored.shape[-2:] == (planes.y.shape[-2] * 8, planes.y.shape[-1] * 8)
    back = unmirror(mirrored, horizontal, vertical, planes.height, planes.width)
    torch.testing.assert_close(back, to_pixels(planes), rtol=0, atol=1e-6)


def _mirrored_file(jpeg, horizontal: bool):
    """The same JPEG mirrored left-right (or up-down) losslessly, as jpegtran -flip would for a
    picture of whole MCUs: blocks reversed along the axis, odd frequencies along it negated."""
    signs = ((-1) ** np.arange(8)).astype(np.int16)  # coefficients (by, bx, 8, 8): [v, u] last
    signs, blocks_axis = (signs.reshape(1, 8), 1) if horizontal else (signs.reshape(8, 1), 0)
    return with_coefficients(jpeg, [np.flip(c.coefficients, blocks_axis) * signs for c in jpeg.components])


@pytest.mark.parametrize("horizontal", [True, False])
def test_two_mirrors_average_the_restorations_of_the_file_and_its_mirror(tiny, horizontal):
    jpeg = read_jpeg(pillow_jpeg(photo(64, 96, seed=1), quality=50, subsampling="4:2:0"))
    once = api.restore_jpeg(jpeg, tiny, FP32)
    mirrored = api.restore_jpeg(_mirrored_file(jpeg, horizontal), tiny, FP32)
    mirrored = mirrored[:, ::-1] if horizontal else mirrored[::-1]
    assert np.abs(once - mirrored).max() > 1e-3  # the network is not mirror-symmetric: the mean differs
    planes, mirror = from_jpeg(jpeg), ((True, False) if horizontal else (False, True))
    with torch.no_grad():
        restored = restore_planes(tiny, mirror_planes(planes, *mirror)).pixels
    by_planes = unmirror(restored, *mirror, planes.height, planes.width)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(by_planes, mirrored, atol=1e-5)  # the file's mirror, restored
    if horizontal:  # the library's own two mirrors are left-right
        tta = api.restore_jpeg(jpeg, tiny, api.RestoreOptions(tile=0, precision="fp32", first_quality="off", tta=2))
        np.testing.assert_allclose(tta, (once + mirrored) / 2, atol=1e-5)


def test_tiles_of_mirrors_match_the_whole(tiny):
    jpeg = read_jpeg(pillow_jpeg(photo(150, 230, seed=2), quality=30))
    whole = api.restore_jpeg(jpeg, tiny, api.RestoreOptions(tile=0, precision="fp32", tta=4))
    tiled = api.restore_jpeg(jpeg, tiny, api.RestoreOptions(tile=64, halo=None, precision="fp32", tta=4, lanes=1))
    np.testing.assert_allclose(tiled, whole, atol=1e-4)


def test_one_mirror_is_the_plain_restore(tiny):
    planes = from_jpeg(read_jpeg(pillow_jpeg(photo(40, 56), quality=30)))
    calls = []
    out = mean_of_mirrors(lambda p: calls.append(p) or to_pixels(p), planes, 1)
    assert calls == [planes]
    torch.testing.assert_close(out, to_pixels(planes))
    with pytest.raises(ValueError, match="one of"):
        mean_of_mirrors(to_pixels, planes, 3)


def _crops() -> list[np.ndarray]:
    live1 = SHARED / "eval" / "live1"
    if live1.is_dir():
        paths = sorted(live1.glob("*.png"))[:4]
        return [np.ascontiguousarray(np.asarray(Image.open(p).convert("RGB"))[:192, :256]) for p in paths]
    return [photo(192, 256, seed=s) for s in range(4)]


def test_four_mirrors_restore_photos_closer_to_the_truth():
    # at q10 the gain is +0.045 to +0.062 dB on each Live-1 crop and +0.035 to +0.040 on each
    # generated one; at q30 the generated crops gained only +0.011 on average, too near the bar
    model = api.load_model("fast")
    gains = {1: [], 4: []}
    for reference in _crops():
        jpeg = read_jpeg(pillow_jpeg(reference, quality=10, subsampling="4:2:0"))
        truth = torch.from_numpy(reference).permute(2, 0, 1)[None].float() / 255
        for count in gains:
            options = api.RestoreOptions(tile=0, precision="fp32", first_quality="off", bits=8, tta=count)
            restored = torch.from_numpy(api.restore_jpeg(jpeg, model, options)).permute(2, 0, 1)[None].float() / 255
            gains[count].append(psnr(restored, truth).item())
    assert np.mean(gains[4]) > np.mean(gains[1]) + 0.01


def test_restore_cli_takes_tta(tmp_path):
    source = tmp_path / "in.jpg"
    source.write_bytes(pillow_jpeg(photo(48, 64), quality=40))
    result = CliRunner().invoke(
        main, ["restore", str(source), str(tmp_path / "out.png"), "--weights", "fast", "--tta", "2"]
    )
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "out.png").size == (64, 48)
    result = CliRunner().invoke(main, ["restore", str(source), str(tmp_path / "x.png"), "--tta", "3"])
    assert result.exit_code == 2 and "--tta" in result.output
