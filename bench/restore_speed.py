"""End-to-end restoration speed, memory and quality on this CPU, side by side in one run.

    python bench/restore_speed.py [--threads 2] [--sizes 1,12,24] [--folder 8x8] [--huge 150]

In process (a fresh child per row; peak = the child's VmHWM, torch and the model included):
Pillow's decode alone, then `qgac` restore with each of `--weights` (default large, base,
fast), tiled as the CLI does (tiles of at most 1024², the default overlap: 8 blocks, 4 for
fast; on 2+ threads two tiles at a time), at each size and at `--huge`; on the largest of
`--sizes` also the exact tile overlap (--exact-tiles). `--precision auto` rows are added
where bf16 is native (elsewhere auto is fp32). Through the CLI: a folder of photo-sized
JPEGs (default 8 of 8 MP, q20 4:2:0) with `qgac restore DIR -o OUT`, PNG and JPEG output
(jpegqs writes JPEG), against `jpegqs -q 6` (`apt-get install jpegqs`) over the same files
when it is installed, and the fixed cost of
one small file (starting Python, importing torch, loading the weights). Inputs are Live-1
photos mirrored out to the size (synthetic photos without the shared data), q20 4:2:0; PSNR is
against the original.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import print_table, run_child

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

RESTORE = """
import time, numpy as np
from qgac_cli import api
from qgac_cli.devices import share_one_heap
share_one_heap()  # as the CLI does, before any tile lane starts
model = api.load_model({weights!r})
options = api.RestoreOptions(tile={tile}, bits=8, halo={halo}, precision={precision!r})
api.restore(open({warmup!r}, 'rb').read(), model, options)  # first-call costs are not per-image costs
start = time.perf_counter()
image = api.restore({path!r}, model, options)
seconds = time.perf_counter() - start
pixels = image.pixels
np.save({save!r}, pixels)
result = dict(seconds=seconds, megapixels=pixels.shape[0] * pixels.shape[1] / 1e6)
"""

DECODE = """
import time, numpy as np
from PIL import Image
start = time.perf_counter()
with Image.open({path!r}) as im:
    pixels = np.asarray(im.convert('RGB'))
seconds = time.perf_counter() - start
np.save({save!r}, pixels)
result = dict(seconds=seconds, megapixels=pixels.shape[0] * pixels.shape[1] / 1e6)
"""

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "eval" / "live1"


def source_pixels(height: int, width: int, index: int = 0):
    """A Live-1 photo mirrored out to the size when the shared data is there, else synthetic."""
    import numpy as np

    if REAL.is_dir():
        from qgac_cli.data import list_images, load_rgb

        images = list_images([REAL])
        image = load_rgb(images[index % len(images)])
        reps = (-(-height // image.shape[0]) + 1, -(-width // image.shape[1]) + 1, 1)
        flipped = np.concatenate([image, image[::-1]], 0)
        flipped = np.concatenate([flipped, flipped[:, ::-1]], 1)
        return np.ascontiguousarray(np.tile(flipped, reps)[:height, :width])
    from conftest import photo

    return photo(height, width, seed=height + index)


def make_case(folder: Path, name: str, megapixels: float, quality: int = 20, index: int = 0) -> tuple[Path, Path]:
    """A q20 4:2:0 JPEG of about `megapixels` (3:2) and its original as .npy."""
    import numpy as np

    from qgac_cli.codec.jpeg import encode

    side = int((megapixels * 1e6 / 1.5) ** 0.5)
    pixels = source_pixels(side, int(side * 1.5), index)
    jpeg = folder / f"{name}.jpg"
    jpeg.write_bytes(encode(pixels, quality))
    original = folder / f"{name}.npy"
    np.save(original, pixels)
    return jpeg, original


def psnr(restored, original) -> float:
    """RGB PSNR in dB of uint8 images (only PSNR: SSIM of 24 MP in float64 would dominate)."""
    import numpy as np

    mse = np.mean((restored.astype(np.float64) - original.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def psnr_of(saved: Path, original: Path) -> str:
    import numpy as np

    return f"{psnr(np.load(saved), np.load(original)):.2f}"


def in_process(label: str, code: str, case: tuple[Path, Path], threads: int, size: str) -> list:
    saved = case[0].with_suffix(".out.npy")
    r = run_child(code.replace("__SAVE__", str(saved)), threads)
    if "error" in r:
        return [label, size, "-", "-", r["error"]]
    result = [label, size, f"{r['seconds'] / r['megapixels']:.2f}", f"{r['peak_mib']:.0f}", psnr_of(saved, case[1])]
    saved.unlink(missing_ok=True)
    return result


def wall(command: list[str], threads: int) -> float:
    env = {"OMP_NUM_THREADS": str(threads), **os.environ}
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def folder_psnr(out_dir: Path, originals: list[Path], suffix: str) -> str:
    import numpy as np
    from PIL import Image

    values = []
    for original in originals:
        with Image.open(out_dir / (original.stem + suffix)) as im:
            values.append(psnr(np.asarray(im.convert("RGB")), np.load(original)))
    return f"{np.mean(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", default="1,12,24", help="Megapixels of the in-process rows.")
    parser.add_argument("--folder", default="8x8", help="COUNTxMP of the CLI folder (0 to skip).")
    parser.add_argument("--huge", type=float, default=0, help="Also restore one image this large (MP).")
    parser.add_argument("--weights", default="large,base,fast")
    args = parser.parse_args()
    import torch

    from qgac_cli.api import DEFAULT_TILE as TILE
    from qgac_cli.devices import bf16_is_fast

    qgac = [sys.executable, "-m", "qgac_cli"]
    names = args.weights.split(",")
    precisions = ["fp32"] + (["auto"] if bf16_is_fast(torch.device("cpu")) else [])
    rows, cli_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        warmup = make_case(folder, "warmup", 0.016)[0]
        sizes = [float(s) for s in args.sizes.split(",")]
        for mp in sizes + ([args.huge] if args.huge else []):
            case = make_case(folder, f"{mp:g}mp", mp)
            size = f"{mp:g} MP"
            rows.append(in_process("Pillow decode", DECODE.format(path=str(case[0]), save="__SAVE__"), case, 1, size))
            plan = [(f"qgac {w}, tile {TILE}", w, TILE, "auto") for w in names]
            if mp == max(sizes):
                plan += [(f"qgac {w}, tile {TILE}, --exact-tiles", w, TILE, None) for w in names]
            for label, weights, tile, halo in plan:
                for precision in precisions:
                    code = RESTORE.format(
                        path=str(case[0]),
                        weights=weights,
                        tile=tile,
                        halo=repr(halo),
                        precision=precision,
                        warmup=str(warmup),
                        save="__SAVE__",
                    )
                    tag = "" if len(precisions) == 1 else f", {precision}"
                    rows.append(in_process(label + tag, code, case, args.threads, size))
            case[1].unlink()
        count, mp = (float(v) for v in args.folder.split("x")) if "x" in args.folder else (0.0, 0.0)
        if count:
            photos = folder / "photos"
            photos.mkdir()
            originals = [make_case(photos, f"p{i}", mp, index=i)[1] for i in range(int(count))]  # .npy: not inputs
            total = mp * count
            tool = shutil.which("jpegqs")
            if tool:
                out = folder / "qs"
                out.mkdir()
                seconds = sum(
                    wall([tool, "-q", "6", str(p), str(out / (p.stem + ".jpg"))], args.threads)
                    for p in sorted(photos.glob("*.jpg"))
                )
                cli_rows.append(
                    ["jpegqs -q 6", f"{seconds:.1f}", f"{seconds / total:.2f}", folder_psnr(out, originals, ".jpg")]
                )
            else:
                cli_rows.append(["jpegqs -q 6", "-", "-", "not installed"])
            for w in names:
                for fmt, suffix in (("png", ".png"), ("jpeg", ".jpg")):  # jpegqs writes JPEG: both, fairly
                    out = folder / f"out-{w}-{fmt}"
                    command = [*qgac, "restore", str(photos), "-o", str(out), "--weights", w, "-q"]
                    command += ["--format", fmt, "--threads", str(args.threads)]
                    seconds = wall(command, args.threads)
                    label = f"qgac restore DIR ({w})" + (", JPEG q95 4:4:4" if fmt == "jpeg" else ", PNG")
                    cli_rows.append(
                        [label, f"{seconds:.1f}", f"{seconds / total:.2f}", folder_psnr(out, originals, suffix)]
                    )
            for w in names:
                seconds = wall(
                    [*qgac, "restore", str(warmup), str(folder / f"small-{w}.png"), "--weights", w], args.threads
                )
                cli_rows.append([f"one 0.016 MP file ({w}): start-up", f"{seconds:.1f}", "-", "-"])
    from qgac_cli.devices import BF16_CPU_FLAGS, cpu_flags

    flags = cpu_flags()
    kind = ", ".join(f for f in ("avx2", "avx512f", "avx512_vnni", *BF16_CPU_FLAGS) if f in flags) or "no AVX2"
    print(f"CPU flags: {kind}")
    print_table(
        f"qgac restore in process on this CPU ({args.threads} threads; q20 4:2:0 inputs; read + restore to 8 "
        "bits, warm)",
        ["method", "image", "s/MP", "peak MiB", "PSNR dB"],
        rows,
    )
    if cli_rows:
        print_table(
            f"through the CLI: a folder of {args.folder.replace('x', ' photos of ')} MP (whole processes, wall)",
            ["command", "seconds", "s/MP", "mean PSNR dB"],
            cli_rows,
        )


if __name__ == "__main__":
    main()
