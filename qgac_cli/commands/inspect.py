"""`qgac info`, `qgac models` and `qgac compare`: looking at files, weights and results."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from qgac_cli.commands.common import (
    CONTEXT,
    device_option,
    fail,
    max_scans_option,
    set_threads,
    table_console,
    threads_option,
    usage,
    weights_option,
)
from qgac_cli.errors import QgacError


@click.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file on stdout.")
@click.option(
    "--headers-only",
    is_flag=True,
    help="Read the markers only (instant at any size): no look at the coefficients for a first compression.",
)
@max_scans_option
def info(files: tuple[str, ...], as_json: bool, headers_only: bool, max_scans: int) -> None:
    """Describe JPEG files (paths, folders, or - for standard input): size, colour space,
    subsampling, coding, quality, tables, and whether the file was compressed before (a photo
    saved again: the first compression's quality, with a confidence).

    \b
    Examples:
      qgac info photo.jpg --json | jq .quality_estimate
      qgac info photos/
      cat photo.jpg | qgac info -
    """
    from qgac_cli.restore.batch import Report, failure_line

    report, records = Report(), []
    for path in _info_inputs(files, report):
        record = _describe(path, max_scans, headers_only, report)
        if record is not None:
            records.append(record)
    if as_json:
        for record in records:
            click.echo(json.dumps(record))
    else:
        _print_info(records)
    for source, message in report.failed:
        click.echo(failure_line(source, message), err=True)
    sys.exit(report.exit_code)


def _info_inputs(files: tuple[str, ...], report) -> list[str]:
    """The files to describe: each argument, a folder's JPEG files (a folder without any is
    a failure)."""
    from qgac_cli.restore.batch import FileRecord, inputs_of

    paths: list[str] = []
    for item in files:
        if item == "-" or not Path(item).is_dir():
            paths.append(item)
            continue
        found = [str(p) for p in inputs_of(Path(item))]
        if not found:
            report.files.append(FileRecord(item, "", "failed", "no JPEG files found"))
        paths.extend(found)
    return paths


def _describe(path: str, max_scans: int, headers_only: bool, report) -> dict | None:
    """One file's record; a file that cannot be read, or reads with a problem past its header
    (described as far as it reads), is a failure in the report."""
    from qgac_cli.codec.jpeg import read_stream
    from qgac_cli.info import describe
    from qgac_cli.restore.batch import FileRecord

    try:
        if path == "-":
            record = describe("<stdin>", read_stream(sys.stdin.buffer), max_scans, not headers_only)
        else:
            record = describe(path, max_scans=max_scans, recompression=not headers_only)
    except QgacError as e:
        report.files.append(FileRecord(path, "", "failed", str(e)))
        return None
    problem = record["problem"]
    report.files.append(FileRecord(record["path"], "", "failed" if problem else "restored", problem or ""))
    return record


def _print_info(records: list[dict]) -> None:
    from rich.table import Table

    console = table_console()
    for r in records:
        table = Table(title=r["path"], show_header=False)
        q = r["quality_estimate"]
        quality = (
            "-"
            if q is None
            else f"{q['quality']}"
            + ("" if q["exact"] else f" (non-standard tables; closest, mean error {q['mean_abs_error']:.2f})")
        )
        for key, value in (
            ("size", f"{r['width']} x {r['height']}"),
            ("colour space", r["color_space"]),
            ("components", r["components"]),
            ("subsampling", r["subsampling"]),
            ("coding", r["coding"] + (f", {r['scans']} scans" if (r["scans"] or 0) > 1 else "")),
            ("restorable", "yes" if r["restorable"] else f"no: {r['unsupported'] or r['problem']}"),
            ("restart interval", r["restart_interval"]),
            ("estimated quality", quality),
            ("recompressed", _recompressed(r)),
            (
                "table of each component",
                ", ".join(f"{i} (slot {slot})" for i, slot in zip(r["component_tables"], r["table_slots"])),
            ),
            ("ICC profile", "yes" if r["icc_profile"] else "no"),
            ("EXIF orientation", r["orientation"]),
            ("metadata", ", ".join(k.upper() for k in ("exif", "xmp", "iptc") if r[k]) or "none"),
            ("comment", r["comment"] if r["comment"] is not None else "none"),
            *(("note", note) for note in r["notes"]),
        ):
            table.add_row(key, str(value))
        for i, t in enumerate(r["quant_tables"]):
            table.add_row(f"table {i}", "\n".join(" ".join(f"{v:3d}" for v in row) for row in t))
        console.print(table)


def _recompressed(record: dict) -> str:
    if "recompressed" not in record:
        return "not examined"
    first = record["recompressed"]
    if first is None:
        return "no (no earlier compression found)"
    tables = "" if first["ijg_tables"] else ", tables not quite IJG's"
    grid = (
        ""
        if first["grid_offset"] == [0, 0]
        else ", its grid shifted: blocks begin at row {}, column {}".format(*first["grid_offset"])
    )
    return f"yes: first quality ≈ {first['first_quality']} (confidence {first['confidence']:.2f}{tables}{grid})"


@click.command(context_settings=CONTEXT)
@click.argument("jpeg_file", type=click.Path(exists=True, dir_okay=False))
@click.argument("restored_file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o", "--output", "out", required=True, type=click.Path(dir_okay=False), help="The sheet (PNG, JPEG, WebP, TIFF)."
)
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
    from PIL import Image

    from qgac_cli import api
    from qgac_cli.codec.jpeg import read_jpeg
    from qgac_cli.codec.output import apply_orientation, write_atomic
    from qgac_cli.evaluate.compare import side_by_side

    try:
        fmt = _sheet_format(out)
        jpeg = read_jpeg(jpeg_file)
        decoded = apply_orientation(jpeg.decoded, jpeg.orientation)
        if restored_file:
            restored = _restored_file(restored_file, jpeg_file, decoded)
        else:
            set_threads(threads)
            model = api.load_model(weights_list[0] if weights_list else None, device=device)
            restored = apply_orientation(api.restore_jpeg(jpeg, model, api.RestoreOptions(bits=8)), jpeg.orientation)
    except QgacError as e:
        fail(e)
    import io

    buffer = io.BytesIO()
    Image.fromarray(side_by_side(decoded, restored, size, count, zoom)).save(buffer, format=fmt.upper())
    write_atomic(out, buffer.getvalue())
    click.echo(f"wrote {out}: JPEG (left) and restored (right), {count} crops where it changed most", err=True)


def _restored_file(restored_file: str, jpeg_file: str, decoded):
    """The pixels of a restoration given as a file, refused where they cannot be the JPEG's."""
    import numpy as np
    from PIL import Image

    from qgac_cli.evaluate.compare import MIN_PAIR_PSNR, pair_psnr

    with Image.open(restored_file) as im:
        restored = np.asarray(im.convert("L" if decoded.ndim == 2 else "RGB"))
    if restored.shape != decoded.shape:
        raise usage(
            f"{restored_file} is {restored.shape[1]}x{restored.shape[0]}, "
            f"the JPEG {decoded.shape[1]}x{decoded.shape[0]}"
        )
    distance = pair_psnr(decoded, restored)
    if distance < MIN_PAIR_PSNR:
        raise usage(
            f"{restored_file} does not look like a restoration of {jpeg_file}: the two are "
            f"{distance:.1f} dB apart (a restoration stays above {MIN_PAIR_PSNR:.0f} dB of its JPEG)"
        )
    return restored


def _sheet_format(out: str) -> str:
    """The sheet's format from -o's extension; a usage error that names -o otherwise."""
    from qgac_cli.choices import FORMATS
    from qgac_cli.codec.output import format_for
    from qgac_cli.errors import UsageError

    try:
        fmt = format_for(out, None)
    except UsageError:
        raise usage(
            f"-o {out}: name the sheet with an image extension ({', '.join(f.suffix for f in FORMATS.values())})"
        ) from None
    folder = Path(out).resolve().parent
    if not folder.is_dir():
        raise usage(f"-o {out}: no such folder {folder}")
    return fmt


# --------------------------------------------------------------------------- models


@click.command(context_settings=CONTEXT)
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
    from rich import box
    from rich.table import Table

    console = table_console()
    shipped = Table(title="shipped weights (--weights NAME)", box=box.SIMPLE, title_justify="left")
    for column, options in (("name", {"no_wrap": True}), ("parameters", {"no_wrap": True}), ("quality", {})):
        shipped.add_column(column, **options)
    for r in (r for r in records if r["kind"] == "weights"):
        name = r["name"] + (" (default)" if r.get("default") else "")
        shipped.add_row(name, f"{r['parameters'] / 1e6:.2f} M", r.get("headline") or "")
    console.print(shipped)
    presets = Table(title="presets (qgac train --preset NAME)", box=box.SIMPLE, title_justify="left")
    for column, options in (("name", {"no_wrap": True}), ("parameters", {"no_wrap": True}), ("what", {})):
        presets.add_column(column, **options)
    for r in (r for r in records if r["kind"] == "preset"):
        presets.add_row(r["name"], f"{r['parameters'] / 1e6:.2f} M", r.get("description", ""))
    console.print(presets)
    console.print("files, training data and steps: qgac models --json", style="dim")
