"""Where a megapixel's time goes: every stage of `qgac restore`, timed on its own.

    python bench/pipeline_profile.py [--threads 2] [--mp 1 --mp 12] [--weights large --weights base]

For each image size (a Live-1 photo mirrored out to the size when the shared data is there,
q20 4:2:0) and each set of weights, in one process: the strict libjpeg decode (corruption
check), the coefficient read (jpeglib), metadata (Pillow), conversion to tensors, the Y and
colour networks, projection and the inverse DCT to pixels, conversion to 8 bits, and PNG
encoding with Pillow at level 1 and 6 (this table showed level 6 at 0.33-0.42 s/MP) and with
qgac's own streamed writer (the default: 1.4-2x faster than Pillow's level 1, and it
holds no second copy). Untiled, so each stage is seen whole (the default tiles add their overlap on top).
Seconds per megapixel, after a warm-up on the same image.
"""

from __future__ import annotations

import argparse
import time

from common import print_table
from restore_speed import source_pixels


def profile(data: bytes, model, repeats: int = 1) -> dict[str, float]:
    """Seconds of each stage for one JPEG (the best of `repeats`)."""
    import io

    import torch
    from PIL import Image

    from qgac_cli import jpeg as J
    from qgac_cli.coefficients import (
        chroma_at_luma_grid,
        color_samples,
        from_jpeg,
        project_chroma,
        project_coefficients,
        to_pixels,
    )
    from qgac_cli.output import quantize
    from qgac_cli.png import write_png

    best: dict[str, float] = {}

    def timed(name, fn, *args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        seconds = time.perf_counter() - start
        best[name] = min(best.get(name, float("inf")), seconds)
        return out

    for _ in range(repeats):
        header = J.read_header(data)
        timed("strict decode (corruption check)", J.decode_strict, data, header, "x")
        timed("coefficient read (jpeglib)", _read_coefficients, J, data, header)
        timed("metadata (Pillow)", J._metadata, data)
        jpeg = J.read_jpeg(data)
        planes = timed("to tensors", from_jpeg, jpeg)
        with torch.no_grad():
            y = timed("Y network", model.restore_y, planes.y, planes.y_table)
            y = timed("projection (Y)", project_coefficients, y, planes.y, planes.y_table)
            up = timed("chroma to the luma grid", chroma_at_luma_grid, planes)
            chroma = timed("colour network", model.restore_color, up, y, planes.c_table, planes.y_table)
            color = timed(
                "chroma samples + projection", _samples_projected, chroma, planes, color_samples, project_chroma
            )
            pixels = timed("IDCT + colour conversion", to_pixels, planes, y=y, color=color)
        array = timed("to 8 bits", quantize, pixels[0].numpy().transpose(1, 2, 0), 8)
        image = Image.fromarray(array)
        for level in (6, 1):
            timed(f"Pillow PNG encode (level {level})", image.save, io.BytesIO(), format="PNG", compress_level=level)
        timed("qgac PNG encode (streamed, Up filter, level 1)", write_png, io.BytesIO(), array)
    return best


def _samples_projected(chroma, planes, color_samples, project_chroma):
    return project_chroma(color_samples(chroma), planes)


def _read_coefficients(J, data: bytes, header) -> None:
    jpeglib = J._jpeglib()
    with J._as_file(J.without_metadata_segments(data)) as name:
        raw = jpeglib.read_dct(name)
        raw.load()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mp", type=float, action="append", default=None)
    parser.add_argument("--weights", action="append", default=None)
    args = parser.parse_args()

    import torch

    from qgac_cli import api
    from qgac_cli.jpeg import encode

    torch.set_num_threads(args.threads)
    names = args.weights or ["large", "base"]
    models = {name: api.load_model(name) for name in names}
    for mp in args.mp or [1.0, 12.0]:
        side = int((mp * 1e6 / 1.5) ** 0.5) // 16 * 16
        data = encode(source_pixels(side, side * 3 // 2), 20)
        megapixels = side * (side * 3 // 2) / 1e6
        columns = {name: profile(data, model) for name, model in models.items()}  # warm-up
        columns = {name: profile(data, model) for name, model in models.items()}
        stages = list(next(iter(columns.values())))
        rows = [[stage, *(f"{columns[n][stage] / megapixels:.3f}" for n in names)] for stage in stages]
        totals = {n: sum(v for k, v in columns[n].items() if "level 6" not in k) / megapixels for n in names}
        rows.append(["total (PNG level 1, the default)", *(f"{totals[n]:.3f}" for n in names)])
        print_table(
            f"s/MP per stage, {megapixels:.1f} MP q20 4:2:0, untiled, {args.threads} threads",
            ["stage", *names],
            rows,
        )


if __name__ == "__main__":
    main()
