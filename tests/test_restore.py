import io
import json
import os
import struct
import zlib

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import photo, pillow_jpeg, tiny_model
from PIL import Image

from qgac_cli import api, weights
from qgac_cli.cli import main
from qgac_cli.codec import output
from qgac_cli.codec.jpeg import read_jpeg
from qgac_cli.restore import batch
from qgac_cli.restore.coefficients import from_jpeg, to_pixels
from qgac_cli.restore.restoration import restore_planes
from qgac_cli.restore.tiling import lane_tile, restore_jpeg_tiles


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def write_jpeg(path, pixels, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pillow_jpeg(pixels, **options))
    return path


def test_single_file(tmp_path, tiny_weights):
    src = write_jpeg(tmp_path / "in.jpg", photo(67, 101), quality=20)
    out = tmp_path / "out.png"
    result = run("restore", src, out, "--weights", tiny_weights)
    assert result.exit_code == 0, result.output
    with Image.open(out) as im:
        assert im.size == (101, 67) and im.mode == "RGB"
    assert not list(tmp_path.glob(".*part"))  # no temporary left behind


def test_shipped_weights_restore_and_improve(tmp_path):
    pixels = photo(96, 128, seed=7)
    src = write_jpeg(tmp_path / "in.jpg", pixels, quality=15)
    out = tmp_path / "out.png"
    assert run("restore", src, out).exit_code == 0
    restored = np.asarray(Image.open(out)).astype(np.float64)
    plain = np.asarray(Image.open(src).convert("RGB")).astype(np.float64)
    mse = lambda a: np.mean((a - pixels) ** 2)  # noqa: E731
    assert mse(restored) < mse(plain)


def test_folder_mirror_glob_and_corrupt_file(tmp_path, tiny_weights):
    tree = tmp_path / "photos"
    (tree / "sub").mkdir(parents=True)
    write_jpeg(tree / "a.jpg", photo(32, 48), quality=30)
    write_jpeg(tree / "sub" / "b.JPG", photo(40, 40, seed=1), quality=30)
    (tree / "sub" / "broken.jpg").write_bytes(pillow_jpeg(photo(64, 64), quality=30)[:300])
    (tree / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    result = run("restore", tree, "-o", out, "--weights", tiny_weights)
    assert result.exit_code == 1
    assert (out / "a.png").is_file() and (out / "sub" / "b.png").is_file()
    assert "broken.jpg" in result.output and "Traceback" not in result.output
    assert not (out / "sub" / "broken.png").exists()
    # --glob narrows the selection
    out2 = tmp_path / "out2"
    assert run("restore", tree, "-o", out2, "--glob", "a.*", "--weights", tiny_weights).exit_code == 0
    assert [p.name for p in out2.rglob("*.png")] == ["a.png"]


def test_existing_outputs_are_skipped_and_inputs_never_overwritten(tmp_path, tiny_weights):
    src = write_jpeg(tmp_path / "in.jpg", photo(32, 32), quality=30)
    out = tmp_path / "out.png"
    out.write_bytes(b"keep me")
    assert run("restore", src, out, "--weights", tiny_weights).exit_code == 0
    assert out.read_bytes() == b"keep me"
    assert run("restore", src, out, "--weights", tiny_weights, "--overwrite").exit_code == 0
    assert out.read_bytes() != b"keep me"
    before = src.read_bytes()
    result = run("restore", src, src, "--weights", tiny_weights, "--format", "jpeg", "--overwrite")
    assert result.exit_code == 2 and "existing JPEG" in result.output
    result = run("restore", src, "-o", tmp_path, "--weights", tiny_weights, "--format", "jpeg", "--overwrite")
    assert result.exit_code == 1 and "input" in result.output
    assert src.read_bytes() == before


def test_stdin_stdout(tmp_path, tiny_weights):
    data = pillow_jpeg(photo(32, 40), quality=30)
    result = CliRunner().invoke(main, ["restore", "-", "-", "--weights", tiny_weights], input=data)
    assert result.exit_code == 0
    with Image.open(io.BytesIO(result.stdout_bytes)) as im:
        assert im.format == "PNG" and im.size == (40, 32)


@pytest.mark.parametrize("ext,fmt", [(".png", "PNG"), (".tif", "TIFF"), (".webp", "WEBP"), (".jpg", "JPEG")])
def test_every_output_format_keeps_icc(tmp_path, tiny_weights, ext, fmt):
    icc = Image.core.__dict__.get("icc", None) or _srgb_like_profile()
    src = write_jpeg(tmp_path / "in.jpg", photo(32, 48), quality=30, icc_profile=icc)
    out = tmp_path / f"out{ext}"
    assert run("restore", src, out, "--weights", tiny_weights).exit_code == 0
    with Image.open(out) as im:
        assert im.format == fmt and im.size == (48, 32)
        assert im.info.get("icc_profile") == icc


def _srgb_like_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def png_rows(raw: bytes) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """(width, height, depth, colour type) and the unfiltered rows (height, bytes) of a PNG
    whose rows use filter None or Up: an independent reader of what qgac writes."""
    header = struct.unpack(">IIBB", raw[16:26])
    pos, idat = 8, b""
    while pos < len(raw):
        (length,) = struct.unpack(">I", raw[pos : pos + 4])
        if raw[pos + 4 : pos + 8] == b"IDAT":
            idat += raw[pos + 8 : pos + 8 + length]
        pos += 12 + length
    width, height = header[:2]
    data = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, -1)
    rows = np.zeros((height, data.shape[1] - 1), dtype=np.uint8)
    for i, (kind, row) in enumerate(zip(data[:, 0], data[:, 1:])):
        assert kind in (0, 2)
        rows[i] = row + (rows[i - 1] if kind == 2 and i else 0)  # uint8 arithmetic wraps as PNG's does
    return header, rows


def test_sixteen_bit_png(tmp_path, tiny_weights):
    src = write_jpeg(tmp_path / "in.jpg", photo(24, 40), quality=30)
    out = tmp_path / "out.png"
    assert run("restore", src, out, "--bit-depth", "16", "--weights", tiny_weights).exit_code == 0
    (width, height, depth, color_type), rows = png_rows(out.read_bytes())
    assert (width, height, depth, color_type) == (40, 24, 16, 2) and rows.shape == (24, 40 * 6)
    eight = tmp_path / "out8.png"
    run("restore", src, eight, "--weights", tiny_weights)
    px16 = rows.copy().view(">u2").reshape(height, width, 3)
    px8 = np.asarray(Image.open(eight)).astype(np.int32)
    assert np.abs(np.round(px16 / 257.0) - px8).max() <= 1


@pytest.mark.parametrize("deflate", ["isal", "zlib"])
def test_streamed_png_matches_pillows_reading_in_bands(tmp_path, monkeypatch, deflate):
    """Bands of rows filtered and compressed one at a time (the Up filter reaching across
    band edges) read back exactly, in every shape and orientation view, with ISA-L's deflate
    and with zlib's (where isal is not installed)."""
    import zlib

    from qgac_cli.codec import png

    if deflate == "zlib":
        monkeypatch.setattr(png, "_deflate", zlib)
    else:
        assert png._deflate is not zlib, "isal is a dependency: its deflate is the one used"
    monkeypatch.setattr(png, "BAND_BYTES", 100)  # a band of a few rows
    rgb = photo(37, 29, seed=3)
    for pixels in (rgb, rgb[:, :, 0], rgb.swapaxes(0, 1)[::-1]):
        buffer = io.BytesIO()
        png.write_png(buffer, pixels, icc=b"not really a profile", exif=None, text=[(b"tEXt", b"Comment\x00hi")])
        with Image.open(io.BytesIO(buffer.getvalue())) as im:
            assert (np.asarray(im) == pixels).all() and im.info["Comment"] == "hi"
    wide = (rgb.astype(np.uint16) * 257 + 3)[:, :, 1]
    buffer = io.BytesIO()
    png.write_png(buffer, wide)
    (_, _, depth, kind), rows = png_rows(buffer.getvalue())
    assert (depth, kind) == (16, 0) and (rows.copy().view(">u2").reshape(wide.shape) == wide).all()


def test_orientation_is_applied_or_kept(tmp_path, tiny_weights):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    src = write_jpeg(tmp_path / "in.jpg", photo(32, 48), quality=30, exif=exif.tobytes())
    out = tmp_path / "out.png"
    assert run("restore", src, out, "--weights", tiny_weights).exit_code == 0
    assert Image.open(out).size == (32, 48)
    kept = tmp_path / "kept.png"
    assert run("restore", src, kept, "--keep-orientation", "--weights", tiny_weights).exit_code == 0
    assert Image.open(kept).size == (48, 32)
    as_jpeg = tmp_path / "out.jpg"
    assert run("restore", src, as_jpeg, "--weights", tiny_weights).exit_code == 0
    with Image.open(as_jpeg) as im:
        assert im.size == (32, 48) and im.getexif().get(0x0112, 1) == 1


def test_orientation_table_matches_pillow():
    pixels = photo(5, 7)
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        im = Image.fromarray(pixels)
        im.info["exif"] = exif.tobytes()
        from PIL import ImageOps

        expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(_png_with_exif(pixels, exif)))))
        assert np.array_equal(output.apply_orientation(pixels, orientation), expected), orientation


def _png_with_exif(pixels, exif) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", exif=exif.tobytes())
    return buffer.getvalue()


def test_grayscale_stays_grayscale(tmp_path, tiny_weights):
    src = write_jpeg(tmp_path / "g.jpg", photo(33, 47, channels=1), quality=25)
    out = tmp_path / "g.png"
    assert run("restore", src, out, "--weights", tiny_weights).exit_code == 0
    assert Image.open(out).mode == "L"


def test_tiled_equals_untiled():
    model = tiny_model(3)
    for sub in (0, 1, 2):
        jpeg = read_jpeg(pillow_jpeg(photo(203, 301, seed=sub), quality=20, subsampling=sub))
        whole = restore_planes(model, from_jpeg(jpeg)).pixels
        tiled = torch.zeros_like(whole)
        count = 0
        for tile in restore_jpeg_tiles(model, jpeg, tile_pixels=64):
            h, w = tile.pixels.shape[-2:]
            tiled[..., tile.top : tile.top + h, tile.left : tile.left + w] = tile.pixels
            count += 1
        assert count > 4
        assert torch.allclose(tiled, whole, atol=1e-5), (sub, float((tiled - whole).abs().max()))


def test_tiles_made_float_one_window_at_a_time_equal_the_whole(tmp_path):
    """restore_jpeg_tiles dequantizes each tile's window of the integer coefficients only:
    the result must be the untiled restoration also for the rarer subsamplings (4:4:0, 4:1:1;
    the common ones are test_tiled_equals_untiled's) and grayscale, with ragged edges."""
    from conftest import jpeglib_jpeg

    model = tiny_model(5)
    rgb = photo(203, 301, seed=4)
    cases = [jpeglib_jpeg(rgb, tmp_path, 20, sampling=f) for f in ([[2, 1], [1, 1], [1, 1]], [[1, 4], [1, 1], [1, 1]])]
    cases.append(pillow_jpeg(photo(203, 301, seed=4, channels=1), quality=20))
    for data in cases:
        jpeg = read_jpeg(data)
        whole = restore_planes(model, from_jpeg(jpeg)).pixels
        tiled = torch.full_like(whole, float("nan"))
        tiles = list(restore_jpeg_tiles(model, jpeg, tile_pixels=64))
        for tile in tiles:
            h, w = tile.pixels.shape[-2:]
            tiled[..., tile.top : tile.top + h, tile.left : tile.left + w] = tile.pixels
        assert len(tiles) > 4 and all(t.count == len(tiles) for t in tiles)
        assert torch.allclose(tiled, whole, atol=1e-5), (jpeg.subsampling, float((tiled - whole).abs().max()))


@pytest.mark.parametrize("size", [(816, 1224), (4000, 6000), (48, 20000), (203, 301), (12000, 12500)])
@pytest.mark.parametrize("mcu", [(16, 16), (8, 8), (8, 16), (32, 8)])
@pytest.mark.parametrize("tile", [64, 200, 768])
def test_tile_layout_keeps_every_tile_within_its_area_and_computes_the_least(size, mcu, tile):
    from qgac_cli.restore.tiling import _computed, _spans, tile_layout

    grid = (-(-size[0] // mcu[0]), -(-size[1] // mcu[1]))
    margin = (2, 2)
    down, across = tile_layout(grid, mcu, tile, margin)
    rows, cols = list(_spans(grid[0], down, margin[0])), list(_spans(grid[1], across, margin[1]))
    for spans, count, share, m in (
        (rows, grid[0], -(-grid[0] // down), margin[0]),
        (cols, grid[1], -(-grid[1] // across), margin[1]),
    ):
        inner = [(a, b) for a, b, _, _ in spans]
        assert [a for a, _ in inner] == [0] + [b for _, b in inner[:-1]] and inner[-1][1] == count  # a partition
        assert all(b > a for a, b in inner)
        windows = {o1 - o0 for _, _, o0, o1 in spans}
        assert len(windows) == 1 and 0 <= min(o0 for *_, o0, _ in spans) and max(o1 for *_, o1 in spans) <= count
        assert windows.pop() <= min(count, share + 2 * m)  # no larger than the share and its margins
        for a, b, o0, o1 in spans:  # every inner MCU has its margin of context inside the window
            assert o0 <= a and b <= o1 and (o0 == 0 or a - o0 >= m) and (o1 == count or o1 - b >= m)
    assert -(-grid[0] // down) * mcu[0] * -(-grid[1] // across) * mcu[1] <= tile * tile  # the memory bound
    # it computes no more MCUs (windows counted) than the old layout of tile x tile squares would
    old = -(-grid[0] // max(1, tile // mcu[0])), -(-grid[1] // max(1, tile // mcu[1]))
    computed = lambda d, a: _computed(grid[0], d, margin[0]) * _computed(grid[1], a, margin[1])  # noqa: E731
    assert computed(down, across) <= computed(*old)
    ideal = (grid[0] + 2 * margin[0] * (down - 1)) * (grid[1] + 2 * margin[1] * (across - 1))
    assert computed(down, across) <= (ideal**0.5 + max(down, across)) ** 2  # equal windows cost only rounding


def test_a_megapixel_photo_is_cut_in_two_not_four():
    from qgac_cli.restore.tiling import tile_layout

    assert tile_layout((51, 77), (16, 16), 768, (4, 4)) == (1, 2)  # 816 x 1224, 4:2:0
    assert tile_layout((51, 77), (16, 16), 0, (4, 4)) == (1, 1)
    assert tile_layout((51, 77), (16, 16), 1224, (4, 4)) == (1, 1)


def test_the_default_halo_matches_the_untiled_result_in_8_bits():
    """Tiles get 8 blocks of context, not the network's whole reach (25 for base): the 8-bit
    result may differ from the untiled one by a level in a rare pixel, no more (fp32: the
    tolerance is fp32's; bf16 has its own test below)."""
    model = weights.load("base")
    jpeg = read_jpeg(pillow_jpeg(photo(200, 328, seed=9), quality=15))
    whole = api.restore_jpeg(jpeg, model, api.RestoreOptions(tile=0, bits=8, precision="fp32")).astype(int)
    tiled = api.restore_jpeg(jpeg, model, api.RestoreOptions(tile=128, bits=8, precision="fp32")).astype(int)
    assert api.halo_for(model, api.RestoreOptions().halo) == 8
    difference = np.abs(tiled - whole)
    assert difference.max() <= 1 and (difference > 0).mean() < 1e-3


def test_a_shorter_reaching_network_gets_a_shorter_halo_and_stays_as_close():
    """`fast` reaches 21 blocks (its colour network on the stored grid, the refinement) and gets
    6 of context, a network of 16 or fewer would get 4: its 8-bit result differs from the
    untiled one by a level in a rare pixel, as the longer-reaching networks' do at 8."""
    model = weights.load("fast")
    assert api.halo_for(model) == api.MIDDLE_HALO == 6 and api.halo_for(model, 4) == 4
    assert api.halo_for(model, None) is None
    assert api.halo_for(weights.load("base")) == api.DEFAULT_HALO
    jpeg = read_jpeg(pillow_jpeg(photo(200, 328, seed=9), quality=15))
    whole = api.restore_jpeg(jpeg, model, api.RestoreOptions(tile=0, bits=8, precision="fp32")).astype(int)
    # one lane: tiles of 128 on every machine (in lanes they are cut smaller: `tiling.lane_tile`)
    options = api.RestoreOptions(tile=128, bits=8, precision="fp32", lanes=1)
    difference = np.abs(api.restore_jpeg(jpeg, model, options).astype(int) - whole)
    assert difference.max() <= 1 and (difference > 0).mean() < 1e-3


def test_tiles_in_bf16_are_as_close_to_fp32_as_the_untiled_bf16_result():
    """In bf16 (`auto` on CPUs with AMX or AVX-512 BF16) a convolution's rounding depends on
    how oneDNN blocks it, which depends on the tile's size: tiling moves 1.8 % of pixels by a
    level (measured), where fp32 moves 1 in 10^5. bf16 itself moves 6 % against fp32, and the
    tiled bf16 result is no farther from fp32 than the untiled one: tiling adds no error."""
    model = weights.load("base")
    jpeg = read_jpeg(pillow_jpeg(photo(200, 328, seed=9), quality=15))

    def run(tile, precision):
        return api.restore_jpeg(jpeg, model, api.RestoreOptions(tile=tile, bits=8, precision=precision)).astype(int)

    fp32, whole, tiled = run(0, "fp32"), run(0, "bf16"), run(128, "bf16")
    assert np.abs(tiled - whole).max() <= 1 and (tiled != whole).mean() < 0.03
    assert np.abs(tiled - fp32).max() <= 1 and np.abs(whole - fp32).max() <= 1
    assert (tiled != fp32).mean() <= (whole != fp32).mean() + 0.005


def test_reading_for_restore_keeps_the_decode_only_where_it_is_the_result():
    lossy = api.read(pillow_jpeg(photo(48, 64), quality=50))
    assert lossy.decoded is None  # held as int16 coefficients alone
    exact = api.read(pillow_jpeg(photo(48, 64), quality=100, subsampling=0))
    assert api.nothing_to_restore(exact) and exact.decoded is not None
    assert (exact.decoded == read_jpeg(pillow_jpeg(photo(48, 64), quality=100, subsampling=0)).decoded).all()


def test_too_large_header_is_refused(tmp_path, tiny_weights):
    data = bytearray(pillow_jpeg(photo(16, 16), quality=50))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = b"\xff\xff\xff\xff"  # claims 65535 x 65535
    src = tmp_path / "bomb.jpg"
    src.write_bytes(bytes(data))
    result = run("restore", src, tmp_path / "bomb.png", "--weights", tiny_weights)
    assert result.exit_code == 1 and "larger than" in result.output
    small = write_jpeg(tmp_path / "ok.jpg", photo(64, 64), quality=50)
    result = run("restore", small, tmp_path / "ok.png", "--max-pixels", "1000", "--weights", tiny_weights)
    assert result.exit_code == 1 and "limit" in result.output


def test_usage_errors_exit_2(tmp_path, tiny_weights):
    src = write_jpeg(tmp_path / "in.jpg", photo(16, 16), quality=50)
    assert run("restore", src, tmp_path / "out.xyz", "--weights", tiny_weights).exit_code == 2
    assert run("restore", src, src, src, "--weights", tiny_weights).exit_code == 2  # no -o
    assert run("restore", src, tmp_path / "o.png", "--shard", "x").exit_code == 2


def test_high_quality_is_never_worse_than_the_decode():
    model = weights.load()
    pixels = photo(64, 96, seed=11)
    for quality in (95, 100):
        planes = from_jpeg(read_jpeg(pillow_jpeg(pixels, quality=quality, subsampling=2)))
        target = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            restored = restore_planes(model, planes).pixels
        plain = to_pixels(planes)
        assert torch.mean((restored - target) ** 2) <= torch.mean((plain - target) ** 2)


def test_sharding_and_api_without_cli(tmp_path, tiny_weights):
    jobs = [batch.Job(f"{i}.jpg", f"{i}.png") for i in range(5)]
    assert [j.source for j in batch.shard(jobs, 1, 2)] == ["1.jpg", "3.jpg"]
    model = api.load_model(tiny_weights)
    image = api.restore(pillow_jpeg(photo(20, 30), quality=40), model)
    assert image.pixels.shape == (20, 30, 3) and image.pixels.dtype == np.float32
    os.environ.pop("WORLD_SIZE", None)


@pytest.mark.parametrize("quality", [10, 50, 90])
def test_grey_photos_come_back_grey(quality):
    from qgac_cli.api import RestoreOptions, load_model, restore_jpeg

    model = load_model("base")
    grey = photo(96, 128, seed=3, channels=1)
    data = pillow_jpeg(np.stack([grey] * 3, -1), quality=quality, subsampling=2)
    with torch.no_grad():
        restored = restore_jpeg(read_jpeg(data), model, RestoreOptions(bits=8))
    assert np.array_equal(restored[..., 0], restored[..., 1]) and np.array_equal(restored[..., 1], restored[..., 2])


def _chroma(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB -> (2, H, W) Cb and Cr around 0 (JFIF)."""
    from qgac_cli.restore.dct import rgb_to_ycbcr

    rgb = torch.tensor(pixels, dtype=torch.float64).permute(2, 0, 1)[None] / 255.0
    return (rgb_to_ycbcr(rgb)[0, 1:] - 128.0).numpy()


def _faded(saturation: float, seed: int = 4) -> np.ndarray:
    """A generated colour photo faded toward its own luma (0: grey, 1: as it is)."""
    rgb = photo(128, 160, seed=seed).astype(np.float64)
    luma = (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2])[..., None]
    return np.clip(np.round(luma + saturation * (rgb - luma)), 0, 255).astype(np.uint8)


def test_colourfulness_reads_the_stored_colour():
    from qgac_cli.restore.coefficients import colourfulness

    def measured(pixels, quality=50):
        return colourfulness(read_jpeg(pillow_jpeg(pixels, quality=quality, subsampling=2)))

    grey = photo(64, 64, seed=2, channels=1)
    assert measured(np.stack([grey] * 3, -1)) == 0.0
    assert measured(grey) == 0.0  # a grayscale file has no colour at all
    assert measured(_faded(0.05)) < 6.0 < 12.0 < measured(_faded(1.0))
    cast = np.full((64, 64, 3), (140, 128, 116), np.uint8)  # a flat warm cast: Cb -8.0, Cr +7.0 levels
    assert abs(measured(cast, quality=95) - 8.0) < 0.5


@pytest.mark.parametrize(
    "quality,name,precision",
    [(q, n, "fp32") for n in ("large", "base") for q in (10, 30, 50, 90)]
    + [(10, "base", "bf16"), (50, "base", "bf16")],
)
def test_near_grey_photos_gain_no_colour(quality, name, precision):
    """A photo faded to 5 % of its colour: the restored chroma is no farther from the truth
    than the JPEG's (without the grey guard the colour network adds colour along the edges).
    Where the guard keeps the JPEG's chroma the two errors are equal: in fp32 exactly, in bf16
    up to its rounding (measured 1e-16 relative)."""
    from qgac_cli.api import RestoreOptions, load_model, restore_jpeg
    from qgac_cli.codec.jpeg import decode_with_pillow

    model = load_model(name)
    truth = _faded(0.05)
    data = pillow_jpeg(truth, quality=quality, subsampling=2)
    with torch.no_grad():
        restored = restore_jpeg(read_jpeg(data), model, RestoreOptions(bits=8, precision=precision))
    error = ((_chroma(restored) - _chroma(truth)) ** 2).mean()
    jpeg_error = ((_chroma(decode_with_pillow(data)) - _chroma(truth)) ** 2).mean()
    assert error <= jpeg_error * (1 + (1e-9 if precision == "bf16" else 0))


def test_the_grey_guard_leaves_colourful_photos_alone():
    """On a colourful photo the guard is off: bit for bit what the network restores."""
    from qgac_cli.api import RestoreOptions, load_model, restore_jpeg

    model = load_model("base")
    jpeg = read_jpeg(pillow_jpeg(_faded(1.0), quality=20, subsampling=2))
    with torch.no_grad():
        guarded = restore_jpeg(jpeg, model, RestoreOptions(bits=8))
        free = restore_jpeg(jpeg, model, RestoreOptions(bits=8, grey_guard=False))
    assert np.array_equal(guarded, free)


def test_the_grey_guard_scales_the_correction_by_the_colour_nearby():
    from qgac_cli.restore.restoration import GreyGuard, grey_guard

    stored = torch.full((1, 2, 64, 64), 128.0)
    stored[..., :8, :8] += 6.0  # colour in one corner only
    color = stored + 4.0  # the network adds colour everywhere
    guarded = grey_guard(color, stored, floor=0.0, guard=GreyGuard(window=17, levels=3.0))
    assert torch.equal(guarded[..., :8, :8], color[..., :8, :8])  # where the file has colour: kept
    assert torch.equal(guarded[..., 40:, 40:], stored[..., 40:, 40:])  # far from it: none added
    half = grey_guard(color, stored, floor=0.5)
    assert torch.allclose(half[..., 40:, 40:], stored[..., 40:, 40:] + 2.0)  # the floor keeps its share
    assert torch.equal(grey_guard(color, stored, floor=1.0), color)


def test_a_second_photo_is_never_an_output(tmp_path, tiny_weights):
    a = write_jpeg(tmp_path / "a.jpg", photo(32, 32), quality=30)
    b = write_jpeg(tmp_path / "b.jpg", photo(32, 32, seed=1), quality=30)
    before = b.read_bytes()
    for extra in ((), ("--overwrite",)):
        result = run("restore", a, b, "--weights", tiny_weights, *extra)
        assert result.exit_code == 2 and "existing JPEG" in result.output and "-o" in result.output
    assert b.read_bytes() == before


def test_inputs_that_would_share_an_output_fail_before_any_work(tmp_path, tiny_weights):
    for folder in ("d1", "d2"):
        write_jpeg(tmp_path / folder / "x.jpg", photo(32, 32), quality=30)
    write_jpeg(tmp_path / "d1" / "other.jpg", photo(32, 32, seed=3), quality=30)
    out = tmp_path / "out"
    result = run("restore", tmp_path / "d1" / "x.jpg", tmp_path / "d2" / "x.jpg", "-o", out, "--weights", tiny_weights)
    assert result.exit_code == 1 and result.output.count("would all be written") == 2
    assert not (out / "x.png").exists()
    write_jpeg(tmp_path / "d1" / "x.jpeg", photo(32, 32, seed=2), quality=30)
    result = run("restore", tmp_path / "d1", "-o", out, "--weights", tiny_weights)
    assert result.exit_code == 1 and "would all be written" in result.output
    assert [p.name for p in out.glob("*.png")] == ["other.png"]  # the rest is restored


def test_an_output_folder_inside_the_input_folder_is_not_read_back(tmp_path, tiny_weights):
    nest = tmp_path / "nest"
    write_jpeg(nest / "p.jpg", photo(32, 32), quality=30)
    for _ in range(2):
        result = run("restore", nest, "-o", nest / "out", "--format", "jpeg", "--weights", tiny_weights, "--overwrite")
        assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(nest).as_posix() for p in nest.rglob("*.jpg")) == ["out/p.jpg", "p.jpg"]
    # the input folder itself as the output folder: outputs beside the inputs
    result = run("restore", nest, "-o", nest, "--weights", tiny_weights)
    assert result.exit_code == 0 and (nest / "p.png").is_file() and (nest / "out" / "p.png").is_file()


def test_single_skip_says_so_and_outputs_get_the_usual_mode(tmp_path, tiny_weights):
    src = write_jpeg(tmp_path / "in.jpg", photo(32, 32), quality=30)
    out = tmp_path / "out.png"
    assert run("restore", src, out, "--weights", tiny_weights).exit_code == 0
    umask = os.umask(0o022)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    result = run("restore", src, out, "--weights", tiny_weights)
    assert result.exit_code == 0 and "skipped" in result.output and "--overwrite" in result.output


def test_an_unwritable_output_folder_fails_once_before_any_work(tmp_path, tiny_weights):
    for i in range(3):
        write_jpeg(tmp_path / "in" / f"{i}.jpg", photo(32, 32, seed=i), quality=30)
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    result = run("restore", tmp_path / "in", "-o", blocker / "out", "--weights", tiny_weights)
    assert result.exit_code == 1
    assert result.output.count("cannot write") == 1 and "Traceback" not in result.output


def test_an_unexpected_error_in_one_file_does_not_end_the_batch(tmp_path, tiny_weights, monkeypatch):
    from qgac_cli import api as api_module

    for i in range(3):
        write_jpeg(tmp_path / "in" / f"{i}.jpg", photo(32, 32, seed=i), quality=30)
    real = api_module.restore_as

    def flaky(jpeg, first, model, options=api_module.RestoreOptions(), progress=None):
        if jpeg.width == 32 and not flaky.failed:
            flaky.failed = True
            raise ZeroDivisionError("division by zero")
        return real(jpeg, first, model, options, progress)

    flaky.failed = False
    monkeypatch.setattr(api_module, "restore_as", flaky)
    out = tmp_path / "out"
    result = run("restore", tmp_path / "in", "-o", out, "--weights", tiny_weights)
    assert result.exit_code == 1 and "unexpected ZeroDivisionError" in result.output
    assert len(list(out.glob("*.png"))) == 2 and "restored 2" in result.output


@pytest.mark.parametrize("signame,code", [("SIGTERM", 143), ("SIGINT", 130), ("SIGHUP", 129)])
def test_a_stopped_batch_leaves_no_partial_file(tmp_path, signame, code):
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "in"
    for i in range(30):  # big enough that the batch cannot finish before the signal lands
        write_jpeg(folder / f"{i:02d}.jpg", photo(384, 512, seed=i), quality=30)
    out = tmp_path / "out"
    child = subprocess.Popen(
        [sys.executable, "-m", "qgac_cli", "restore", str(folder), "-o", str(out), "-q", "--weights", "base"]
        + ["--json", str(tmp_path / "summary.json")],
        stderr=subprocess.PIPE,
        # a shell starts background jobs with SIGINT ignored, and Python then keeps it ignored:
        # the child gets the default disposition back, as a program started from a terminal has
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("*.png"))) < 2:
        time.sleep(0.05)
    child.send_signal(getattr(signal, signame))
    assert child.wait(timeout=120) == code
    # the summary counts every file written, the one finished while stopping too, for every signal
    import re

    said = child.stderr.read().decode()
    written = len(list(out.glob("*.png")))
    assert int(re.search(rf"interrupted \({signame}\): restored (\d+)", said).group(1)) == written
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["interrupted"] == signame and summary["restored"] == written
    assert summary["not_done"] == 30 - len(summary["files"]) > 0
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]
    for png in out.glob("*.png"):
        with Image.open(png) as im:
            im.load()  # every file written is whole


def test_a_hostile_batch_restores_every_good_file_and_reports_every_bad_one(tmp_path, tiny_weights):
    folder = tmp_path / "in"
    good = [write_jpeg(folder / f"good{i}.jpg", photo(32, 40, seed=i), quality=30) for i in range(3)]
    data = pillow_jpeg(photo(32, 40, seed=9), quality=30)
    empty_com = b"\xff\xfe\x00\x02" + b"\xff\xfe" + (2 + 5000).to_bytes(2, "big") + b"c" * 5000
    (folder / "hostile-but-valid.jpg").write_bytes(data[:2] + empty_com + data[2:])
    (folder / "truncated.jpg").write_bytes(data[:200])
    (folder / "not-a-jpeg.jpg").write_bytes(b"GIF89a" + bytes(100))
    (folder / "clash.jpg").write_bytes(data)
    (folder / "clash.jpeg").write_bytes(data)
    before = {p: p.read_bytes() for p in folder.iterdir()}
    out = tmp_path / "out"
    result = run("restore", folder, "-o", out, "--weights", tiny_weights)
    assert result.exit_code == 1 and "Traceback" not in result.output
    restored = sorted(p.name for p in out.iterdir())
    assert restored == ["good0.png", "good1.png", "good2.png", "hostile-but-valid.png"]
    errors = [line for line in result.output.splitlines() if line.startswith("qgac: error:")]
    assert len(errors) == 4  # truncated, not a JPEG, and both clashing files: one line each
    assert {p: p.read_bytes() for p in folder.iterdir()} == before and len(good) == 3


def test_options_are_checked_before_any_work(tmp_path, tiny_weights):
    src = write_jpeg(tmp_path / "in.jpg", photo(32, 32), quality=30)
    for args in (
        ("--tile", "-5"),
        ("--tile", "7"),
        ("--threads", "0"),
        ("--threads", "-1"),
    ):
        result = run("restore", src, tmp_path / "o.png", "--weights", tiny_weights, *args)
        assert result.exit_code == 2 and "Traceback" not in result.output, args
    result = run("restore", src, tmp_path / "o.jpg", "--bit-depth", "16", "--weights", tiny_weights)
    assert result.exit_code == 2 and "16-bit" in result.output
    result = run("restore", src, tmp_path / "o.png", "--format", "jpeg", "--weights", tiny_weights)
    assert result.exit_code == 2 and "contradicts" in result.output
    result = run("restore", src, tmp_path / "o.png", "--weights", "nope")
    assert result.exit_code == 2 and "no such weights" in result.output
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "o.jpg").exists()


def test_no_inputs_found_is_an_error_and_one_input_goes_into_a_new_folder(tmp_path, tiny_weights):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("restore", empty, "-o", tmp_path / "out", "--weights", tiny_weights)
    assert result.exit_code == 2 and "no JPEG files found" in result.output
    src = write_jpeg(tmp_path / "one.jpg", photo(32, 32), quality=30)
    result = run("restore", src, "-o", tmp_path / "newdir", "--weights", tiny_weights)
    assert result.exit_code == 0 and (tmp_path / "newdir" / "one.png").is_file()


def test_a_training_state_is_not_taken_for_weights(tmp_path):
    state = tmp_path / "last.pt"
    torch.save({"model": {}, "ema": {}, "optimizer": {}, "step": 3}, state)
    result = run(
        "restore", write_jpeg(tmp_path / "in.jpg", photo(32, 32), quality=30), tmp_path / "o.png", "--weights", state
    )
    assert result.exit_code == 2 and "training state" in result.output and "best.pt" in result.output


@pytest.mark.parametrize("suffix", [".png", ".webp", ".tif", ".jpg"])
def test_exif_is_carried_into_every_format_or_stripped(tmp_path, tiny_weights, suffix):
    exif = Image.Exif()
    exif[0x010F] = "QgacCam"  # camera make
    exif[0x0112] = 6
    src = write_jpeg(tmp_path / "in.jpg", photo(32, 48), quality=30, exif=exif.tobytes())
    out = tmp_path / f"out{suffix}"
    assert run("restore", src, out, "--weights", tiny_weights).exit_code == 0
    with Image.open(out) as im:
        assert im.getexif().get(0x010F) == "QgacCam" and im.getexif().get(0x0112, 1) == 1
    kept = tmp_path / f"kept{suffix}"
    assert run("restore", src, kept, "--keep-orientation", "--weights", tiny_weights).exit_code == 0
    with Image.open(kept) as im:
        assert im.getexif().get(0x0112) == 6  # pixels as stored: the tag still says how to turn them
    bare = tmp_path / f"bare{suffix}"
    assert run("restore", src, bare, "--strip-metadata", "--weights", tiny_weights).exit_code == 0
    with Image.open(bare) as im:
        assert im.getexif().get(0x010F) is None


def test_exif_in_16_bit_png(tmp_path, tiny_weights):
    exif = Image.Exif()
    exif[0x010F] = "QgacCam"
    src = write_jpeg(tmp_path / "in.jpg", photo(32, 48), quality=30, exif=exif.tobytes())
    out = tmp_path / "out16.png"
    assert run("restore", src, out, "--bit-depth", "16", "--weights", tiny_weights).exit_code == 0
    with Image.open(out) as im:
        assert im.getexif().get(0x010F) == "QgacCam"


def test_stdin_errors_name_the_input_once():
    result = CliRunner().invoke(main, ["restore", "-", "-"], input=b"not a jpeg at all")
    assert result.exit_code == 1
    assert "<stdin>" in result.output and "-: <stdin>" not in result.output


@pytest.mark.parametrize("choice,expected", [("4:4:4", "4:4:4"), ("4:2:0", "4:2:0"), ("input", "4:2:2")])
def test_jpeg_output_subsampling(tmp_path, tiny_weights, choice, expected):
    from qgac_cli.codec.jpeg import read_jpeg as read

    src = write_jpeg(tmp_path / "in.jpg", photo(32, 48), quality=30, subsampling=1)  # 4:2:2 input
    out = tmp_path / "out.jpg"
    assert run("restore", src, out, "--jpeg-subsampling", choice, "--weights", tiny_weights).exit_code == 0
    assert read(out.read_bytes()).subsampling == expected


def test_suffix_writes_beside_the_inputs_and_dry_run_writes_nothing(tmp_path, tiny_weights):
    photos = tmp_path / "photos"
    write_jpeg(photos / "a.jpg", photo(32, 32), quality=30)
    write_jpeg(photos / "sub" / "b.jpg", photo(32, 32, seed=1), quality=30)
    result = run("restore", photos, "--suffix", ".restored", "--dry-run", "--weights", tiny_weights)
    assert result.exit_code == 0 and result.output.count(": write") == 2
    assert not list(photos.rglob("*.png"))
    for _ in range(2):  # the second run does not take the first one's outputs for inputs
        result = run("restore", photos, "--suffix", ".restored", "--format", "jpeg", "--weights", tiny_weights)
        assert result.exit_code == 0, result.output
    names = sorted(p.relative_to(photos).as_posix() for p in photos.rglob("*.jpg"))
    assert names == ["a.jpg", "a.restored.jpg", "sub/b.jpg", "sub/b.restored.jpg"]
    result = run("restore", photos, "--suffix", ".restored", "-o", tmp_path / "x", "--weights", tiny_weights)
    assert result.exit_code == 2


def test_dash_o_with_an_image_name_and_one_input_is_that_file(tmp_path, tiny_weights):
    src = write_jpeg(tmp_path / "one.jpg", photo(32, 32), quality=30)
    result = run("restore", src, "-o", tmp_path / "named.png", "--weights", tiny_weights)
    assert result.exit_code == 0 and (tmp_path / "named.png").is_file()


def test_bash_completes_the_shipped_weights_names():
    """What bash's completion script receives (click's bash_complete protocol): the names as
    plain items, no file item that would make the script drop them; a path gets files."""
    env = {"_QGAC_COMPLETE": "bash_complete", "COMP_WORDS": "qgac restore in.jpg --weights ", "COMP_CWORD": "4"}
    result = CliRunner().invoke(main, [], env=env, prog_name="qgac")
    items = [line.split(",", 1) for line in result.output.splitlines()]
    assert ["plain", "large"] in items and ["plain", "base"] in items
    assert not any(kind == "file" for kind, _ in items)
    env["COMP_WORDS"] = "qgac restore in.jpg --weights ./runs/"
    result = CliRunner().invoke(main, [], env=env, prog_name="qgac")
    assert [line.split(",", 1)[0] for line in result.output.splitlines()] == ["file"]


def test_tiles_in_lanes_are_the_tiles_one_at_a_time_in_order():
    """Two tiles at once, each on half of torch's threads, give the tiles of one at a time
    (of the side tiles in lanes are cut at, `lane_tile`): the same windows in the same order,
    values as close as a thread count lets float sums be; torch's thread count is what it was
    once the tiles are out."""
    model = tiny_model(3)
    jpeg = read_jpeg(pillow_jpeg(photo(203, 301, seed=2), quality=20))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        alone = list(restore_jpeg_tiles(model, jpeg, tile_pixels=lane_tile(64), lanes=1))
        seen = []
        lanes = restore_jpeg_tiles(model, jpeg, tile_pixels=64, lanes=2)
        for _ in lanes:
            seen.append(torch.get_num_threads())  # while tiles are in flight
        assert set(seen) == {1} and torch.get_num_threads() == 2
        paired = list(restore_jpeg_tiles(model, jpeg, tile_pixels=64, lanes=2))
    finally:
        torch.set_num_threads(threads)
    assert len(alone) == len(paired) > 4
    for a, b in zip(alone, paired):
        assert (a.top, a.left, a.count) == (b.top, b.left, b.count)
        assert torch.allclose(a.pixels, b.pixels, atol=1e-5)


def test_lanes_keep_order_stop_early_and_pass_errors_on():
    import time

    from qgac_cli.restore.tiling import _in_lanes

    def slow_first(item):
        time.sleep(0.05 if item % 2 == 0 else 0)
        return item * 10

    assert list(_in_lanes(slow_first, list(range(7)), 2)) == [0, 10, 20, 30, 40, 50, 60]

    started = []

    def record(item):
        started.append(item)
        return item

    threads = torch.get_num_threads()
    results = _in_lanes(record, list(range(100)), 2)
    assert next(results) == 0
    results.close()  # the consumer gone: nothing more starts, threads given back
    assert len(started) <= 3 and torch.get_num_threads() == threads

    def fails(item):
        if item == 3:
            raise ValueError("tile 3")
        return item

    got = []
    with pytest.raises(ValueError, match="tile 3"):
        for item in _in_lanes(fails, list(range(10)), 2):
            got.append(item)
    assert got == [0, 1, 2] and torch.get_num_threads() == threads


def test_lanes_are_two_on_a_cpu_with_threads_to_share_one_on_a_gpu(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert api.lanes_for(0, torch.device("cpu")) == api.CPU_LANES == 2
    assert api.lanes_for(0, torch.device("cuda")) == 1
    assert api.lanes_for(3, torch.device("cpu")) == 3
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert api.lanes_for(0, torch.device("cpu")) == 1


def test_the_cli_restores_in_lanes_or_one_tile_at_a_time_alike(tmp_path, tiny_weights):
    src = write_jpeg(tmp_path / "in.jpg", photo(150, 210, seed=6), quality=20)
    outs = []
    for lanes in ("1", "2"):
        out = tmp_path / f"out{lanes}.png"
        args = ("restore", src, out, "--weights", tiny_weights, "--tile", "64", "--lanes", lanes, "--threads", "2")
        assert run(*args, "--precision", "fp32").exit_code == 0
        outs.append(np.asarray(Image.open(out)).astype(int))
    assert np.abs(outs[0] - outs[1]).max() <= 1 and (outs[0] != outs[1]).mean() < 1e-3


def test_one_heap_is_asked_of_glibc_unless_the_user_chose():
    import platform
    import sys

    from qgac_cli.devices import share_one_heap

    assert share_one_heap({"MALLOC_ARENA_MAX": "4"}) is False  # the user's setting stands
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert share_one_heap({}) is True
