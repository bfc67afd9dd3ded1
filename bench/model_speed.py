"""Parameters, forward time per megapixel and peak memory of every preset, on this CPU.

    python bench/model_speed.py [--threads 2] [--layouts]

Each measurement runs in a fresh process (so peak memory is its own); the paper preset is
timed on a small image, the efficient presets on one megapixel in fp32 and, where the CPU has
AMX or AVX-512 BF16, in bf16 autocast (elsewhere bf16 is emulated at minutes per megapixel and
skipped unless --bf16 always), all in the same run, with ratios against `base` in fp32.
`--layouts` adds each efficient preset with its Y network in the contiguous (NCHW) layout
beside the channels-last one that restoring on a CPU uses (`QGAC.inference_y_layout`).
"""

from __future__ import annotations

import argparse

from common import print_table, run_child

from qgac_cli.devices import BF16_CPU_FLAGS, cpu_flags

MEASURE = """
import time
from qgac_cli.model import QGAC, preset, count_parameters
torch.manual_seed(0)
model = QGAC(preset({name!r})).eval()
model.inference_y_layout = torch.{layout}
side = {side}
h = w = side // 8
y, c = torch.randn(1, 64, h, w), torch.randn(1, 2, 64, h, w)
t = torch.full((1, 1, 8, 8), 20.0)
dtype = torch.bfloat16 if {bf16} else None
def forward():
    restored = model.restore_y(y, t, dtype)
    model.restore_color(c, restored, t, t, dtype)
with torch.no_grad():
    forward()
    times = []
    for _ in range({repeats}):
        start = time.perf_counter()
        forward()
        times.append(time.perf_counter() - start)
result = dict(parameters=count_parameters(model), seconds=min(times), megapixels=side * side / 1e6)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--bf16",
        choices=["auto", "always"],
        default="auto",
        help="bf16 rows only where it runs natively (auto); emulated bf16 convolutions take minutes",
    )
    parser.add_argument("--layouts", action="store_true", help="also time the Y networks in the NCHW layout")
    args = parser.parse_args()
    native = bool(cpu_flags() & set(BF16_CPU_FLAGS))
    precisions = (False, True) if native or args.bf16 == "always" else (False,)
    layouts = ("channels_last", "contiguous_format") if args.layouts else ("channels_last",)
    plan = [
        (name, 1024, 3, bf16, layout)
        for name in ("small", "fast", "base", "large")
        for bf16 in precisions
        for layout in layouts
    ]
    plan.append(("paper", 128, 1, False, "channels_last"))
    rows = []
    for name, side, repeats, bf16, layout in plan:
        code = MEASURE.format(name=name, side=side, repeats=repeats, bf16=bf16, layout=layout)
        r = run_child(code, args.threads)
        precision = ("bf16" if bf16 else "fp32") + (", Y NCHW" if layout == "contiguous_format" else "")
        if "error" in r:
            rows.append([name, precision, "-", f"{side}x{side}", "-", "-", r["error"]])
            continue
        per_mp = r["seconds"] / r["megapixels"]
        rows.append(
            [
                name,
                precision,
                f"{r['parameters'] / 1e6:.2f} M",
                f"{side}x{side}",
                f"{per_mp:.2f}",
                f"{r['peak_mib']:.0f}",
                "",
            ]
        )
    base = next((float(r[4]) for r in rows if r[:2] == ["base", "fp32"] and r[4] != "-"), None)
    for row in rows:
        row.append(f"{float(row[4]) / base:.2f}x" if base and row[4] != "-" else "-")
    print_table(
        f"model forward on this CPU ({args.threads} threads; bf16 native: {'yes' if native else 'no'})",
        ["preset", "precision", "parameters", "image", "s/MP", "peak MiB", "note", "vs base fp32"],
        rows,
    )


if __name__ == "__main__":
    main()
