"""Parameters, forward time per megapixel and peak memory of every preset, on this CPU.

    python bench/model_speed.py [--threads 2]

Each measurement runs in a fresh process (so peak memory is its own); the paper preset is
timed on a small image, the efficient presets on one megapixel, all in the same run.
"""

from __future__ import annotations

import argparse

from common import print_table, run_child

MEASURE = """
import time
from qgac_cli.model import QGAC, preset, count_parameters
torch.manual_seed(0)
model = QGAC(preset({name!r})).eval()
side = {side}
h = w = side // 8
y, c = torch.randn(1, 64, h, w), torch.randn(1, 2, 64, h, w)
t = torch.full((1, 1, 8, 8), 20.0)
with torch.no_grad():
    model(y, t, c, t)
    times = []
    for _ in range({repeats}):
        start = time.perf_counter()
        model(y, t, c, t)
        times.append(time.perf_counter() - start)
result = dict(parameters=count_parameters(model), seconds=min(times), megapixels=side * side / 1e6)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    plan = [("small", 1024, 3), ("base", 1024, 3), ("paper", 128, 1)]
    rows = []
    for name, side, repeats in plan:
        r = run_child(MEASURE.format(name=name, side=side, repeats=repeats), args.threads)
        if "error" in r:
            rows.append([name, "-", f"{side}x{side}", "-", "-", r["error"]])
            continue
        per_mp = r["seconds"] / r["megapixels"]
        rows.append(
            [name, f"{r['parameters'] / 1e6:.2f} M", f"{side}x{side}", f"{per_mp:.2f}", f"{r['peak_mib']:.0f}", ""]
        )
    base = next((float(r[3]) for r in rows if r[0] == "base" and r[3] != "-"), None)
    for row in rows:
        row.append(f"{float(row[3]) / base:.1f}x" if base and row[3] != "-" else "-")
    print_table(
        f"model forward on this CPU ({args.threads} threads)",
        ["preset", "parameters", "image", "s/MP", "peak MiB", "note", "vs base"],
        rows,
    )


if __name__ == "__main__":
    main()
