"""`qgac train`: one stage of the staged training, with a progress bar."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from qgac_cli.choices import LOSSES, STAGES
from qgac_cli.commands.common import (
    CONTEXT,
    device_option,
    fail,
    note_precision,
    precision_option,
    progress_bars,
    threads_option,
)
from qgac_cli.errors import QgacError
from qgac_cli.train.config import TrainConfig

DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)}


@click.command(context_settings=CONTEXT)
@click.argument("data", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option(
    "--stage",
    type=click.Choice(STAGES),
    required=True,
    help="y from scratch, then color (Y frozen), joint (both), gan (texture); all but y need --init.",
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for checkpoints and logs.")
@click.option("--preset", default=DEFAULTS["preset"], show_default=True, help="Model preset (stage y from scratch).")
@click.option(
    "--init", default=None, metavar="NAME|PATH", help="Weights to start from (color, joint, gan; warm restarts)."
)
@click.option(
    "--grow",
    default=None,
    metavar="PRESET|CHANGES",
    help="Grow the --init weights first: into a larger preset, or by changes such as "
    "y.channels=128,color.blocks=8 (new blocks and channels start silent: same output).",
)
@click.option("--resume", default=None, type=click.Path(dir_okay=False), help="Resume exactly from OUT/last.pt.")
@click.option("--overwrite", is_flag=True, help="Start afresh in an --out that holds an earlier run.")
@click.option(
    "--validation",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help=f"Held-out folder (default: every {DEFAULTS['holdout_every']}th training image).",
)
@click.option(
    "--steps", type=int, default=DEFAULTS["steps"], show_default=True, help="Optimizer steps (the schedule's length)."
)
@click.option(
    "--low-quality-share",
    type=click.FloatRange(0, 1),
    default=DEFAULTS["low_quality_share"],
    show_default=True,
    help="Share of patches drawn from the lower half of the qualities (the rest from all of them): "
    "lower it to train where photos live (q70-q100).",
)
@click.option("--batch", type=int, default=DEFAULTS["batch"], show_default=True, help="Patches per step.")
@click.option(
    "--patch", type=int, default=DEFAULTS["patch"], show_default=True, help="Patch side in pixels (a multiple of 16)."
)
@click.option(
    "--lr", type=float, default=DEFAULTS["lr"], show_default=True, help="Peak learning rate (warm-up, then cosine)."
)
@click.option(
    "--loss",
    type=click.Choice(LOSSES),
    default=DEFAULTS["loss"],
    show_default=True,
    help="Regression loss: l1 (the paper's), l2, or psnr (mean −PSNR of the patches: "
    "every quality counts by its decibels, as eval averages them).",
)
@click.option(
    "--ssim-weight", type=float, default=DEFAULTS["ssim_weight"], show_default=True, help="λ of the −λ·SSIM term."
)
@click.option(
    "--projected/--unprojected",
    default=DEFAULTS["projected"],
    show_default=True,
    help="Score the output after the projection into the file's quantization intervals "
    "(what restoring returns) or before it.",
)
@click.option(
    "--teacher",
    default=None,
    metavar="NAME|PATH",
    help="Stage y: weights whose restored luma is a second target (knowledge distillation).",
)
@click.option(
    "--teacher-weight",
    type=click.FloatRange(0, 1),
    default=DEFAULTS["teacher_weight"],
    show_default=True,
    help="The teacher's share of the loss (the truth has the rest).",
)
@click.option(
    "--adv-weight",
    type=click.FloatRange(min=0),
    default=DEFAULTS["adv_weight"],
    show_default=True,
    help="Weight of the adversarial (relativistic average) loss in stage gan.",
)
@click.option(
    "--texture-weight",
    type=click.FloatRange(min=0),
    default=DEFAULTS["texture_weight"],
    show_default=True,
    help="Weight of the texture (Gram matrix) loss in stage gan.",
)
@click.option(
    "--val-every",
    type=int,
    default=DEFAULTS["val_every"],
    show_default=True,
    help="Validate and checkpoint every N steps.",
)
@click.option("--max-minutes", type=float, default=None, help="Stop (and save) after this long.")
@click.option(
    "--seed", type=int, default=DEFAULTS["seed"], show_default=True, help="Seed of the patches, qualities and weights."
)
@click.option(
    "--patterns",
    type=click.IntRange(0),
    default=DEFAULTS["patterns"],
    show_default=True,
    help="Generated regular patterns (gratings, grids, brickwork, façades) added to the training images.",
)
@precision_option
@device_option
@threads_option
def train(**opts):
    """Train one stage: y (from scratch), color (Y frozen), joint, gan.

    Runs data-parallel under torchrun (NCCL on GPUs, gloo on CPUs).

    \b
    Examples:
      qgac train data/train --stage y --out runs/y --steps 20000
      qgac train data/train --stage color --init runs/y/best.pt --out runs/color
      torchrun --nproc_per_node 2 -m qgac_cli train data/train --stage y --out runs/y
    """
    from qgac_cli.train import train as run_training

    note_precision(opts["precision"], opts["device"])
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    settings = {k: v for k, v in opts.items() if k in fields}
    cfg = TrainConfig(
        **{**settings, "data": tuple(opts["data"]), "validation": tuple(opts["validation"])},
        checkpoint_every=opts["val_every"],
    )
    try:
        best = _train_with_progress(run_training, cfg)
    except QgacError as e:
        fail(e)
    click.echo(str(Path(best)))


def _train_with_progress(run_training, cfg):
    """The training bar, drawn as every command draws one: steps, the last logged loss and
    patch rate, time left."""
    with progress_bars() as bars:
        task = bars.add_task(f"train {cfg.stage}", total=cfg.steps, status="")

        def progress(step: int, total: int, record: dict | None) -> None:
            status = f"loss {record['loss']:.4f}, {record['patches_per_s']:.0f} patches/s" if record else None
            bars.update(task, completed=step, **({"status": status} if status else {}))

        return run_training(cfg, progress)
