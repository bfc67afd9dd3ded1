"""`qgac eval` and `qgac equivalent-quality`: the paper's benchmarks."""

from __future__ import annotations

import click

from qgac_cli.choices import EVAL_SUBSAMPLINGS
from qgac_cli.commands.common import (
    CONTEXT,
    check_outputs,
    console,
    device_option,
    fail,
    first_quality_option,
    note_precision,
    precision_option,
    progress_bars,
    set_threads,
    table_console,
    threads_option,
    tta_option,
    usage,
    weights_option,
)
from qgac_cli.errors import QgacError
from qgac_cli.shipping import DEFAULT_WEIGHTS

subsampling_option = click.option(
    "--subsampling",
    type=click.Choice(EVAL_SUBSAMPLINGS),
    default=EVAL_SUBSAMPLINGS[0],
    show_default=True,
    help="Chroma subsampling of the test JPEGs (grayscale sets have none).",
)


@click.command(name="eval", context_settings=CONTEXT)
@click.argument("datasets", nargs=-1, type=click.Path(exists=True, file_okay=False))
@click.option("--quality", "qualities", type=click.IntRange(1, 100), multiple=True, help="JPEG quality (repeatable).")
@subsampling_option
@weights_option
@click.option("--jpeg-only", is_flag=True, help="Score the plain JPEG decode only.")
@click.option(
    "--paired",
    nargs=2,
    type=click.Path(exists=True, file_okay=False),
    default=None,
    metavar="JPEG_DIR REF_DIR",
    help="Score existing JPEG files against references with the same names.",
)
@click.option("--no-projection", is_flag=True, help="Score without the quantization-interval projection.")
@click.option("--no-grey-guard", is_flag=True, help="Score without the guard that keeps near-grey photos grey.")
@click.option(
    "--recompress",
    "recompress",
    type=click.IntRange(1, 100),
    multiple=True,
    metavar="Q1",
    help="Score recompressed photos: each test JPEG saved first at Q1, then again at each --quality "
    "(repeatable; rows labelled Q1>Q2).",
)
@first_quality_option
@tta_option
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Write records as JSON.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None, help="Write records as CSV.")
@click.option("--per-image", is_flag=True, help="Also record every image.")
@click.option("--limit", type=int, default=None, help="Only the first N images of each set.")
@click.option(
    "--patterns",
    is_flag=True,
    help="Also score a generated set of fine regular patterns (gratings, grids, brickwork, façades).",
)
@precision_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@device_option
@threads_option
def eval_command(**opts):
    """Benchmark PSNR / PSNR-B / SSIM under the paper's conventions.

    Every image of each dataset is compressed at each quality with libjpeg's standard tables;
    the plain decode and each set of weights are scored against the original.

    \b
    Examples:
      qgac eval data/live1 --quality 10 --quality 20 --quality 50
      qgac eval data/live1 --quality 10 --weights base --weights my.pt --json out.json
      qgac eval --paired jpegs/ originals/
      qgac eval data/live1 --patterns --quality 50 --quality 90 --per-image --json out.json
      qgac eval data/live1 --recompress 30 --quality 90      # saved at q30, then again at q90
    """
    from qgac_cli import api, weights
    from qgac_cli.evaluate.scoring import evaluate, write_csv, write_json

    try:
        cfg = _eval_config(opts)
        names = [] if opts["jpeg_only"] else list(opts["weights_list"] or [weights.DEFAULT_WEIGHTS])
        methods = {name: api.load_model(name, device=opts["device"]) for name in names}
        records = _with_progress(evaluate, cfg, methods, opts["quiet"])
    except QgacError as e:
        fail(e)
    _print_eval(records)
    if opts["json_path"]:
        write_json(records, opts["json_path"])
    if opts["csv_path"]:
        write_csv(records, opts["csv_path"])


def _eval_config(opts: dict):
    """The checked evaluation asked for; empty folders and missing references are refused
    here, before any work, and folders of JPEG references are named."""
    from qgac_cli.evaluate.scoring import EvalConfig, jpeg_references, plan

    if not opts["datasets"] and not opts["paired"] and not opts["patterns"]:
        raise usage("give at least one dataset folder, --patterns, or --paired JPEG_DIR REF_DIR")
    if not opts["qualities"] and not opts["paired"]:
        raise usage("give at least one --quality")
    if opts["recompress"] and opts["paired"]:
        raise usage("--recompress makes its own JPEGs; --paired scores existing ones")
    check_outputs(opts["json_path"], opts["csv_path"])
    note_precision(opts["precision"], opts["device"])
    set_threads(opts["threads"])
    cfg = EvalConfig(
        datasets=tuple(opts["datasets"]),
        qualities=tuple(opts["qualities"]),
        subsampling=opts["subsampling"],
        paired=tuple(opts["paired"]) if opts["paired"] else None,
        project=not opts["no_projection"],
        grey_guard=not opts["no_grey_guard"],
        per_image=opts["per_image"],
        limit=opts["limit"],
        precision=opts["precision"],
        patterns=opts["patterns"],
        recompress=tuple(opts["recompress"]),
        first_quality=opts["first_quality"],
        tta=opts["tta"],
    )
    plan(cfg)
    for folder in jpeg_references(cfg):
        click.echo(
            f"qgac: note: {folder} holds JPEG files: they are scored as the references (compressed "
            "again at each quality), not restored; BSDS500 is scored so in the literature",
            err=True,
        )
    return cfg


def _with_progress(run, cfg, methods, quiet):
    """`run(cfg, methods, on_progress)` with the progress bar where a person watches it."""
    if quiet or not console().is_terminal:
        return run(cfg, methods)
    with progress_bars() as bars:
        task = bars.add_task("evaluating", total=None, status="")

        def on_progress(done: int, total: int, label: str) -> None:
            bars.update(task, completed=done, total=total, status=label)

        return run(cfg, methods, on_progress)


EVAL_COLUMNS = (
    "dataset",
    "quality",
    "method",
    "PSNR",
    "PSNR-B",
    "PSNR-Y",
    "PSNR Cb / Cr",
    "SSIM",
    "gain PSNR",
    "worst gain",
    "below JPEG",
    "images",
)


def _print_eval(records: list[dict]) -> None:
    from rich.table import Table

    rows = [r for r in records if r.get("image") is None]
    jpeg = {(r["dataset"], r["quality"]): r for r in rows if r["method"] == "jpeg"}
    table = Table(
        title="qgac eval (PSNR, PSNR-B, PSNR of the luma and of each chroma plane in dB; SSIM 8x8 uniform window)"
    )
    for column in EVAL_COLUMNS:
        table.add_column(column, justify="right" if column not in ("dataset", "method") else "left")
    for r in rows:
        table.add_row(*_eval_row(r, jpeg.get((r["dataset"], r["quality"]))))
    table_console().print(table)


def _eval_row(r: dict, base: dict | None) -> list[str]:
    gain = f"{r['psnr'] - base['psnr']:+.2f}" if base and r["method"] != "jpeg" else ""
    return [
        r["dataset"],
        str(r["quality"]),
        r["method"],
        f"{r['psnr']:.2f}",
        f"{r['psnrb']:.2f}",
        f"{r['psnr_y']:.2f}",
        f"{r['psnr_cb']:.2f} / {r['psnr_cr']:.2f}" if "psnr_cb" in r else "",
        f"{r['ssim']:.3f}",
        gain,
        f"{r['worst_gain']:+.2f}" if "worst_gain" in r else "",
        str(r["below_jpeg"]) if "below_jpeg" in r else "",
        str(r["images"]),
    ]


# --------------------------------------------------------------------------- equivalent quality


@click.command(name="equivalent-quality", context_settings=CONTEXT)
@click.argument("datasets", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option(
    "--quality",
    "qualities",
    type=click.IntRange(1, 100),
    multiple=True,
    required=True,
    help="Quality of the restored files (repeatable).",
)
@click.option(
    "--weights",
    "weights_name",
    default=None,
    metavar="NAME|PATH",
    help=f"Weights to restore with (default: {DEFAULT_WEIGHTS}).",
)
@click.option(
    "--metric",
    type=click.Choice(["ssim", "psnr"]),
    default="ssim",
    show_default=True,
    help="What the plain JPEG must match.",
)
@subsampling_option
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Write records as JSON.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None, help="Write records as CSV.")
@click.option(
    "--plot", "plot_path", type=click.Path(dir_okay=False), default=None, help="Write a chart (.png, .svg or .pdf)."
)
@click.option("--per-image", is_flag=True, help="Also record every image.")
@click.option("--limit", type=int, default=None, help="Only the first N images of each set.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@device_option
@threads_option
def equivalent_quality(**opts):
    """How much storage restoration saves (paper, appendix B.3).

    For each image and quality q: restore the q file, then find the smallest JPEG quality
    whose plain decode scores as well; compare the file sizes.

    \b
    Example:
      qgac equivalent-quality data/live1 --quality 10 --quality 20 --plot saved.png
    """
    from qgac_cli import api
    from qgac_cli.evaluate.equivalent import EquivalentConfig, plot, summarize
    from qgac_cli.evaluate.equivalent import equivalent_quality as run
    from qgac_cli.evaluate.scoring import write_csv, write_json

    try:
        check_outputs(opts["json_path"], opts["csv_path"], opts["plot_path"])
        set_threads(opts["threads"])
        model = api.load_model(opts["weights_name"], device=opts["device"])
        cfg = EquivalentConfig(
            datasets=tuple(opts["datasets"]),
            qualities=tuple(opts["qualities"]),
            metric=opts["metric"],
            subsampling=opts["subsampling"],
            limit=opts["limit"],
        )
        rows = _with_progress(lambda c, m, cb=None: run(c, m, cb), cfg, model, opts["quiet"])
    except QgacError as e:
        fail(e)
    summary = summarize(rows)
    _print_equivalent(summary, cfg.metric)
    records = summary + (rows if opts["per_image"] else [])
    if opts["json_path"]:
        write_json(records, opts["json_path"])
    if opts["csv_path"]:
        write_csv(records, opts["csv_path"])
    if opts["plot_path"]:
        plot(summary, opts["plot_path"], cfg.metric)


def _print_equivalent(summary: list[dict], metric: str) -> None:
    from rich.table import Table

    table = Table(title=f"equivalent quality ({metric.upper()})")
    for column in ("set", "q", "equiv. q", "+q", "bytes at q", "bytes equiv.", "saved", "saved %", ">100"):
        table.add_column(column, justify="right" if column != "set" else "left")
    for r in summary:
        table.add_row(
            r["dataset"],
            str(r["quality"]),
            f"{r['equivalent_quality']:.1f}",
            f"{r['quality_increase']:+.1f}",
            f"{r['bytes']:.0f}",
            f"{r['equivalent_bytes']:.0f}",
            f"{r['bytes_saved']:.0f}",
            f"{r['percent_saved']:.1f}",
            str(r["above_100"]),
        )
    table_console().print(table)
