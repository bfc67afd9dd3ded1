"""End-to-end restoration speed, memory and quality on this CPU, in one run.

    python bench/restore_speed.py [--threads 2] [--big-mp 24]

Rows: the shipped weights (`large`, the default, and `base`, the fast choice) tiled and
untiled on a 1-megapixel photo-like image, tiled on a large image (default 24 MP), the paper
preset (random weights, speed only) on a small image, and the model-free peer `jpegqs -q 6`
when it is installed. PSNR is against the original.
"""

from __future__ import annotations

import argparse
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
from qgac_cli.evaluate import score
from qgac_cli.model import QGAC, preset
data = open({path!r}, 'rb').read()
original = np.load({original!r})
if {weights!r} == 'paper':
    model = QGAC(preset('paper')).eval()
else:
    model = api.load_model({weights!r})
options = api.RestoreOptions(tile={tile}, bits=8)
api.restore(open({warmup!r}, 'rb').read(), model, options)  # first-call costs are not per-image costs
start = time.perf_counter()
image = api.restore(data, model, options)
seconds = time.perf_counter() - start
pixels = image.pixels
result = dict(seconds=seconds, megapixels=pixels.shape[0] * pixels.shape[1] / 1e6,
              psnr=score(pixels, original)['psnr'] if {score} else float('nan'))
"""


REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "eval" / "live1"


def source_pixels(height: int, width: int):
    """A Live-1 photo mirrored out to the size when the shared data is there, else synthetic."""
    import numpy as np

    if REAL.is_dir():
        from qgac_cli.data import list_images, load_rgb

        image = load_rgb(list_images([REAL])[0])
        reps = (-(-height // image.shape[0]) + 1, -(-width // image.shape[1]) + 1, 1)
        flipped = np.concatenate([image, image[::-1]], 0)
        flipped = np.concatenate([flipped, flipped[:, ::-1]], 1)
        return np.ascontiguousarray(np.tile(flipped, reps)[:height, :width])
    from conftest import photo

    return photo(height, width, seed=height)


def make_case(folder: Path, name: str, height: int, width: int, quality: int = 20) -> tuple[str, str, str]:
    import numpy as np

    from qgac_cli.jpeg import encode

    pixels = source_pixels(height, width)
    jpeg = folder / f"{name}.jpg"
    jpeg.write_bytes(encode(pixels, quality))
    original = folder / f"{name}.npy"
    np.save(original, pixels)
    return str(jpeg), str(original), name


def jpegqs_row(jpeg: str, original: str) -> list | None:
    tool = shutil.which("jpegqs")
    if tool is None:
        return None
    import numpy as np
    from PIL import Image

    from qgac_cli.evaluate import score

    out = Path(jpeg).with_suffix(".qs.jpg")
    start = time.perf_counter()
    subprocess.run([tool, "-q", "6", jpeg, str(out)], check=True, capture_output=True)
    seconds = time.perf_counter() - start
    pixels = np.asarray(Image.open(out).convert("RGB"))
    mp = pixels.shape[0] * pixels.shape[1] / 1e6
    return ["jpegqs -q 6", "1 MP", f"{seconds / mp:.2f}", "-", f"{score(pixels, np.load(original))['psnr']:.2f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--big-mp", type=float, default=24.0)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        one = make_case(folder, "1mp", 1000, 1000)
        side = int((args.big_mp * 1e6 / 1.5) ** 0.5)
        big = make_case(folder, "big", side, int(side * 1.5))
        small = make_case(folder, "small", 128, 128)
        import numpy as np
        from PIL import Image

        from qgac_cli.evaluate import score

        plain = np.asarray(Image.open(one[0]).convert("RGB"))
        rows.append(["JPEG decode", "1 MP", "-", "-", f"{score(plain, np.load(one[1]))['psnr']:.2f}"])
        plan = [(f"{w}, untiled", w, one, 0, True) for w in ("large", "base")] + [
            (f"{w}, tiled 1024", w, one, 1024, True) for w in ("large", "base")
        ]
        plan += [(f"{w}, tiled 1024, {args.big_mp:g} MP", w, big, 1024, False) for w in ("large", "base")]
        plan.append(("paper preset (random weights)", "paper", small, 0, False))
        for label, weights, (jpeg, original, _), tile, with_score in plan:
            code = RESTORE.format(
                path=jpeg, original=original, tile=tile, weights=weights, score=with_score, warmup=small[0]
            )
            r = run_child(code, args.threads)
            if "error" in r:
                rows.append([label, "-", "-", "-", r["error"]])
                continue
            rows.append(
                [
                    label,
                    f"{r['megapixels']:.2f} MP",
                    f"{r['seconds'] / r['megapixels']:.2f}",
                    f"{r['peak_mib']:.0f}",
                    f"{r['psnr']:.2f}" if with_score else "-",
                ]
            )
        peer = jpegqs_row(*one[:2])
        rows.append(peer or ["jpegqs -q 6", "-", "-", "-", "not installed"])
    print_table(
        f"qgac restore on this CPU ({args.threads} threads; q20 4:2:0 inputs; read + restore to 8 bits, warm)",
        ["method", "image", "s/MP", "peak MiB", "PSNR dB"],
        rows,
    )


if __name__ == "__main__":
    main()
