"""What to grow, by measurement: equal-time training runs of grown candidates from one start.

    python bench/growth_compare.py DATA... --init large --minutes 12 \\
        --candidate none --candidate y.blocks=10 --candidate y.channels=128 \\
        --candidate color.blocks=9 --candidate color.channels=64 [--batch 16] [--lr 5e-5]
        [--threads 2] [--device auto] [--out runs/growth]

Every candidate starts from the same weights (`--init`), grown by `qgac train --grow`'s rules
(new blocks and channels silent, so every run starts at the same validation score), and
trains the joint stage for the same wall time from the same seed and patches: a short probe
measures its rate, then the cosine schedule is sized to end inside the budget (a bigger
candidate gets fewer steps, which is the point). "none" is the start trained as it is. The
table gives each candidate's validation gain over the JPEG at q10 / q50 / q90 (held-out
crops) at the start and at the end, the change against "none" at the end and at each run's
best (the step with the best mean of the three), and the restoring networks' arithmetic and
forward time per megapixel (fp32, in a fresh process, one megapixel) against the start's
(the time is noisy on a shared machine; the GFLOP/MP are exact).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import print_table, run_child

MEASURE = """
import time
from qgac_cli import weights
from qgac_cli.model.growth import grow, growth_target
model = weights.build(weights.read(weights.resolve({init!r})))
if {spec!r} != "none":
    model = grow(model, growth_target({spec!r}, model.config))
model = model.eval()
h = w = 128  # one megapixel of 8x8 blocks
torch.manual_seed(0)
y, c = torch.randn(1, 64, h, w), torch.randn(1, 2, 64, h, w)
t = torch.full((1, 1, 8, 8), 20.0)
def forward():
    model.restore_color(c, model.restore_y(y, t), t, t)
with torch.no_grad():
    forward()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        forward()
        times.append(time.perf_counter() - start)
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        forward()
from qgac_cli.model import count_parameters
result = dict(parameters=count_parameters(model), seconds=min(times), megapixels=(8 * h) * (8 * w) / 1e6,
              flops=counter.get_total_flops())
"""


def gains(log: Path) -> tuple[dict, dict, dict]:
    """The validation records at the start (step 0), at the best mean gain and at the end."""
    records = [json.loads(line) for line in log.read_text().splitlines() if '"gain_q' in line]
    return records[0], max(records, key=mean_gain), records[-1]


def mean_gain(record: dict) -> float:
    """The mean validation gain over the record's qualities, the score train() keeps best.pt by."""
    values = [v for k, v in record.items() if k.startswith("gain_q")]
    return sum(values) / len(values)


def train_candidate(spec: str, args: argparse.Namespace, out: Path) -> dict:
    """Train one candidate for the budget (probe, then a sized schedule); its log's figures."""
    from qgac_cli.train import Budget, TrainConfig, train_within

    cfg = TrainConfig(
        out=str(out / "run"),
        stage="joint",
        data=tuple(args.data),
        init=args.init,
        grow=None if spec == "none" else spec,
        batch=args.batch,
        patch=args.patch,
        lr=args.lr,
        warmup=20,
        loss=args.loss,
        ssim_weight=args.ssim_weight,
        precision=args.precision,
        device=args.device,
        threads=args.threads,
        seed=0,
        overwrite=True,
    )
    budget = Budget(args.minutes * 60, probe_steps=args.probe_steps, validations=3, margin=0.9, reserve=0.0)
    _, sized, rate = train_within(cfg, budget)
    steps = sized.steps
    start, best, end = gains(out / "run" / "log.jsonl")
    return {"steps": steps, "rate": rate, "start": start, "best": best, "end": end}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+")
    parser.add_argument("--init", default="large")
    parser.add_argument("--candidate", action="append", default=None, help="none, a preset or ROLE.FIELD=N,...")
    parser.add_argument("--minutes", type=float, default=12.0, help="wall time per candidate")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--loss", default="l2")
    parser.add_argument("--ssim-weight", type=float, default=0.0)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--probe-steps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default="runs/growth")
    args = parser.parse_args()
    candidates = args.candidate or ["none", "y.blocks=10", "y.channels=128", "color.blocks=9", "color.channels=64"]
    if "none" not in candidates:
        candidates.insert(0, "none")

    results = {}
    for spec in candidates:
        results[spec] = train_candidate(spec, args, Path(args.out) / spec.replace(",", "+"))
        speed = run_child(MEASURE.format(init=args.init, spec=spec), args.threads)
        results[spec]["speed"] = speed
        print(spec, json.dumps(results[spec]), flush=True)

    qualities = sorted(k for k in results["none"]["best"] if k.startswith("gain_q"))
    base_best, base_end = results["none"]["best"], results["none"]["end"]
    base_speed = results["none"]["speed"].get("seconds")
    rows = []
    for spec, r in results.items():
        speed = r["speed"]
        per_mp = speed["seconds"] / speed["megapixels"] if "seconds" in speed else None
        rows.append(
            [
                spec,
                f"{speed.get('parameters', 0) / 1e6:.2f} M",
                r["steps"],
                f"{r['rate']:.1f}",
                " / ".join(f"{r['start'][q]:+.3f}" for q in qualities),
                " / ".join(f"{r['end'][q]:+.3f}" for q in qualities),
                " / ".join(f"{r['end'][q] - base_end[q]:+.4f}" for q in qualities),
                f"{r['best']['step']}",
                " / ".join(f"{r['best'][q] - base_best[q]:+.4f}" for q in qualities),
                f"{speed['flops'] / speed['megapixels'] / 1e9:.0f}" if per_mp else "-",
                f"{per_mp:.2f}" if per_mp else speed.get("error", "-"),
                f"{speed['seconds'] / base_speed:.2f}x" if per_mp and base_speed else "-",
            ]
        )
    names = "/".join(q.removeprefix("gain_") for q in qualities)
    print_table(
        f"growth candidates from {args.init}, {args.minutes:g} min each ({args.device}, {args.threads} threads)",
        [
            "candidate",
            "params",
            "steps",
            "patches/s",
            f"start {names}",
            f"end {names}",
            "end vs none",
            "best at",
            "best vs none",
            "GFLOP/MP",
            "s/MP",
            "cost",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
