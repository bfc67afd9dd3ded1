"""Batches of files for `qgac restore`: planning a request into jobs that carry their output
format (`plan`), the checks made before any work, running them with one report where a
failure is recorded and the batch goes on (`run`), and the report that says what happened
(`report`)."""

from qgac_cli.restore.batch.plan import (
    JPEG_SUFFIXES,
    STDIN_NAME,
    Job,
    Request,
    apply_shard,
    check_formats,
    check_target,
    check_writable,
    clashes,
    inputs_of,
    is_jpeg_file,
    plan,
    plan_beside,
    plan_jobs,
    plan_pair,
    plan_request,
    real,
    shard,
)
from qgac_cli.restore.batch.report import FileRecord, Report, failure_line, lines, verbose_line
from qgac_cli.restore.batch.run import dry_run, run_batch

__all__ = [
    "JPEG_SUFFIXES",
    "STDIN_NAME",
    "FileRecord",
    "Job",
    "Report",
    "Request",
    "apply_shard",
    "check_formats",
    "check_target",
    "check_writable",
    "clashes",
    "dry_run",
    "failure_line",
    "inputs_of",
    "is_jpeg_file",
    "lines",
    "plan",
    "plan_beside",
    "plan_jobs",
    "plan_pair",
    "plan_request",
    "real",
    "run_batch",
    "shard",
    "verbose_line",
]
