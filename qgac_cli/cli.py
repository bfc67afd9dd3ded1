"""The `qgac` command: a thin layer over the library. Parse options, call one function,
report, exit. Data goes to stdout, messages and progress to stderr. torch is imported only
inside the commands that need it, so `qgac --help` and `qgac --version` are instant.

Exit codes: 0 success, 1 some inputs failed, 2 usage error.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from qgac_cli import __version__
from qgac_cli.errors import QgacError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _fail(error: QgacError) -> None:
    click.echo(f"qgac: error: {error}", err=True)
    sys.exit(error.exit_code)


def _console():
    from rich.console import Console

    return Console(stderr=True)


def _table_console():
    """Tables on stdout: the terminal's width, or wide enough to cut nothing when piped."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=200)


device_option = click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
weights_option = click.option(
    "--weights",
    "weights_list",
    multiple=True,
    metavar="NAME|PATH",
    help="Shipped weights name or a checkpoint path (default: the shipped default).",
)
precision_option = click.option(
    "--precision",
    type=click.Choice(["auto", "bf16", "fp32"]),
    default="auto",
    show_default=True,
    help="The networks' arithmetic (auto: bf16 where the CPU or GPU runs it natively).",
)
threads_option = click.option(
    "--threads", type=click.IntRange(min=1), default=None, help="CPU threads for torch (at least 1)."
)


def _check_tile(ctx, param, value: int) -> int:
    if value != 0 and value < 64:
        raise click.BadParameter("0 (no tiling) or at least 64 pixels", ctx, param)
    return value


def _check_outputs(json_path=None, csv_path=None, plot_path=None) -> None:
    """Report-file options checked before any computation, whose results would be lost."""
    from qgac_cli.errors import UsageError

    for option, path in (("--json", json_path), ("--csv", csv_path), ("--plot", plot_path)):
        if path is None:
            continue
        folder = Path(path).resolve().parent
        if not folder.is_dir():
            raise UsageError(f"{option} {path}: no such folder {folder}")
        if not os.access(folder, os.W_OK):
            raise UsageError(f"{option} {path}: folder {folder} is not writable")
    if plot_path is not None and Path(plot_path).suffix.lower() not in PLOT_SUFFIXES:
        raise UsageError(f"--plot {plot_path}: use one of {', '.join(sorted(PLOT_SUFFIXES))}")


PLOT_SUFFIXES = {".png", ".svg", ".pdf"}


def _note_precision(precision: str, device: str) -> None:
    """A word when bf16 was asked for where it is only emulated (it works, far more slowly)."""
    if precision != "bf16":
        return
    from qgac_cli.devices import bf16_is_fast, pick_device

    try:
        chosen = pick_device(device)
    except QgacError:
        return  # reported where the device is used
    if not bf16_is_fast(chosen):
        click.echo(f"qgac: note: bf16 is not native on this {chosen.type}: emulated, far slower than fp32", err=True)


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="qgac")
def main() -> None:
    """Remove JPEG compression artifacts with a quantization-guided network.

    \b
    Examples:
      qgac restore photo.jpg photo.png
      qgac restore ~/Pictures -o restored/ --glob '*.jpg'
      cat in.jpg | qgac restore - - > out.png
      qgac info photo.jpg --json
      qgac eval data/live1 --quality 10 --quality 50
    """


# --------------------------------------------------------------------------- info


@main.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file on stdout.")
def info(files: tuple[str, ...], as_json: bool) -> None:
    """Describe JPEG files (paths, folders, or - for standard input): size, colour space,
    subsampling, coding, quality, tables. Reads the markers only: instant at any size.

    \b
    Examples:
      qgac info photo.jpg --json | jq .quality_estimate
      qgac info photos/
      cat photo.jpg | qgac info -
    """
    from qgac_cli.info import describe

    records, failures = [], []
    for item in files:
        if item != "-" and Path(item).is_dir():
            from qgac_cli.batch import inputs_of

            paths = inputs_of(Path(item))
            if not paths:
                failures.append(f"{item}: no JPEG files found")
        else:
            paths = [item]
        for path in paths:
            try:
                if path == "-":
                    records.append(describe("<stdin>", sys.stdin.buffer.read()))
                else:
                    records.append(describe(path))
            except QgacError as e:
                failures.append(str(e))
    if as_json:
        for record in records:
            click.echo(json.dumps(record))
    else:
        _print_info(records)
    for failure in failures:
        click.echo(f"qgac: error: {failure}", err=True)
    sys.exit(1 if failures else 0)


def _print_info(records: list[dict]) -> None:
    from rich.table import Table

    console = _table_console()
    for r in records:
        table = Table(title=r["path"], show_header=False)
        q = r["quality_estimate"]
        quality = f"{q['quality']}" + (
            "" if q["exact"] else f" (non-standard tables; closest, mean error {q['mean_abs_error']:.2f})"
        )
        for key, value in (
            ("size", f"{r['width']} x {r['height']}"),
            ("colour space", r["color_space"]),
            ("components", r["components"]),
            ("subsampling", r["subsampling"]),
            ("coding", r["coding"]),
            ("restart interval", r["restart_interval"]),
            ("estimated quality", quality),
            ("table of each component", ", ".join(map(str, r["component_tables"]))),
            ("ICC profile", "yes" if r["icc_profile"] else "no"),
            ("EXIF orientation", r["orientation"]),
            ("metadata", ", ".join(k.upper() for k in ("exif", "xmp", "iptc") if r[k]) or "none"),
            ("comment", r["comment"] if r["comment"] is not None else "none"),
        ):
            table.add_row(key, str(value))
        for i, t in enumerate(r["quant_tables"]):
            table.add_row(f"table {i}", "\n".join(" ".join(f"{v:3d}" for v in row) for row in t))
        console.print(table)


# --------------------------------------------------------------------------- restore


@main.command(context_settings=CONTEXT)
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
    type=click.Choice(["png", "tiff", "webp", "jpeg"]),
    default=None,
    help="Output format (default: from the extension; png in folders).",
)
@click.option("--bit-depth", type=click.Choice(["8", "16"]), default="8", show_default=True, help="PNG bit depth.")
@click.option(
    "--jpeg-quality", type=click.IntRange(1, 100), default=95, show_default=True, help="Quality of JPEG output."
)
@click.option(
    "--jpeg-subsampling",
    type=click.Choice(["4:4:4", "4:2:2", "4:2:0", "input"]),
    default="4:4:4",
    show_default=True,
    help="Chroma of JPEG output: 4:4:4 keeps the restored colour; input matches the input file (smaller).",
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
    help="Write no EXIF (camera, date, GPS). Kept by default in every format; ICC is always kept.",
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
    default=1024,
    show_default=True,
    callback=_check_tile,
    help="Tile size in pixels (0: no tiling; else at least 64).",
)
@click.option("--max-pixels", type=int, default=None, help="Refuse images larger than this (default 200 MP).")
@click.option("--no-projection", is_flag=True, help="Do not clamp coefficients into their quantization intervals.")
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
    max_pixels,
    no_projection,
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
    """
    from qgac_cli import api, batch
    from qgac_cli.jpeg import DEFAULT_MAX_PIXELS
    from qgac_cli.output import OutputOptions

    try:
        if suffix is not None:
            if output_dir is not None:
                raise _usage("--suffix writes beside the inputs: give it or -o, not both")
            jobs = batch.plan_beside(list(inputs), suffix, fmt, glob)
        elif len(inputs) == 2 and output_dir is None:
            jobs = batch.plan_pair(inputs[0], inputs[1], fmt, glob)
        else:
            jobs = batch.plan_jobs(list(inputs), output_dir, fmt, glob, folder=True)
        if not jobs:
            raise _usage(f"no JPEG files found in {', '.join(inputs)}" + (f" matching {glob!r}" if glob else ""))
        batch.check_formats(jobs, fmt, int(bit_depth))
        jobs = _apply_shard(jobs, shard)
        if any(j.target == "-" for j in jobs) and sys.stdout.isatty():
            raise _usage("refusing to write binary image data to a terminal; redirect stdout")
        if json_path == "-" and any(j.target == "-" for j in jobs):
            raise _usage("--json - and an image on standard output cannot share it; give --json a file")
        if json_path not in (None, "-"):
            _check_outputs(json_path=json_path)
        if len(weights_list) > 1:
            raise _usage("restore takes one --weights")
        if dry_run:
            _print_plan(batch, jobs, overwrite)
            sys.exit(0)
        batch.check_writable(jobs)
        _note_precision("bf16" if half else precision, device)
        _set_threads(threads)
        model = api.load_model(weights_list[0] if weights_list else None, texture, gan_weights, device)
    except QgacError as e:
        _fail(e)
    _terminate_cleanly()
    options = api.RestoreOptions(
        tile=tile,
        project=not no_projection,
        max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
        precision="bf16" if half else precision,
    )
    output = OutputOptions(
        format=fmt,
        bit_depth=int(bit_depth),
        jpeg_quality=jpeg_quality,
        jpeg_subsampling=jpeg_subsampling,
        keep_orientation=keep_orientation,
        strip_metadata=strip_metadata,
    )
    report = batch.Report()
    try:
        _run_with_progress(batch, jobs, model, options, output, overwrite, quiet, verbose, report)
    except KeyboardInterrupt:
        click.echo(
            f"qgac: interrupted: restored {len(report.restored)}, skipped {len(report.skipped)}, "
            f"failed {len(report.failed)}, not done {len(jobs) - len(report.files)}",
            err=True,
        )
        _write_summary(report, json_path)
        sys.exit(130)
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
    import json

    from qgac_cli.output import write_atomic

    text = json.dumps(report.summary(), indent=2) + "\n"
    if json_path == "-":
        click.echo(text, nl=False)
    else:
        write_atomic(json_path, text.encode())


def _verbose_line(record) -> str:
    """-v: one line for a file that ended."""
    where = f"{record.source} -> {record.target}"
    if record.status == "skipped":
        return f"{where}: skipped ({record.message})"
    if record.status == "failed":
        return _failure_line(record.source, record.message)
    quality = f"q~{record.quality}" if record.quality is not None else "q?"
    size = f"{_bytes(record.bytes_in)} -> {_bytes(record.bytes_out)}"
    return (
        f"{where}: restored {record.width}x{record.height} ({record.megapixels:.1f} MP), "
        f"{record.subsampling}, {quality}, {record.seconds:.2f} s, {size}"
    )


def _bytes(count: int | None) -> str:
    if count is None:
        return "?"
    for unit, scale in (("MB", 1e6), ("KB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


def _print_plan(batch, jobs, overwrite: bool) -> None:
    """--dry-run: one line per input, what would happen to it."""
    clashing = batch.clashes(jobs)
    for job in jobs:
        try:
            if job in clashing:
                what = "clash: " + clashing[job]
            else:
                what = "write" if batch.check_target(job, overwrite) else "skip (exists; --overwrite)"
        except QgacError as e:
            what = f"refused: {e}"
        click.echo(f"{job.source} -> {job.target}: {what}")


def _failure_line(source: str, message: str) -> str:
    named = source in message or (source == "-" and message.startswith("<stdin>"))
    return f"qgac: error: {message}" if named else f"qgac: error: {source}: {message}"


def _terminate_cleanly() -> None:
    """SIGTERM ends the batch like an exception, not a kill: the file being written is finished
    or removed (no .part left behind), then the process exits 143."""
    import signal
    import threading

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    if threading.current_thread() is threading.main_thread():  # only there can Python take signals
        signal.signal(signal.SIGTERM, handler)


def _usage(message: str) -> QgacError:
    from qgac_cli.errors import UsageError

    return UsageError(message)


def _apply_shard(jobs, shard: str | None):
    from qgac_cli import batch

    if shard:
        try:
            index, count = (int(v) for v in shard.split("/"))
        except ValueError:
            raise _usage(f"--shard takes I/N, got {shard!r}") from None
        return batch.shard(jobs, index, count)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:  # under torchrun every process takes its own share
        return batch.shard(jobs, int(os.environ.get("RANK", "0")), world)
    return jobs


def _run_with_progress(batch, jobs, model, options, output, overwrite, quiet, verbose, report):
    """Run the batch with what the user sees as it goes: failures (and with -v every file) as
    they happen; on a terminal a bar over the files and, for an image of several tiles, one
    over its tiles."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    read_stdin = sys.stdin.buffer.read

    def write_stdout(data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

    def line(record) -> str | None:
        if verbose or record.status == "failed":
            return _verbose_line(record)
        return None

    console = _console()
    if quiet or not console.is_terminal:

        def on_done(record):
            if text := line(record):  # failures are named even with -q
                click.echo(text, err=True)

        return batch.run_batch(jobs, model, options, output, overwrite, on_done, read_stdin, write_stdout, report)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[mp]}"),
        TimeRemainingColumn(),
        console=console,
        transient=len(jobs) == 1,
    ) as progress:
        files = progress.add_task("restoring", total=len(jobs), mp="0.0 MP") if len(jobs) > 1 else None
        tiles = {"task": None}

        def on_tile(job, done, count):
            if count < 2:
                return
            if tiles["task"] is None:
                tiles["task"] = progress.add_task("tiles", total=count, mp=Path(job.source).name)
            progress.update(tiles["task"], completed=done, total=count, mp=Path(job.source).name)

        def on_done(record):
            if tiles["task"] is not None:
                progress.remove_task(tiles["task"])
                tiles["task"] = None
            if files is not None:
                progress.update(files, advance=1, mp=f"{report.megapixels:.1f} MP")
            if text := line(record):
                progress.console.print(text, markup=False, highlight=False, soft_wrap=True)

        return batch.run_batch(
            jobs, model, options, output, overwrite, on_done, read_stdin, write_stdout, report, on_tile
        )


# --------------------------------------------------------------------------- compare


@main.command(context_settings=CONTEXT)
@click.argument("jpeg_file", type=click.Path(exists=True, dir_okay=False))
@click.argument("restored_file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False), help="The sheet (PNG).")
@click.option("--size", type=click.IntRange(16, 1024), default=96, show_default=True, help="Crop side in pixels.")
@click.option("--count", type=click.IntRange(1, 12), default=3, show_default=True, help="How many crops.")
@click.option("--zoom", type=click.IntRange(1, 8), default=3, show_default=True, help="Enlargement of each crop.")
@weights_option
@device_option
@threads_option
def compare(jpeg_file, restored_file, out, size, count, zoom, weights_list, device, threads):
    """Show what restoration did: crops of the JPEG beside the restoration, where it changed most.

    Without RESTORED_FILE the JPEG is restored here first (with --weights).

    \b
    Examples:
      qgac compare photo.jpg -o compare.png
      qgac compare photo.jpg photo.png -o compare.png --count 4 --zoom 4
    """
    import numpy as np
    from PIL import Image

    from qgac_cli import api
    from qgac_cli.compare import side_by_side
    from qgac_cli.jpeg import read_jpeg
    from qgac_cli.output import apply_orientation, write_atomic

    try:
        _check_outputs(plot_path=out)
        jpeg = read_jpeg(jpeg_file)
        decoded = apply_orientation(jpeg.decoded, jpeg.orientation)
        if restored_file:
            with Image.open(restored_file) as im:
                restored = np.asarray(im.convert("L" if decoded.ndim == 2 else "RGB"))
            if restored.shape != decoded.shape:
                raise _usage(
                    f"{restored_file} is {restored.shape[1]}x{restored.shape[0]}, the JPEG "
                    f"{decoded.shape[1]}x{decoded.shape[0]}"
                )
        else:
            _set_threads(threads)
            model = api.load_model(weights_list[0] if weights_list else None, device=device)
            restored = apply_orientation(api.restore_jpeg(jpeg, model, api.RestoreOptions(bits=8)), jpeg.orientation)
    except QgacError as e:
        _fail(e)
    import io

    buffer = io.BytesIO()
    Image.fromarray(side_by_side(decoded, restored, size, count, zoom)).save(buffer, format="PNG")
    write_atomic(out, buffer.getvalue())
    click.echo(f"wrote {out}: JPEG (left) and restored (right), {count} crops where it changed most", err=True)


# --------------------------------------------------------------------------- models


@main.command(context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="JSON records on stdout.")
def models(as_json: bool) -> None:
    """List the model presets and the shipped weights.

    \b
    Example:
      qgac models --json
    """
    from qgac_cli.catalog import catalog

    records = catalog()
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    from rich.table import Table

    table = Table(title="qgac models")
    for column in ("name", "kind", "parameters", "file", "trained on", "headline"):
        table.add_column(column)
    for r in records:
        table.add_row(
            r["name"],
            r["kind"],
            f"{r['parameters'] / 1e6:.2f} M",
            r.get("file") or "",
            r.get("trained_on") or "",
            r.get("headline") or r.get("description", ""),
        )
    _table_console().print(table)


# --------------------------------------------------------------------------- eval


@main.command(name="eval", context_settings=CONTEXT)
@click.argument("datasets", nargs=-1, type=click.Path(exists=True, file_okay=False))
@click.option("--quality", "qualities", type=click.IntRange(1, 100), multiple=True, help="JPEG quality (repeatable).")
@click.option("--subsampling", type=click.Choice(["4:2:0", "4:2:2", "4:4:4"]), default="4:2:0", show_default=True)
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
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Write records as JSON.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None, help="Write records as CSV.")
@click.option("--per-image", is_flag=True, help="Also record every image.")
@click.option("--limit", type=int, default=None, help="Only the first N images of each set.")
@precision_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@device_option
@threads_option
def eval_command(
    datasets,
    qualities,
    subsampling,
    weights_list,
    jpeg_only,
    paired,
    no_projection,
    json_path,
    csv_path,
    per_image,
    limit,
    precision,
    quiet,
    device,
    threads,
):
    """Benchmark PSNR / PSNR-B / SSIM under the paper's conventions.

    Every image of each dataset is compressed at each quality with libjpeg's standard tables;
    the plain decode and each set of weights are scored against the original.

    \b
    Examples:
      qgac eval data/live1 --quality 10 --quality 20 --quality 50
      qgac eval data/live1 --quality 10 --weights base --weights my.pt --json out.json
      qgac eval --paired jpegs/ originals/
    """
    from qgac_cli import api, weights
    from qgac_cli.evaluate import EvalConfig, evaluate, write_csv, write_json

    try:
        if not datasets and not paired:
            raise _usage("give at least one dataset folder, or --paired JPEG_DIR REF_DIR")
        if not qualities and not paired:
            raise _usage("give at least one --quality")
        _check_outputs(json_path, csv_path)
        _note_precision(precision, device)
        _set_threads(threads)
        names = [] if jpeg_only else list(weights_list or [weights.DEFAULT_WEIGHTS])
        methods = {name: api.load_model(name, device=device) for name in names}
        cfg = EvalConfig(
            datasets=tuple(datasets),
            qualities=tuple(qualities),
            subsampling=subsampling,
            paired=tuple(paired) if paired else None,
            project=not no_projection,
            per_image=per_image,
            limit=limit,
            precision=precision,
        )
        records = _evaluate_with_progress(evaluate, cfg, methods, quiet)
    except QgacError as e:
        _fail(e)
    _print_eval(records)
    if json_path:
        write_json(records, json_path)
    if csv_path:
        write_csv(records, csv_path)


def _evaluate_with_progress(evaluate, cfg, methods, quiet):
    if quiet:
        return evaluate(cfg, methods)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=_console(),
    ) as progress:
        task = progress.add_task("evaluating", total=None)

        def on_progress(done: int, total: int, label: str) -> None:
            progress.update(task, completed=done, total=total, description=label)

        return evaluate(cfg, methods, on_progress)


def _print_eval(records: list[dict]) -> None:
    from rich.table import Table

    rows = [r for r in records if r.get("image") is None]
    jpeg = {(r["dataset"], r["quality"]): r for r in rows if r["method"] == "jpeg"}
    table = Table(title="qgac eval (PSNR and PSNR-B in dB; SSIM 8x8 uniform window)")
    columns = (
        "dataset",
        "quality",
        "method",
        "PSNR",
        "PSNR-B",
        "SSIM",
        "gain PSNR",
        "worst gain",
        "below JPEG",
        "images",
    )
    for column in columns:
        table.add_column(column, justify="right" if column not in ("dataset", "method") else "left")
    for r in rows:
        base = jpeg.get((r["dataset"], r["quality"]))
        gain = f"{r['psnr'] - base['psnr']:+.2f}" if base and r["method"] != "jpeg" else ""
        table.add_row(
            r["dataset"],
            str(r["quality"]),
            r["method"],
            f"{r['psnr']:.2f}",
            f"{r['psnrb']:.2f}",
            f"{r['ssim']:.3f}",
            gain,
            f"{r['worst_gain']:+.2f}" if "worst_gain" in r else "",
            str(r["below_jpeg"]) if "below_jpeg" in r else "",
            str(r["images"]),
        )
    _table_console().print(table)


# --------------------------------------------------------------------------- equivalent quality


@main.command(name="equivalent-quality", context_settings=CONTEXT)
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
    "--weights", "weights_name", default=None, metavar="NAME|PATH", help="Weights to restore with (default: large)."
)
@click.option(
    "--metric",
    type=click.Choice(["ssim", "psnr"]),
    default="ssim",
    show_default=True,
    help="What the plain JPEG must match.",
)
@click.option("--subsampling", type=click.Choice(["4:2:0", "4:2:2", "4:4:4"]), default="4:2:0", show_default=True)
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
def equivalent_quality(
    datasets,
    qualities,
    weights_name,
    metric,
    subsampling,
    json_path,
    csv_path,
    plot_path,
    per_image,
    limit,
    quiet,
    device,
    threads,
):
    """How much storage restoration saves (paper, appendix B.3).

    For each image and quality q: restore the q file, then find the smallest JPEG quality
    whose plain decode scores as well; compare the file sizes.

    \b
    Example:
      qgac equivalent-quality data/live1 --quality 10 --quality 20 --plot saved.png
    """
    from qgac_cli import api
    from qgac_cli.equivalent import EquivalentConfig, plot, summarize
    from qgac_cli.equivalent import equivalent_quality as run
    from qgac_cli.evaluate import write_csv, write_json

    try:
        _check_outputs(json_path, csv_path, plot_path)
        _set_threads(threads)
        model = api.load_model(weights_name, device=device)
        cfg = EquivalentConfig(
            datasets=tuple(datasets), qualities=tuple(qualities), metric=metric, subsampling=subsampling, limit=limit
        )
        rows = _evaluate_with_progress(lambda c, m, cb=None: run(c, m, cb), cfg, model, quiet)
    except QgacError as e:
        _fail(e)
    summary = summarize(rows)
    _print_equivalent(summary, metric)
    records = summary + (rows if per_image else [])
    if json_path:
        write_json(records, json_path)
    if csv_path:
        write_csv(records, csv_path)
    if plot_path:
        plot(summary, plot_path)


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
    _table_console().print(table)


# --------------------------------------------------------------------------- train


@main.command(context_settings=CONTEXT)
@click.argument("data", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--stage", type=click.Choice(["y", "color", "joint", "gan"]), required=True)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for checkpoints and logs.")
@click.option("--preset", default="base", show_default=True, help="Model preset (stage y from scratch).")
@click.option(
    "--init", default=None, metavar="NAME|PATH", help="Weights to start from (color, joint, gan; warm restarts)."
)
@click.option(
    "--grow",
    default=None,
    metavar="PRESET",
    help="Grow the --init weights into this larger preset first (new blocks start as the identity).",
)
@click.option("--resume", default=None, type=click.Path(dir_okay=False), help="Resume exactly from OUT/last.pt.")
@click.option("--overwrite", is_flag=True, help="Start afresh in an --out that holds an earlier run.")
@click.option(
    "--validation",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="Held-out folder (default: every 25th training image).",
)
@click.option("--steps", type=int, default=10_000, show_default=True, help="Optimizer steps (the schedule's length).")
@click.option("--batch", type=int, default=32, show_default=True, help="Patches per step.")
@click.option("--patch", type=int, default=128, show_default=True, help="Patch side in pixels (a multiple of 16).")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Peak learning rate (warm-up, then cosine).")
@click.option(
    "--loss",
    type=click.Choice(["l1", "l2", "psnr"]),
    default="l1",
    show_default=True,
    help="Regression loss: l1 (the paper's), l2, or psnr (mean −PSNR of the patches: "
    "every quality counts by its decibels, as eval averages them).",
)
@click.option("--ssim-weight", type=float, default=0.05, show_default=True, help="λ of the −λ·SSIM term.")
@click.option("--val-every", type=int, default=500, show_default=True, help="Validate and checkpoint every N steps.")
@click.option("--max-minutes", type=float, default=None, help="Stop (and save) after this long.")
@click.option("--seed", type=int, default=0, show_default=True)
@precision_option
@device_option
@threads_option
def train(
    data,
    stage,
    out,
    preset,
    init,
    grow,
    resume,
    overwrite,
    validation,
    steps,
    batch,
    patch,
    lr,
    loss,
    ssim_weight,
    val_every,
    max_minutes,
    seed,
    precision,
    device,
    threads,
):
    """Train one stage: y (from scratch), color (Y frozen), joint, gan.

    Runs data-parallel under torchrun (NCCL on GPUs, gloo on CPUs).

    \b
    Examples:
      qgac train data/train --stage y --out runs/y --steps 20000
      qgac train data/train --stage color --init runs/y/best.pt --out runs/color
      torchrun --nproc_per_node 2 -m qgac_cli train data/train --stage y --out runs/y
    """
    from qgac_cli.train import TrainConfig
    from qgac_cli.train import train as run_training

    _note_precision(precision, device)

    cfg = TrainConfig(
        stage=stage,
        data=tuple(data),
        out=out,
        preset=preset,
        init=init,
        grow=grow,
        resume=resume,
        overwrite=overwrite,
        validation=tuple(validation),
        steps=steps,
        batch=batch,
        patch=patch,
        lr=lr,
        loss=loss,
        ssim_weight=ssim_weight,
        val_every=val_every,
        checkpoint_every=val_every,
        max_minutes=max_minutes,
        device=device,
        threads=threads,
        seed=seed,
        precision=precision,
    )
    try:
        from tqdm import tqdm

        with tqdm(total=steps, desc=f"train {stage}", file=sys.stderr, unit="step") as bar:

            def progress(step: int, total: int, record: dict) -> None:
                bar.n = step
                bar.set_postfix(loss=f"{record['loss']:.4f}", pps=f"{record['patches_per_s']:.0f}")
                bar.refresh()

            best = run_training(cfg, progress)
    except QgacError as e:
        _fail(e)
    click.echo(str(Path(best)))
