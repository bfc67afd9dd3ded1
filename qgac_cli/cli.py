"""The `qgac` command: a thin layer over the library. Parse options, call one function,
report, exit. Data goes to stdout, messages and progress to stderr. torch is imported only
inside the commands that need it, so `qgac --help` and `qgac --version` are instant.

Exit codes: 0 success, 1 some inputs failed, 2 usage error, 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP.
"""

from __future__ import annotations

import warnings

import click

from qgac_cli import __version__
from qgac_cli.commands.benchmarks import equivalent_quality, eval_command
from qgac_cli.commands.common import CONTEXT
from qgac_cli.commands.inspect import compare, info, models
from qgac_cli.commands.restore import restore
from qgac_cli.commands.training import train
from qgac_cli.devices import share_one_heap, yield_when_waiting


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

    \b
    Exit codes: 0 done, 1 some inputs failed (each named on stderr), 2 usage error
    (checked before any work), 130 interrupted (Ctrl-C), 143 SIGTERM, 129 SIGHUP (the
    terminal closed); an interrupted restore prints its summary and writes --json first.
    Shell completion: eval "$(_QGAC_COMPLETE=bash_source qgac)" (zsh_source, fish_source).
    """
    # Pillow warns (with its own file paths) about every oddity of a file's metadata, thousands
    # of lines for one EXIF; what matters to a user, metadata that is not carried, qgac says
    # itself, once per file
    warnings.filterwarnings("ignore", module=r"PIL(\.|$)")
    share_one_heap()  # before torch starts its threads
    yield_when_waiting()  # before torch is imported (its OpenMP reads the setting once)


for command in (restore, info, compare, models, eval_command, equivalent_quality, train):
    main.add_command(command)
