"""`qgac restore`: plan the jobs, check everything up front, run the batch with progress,
report every file, exit with an honest code."""

from __future__ import annotations

import functools
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
    progress_bars,
    set_threads,
    threads_option,
    tta_option,
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
@tta_option
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
def restore(**opts):
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
    jobs, model = _prepare(opts)
    _terminate_cleanly()
    from qgac_cli.restore.batch import Report

    report = Report(planned=len(jobs))
    try:
        _run_with_progress(jobs, model, opts, report)
    except (KeyboardInterrupt, Stopped) as stop:
        report.interrupted = stop.name if isinstance(stop, Stopped) else "SIGINT"
        click.echo(report.stopped_sentence(), err=True)
        _write_summary(report, opts["json_path"])
        sys.exit(stop.code if isinstance(stop, Stopped) else 130)
    if not opts["quiet"] and not opts["verbose"] and len(jobs) == 1 and report.skipped:
        click.echo(f"qgac: skipped {jobs[0].source}: {jobs[0].target} exists (use --overwrite)", err=True)
    if not opts["quiet"] and len(jobs) > 1:
        click.echo(report.sentence(), err=True)
    _write_summary(report, opts["json_path"])
    sys.exit(report.exit_code)


def _prepare(opts: dict):
    """The checked jobs and the loaded model; a usage error or a refusal ends here, before any
    work (and --dry-run ends here, after saying what it would do)."""
    from qgac_cli import api
    from qgac_cli.restore import batch

    request = batch.Request(
        tuple(opts["inputs"]), opts["output_dir"], opts["suffix"], opts["fmt"], opts["glob"], opts["shard"],
        int(opts["bit_depth"]),
    )  # fmt: skip
    try:
        jobs = batch.plan_request(request, os.environ)
        _check_streams(jobs, opts)
        if opts["dry_run"]:
            _dry_run(jobs, opts["overwrite"])
        batch.check_writable(jobs)
        note_precision(_precision(opts), opts["device"])
        set_threads(opts["threads"])
        weights = opts["weights_list"][0] if opts["weights_list"] else None
        return jobs, api.load_model(weights, opts["texture"], opts["gan_weights"], opts["device"])
    except QgacError as e:
        fail(e)


def _check_streams(jobs, opts: dict) -> None:
    """Standard output is for one thing, and never a terminal; one set of weights."""
    to_stdout = any(j.target == "-" for j in jobs)
    if to_stdout and sys.stdout.isatty():
        raise usage("refusing to write binary image data to a terminal; redirect stdout")
    if opts["json_path"] == "-" and to_stdout:
        raise usage("--json - and an image on standard output cannot share it; give --json a file")
    if opts["json_path"] not in (None, "-"):
        check_outputs(json_path=opts["json_path"])
    if len(opts["weights_list"]) > 1:
        raise usage("restore takes one --weights")


def _dry_run(jobs, overwrite: bool) -> None:
    from qgac_cli.restore import batch

    plan = batch.dry_run(jobs, overwrite)
    for job, what, _ in plan:
        click.echo(f"{job.source} -> {job.target}: {what}")
    sys.exit(1 if any(fails for _, _, fails in plan) else 0)


def _precision(opts: dict) -> str:
    return "bf16" if opts["half"] else opts["precision"]


def _options(opts: dict):
    """The restoring and the writing options asked for."""
    from qgac_cli import api
    from qgac_cli.codec.output import OutputOptions

    restoring = api.RestoreOptions(
        tile=opts["tile"],
        project=not opts["no_projection"],
        max_pixels=opts["max_pixels"] or DEFAULT_MAX_PIXELS,
        max_scans=opts["max_scans"],
        precision=_precision(opts),
        halo=None if opts["exact_tiles"] else "auto",
        grey_guard=not opts["no_grey_guard"],
        lanes=opts["lanes"],
        first_quality=opts["first_quality"],
        tta=opts["tta"],
    )
    writing = OutputOptions(
        format=opts["fmt"],
        bit_depth=int(opts["bit_depth"]),
        jpeg_quality=opts["jpeg_quality"],
        jpeg_subsampling=opts["jpeg_subsampling"],
        keep_orientation=opts["keep_orientation"],
        strip_metadata=opts["strip_metadata"],
    )
    return restoring, writing


def _write_summary(report, json_path: str | None) -> None:
    """--json: the report's summary, to a file (atomically) or standard output."""
    if json_path is None:
        return

    from qgac_cli.codec.output import write_atomic

    text = json.dumps(report.summary(), indent=2) + "\n"
    try:
        if json_path == "-":
            click.echo(text, nl=False)
        else:
            write_atomic(json_path, text.encode())
    except OSError as e:  # a full disk, a closed pipe: the images are written; say so, exit 1
        click.echo(f"qgac: error: cannot write the summary {json_path}: {e.strerror or e}", err=True)
        sys.exit(1)


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


def _run_with_progress(jobs, model, opts: dict, report) -> None:
    """Run the batch with what the user sees as it goes: failures (and with -v every file) as
    they happen; on a terminal a bar over the files and, for an image of several tiles, one
    over its tiles."""
    from qgac_cli.codec.jpeg import max_file_bytes, read_stream
    from qgac_cli.restore import batch

    options, output = _options(opts)
    quiet, verbose = opts["quiet"], opts["verbose"]
    run = functools.partial(
        batch.run_batch,
        jobs, model, options, output, opts["overwrite"],
        read_stdin=lambda: read_stream(sys.stdin.buffer, "<stdin>", max_file_bytes(options.max_pixels)),
        write_stdout=_write_stdout,
        report=report,
    )  # fmt: skip
    if quiet or not console().is_terminal:
        run(on_done=lambda record: _say(batch.lines(record, verbose, quiet)))
        return
    with progress_bars(transient=len(jobs) == 1) as bars:
        files = bars.add_task("restoring", total=len(jobs), status="0.0 MP") if len(jobs) > 1 else None
        tiles = TileBar(bars)

        def on_done(record):
            if files is not None:
                bars.update(files, advance=1, status=f"{report.megapixels:.1f} MP")
            if text := batch.lines(record, verbose, quiet):
                bars.console.print(text, markup=False, highlight=False, soft_wrap=True)

        run(on_done=on_done, on_tile=tiles.update)


def _say(text: str | None) -> None:
    if text:  # failures are named even with -q
        click.echo(text, err=True)


def _write_stdout(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


class TileBar:
    """A bar over the tiles of an image of several, shown while it is restored."""

    def __init__(self, bars) -> None:
        self.bars, self.task = bars, None

    def update(self, job, done: int, count: int) -> None:
        if count < 2:
            return
        name = Path(job.source).name
        if self.task is None:
            self.task = self.bars.add_task("tiles", total=count, status=name)
        self.bars.update(self.task, completed=done, total=count, status=name)
        if done == count:  # the image is restored; it is written while the next one starts
            self.bars.remove_task(self.task)
            self.task = None
