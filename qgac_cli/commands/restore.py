"""`qgac restore`: plan the jobs, check everything up front, run the batch with progress,
report every file, exit with an honest code."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from qgac_cli.choices import (
    BIT_DEPTHS,
    DEFAULT_JPEG_QUALITY,
    DEFAULT_MAX_PIXELS,
    DEFAULT_TILE,
    FORMATS,
    OUTPUT_SUBSAMPLINGS,
)
from qgac_cli.commands.common import (
    CONTEXT,
    check_jpeg_quality,
    check_outputs,
    check_tile,
    console,
    device_option,
    fail,
    first_quality_option,
    max_scans_option,
    note_precision,
    precision_option,
    set_threads,
    threads_option,
    usage,
    weights_option,
)
from qgac_cli.errors import QgacError


@click.command(context_settings=CONTEXT)
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", "output_dir", default=None, help="Output folder for several inputs.")
@click.option(
    "--suffix",
    default=None,
    metavar="TEXT",
    help="Write each output beside its input as NAME+TEXT.png (e.g. --suffix .restored), mogrify-style.",
)
@click.option("--dry-run", is_flag=True, help="Print what would be written where, and stop.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    default=None,
    help="Output format (default: from the extension; png in folders).",
)
@click.option(
    "--bit-depth",
    type=click.Choice([str(d) for d in BIT_DEPTHS]),
    default=str(BIT_DEPTHS[0]),
    show_default=True,
    help="Bits per sample (16: PNG only).",
)
@click.option(
    "--jpeg-quality",
    default=str(DEFAULT_JPEG_QUALITY),
    show_default=True,
    metavar="1-100",
    callback=check_jpeg_quality,
    help="Quality of JPEG output.",
)
@click.option(
    "--jpeg-subsampling",
    type=click.Choice(OUTPUT_SUBSAMPLINGS),
    default=OUTPUT_SUBSAMPLINGS[0],
    show_default=True,
    help="Chroma of JPEG output: 4:4:4 (the default) keeps all the restored colour; input matches the input file "
    "(smaller).",
)
@click.option(
    "--glob", default=None, help="Only files matching this pattern inside folders (default: JPEG extensions)."
)
@click.option(
    "--keep-orientation",
    is_flag=True,
    help="Keep pixels as stored (the EXIF orientation tag stays, for viewers to turn them).",
)
@click.option(
    "--strip-metadata",
    is_flag=True,
    help="Write no EXIF (camera, date, GPS), XMP, IPTC or comment. All are kept by default, in every format "
    "that can hold them; the ICC profile is always kept (it defines the colours).",
)
@weights_option
@click.option("--gan-weights", default=None, metavar="NAME|PATH", help="GAN weights for --texture.")
@click.option(
    "--texture",
    type=click.FloatRange(0, 1),
    default=None,
    help="Blend regression (0) and GAN (1) weights by model interpolation.",
)
@click.option(
    "--tile",
    type=int,
    default=DEFAULT_TILE,
    show_default=True,
    callback=check_tile,
    help="Largest tile, as the side of a square in pixels: tiles hold at most N×N pixels, shaped to "
    "the image (0: no tiling; else at least 64).",
)
@click.option(
    "--exact-tiles",
    is_flag=True,
    help="Overlap tiles by the network's whole reach: exactly the untiled result, up to 2x slower on large "
    "images (by default 8 blocks, 4 for fast, which changes a few pixels in 10^5, 10^4 for fast, by one level).",
)
@click.option(
    "--lanes",
    type=click.IntRange(min=0),
    default=0,
    help="Tiles restored at once, sharing the CPU threads (0, the default: 2 on a CPU with 2+ threads, "
    "1 on a GPU; 1 holds the least memory).",
)
@click.option(
    "--max-pixels",
    type=int,
    default=None,
    help=f"Refuse images larger than this (default {DEFAULT_MAX_PIXELS // 10**6} MP).",
)
@max_scans_option
@click.option("--no-projection", is_flag=True, help="Do not clamp coefficients into their quantization intervals.")
@click.option(
    "--no-grey-guard",
    is_flag=True,
    help="Let the colour network add colour to near-grey photos too (by default it may only where the file "
    "has colour nearby).",
)
@first_quality_option
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (inputs are never overwritten).")
@click.option(
    "--shard", default=None, metavar="I/N", help="Take only share I of N of the inputs (I counts from 0: 0/2 and 1/2)."
)
@precision_option
@click.option("--half", is_flag=True, hidden=True, help="Old name of --precision bf16.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="One line per file as it ends: size, subsampling, estimated quality, time, bytes in and out.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write a JSON summary (counts, then every file with the facts -v prints) to this file, or - for stdout.",
)
@device_option
@threads_option
def restore(
    inputs,
    output_dir,
    suffix,
    dry_run,
    fmt,
    bit_depth,
    jpeg_quality,
    jpeg_subsampling,
    glob,
    keep_orientation,
    strip_metadata,
    weights_list,
    gan_weights,
    texture,
    tile,
    exact_tiles,
    lanes,
    max_pixels,
    max_scans,
    no_projection,
    no_grey_guard,
    first_quality,
    overwrite,
    shard,
    precision,
    half,
    quiet,
    verbose,
    json_path,
    device,
    threads,
):
    """Restore JPEG files, folders (recursively, mirrored) or standard input.

    \b
    Examples:
      qgac restore in.jpg out.png
      qgac restore a.jpg b.jpg photos/ -o restored/
      cat in.jpg | qgac restore - - > out.png
      qgac restore big.jpg big.tif --tile 512 --threads 2
      qgac restore photos/ --suffix .restored -v --json summary.json

    \b
    Metadata (EXIF, ICC, XMP, IPTC, comments) goes into every format that can hold it.
    Exit codes: 0 all restored or skipped, 1 some failed, 2 usage error (nothing done),
    130 Ctrl-C, 143 SIGTERM, 129 SIGHUP (the terminal closed); each after a summary.
    """
    from qgac_cli import api, batch
    from qgac_cli.output import OutputOptions

    try:
        jobs = batch.plan(list(inputs), output_dir, suffix, fmt, glob)
        batch.check_formats(jobs, fmt, int(bit_depth))
        jobs = batch.apply_shard(jobs, shard, os.environ)
        if any(j.target == "-" for j in jobs) and sys.stdout.isatty():
            raise usage("refusing to write binary image data to a terminal; redirect stdout")
        if json_path == "-" and any(j.target == "-" for j in jobs):
            raise usage("--json - and an image on standard output cannot share it; give --json a file")
        if json_path not in (None, "-"):
            check_outputs(json_path=json_path)
        if len(weights_list) > 1:
            raise usage("restore takes one --weights")
        if dry_run:
            plan = batch.dry_run(jobs, overwrite, fmt)
            for job, what, _ in plan:
                click.echo(f"{job.source} -> {job.target}: {what}")
            sys.exit(1 if any(fails for _, _, fails in plan) else 0)
        batch.check_writable(jobs)
        note_precision("bf16" if half else precision, device)
        set_threads(threads)
        model = api.load_model(weights_list[0] if weights_list else None, texture, gan_weights, device)
    except QgacError as e:
        fail(e)
    _terminate_cleanly()
    options = api.RestoreOptions(
        tile=tile,
        project=not no_projection,
        max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
        max_scans=max_scans,
        precision="bf16" if half else precision,
        halo=None if exact_tiles else "auto",
        grey_guard=not no_grey_guard,
        lanes=lanes,
        first_quality=first_quality,
    )
    output = OutputOptions(
        format=fmt,
        bit_depth=int(bit_depth),
        jpeg_quality=jpeg_quality,
        jpeg_subsampling=jpeg_subsampling,
        keep_orientation=keep_orientation,
        strip_metadata=strip_metadata,
    )
    report = batch.Report(planned=len(jobs))
    try:
        _run_with_progress(batch, jobs, model, options, output, overwrite, quiet, verbose, report)
    except (KeyboardInterrupt, Stopped) as stop:
        report.interrupted = stop.name if isinstance(stop, Stopped) else "SIGINT"
        click.echo(
            f"qgac: interrupted ({report.interrupted}): restored {len(report.restored)}, skipped "
            f"{len(report.skipped)}, failed {len(report.failed)}, not done {report.not_done}",
            err=True,
        )
        _write_summary(report, json_path)
        sys.exit(stop.code if isinstance(stop, Stopped) else 130)
    if not quiet and not verbose and len(jobs) == 1 and report.skipped:
        click.echo(f"qgac: skipped {jobs[0].source}: {jobs[0].target} exists (use --overwrite)", err=True)
    if not quiet and len(jobs) > 1:
        click.echo(
            f"restored {len(report.restored)}, skipped {len(report.skipped)} (exist; --overwrite), "
            f"failed {len(report.failed)}",
            err=True,
        )
    _write_summary(report, json_path)
    sys.exit(report.exit_code)


def _write_summary(report, json_path: str | None) -> None:
    """--json: the report's summary, to a file (atomically) or standard output."""
    if json_path is None:
        return

    from qgac_cli.output import write_atomic

    text = json.dumps(report.summary(), indent=2) + "\n"
    try:
        if json_path == "-":
            click.echo(text, nl=False)
        else:
            write_atomic(json_path, text.encode())
    except OSError as e:  # a full disk, a closed pipe: the images are written; say so, exit 1
        click.echo(f"qgac: error: cannot write the summary {json_path}: {e.strerror or e}", err=True)
        sys.exit(1)


def _verbose_line(record) -> str:
    """-v: one line for a file that ended."""
    where = f"{record.source} -> {record.target}"
    if record.status == "skipped":
        return f"{where}: skipped ({record.message})"
    if record.status == "failed":
        return _failure_line(record.source, record.message)
    quality = f"q~{record.quality}" if record.quality is not None else "q?"
    if record.first is not None:
        quality += f" (recompressed: first q~{record.first['first_quality']}, {_confidence(record.first)})"
    size = f"{_bytes(record.bytes_in)} -> {_bytes(record.bytes_out)}"
    return (
        f"{where}: restored {record.width}x{record.height} ({record.megapixels:.1f} MP), "
        f"{record.subsampling}, {quality}, {record.seconds:.2f} s, {size}"
    )


def _confidence(first: dict) -> str:
    said = "given" if first.get("given") else f"confidence {first['confidence']:.2f}"
    return said + ("" if first["grid_offset"] == [0, 0] else ", grid shifted")


def _bytes(count: int | None) -> str:
    if count is None:
        return "?"
    for unit, scale in (("MB", 1e6), ("KB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


def _failure_line(source: str, message: str) -> str:
    named = source in message or (source == "-" and message.startswith("<stdin>"))
    return f"qgac: error: {message}" if named else f"qgac: error: {source}: {message}"


class Stopped(BaseException):
    """SIGTERM or SIGHUP (the terminal closed), raised where the batch is: it ends like
    Ctrl-C, with a summary, the --json file and the exit code 128 + the signal."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(signum)
        self.name = signal.Signals(signum).name
        self.code = 128 + signum


def _terminate_cleanly() -> None:
    """SIGTERM and SIGHUP (the terminal closed) end the batch like an exception, not a kill:
    the file being written is finished or removed (no .part left behind), the summary and
    the --json file say what was not done, then the process exits 128 + the signal (143, 129)."""
    import signal
    import threading

    def handler(signum, frame):
        raise Stopped(signum)

    if threading.current_thread() is threading.main_thread():  # only there can Python take signals
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, handler)


def _run_with_progress(batch, jobs, model, options, output, overwrite, quiet, verbose, report):
    """Run the batch with what the user sees as it goes: failures (and with -v every file) as
    they happen; on a terminal a bar over the files and, for an image of several tiles, one
    over its tiles."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.table import Column

    from qgac_cli.jpeg import max_file_bytes, read_stream

    def read_stdin() -> bytes:
        return read_stream(sys.stdin.buffer, "<stdin>", max_file_bytes(options.max_pixels))

    def write_stdout(data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

    def line(record) -> str | None:
        text = _verbose_line(record) if verbose or record.status == "failed" else None
        if record.notes and not quiet:  # the image is written; what of its metadata is not, once
            warning = f"qgac: warning: {record.source}: " + "; ".join(record.notes)
            text = f"{text}\n{warning}" if text else warning
        return text

    stderr = console()
    if quiet or not stderr.is_terminal:

        def on_done(record):
            if text := line(record):  # failures are named even with -q
                click.echo(text, err=True)

        return batch.run_batch(jobs, model, options, output, overwrite, on_done, read_stdin, write_stdout, report)
    with Progress(  # columns of fixed width (the tile bar's name does not move them), times labelled
        TextColumn("[bold]{task.description}", table_column=Column(width=9)),
        BarColumn(),
        MofNCompleteColumn(table_column=Column(width=11, justify="right")),
        TextColumn("{task.fields[mp]}", table_column=Column(width=24, no_wrap=True, overflow="ellipsis")),
        TimeElapsedColumn(),
        TextColumn("elapsed,"),
        TimeRemainingColumn(),
        TextColumn("left"),
        console=stderr,
        transient=len(jobs) == 1,
        speed_estimate_period=300,  # the estimate of time left from the last 5 minutes, not 30 s: steadier
    ) as progress:
        files = progress.add_task("restoring", total=len(jobs), mp="0.0 MP") if len(jobs) > 1 else None
        tiles = {"task": None}

        def on_tile(job, done, count):
            if count < 2:
                return
            if tiles["task"] is None:
                tiles["task"] = progress.add_task("tiles", total=count, mp=Path(job.source).name)
            progress.update(tiles["task"], completed=done, total=count, mp=Path(job.source).name)
            if done == count:  # the image is restored; it is written while the next one starts
                progress.remove_task(tiles["task"])
                tiles["task"] = None

        def on_done(record):
            if files is not None:
                progress.update(files, advance=1, mp=f"{report.megapixels:.1f} MP")
            if text := line(record):
                progress.console.print(text, markup=False, highlight=False, soft_wrap=True)

        return batch.run_batch(
            jobs, model, options, output, overwrite, on_done, read_stdin, write_stdout, report, on_tile
        )
