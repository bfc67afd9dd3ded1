"""The library behind `qgac restore`, at the level of one image: load weights, restore a
JPEG (bytes, a path or a read `JpegData`) to pixels. Writing files is `qgac_cli.codec.output`,
batches of files are `qgac_cli.restore.batch`.

Usable without the CLI:

    from qgac_cli.api import load_model, restore
    from qgac_cli.codec.output import encode_image, write_atomic
    model = load_model()
    image = restore("photo.jpg", model)          # RestoredImage, pixels as a numpy array
    write_atomic("photo.png", encode_image(image, "png"))
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qgac_cli import weights as weights_mod
from qgac_cli.choices import DEFAULT_TILE
from qgac_cli.codec.jpeg import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SCANS, JpegData, JpegHeader, TableUse, read_jpeg
from qgac_cli.devices import pick_device, pick_dtype
from qgac_cli.errors import UnusableWeightsError, WeightsError
from qgac_cli.recompression import (
    FirstCompression,
    as_first_compression,
    find_first_compression,
    given_first_compression,
)
from qgac_cli.restore.restored import RestoredImage, quantize

# Tiles hold at most DEFAULT_TILE² pixels, shaped to the image (tiling.tile_layout), in windows
# of one size (tiling._spans). In windows of one size 1024 keeps a 24 MP `base` restore near
# 0.6 GiB and is 10 % faster than 768 there (less overlap) and at 1 MP (one tile, not two);
# bench/restore_speed.py. With windows of a few sizes glibc's heap crept and 768 was the most
# that stayed near 0.7 GiB.
# Context given to each tile, in blocks. The network's theoretical reach is 25 blocks (`base`)
# or 47 (`large`), but what lies beyond ~8 blocks changes almost no 8-bit output: in tiles of
# 256 (3 Live-1 photos, q10/q50/q90) halo 8 changed at most 9 pixels in 10^5 (large, q10;
# 0.2-1 at q50/q90), by one level, and PSNR not at all (4 decimals); halo 4 changed 1 in 200.
# Against 16 it saves a fifth of a 24 MP restore's time; against the exact overlap (None) half.
DEFAULT_HALO = 8
# A network that reaches little needs less: the former `fast` (13 blocks) at halo 4 changed 1 pixel in
# 10^4 by one level (8 MP, tiles of 1024; base at 4: 3.6 in 10^4, at 8: 7 in 10^7), and a
# tile's windows hold 9 % more than its share where halo 8 holds 18 %: 8 % faster.
SHORT_REACH, SHORT_HALO = 16, 4
# Between the two: today's `fast`, its colour network on the stored grid, with the refinement
# (21 blocks; weights/README.md, #31), changed 5.6 samples in 10^4 by one level at halo 4, 2.6 in
# 10^5 at 6 and 5 in 10^6 at 8 (8 MP, q20; at q90 4.6e-5, 1.8e-6, 1.2e-6): 6 holds it closer
# than the former `fast` at 4, for 7 % less work than 8 in tiles of 768.
MIDDLE_REACH, MIDDLE_HALO = 24, 6
# On the CPU two tiles at a time, each on half of torch's threads, restore a folder of 8 MP
# photos 1.4-1.6x faster than one tile on all of them (2 cores; bench/restore_speed.py); more
# lanes would hold more tiles at once for little more.
CPU_LANES = 2


@dataclass(frozen=True)
class RestoreOptions:
    tile: int | None = DEFAULT_TILE  # tiles of at most tile² pixels; 0 or None restores in one piece
    project: bool = True  # keep every coefficient inside its quantization interval
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_scans: int = DEFAULT_MAX_SCANS  # refuse files of more scans (scan bombs)
    precision: str = "auto"  # the networks' arithmetic: auto (bf16 where native) | bf16 | fp32
    bits: int | None = None  # result as float32 in [0, 1] (None), or uint8 (8) / uint16 (16)
    halo: int | str | None = "auto"  # blocks of context around tiles; auto: `halo_for`; None: the whole reach
    grey_guard: bool = True  # keep near-grey photos grey (restoration.GreyGuard)
    lanes: int = 0  # tiles restored at once, sharing torch's threads; 0: auto (`lanes_for`)
    # a recompressed file: "auto" finds its first compression and restores for it, "off"
    # restores the file as it is, a quality 1..100 gives the first compression by hand
    first_quality: int | str = "auto"
    # test-time augmentation: the mean of this many mirror images (1, 2: left-right, 4: and
    # up-down; `restore.mirror`), each restored in full: that many times the time
    tta: int = 1


# --------------------------------------------------------------------------- model


def gan_sibling(name_or_path: str | None) -> str:
    """The GAN weights that pair with a shipped regression name ("large" -> "large-gan")."""
    name = name_or_path or weights_mod.DEFAULT_WEIGHTS
    shipped = weights_mod.SHIPPED.get(name)
    if shipped is None or shipped.gan is None:
        raise UnusableWeightsError(f"no GAN weights pair with {name!r}; give --gan-weights")
    return shipped.gan


def load_model(
    weights: str | None = None,
    texture: float | None = None,
    gan_weights: str | None = None,
    device: str = "auto",
):
    """Load weights (name or path); with `texture`, blend regression and GAN weights."""
    if texture is None:
        model = weights_mod.load(weights)
    else:
        regression_path = weights_mod.resolve(weights)
        gan_path = weights_mod.resolve(gan_weights or gan_sibling(weights))
        regression = weights_mod.read(regression_path)
        weights_mod.build(regression, str(regression_path))  # each checked under its own name
        gan = weights_mod.match_config(weights_mod.read(gan_path), regression.config, str(gan_path))
        weights_mod.build(gan, str(gan_path))
        model = weights_mod.build(weights_mod.interpolate(regression, gan, texture), f"{gan_path} blended")
    return model.to(pick_device(device))


# --------------------------------------------------------------------------- restoring


Progress = Callable[[int, int], None]  # (tiles done, tiles in all), after every tile


def first_compression(jpeg: JpegData, first_quality: int | str = "auto") -> FirstCompression | None:
    """The earlier, coarser compression to restore for (`RestoreOptions.first_quality`):
    found in the file's coefficients (auto), none (off), or that of the quality given."""
    if first_quality == "off":
        return None
    if first_quality == "auto":
        return find_first_compression(jpeg)
    return given_first_compression(jpeg, int(first_quality))


def restore_jpeg(
    jpeg: JpegData, model, options: RestoreOptions = RestoreOptions(), progress: Progress | None = None
) -> np.ndarray:
    """Restore a read JPEG (on the model's device): pixels (H, W, 3) or (H, W), float32 in
    [0, 1], or uint8/uint16 when `options.bits` asks for them. A recompressed file is
    restored for its first compression (`first_compression`)."""
    return restore_as(jpeg, first_compression(jpeg, options.first_quality), model, options, progress)


def restore_as(
    jpeg: JpegData,
    first: FirstCompression | None,
    model,
    options: RestoreOptions = RestoreOptions(),
    progress: Progress | None = None,
) -> np.ndarray:
    """`restore_jpeg` for a first compression already decided (None: the file as it is).

    A file with nothing left to restore (every quantization step at most EXACT_STEP and no
    chroma subsampling) comes back as libjpeg decodes it: the projection would keep all its
    coefficients anyway, and libjpeg's integer IDCT matches the encoder's integer DCT better
    than a float one at those steps (measured: -0.12 dB on Live-1 4:4:4 at quality 100).
    """
    cut = (0, 0)  # rows and columns to cut from the top and left (a shifted first grid's padding)
    if first is not None:
        jpeg, cut = as_first_compression(jpeg, first)
    elif options.project and jpeg.decoded is not None and nothing_to_restore(jpeg):
        return _as_bits(jpeg.decoded.astype(np.float32) / 255.0, options.bits)
    import torch

    from qgac_cli.restore.tiling import restore_jpeg_tiles

    device = next(model.parameters()).device
    dtype = pick_dtype(options.precision, device)
    channels = 3 if len(jpeg.components) == 3 else 1
    kind = {None: np.float32, 8: np.uint8, 16: np.uint16}[options.bits]
    out = np.empty((jpeg.height, jpeg.width, channels), dtype=kind)  # filled tile by tile
    lanes, halo = lanes_for(options.lanes, device), halo_for(model, options.halo)
    tiles = restore_jpeg_tiles(
        model, jpeg, options.tile, options.project, dtype, device, halo, options.grey_guard, lanes, options.tta
    )
    for done, tile in enumerate(tiles, 1):
        if not torch.isfinite(tile.pixels.sum()):  # a sum is finite only if every term is; one read
            raise WeightsError("the network produced non-finite values (NaN or infinity); no output written")
        h, w = tile.pixels.shape[-2:]
        out[tile.top : tile.top + h, tile.left : tile.left + w] = _tile_values(tile.pixels[0], options.bits)
        if progress is not None:
            progress(done, tile.count)
    out = out[cut[0] :, cut[1] :] if any(cut) else out
    return out[..., 0] if channels == 1 else out


def halo_for(model, halo: int | str | None = "auto") -> int | None:
    """The blocks of context each tile is given: as asked, or (auto) `SHORT_HALO` for a
    network that reaches at most `SHORT_REACH` blocks, `MIDDLE_HALO` for one that reaches at
    most `MIDDLE_REACH`, `DEFAULT_HALO` for others."""
    from qgac_cli.restore.tiling import context_blocks

    if halo != "auto":
        return halo  # type: ignore[return-value]
    reach = context_blocks(model.config)
    return SHORT_HALO if reach <= SHORT_REACH else MIDDLE_HALO if reach <= MIDDLE_REACH else DEFAULT_HALO


def lanes_for(lanes: int, device) -> int:
    """How many tiles to restore at once: as asked, or (0) `CPU_LANES` on a CPU with at least
    that many of torch's threads, one on a GPU."""
    import torch

    if lanes:
        return lanes
    return CPU_LANES if device.type == "cpu" and torch.get_num_threads() >= CPU_LANES else 1


def _tile_values(pixels, bits: int | None) -> np.ndarray:
    """A tile's pixels (C, h, w) in [0, 1] as (h, w, C) float32 or `bits`-bit integers; the
    rounding done by torch before the (strided) copy out, as `quantize` rounds."""
    import torch

    pixels = pixels.float()
    if bits is not None:
        top = (1 << bits) - 1
        kind = torch.uint8 if bits == 8 else torch.int32  # int32: torch's uint16 casts are limited
        pixels = pixels.mul(top).clamp_(0, top).round_().to(kind)
    return pixels.cpu().numpy().transpose(1, 2, 0)


def _as_bits(pixels: np.ndarray, bits: int | None) -> np.ndarray:
    return pixels if bits is None else quantize(pixels, bits)


def read(
    source: bytes | str | os.PathLike,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
    max_scans: int = DEFAULT_MAX_SCANS,
) -> JpegData:
    """Read a JPEG for restoring: libjpeg's decode (made for the strict corruption check) is
    kept only where it is the result (`nothing_to_restore`), so a large image is held as its
    integer coefficients alone."""
    return read_jpeg(source, name, max_pixels, keep_decoded=_decode_is_result, max_scans=max_scans)


def _decode_is_result(header: JpegHeader, tables: TableUse) -> bool:
    return _exact(header.chroma_factor, tables.tables)


def nothing_to_restore(jpeg: JpegData) -> bool:
    """True when every step is at most EXACT_STEP and chroma is not subsampled."""
    return _exact(jpeg.chroma_factor, [jpeg.table_for(i) for i in range(len(jpeg.components))])


def _exact(factor: tuple[int, int], tables) -> bool:
    from qgac_cli.restore.coefficients import EXACT_STEP

    return factor == (1, 1) and max(int(t.max()) for t in tables) <= EXACT_STEP


def restore(
    source: bytes | str | os.PathLike | JpegData,
    model,
    options: RestoreOptions = RestoreOptions(),
    progress: Progress | None = None,
) -> RestoredImage:
    """Restore a JPEG given as bytes, a path or a read `JpegData`; the result says which
    first compression it was restored for (`RestoredImage.first`)."""
    jpeg = source if isinstance(source, JpegData) else read(source, options.max_pixels, None, options.max_scans)
    first = first_compression(jpeg, options.first_quality)
    return RestoredImage(
        restore_as(jpeg, first, model, options, progress),
        jpeg.icc_profile,
        jpeg.exif,
        jpeg.orientation,
        jpeg.subsampling,
        jpeg.segments,
        first,
        jpeg.notes,
    )
