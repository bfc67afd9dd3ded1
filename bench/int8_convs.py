"""int8 for the 3x3 convolutions, measured once: torch's current x86 route (PT2E quantization
with the X86 Inductor quantizer, now in torchao), against fp32 and bf16 on the same inputs.

    pip install torchao          # for this measurement only: not a dependency of qgac
    python bench/int8_convs.py [--weights fast --weights large] [--threads 1] [--images 29]

For each set of weights the residual trunks of both networks (the 3x3 convolutions and
their PReLUs: Y encode and decode, colour body) are exported, quantized (static int8,
per-channel weights, activations observed on 8 photos of the training pool), lowered by
Inductor (freezing on) and swapped into a copy of the model. Timed on a 1 MP q20 photo, in
one process, the best of 3 after warm-up: the two networks alone and `restore_jpeg` all in,
for fp32 eager, fp32 through the same Inductor lowering (so that int8's gain is not the
compiler's), bf16 where the CPU has it natively, and int8. Then Live-1 colour PSNR
(`qgac eval`'s conventions, untiled) at q10, q20, q50 and q90, fp32 against int8. The issue's
bar for adopting int8: >= 1.4x faster all in and <= 0.02 dB lost at every quality.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch
from common import print_table
from restore_speed import source_pixels

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TRUNKS = ("y_net.encode", "y_net.decode", "color_net.body")


def calibration_inputs(model, paths: list[Path]) -> dict[str, list]:
    """The inputs each trunk sees while the model restores these photos (q10-q90 mixed)."""
    from qgac_cli import api
    from qgac_cli.codec.jpeg import encode, read_jpeg
    from qgac_cli.data import load_rgb

    seen: dict[str, list] = {name: [] for name in TRUNKS}
    hooks = [
        model.get_submodule(name).register_forward_pre_hook(lambda m, args, name=name: seen[name].append(args[0]))
        for name in TRUNKS
    ]
    options = api.RestoreOptions(tile=0, bits=8, precision="fp32")
    with torch.no_grad():
        for i, path in enumerate(paths):
            pixels = load_rgb(path)[:512, :512]
            api.restore_jpeg(read_jpeg(encode(pixels, (10, 20, 50, 90)[i % 4])), model, options)
    for hook in hooks:
        hook.remove()
    return seen


def lowered(module, examples: list, quantize: bool):
    """The trunk exported with dynamic height and width, int8-quantized (calibrated on the
    examples) or not, and compiled by Inductor."""
    from torch.export import Dim, export

    h, w = Dim("h", min=2, max=4096), Dim("w", min=2, max=4096)
    graph = export(module, (examples[0],), dynamic_shapes=({2: h, 3: w},)).module()
    if quantize:
        import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as xiq
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        quantizer = xiq.X86InductorQuantizer().set_global(xiq.get_default_x86_inductor_quantization_config())
        graph = prepare_pt2e(graph, quantizer)
        for example in examples:
            graph(example)
        graph = convert_pt2e(graph)
    return torch.compile(graph, dynamic=True)


class Swapped(torch.nn.Module):
    """A trunk replaced by its lowered graph (no_grad inference only)."""

    def __init__(self, run) -> None:
        super().__init__()
        self.run = run

    def forward(self, x):
        return self.run(x)


def variant(model, seen: dict[str, list], quantize: bool):
    import torch._inductor.config as inductor

    inductor.freezing = True
    out = copy.deepcopy(model)
    for name in TRUNKS:
        parent, _, child = name.rpartition(".")
        setattr(out.get_submodule(parent), child, Swapped(lowered(model.get_submodule(name), seen[name], quantize)))
    return out


def timed(fn, repeats: int = 3) -> float:
    fn()
    fn()  # compile and warm
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def speed_rows(name: str, variants: dict, data: bytes, megapixels: float) -> list[list[str]]:
    from qgac_cli import api
    from qgac_cli.codec.jpeg import read_jpeg
    from qgac_cli.restore.coefficients import chroma_at_luma_grid, chroma_samples, from_jpeg

    jpeg = read_jpeg(data)
    planes = from_jpeg(jpeg)
    rows, base = [], {}
    for label, (model, precision) in variants.items():
        dtype = api.pick_dtype(precision, torch.device("cpu"))
        with torch.no_grad():
            y = model.restore_y(planes.y, planes.y_table)
            up = chroma_at_luma_grid(planes, chroma_samples(planes, planes.chroma))

            def networks(model=model, dtype=dtype, y=y, up=up):
                model.restore_y(planes.y, planes.y_table, dtype)
                model.restore_color(up, y, planes.c_table, planes.y_table, dtype)

            options = api.RestoreOptions(bits=8, precision=precision, lanes=1)
            nets = timed(networks) / megapixels
            whole = timed(lambda model=model, options=options: api.restore_jpeg(jpeg, model, options)) / megapixels
        base = base or {"nets": nets, "whole": whole}
        rows.append(
            [name, label, f"{nets:.3f}", f"{base['nets'] / nets:.2f}x", f"{whole:.3f}", f"{base['whole'] / whole:.2f}x"]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", action="append", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--images", type=int, default=29, help="Live-1 images scored (all 29 by default).")
    args = parser.parse_args()

    from qgac_cli import api
    from qgac_cli.codec.jpeg import encode
    from qgac_cli.data import list_images
    from qgac_cli.devices import BF16_CPU_FLAGS, bf16_is_fast, cpu_flags
    from qgac_cli.evaluate.scoring import EvalConfig, evaluate

    torch.set_num_threads(args.threads)
    flags = cpu_flags()
    print(
        "CPU flags:",
        ", ".join(f for f in ("avx2", "avx512f", "avx512_vnni", "amx_int8", *BF16_CPU_FLAGS) if f in flags),
    )
    pool = list_images([SHARED / "train" / "sunhays80"])[:8]
    side = 816
    data = encode(source_pixels(side, side * 3 // 2), 20)
    megapixels = side * (side * 3 // 2) / 1e6
    speed, quality = [], []
    for name in args.weights or ["fast", "large"]:
        model = api.load_model(name, device="cpu")
        seen = calibration_inputs(model, pool)
        variants = {"fp32 eager": (model, "fp32"), "fp32 Inductor": (variant(model, seen, False), "fp32")}
        if bf16_is_fast(torch.device("cpu")):
            variants["bf16 eager (auto)"] = (model, "bf16")
        variants["int8 Inductor"] = (variant(model, seen, True), "fp32")
        speed += speed_rows(name, variants, data, megapixels)
        cfg = EvalConfig(
            datasets=(str(SHARED / "eval" / "live1"),), qualities=(10, 20, 50, 90), limit=args.images, precision="fp32"
        )
        records = evaluate(cfg, {"fp32": model, "int8": variants["int8 Inductor"][0]})
        means = {(r["quality"], r["method"]): r["psnr"] for r in records if "image" not in r}
        for q in cfg.qualities:
            fp32, int8 = means[(q, "fp32")], means[(q, "int8")]
            quality.append(
                [name, f"q{q}", f"{means[(q, 'jpeg')]:.3f}", f"{fp32:.3f}", f"{int8:.3f}", f"{int8 - fp32:+.3f}"]
            )
    print_table(
        f"seconds per MP, 1 MP q20 4:2:0, {args.threads} thread(s): networks alone, and restore_jpeg all in",
        ["weights", "arithmetic", "networks", "vs fp32", "all in", "vs fp32"],
        speed,
    )
    print_table(
        f"Live-1 colour PSNR (dB, {args.images} images, untiled)",
        ["weights", "quality", "JPEG", "fp32", "int8", "int8 - fp32"],
        quality,
    )


if __name__ == "__main__":
    main()
