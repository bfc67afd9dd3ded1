"""What every command shares: options, checks made before any work, consoles, failing with a
usage error (exit 2) or an error of ours (its own code)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from qgac_cli.choices import DEFAULT_MAX_SCANS, PRECISIONS, TTA_COUNTS
from qgac_cli.errors import QgacError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def fail(error: QgacError) -> None:
    click.echo(f"qgac: error: {error}", err=True)
    sys.exit(error.exit_code)


def console():
    from rich.console import Console

    return Console(stderr=True)


def progress_bars(transient: bool = False):
    """The one progress display of every command, on standard error: a label, the bar, done
    of all, a status text, the time elapsed and left (estimated from the last 5 minutes, not
    30 s: steadier). Columns of fixed width: a changing status does not move them."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.table import Column

    return Progress(
        TextColumn("[bold]{task.description}", table_column=Column(width=10)),
        BarColumn(),
        MofNCompleteColumn(table_column=Column(width=11, justify="right")),
        TextColumn("{task.fields[status]}", table_column=Column(width=28, no_wrap=True, overflow="ellipsis")),
        TimeElapsedColumn(),
        TextColumn("elapsed,"),
        TimeRemainingColumn(),
        TextColumn("left"),
        console=console(),
        transient=transient,
        speed_estimate_period=300,
    )


def table_console():
    """Tables on stdout: the terminal's width, or, piped, wide enough to cut nothing and
    without the trailing spaces rich pads each line with."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else PlainConsole()


class PlainConsole:
    """Prints rich renderables to stdout as plain text, each line stripped at its end."""

    def __init__(self) -> None:
        import io

        from rich.console import Console

        self._buffer = io.StringIO()
        self._console = Console(width=200, file=self._buffer)

    def print(self, *objects, **options) -> None:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._console.print(*objects, **options)
        click.echo("\n".join(line.rstrip() for line in self._buffer.getvalue().splitlines()))


def complete_weights(ctx, param, incomplete: str) -> list:
    """Shell completion of --weights: the shipped names, or checkpoint files once the word
    looks like a path (or no name fits). Never both: bash's completion script answers a file
    item with the shell's own file completion and drops every other item."""
    from click.shell_completion import CompletionItem

    from qgac_cli.shipping import SHIPPED

    names = [CompletionItem(n, help="shipped") for n in SHIPPED if n.startswith(incomplete)]
    if names and not any(c in incomplete for c in "/.~"):
        return names
    return [CompletionItem(incomplete, type="file")]


device_option = click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
weights_option = click.option(
    "--weights",
    "weights_list",
    multiple=True,
    metavar="NAME|PATH",
    shell_complete=complete_weights,
    help="Shipped weights name or a checkpoint path (default: the shipped default).",
)
max_scans_option = click.option(
    "--max-scans",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_SCANS,
    show_default=True,
    help="Refuse JPEGs of more scans than this (no encoder writes more than a few dozen; each costs a pass).",
)
precision_option = click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default=PRECISIONS[0],
    show_default=True,
    help="The networks' arithmetic (auto: bf16 where the CPU or GPU runs it natively).",
)
tta_option = click.option(
    "--tta",
    type=click.Choice([str(n) for n in TTA_COUNTS]),
    default=str(TTA_COUNTS[0]),
    show_default=True,
    callback=lambda ctx, param, value: int(value),
    help="Test-time augmentation: restore the picture mirrored (2: left-right, 4: and up-down) and average; "
    "N times the time; 4 gave +0.01 to +0.06 dB on Live-1 (exact mirrors of the file's coefficients).",
)
threads_option = click.option(
    "--threads", type=click.IntRange(min=1), default=None, help="CPU threads for torch (at least 1)."
)


def _quality(value: str) -> int | None:
    """A JPEG quality 1..100 given as text, or None where it is not one."""
    try:
        quality = int(value)
    except ValueError:
        return None
    return quality if 1 <= quality <= 100 else None


def check_first_quality(ctx, param, value: str) -> int | str:
    """--first-quality: auto, off, or an IJG quality 1..100."""
    if value in ("auto", "off"):
        return value
    quality = _quality(value)
    if quality is None:
        raise click.BadParameter(f"{value!r}: auto, off, or a quality from 1 to 100", ctx, param)
    return quality


first_quality_option = click.option(
    "--first-quality",
    default="auto",
    show_default=True,
    metavar="auto|off|1-100",
    callback=check_first_quality,
    help="A JPEG saved twice (an edited or re-uploaded photo) carries the last save's tables but the first "
    "save's damage. auto: find the first compression in the file and restore for it; off: restore the file "
    "as it is; a quality: the first compression's IJG quality, given by hand.",
)


def check_tile(ctx, param, value: int) -> int:
    if value != 0 and value < 64:
        raise click.BadParameter("0 (no tiling) or at least 64 pixels", ctx, param)
    return value


def check_jpeg_quality(ctx, param, value: str) -> int:
    if value == "input":  # the option that 0.x had: quantizing with the input's tables undoes the restoration
        raise click.BadParameter(
            "input is no longer offered: quantizing the restored image with the input's own tables puts its "
            "coefficients back where the input had them (the input again, a little worse); give a quality, "
            "e.g. 90 for about twice the input's size",
            ctx,
            param,
        )
    quality = _quality(value)
    if quality is None:
        raise click.BadParameter(f"{value!r}: a quality from 1 to 100", ctx, param)
    return quality


def check_outputs(json_path=None, csv_path=None, plot_path=None) -> None:
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


def note_precision(precision: str, device: str) -> None:
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


def set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def usage(message: str) -> QgacError:
    from qgac_cli.errors import UsageError

    return UsageError(message)
