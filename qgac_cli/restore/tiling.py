"""Tiled restoration: large images in MCU-aligned tiles with enough overlap that the result
equals the untiled one (or, with a capped halo, matches it in 8 bits). A read JPEG in, pixel
tiles out."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import torch

from qgac_cli.codec.jpeg import JpegData
from qgac_cli.model import QGAC
from qgac_cli.model.detail import reach as detail_reach
from qgac_cli.model.networks import NETWORKS, ModelConfig
from qgac_cli.model.refine import ChromaRefine
from qgac_cli.restore.coefficients import colourfulness, from_jpeg, mcu_grid
from qgac_cli.restore.mirror import mean_of_mirrors
from qgac_cli.restore.restoration import guard_floor, restore_planes


def context_blocks(config: ModelConfig) -> int:
    """How many blocks of context (on the luma grid) one output block depends on, each side:
    the Y network's reach and the colour network's (it reads the restored Y) add up; +1 for
    chroma upsampling, and the refinement's windows and the detail network's where the model
    has them."""
    refine = ChromaRefine.reach_blocks if config.refine else 0
    detail = detail_reach(config.detail_layers) if config.detail else 0
    y, color = (NETWORKS[(role, cfg.kind)].reach(cfg) for role, cfg in (("y", config.y), ("color", config.color)))
    return y + color + 1 + refine + detail


@dataclass(frozen=True)
class Tile:
    """Where a tile's inner part lands in the output image, in pixels."""

    top: int
    left: int
    pixels: torch.Tensor  # (B, C, h, w) restored, in [0, 1], already cropped to the image
    count: int = 1  # how many tiles the image has


def tile_layout(grid: tuple[int, int], mcu: tuple[int, int], tile_pixels: int | None, margin: tuple[int, int]):
    """How many tiles (down, across) to cut a grid of MCUs (rows, cols; each MCU mcu[0] x
    mcu[1] pixels) into: an even share of the image at most tile_pixels² pixels in area (the
    memory bound: `_spans` gives every tile a window no larger than its share and margins),
    shaped to the image, and of those layouts the one that computes the fewest MCUs, each
    tile's window (`_spans`, with `margin` rows, cols of MCUs of context) counted; fewer tiles
    on a tie. None or 0: one tile. A 1 MP photo in tiles of 768 is cut in 2 halves, not 4
    quarters of unequal size."""
    rows, cols = grid
    if not tile_pixels:
        return 1, 1
    area = tile_pixels * tile_pixels // (mcu[0] * mcu[1])  # MCUs a tile may hold
    best = None
    for down in range(1, rows + 1):
        height = -(-rows // down)
        widest = area // height
        if widest < 1:
            continue
        across = -(-cols // widest)
        computed = _computed(rows, down, margin[0]) * _computed(cols, across, margin[1])
        if best is None or (computed, down * across) < best[0]:
            best = ((computed, down * across), down, across)
    if best is None:  # a tile smaller than one MCU row: one MCU high, as narrow as it must be
        return rows, cols
    return best[1], best[2]


def _computed(count: int, pieces: int, margin: int) -> int:
    """MCUs computed along one axis: the sum of the tiles' windows."""
    return sum(end - start for _, _, start, end in _spans(count, pieces, margin))


def _spans(count: int, pieces: int, margin: int) -> list[tuple[int, int, int, int]]:
    """(inner start, inner end, outer start, outer end): `count` MCUs in `pieces` spans whose
    outer windows (inner + `margin` of context each side, none past the image) all have one
    length, evenly spaced; the inner spans split each overlap in the middle, so an edge tile's
    inner part is longer by the margin it needs not compute. Equal windows make every tile's
    tensors the same shapes, so the allocator reuses one tile's freed buffers for the next
    (with windows of a few sizes glibc's heap crept from 0.44 to 0.73 GiB over a 24 MP
    restore's 42 tiles; with one size it stays near 0.5), at the same computed area up to the
    rounding of the one length."""
    length = -(-(count + 2 * margin * (pieces - 1)) // pieces)
    # the shortest window whose evenly spaced copies overlap by 2 margins: starts spaced
    # (count - length) / (pieces - 1) apart in whole MCUs are at most its ceiling apart
    while length < count and length - -(-(count - length) // (pieces - 1)) < 2 * margin:
        length += 1
    if length >= count:
        return [(0, count, 0, count)]  # the margins would cover it all: one window, the whole span
    starts = [(count - length) * i // (pieces - 1) for i in range(pieces)]
    cuts = [0] + [(b + a + length) // 2 for a, b in zip(starts, starts[1:])] + [count]
    spans = [(cuts[i], cuts[i + 1], starts[i], starts[i] + length) for i in range(pieces)]
    return [span for span in spans if span[1] > span[0]]


def tile_windows(
    model: QGAC, jpeg: JpegData, tile_pixels: int | None, halo: int | None = None
) -> list[tuple[tuple[int, int, int, int], tuple[int, int, int, int]]]:
    """The tiles of a read JPEG, as (row span, column span) pairs of MCU spans (`_spans`:
    inner start, inner end, outer start, outer end), row by row: tiles of at most
    `tile_pixels`² pixels (`tile_layout`; None or 0: one tile) whose windows give each tile
    `halo` blocks of context (None: the network's whole reach)."""
    (fy, fx), (mcu_rows, mcu_cols) = jpeg.chroma_factor, mcu_grid(jpeg)
    context = context_blocks(model.config) if halo is None else min(halo, context_blocks(model.config))
    margin_r, margin_c = -(-context // fy), -(-context // fx)  # whole MCUs covering the context
    down, across = tile_layout((mcu_rows, mcu_cols), (8 * fy, 8 * fx), tile_pixels, (margin_r, margin_c))
    rows, cols = _spans(mcu_rows, down, margin_r), _spans(mcu_cols, across, margin_c)
    return [(r, c) for r in rows for c in cols]


def restore_tile(
    model: QGAC,
    jpeg: JpegData,
    window: tuple[tuple[int, int, int, int], tuple[int, int, int, int]],
    project: bool,
    dtype: torch.dtype | None,
    device: torch.device | str,
    floor: float,
    count: int,
    mirrors: int = 1,
) -> Tile | None:
    """Restore one tile window (`tile_windows`), as the mean of `mirrors` mirror images of it
    (`mirror.mean_of_mirrors`); None where its inner part is empty."""
    (fy, fx), ((r0, r1, o0, o1), (c0, c1, p0, p1)) = jpeg.chroma_factor, window
    top, left = r0 * fy * 8, c0 * fx * 8
    bottom, right = min(r1 * fy * 8, jpeg.height), min(c1 * fx * 8, jpeg.width)
    if bottom <= top or right <= left:
        return None
    with torch.no_grad():  # grad mode is per thread: said here, where a lane may run the tile
        planes = from_jpeg(jpeg, (o0, o1), (p0, p1)).to(device)
        pixels = mean_of_mirrors(lambda p: restore_planes(model, p, project, dtype, floor).pixels, planes, mirrors)
    dy, dx = top - o0 * fy * 8, left - p0 * fx * 8
    return Tile(top, left, pixels[..., dy : dy + bottom - top, dx : dx + right - left], count)


def restore_jpeg_tiles(
    model: QGAC,
    jpeg: JpegData,
    tile_pixels: int | None,
    project: bool = True,
    dtype: torch.dtype | None = None,
    device: torch.device | str = "cpu",
    halo: int | None = None,
    guard: bool = True,
    lanes: int = 1,
    mirrors: int = 1,
) -> Iterator[Tile]:
    """Restore a read JPEG tile by tile (`tile_windows`), in order, making each tile's
    coefficients float only when it is its turn: memory is bounded by the tile, not the image.
    `halo` (blocks) caps the context each tile is given (None: the network's whole reach,
    exactly the untiled result). `guard` applies the `GreyGuard`, decided once for the whole
    photo. `lanes` > 1 restores that many tiles at once, each on its share of torch's threads
    (`lanes_of_threads`): at most `lanes` tiles are in work, beside the one the caller holds,
    each of at most `lane_tile(tile_pixels)`² pixels where the image takes several. `mirrors`
    > 1 restores each tile that many times, mirrored, and averages (`mirror.mean_of_mirrors`)."""
    windows = tile_windows(model, jpeg, tile_pixels, halo)
    if lanes > 1 and len(windows) > 1 and tile_pixels:
        windows = tile_windows(model, jpeg, lane_tile(tile_pixels), halo)
    floor = guard_floor(colourfulness(jpeg)) if guard and len(jpeg.components) == 3 else 1.0
    run = partial(
        restore_tile,
        model,
        jpeg,
        project=project,
        dtype=dtype,
        device=device,
        floor=floor,
        count=len(windows),
        mirrors=mirrors,
    )
    if lanes > 1 and len(windows) > 1:
        tiles = _in_lanes(run, windows, lanes)
    elif lanes > 1 and jpeg.width * jpeg.height <= SMALL_PICTURE:
        tiles = _on_one_lane(run, windows, lanes)
    else:
        tiles = map(run, windows)
    yield from (tile for tile in tiles if tile is not None)


# Tiles in lanes are cut at 3/4 of the side asked for: two tiles of 1024² in work at once took
# a 24 MP `large` restore to 764-784 MiB (2-core AVX2, fp32, each process's VmHWM), two of 896²
# to 686-711, two of 768² to 607-638, for 5-8 % more time (more overlap); a picture of one tile
# is restored whole, as before (bench/restore_speed.py; the peaks also depend on how glibc's
# heap fragments)
LANE_TILE_EIGHTHS = 6


def lane_tile(tile_pixels: int) -> int:
    """The side of the tiles that are restored two or more at once."""
    return max(8, tile_pixels * LANE_TILE_EIGHTHS // 8)


# A picture this small (256², a thumbnail or an icon) is restored on one lane's share of the
# threads: its passes are too short for threads to pay (`fast`, 256²: 12 ms on 2 threads, 14 on
# one, idle) and beside other work threads that wait for each other cost far more
SMALL_PICTURE = 256 * 256


def _on_one_lane(fn, items: list, lanes: int) -> Iterator:
    with lanes_of_threads(lanes):
        yield from map(fn, items)


def _in_lanes(fn, items: list, lanes: int) -> Iterator:
    """`map(fn, items)` in order, `lanes` calls at a time on threads, torch's intra-op threads
    shared out among them for the duration."""
    with lanes_of_threads(lanes), ThreadPoolExecutor(lanes) as pool:
        pending: deque[Future] = deque()
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= lanes:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # stopped early (an error, Ctrl-C, the consumer gone): nothing more starts
            for future in pending:
                future.cancel()


@contextmanager
def lanes_of_threads(lanes: int) -> Iterator[None]:
    """Give each of `lanes` concurrent restorations an equal share of torch's intra-op threads
    (at least one) while the block runs; the count is restored after. On a 2-core CPU two
    tiles on one thread each restore 1.4-1.6x faster than one tile on two: the passes outside
    the networks scale poorly across threads (bench/pipeline_profile.py)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, threads // lanes))
    try:
        yield
    finally:
        torch.set_num_threads(threads)
