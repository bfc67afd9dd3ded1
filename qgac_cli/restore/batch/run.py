"""Running planned jobs: each file read ahead, restored, written beside the next one's
restoration; a failure is recorded and the batch goes on."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

from PIL import Image

from qgac_cli import api
from qgac_cli.choices import FORMATS
from qgac_cli.codec.jpeg import JpegData, file_bytes, read_header
from qgac_cli.codec.output import OutputOptions, check_size, encode_image, write_atomic, write_image
from qgac_cli.errors import OutputAppearedError, OutputExistsError, QgacError
from qgac_cli.restore.batch.plan import Job, check_target, clashes
from qgac_cli.restore.batch.report import FileRecord, Report
from qgac_cli.restore.restored import RestoredImage


def dry_run(jobs: list[Job], overwrite: bool) -> list[tuple[Job, str, bool]]:
    """--dry-run: for each job what the real run would do, and whether that fails it before
    any restoring (a clash, a refusal, an image its output format cannot hold): the real
    run's exit code follows from it."""
    clashing = clashes(jobs)
    plan = []
    for job in jobs:
        try:
            if job in clashing:
                plan.append((job, "clash: " + clashing[job], True))
            elif not check_target(job, overwrite):
                plan.append((job, "skip (exists; --overwrite)", False))
            else:
                _check_output_size(job)
                plan.append((job, "write", False))
        except QgacError as e:
            plan.append((job, f"refused: {e}", True))
    return plan


def _check_output_size(job: Job) -> None:
    """The size check of a real run, from the input's header (markers only); standard input
    is not read ahead."""
    if job.source == "-" or FORMATS[job.format].max_side is None:
        return
    data, name = file_bytes(job.source, job.source)
    header = read_header(data, name)
    check_size(job.format, header.width, header.height, job.source)


def _read(job: Job, read_stdin: Callable[[], bytes], options: api.RestoreOptions) -> tuple[JpegData, int]:
    """The read JPEG and its size in bytes."""
    if job.source == "-":
        data = read_stdin()
        return api.read(data, options.max_pixels, "<stdin>", options.max_scans), len(data)
    return api.read(job.source, options.max_pixels, None, options.max_scans), os.path.getsize(job.source)


@dataclass(frozen=True)
class Batch:
    """What every file of a batch is restored and written with, and who hears of it."""

    model: object
    options: api.RestoreOptions
    output: OutputOptions
    overwrite: bool
    record: Callable[[FileRecord], None]
    read_stdin: Callable[[], bytes]
    write_stdout: Callable[[bytes], None]
    on_tile: Callable[[Job, int, int], None] | None


def run_batch(
    jobs: list[Job],
    model,
    options: api.RestoreOptions,
    output: OutputOptions,
    overwrite: bool = False,
    on_done: Callable[[FileRecord], None] | None = None,
    read_stdin: Callable[[], bytes] = lambda: b"",
    write_stdout: Callable[[bytes], None] = lambda b: None,
    report: Report | None = None,
    on_tile: Callable[[Job, int, int], None] | None = None,
) -> Report:
    """Restore every job; a failure is recorded and the batch goes on. Reading of the next
    file and writing of the previous one overlap with inference. `report`, when given, is
    filled as the batch goes (what was done is known even if the batch is interrupted).
    `on_done` hears of every file as it ends, `on_tile` of every tile (done, count) of the
    image being restored."""
    report = report if report is not None else Report()

    def record(entry: FileRecord) -> None:
        report.files.append(entry)
        if on_done:
            on_done(entry)

    options = replace(options, bits=output.bit_depth)  # no float copy of a whole image
    batch = Batch(model, options, output, overwrite, record, read_stdin, write_stdout, on_tile)
    todo = _runnable(jobs, overwrite, record)
    with ThreadPoolExecutor(max_workers=1) as readers, ThreadPoolExecutor(max_workers=1) as writers:
        pending: list[tuple[FileRecord, Future]] = []
        try:
            for job, future in _read_ahead(todo, readers, batch):
                written = _restore_one(job, future, batch, writers)
                if written is not None:
                    pending.append(written)
                pending = _drain(pending, record, wait=False)
        finally:  # on Ctrl-C too: a file whose writing was under way is finished, and counted
            _drain(pending, record, wait=True)
    return report


def _runnable(jobs: list[Job], overwrite: bool, record: Callable[[FileRecord], None]) -> list[Job]:
    """The jobs to run; clashes and refusals recorded as failed, existing outputs as skipped."""
    todo: list[Job] = []
    clashing = clashes(jobs)
    for job in jobs:
        try:
            if job in clashing:
                raise OutputExistsError(clashing[job])
            if check_target(job, overwrite):
                todo.append(job)
            else:
                record(FileRecord(job.source, job.target, "skipped", "exists; --overwrite replaces it"))
        except QgacError as e:
            record(FileRecord(job.source, job.target, "failed", str(e)))
    return todo


def _read_ahead(todo: list[Job], pool: ThreadPoolExecutor, batch: Batch) -> Iterator[tuple[Job, Future]]:
    """Each file is read while the one before it is restored: one image ahead, not more (a
    batch of huge photos must not hold several at once)."""
    ahead = pool.submit(_read, todo[0], batch.read_stdin, batch.options) if todo else None
    for i, job in enumerate(todo):
        future = ahead
        ahead = pool.submit(_read, todo[i + 1], batch.read_stdin, batch.options) if i + 1 < len(todo) else None
        yield job, future


def _restore_one(job: Job, future: Future, batch: Batch, writers: ThreadPoolExecutor):
    """Restore one read file and hand it to the writer: (its record, the write's future), or
    None where it failed (recorded)."""
    try:
        jpeg, size = future.result()
        entry = _facts(job, jpeg, size)
        started = time.perf_counter()
        check_size(job.format, jpeg.width, jpeg.height, job.source)
        on_tile = batch.on_tile
        progress = (lambda done, count: on_tile(job, done, count)) if on_tile else None
        image = api.restore(jpeg, batch.model, batch.options, progress)
        entry.seconds = time.perf_counter() - started
        entry.first = image.first.as_dict() if image.first is not None else None
        return entry, writers.submit(_finish, job, image, batch)
    except Exception as e:  # noqa: BLE001 - one file's surprise must not end the batch: recorded
        batch.record(FileRecord(job.source, job.target, "failed", _describe(e)))
        return None


def _finish(job: Job, image: RestoredImage, batch: Batch) -> tuple[int, float, list[str]]:
    """Encode and write one image (beside the next one's restoration): (bytes, seconds,
    notes on metadata that could not be carried)."""
    started = time.perf_counter()
    notes: list[str] = list(image.notes)
    if job.target == "-":
        data = encode_image(image, job.format, batch.output, notes)
        batch.write_stdout(data)
        return len(data), time.perf_counter() - started, notes
    # PNG streams: no second copy; an output that appeared meanwhile is not replaced
    write = lambda f: notes.extend(write_image(f, image, job.format, batch.output))  # noqa: E731
    write_atomic(job.target, write, replace=batch.overwrite)
    return os.path.getsize(job.target), time.perf_counter() - started, notes


def _facts(job: Job, jpeg: JpegData, size: int) -> FileRecord:
    quality = jpeg.quality().quality
    return FileRecord(job.source, job.target, "restored", "", jpeg.width, jpeg.height, jpeg.subsampling, quality, size)


def _drain(pending, record: Callable[[FileRecord], None], wait: bool):
    left = []
    for entry, future in pending:
        if not wait and not future.done():
            left.append((entry, future))
            continue
        try:
            entry.bytes_out, seconds, entry.notes = future.result()
            entry.seconds += seconds
        except OutputAppearedError as e:
            entry = replace(entry, status="skipped", message=str(e))
        except OSError as e:
            entry = replace(entry, status="failed", message=f"cannot write {entry.target}: {e.strerror or e}")
        except Exception as e:  # noqa: BLE001 - as in run_batch: recorded and reported
            entry = replace(entry, status="failed", message=_describe(e))
        record(entry)
    return left


def _describe(error: Exception) -> str:
    """One line for a failed file: our own errors as they are, anything else with its type."""
    if isinstance(error, QgacError):
        return str(error)
    if isinstance(error, MemoryError):
        return "out of memory while restoring this image"
    if isinstance(error, Image.DecompressionBombError):
        return f"image too large for the decoder: {error}"
    first = str(error).splitlines()[0] if str(error) else ""
    return f"unexpected {type(error).__name__}{': ' + first if first else ''}"
