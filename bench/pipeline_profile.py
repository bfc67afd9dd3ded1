"""Where a megapixel's time goes: every stage of `qgac restore`, timed on its own, at 1 and 2
threads, and beside an earlier version of qgac when one is given.

    python bench/pipeline_profile.py [--threads 1 --threads 2] [--mp 1 --mp 12] [--weights fast]
                                     [--before CHECKOUT]

For each image size (a Live-1 photo mirrored out to the size when the shared data is there,
q20 4:2:0), each thread count and each set of weights, in a fresh process: the strict libjpeg
decode (corruption check), the coefficient read (jpeglib), metadata (Pillow), conversion to
tensors, the Y and colour networks (the latter with its way to samples at the luma grid: the
stored chroma brought there first, or restored where it is stored and upsampled after), the
chroma refinement where the weights have one, projection and the inverse DCT to pixels, conversion to 8
bits, and PNG encoding with Pillow at level 1 and 6 (this table showed level 6 at 0.33-0.42
s/MP) and with qgac's own streamed writer (the default: 1.4-2x faster than Pillow's level 1,
and it holds no second copy). The stages run untiled, so each is seen whole, the networks in fp32
(or `--precision`); the last row is `api.restore_jpeg` as `qgac restore` runs it (tiles of
1024 with their overlap, and on 2+ threads two tiles at a time where the version has tile lanes), to 8 bits.
Seconds per megapixel, the best of two runs after a warm-up on the same image.

`--before` names a checkout of another version of qgac (`git worktree add ../before REV`):
its stages are timed the same way, in processes that import qgac_cli from it, and each column
gets a "before" twin: the change's stage-by-stage before and after in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import print_table
from restore_speed import source_pixels


def profile(data: bytes, model, repeats: int = 1, precision: str = "fp32") -> dict[str, float]:
    """Seconds of each stage for one JPEG (the best of `repeats`)."""
    import io

    import torch
    from PIL import Image

    from qgac_cli import api
    from qgac_cli.codec import jpeg as J
    from qgac_cli.codec.jpeg.codec import pillow_metadata, read_coefficients
    from qgac_cli.codec.png import write_png
    from qgac_cli.restore.coefficients import from_jpeg, project_chroma, project_coefficients, samples, to_pixels
    from qgac_cli.restore.restoration import network_colour
    from qgac_cli.restore.restored import quantize

    best: dict[str, float] = {}
    dtype = api.pick_dtype(precision, torch.device("cpu"))

    def timed(name, fn, *args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        seconds = time.perf_counter() - start
        best[name] = min(best.get(name, float("inf")), seconds)
        return out

    for _ in range(repeats):
        header = J.read_header(data)
        timed("strict decode (corruption check)", J.decode_strict, data, header, "x")
        timed("coefficient read (jpeglib)", read_coefficients, data, header.components, "x")
        timed("metadata (Pillow)", pillow_metadata, data)
        jpeg = J.read_jpeg(data)
        planes = timed("to tensors", from_jpeg, jpeg)
        with torch.no_grad():
            y = timed("Y network", model.restore_y, planes.y, planes.y_table, dtype)
            y = timed("projection (Y)", project_coefficients, y, planes.y, planes.y_table)
            color = timed("colour network, to samples at the luma grid", network_colour, model, planes, y, None, dtype)
            if model.refine is not None:
                tables = (planes.y_table, planes.c_table, planes.factor)
                color = timed("chroma refinement", model.refine_color, color, samples(y), *tables)
            color = timed("projection (chroma)", project_chroma, color, planes)
            pixels = timed("IDCT + colour conversion", to_pixels, planes, y=y, color=color)
        array = timed("to 8 bits", quantize, pixels[0].numpy().transpose(1, 2, 0), 8)
        image = Image.fromarray(array)
        for level in (6, 1):
            timed(f"Pillow PNG encode (level {level})", image.save, io.BytesIO(), format="PNG", compress_level=level)
        timed("qgac PNG encode (streamed, Up filter, level 1)", write_png, io.BytesIO(), array)
        options = api.RestoreOptions(bits=8, precision=precision)
        timed("restore_jpeg, tiles of 1024 (as qgac restore)", api.restore_jpeg, jpeg, model, options)
    return best


def measure(mp: float, names: list[str], threads: int, precision: str) -> dict[str, dict[str, float]]:
    """Seconds per megapixel of each stage, per set of weights, on `threads` of torch's."""
    import torch

    from qgac_cli import api
    from qgac_cli.codec.jpeg import encode

    torch.set_num_threads(threads)
    side = int((mp * 1e6 / 1.5) ** 0.5) // 16 * 16
    data = encode(source_pixels(side, side * 3 // 2), 20)
    megapixels = side * (side * 3 // 2) / 1e6
    models = {name: api.load_model(name) for name in names}
    for model in models.values():
        profile(data, model, 1, precision)  # warm-up
    return {
        name: {stage: seconds / megapixels for stage, seconds in profile(data, model, 2, precision).items()}
        for name, model in models.items()
    }


def measure_in_child(mp: float, names: list[str], threads: int, precision: str, checkout: str | None) -> dict:
    """`measure` in a fresh process, importing qgac_cli from `checkout` when given."""
    env = dict(os.environ)
    if checkout:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(checkout).resolve()), env.get("PYTHONPATH")]))
    command = [
        sys.executable,
        __file__,
        "--child",
        "--mp",
        str(mp),
        "--threads",
        str(threads),
        "--precision",
        precision,
    ]
    command += [arg for name in names for arg in ("--weights", name)]
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def table_rows(columns: dict[str, dict[str, float]]) -> list[list[str]]:
    """One row per stage (in the first column's order; a stage one version lacks shows -),
    and a total of the stages `qgac restore` runs untiled (PNG level 1, no end-to-end row)."""
    stages = list(dict.fromkeys(stage for column in columns.values() for stage in column))
    rows = [[stage, *(f"{c[stage]:.3f}" if stage in c else "-" for c in columns.values())] for stage in stages]
    counted = [stage for stage in stages if not any(word in stage for word in ("Pillow PNG", "tiles"))]
    rows.append(["total, untiled (qgac PNG)", *(f"{sum(c.get(s, 0) for s in counted):.3f}" for c in columns.values())])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, action="append", default=None)
    parser.add_argument("--mp", type=float, action="append", default=None)
    parser.add_argument("--weights", action="append", default=None)
    parser.add_argument("--before", help="A checkout of another qgac version to time beside this one.")
    parser.add_argument("--precision", default="fp32", help="The networks' arithmetic: fp32 (default), auto, bf16.")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = args.weights or ["fast", "large"]
    if args.child:
        print(json.dumps(measure(args.mp[0], names, args.threads[0], args.precision)))
        return
    for mp in args.mp or [1.0]:
        for threads in args.threads or [1, 2]:
            after = measure_in_child(mp, names, threads, args.precision, None)
            before = measure_in_child(mp, names, threads, args.precision, args.before) if args.before else {}
            columns: dict[str, dict[str, float]] = {}
            for name in names:
                if before:
                    columns[f"{name} before"] = before[name]
                columns[name] = after[name]
            print_table(
                f"s/MP per stage, {mp:g} MP q20 4:2:0, {args.precision}, {threads} thread{'s' * (threads > 1)}",
                ["stage", *columns],
                table_rows(columns),
            )


if __name__ == "__main__":
    main()
