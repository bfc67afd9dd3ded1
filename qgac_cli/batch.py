"""Batches of files for `qgac restore`: planning jobs (inputs -> outputs), the checks made
before any work (clashes, formats, writable folders), and running them with one report:
a failure is recorded and the batch goes on."""

from __future__ import annotations

import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from PIL import Image

from qgac_cli import api
from qgac_cli.choices import EXTENSIONS, FORMATS
from qgac_cli.errors import OutputAppearedError, OutputExistsError, QgacError, UsageError
from qgac_cli.jpeg import JpegData, file_bytes, read_header
from qgac_cli.output import (
    OutputOptions,
    RestoredImage,
    check_bit_depth,
    check_size,
    encode_image,
    format_for,
    write_atomic,
    write_image,
)
from qgac_cli.pathnames import json_path

JPEG_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".jfif"}
STDIN_NAME = "stdin"  # the output's name for standard input in an output folder


def real(path: str | os.PathLike) -> Path:
    """The path with its symlinks resolved as far as they go: a loop or a missing file ends
    the resolution there, without the RuntimeError of Path.resolve (it is reported when the
    file is read)."""
    return Path(os.path.realpath(path))


@dataclass(frozen=True)
class Job:
    source: str  # a path, or "-" for standard input
    target: str  # a path, or "-" for standard output


def inputs_of(folder: Path, glob: str | None = None, out_dir: Path | None = None) -> list[Path]:
    """The input files of a folder, leaving out an output folder nested inside it (a second
    run would otherwise restore its own outputs); an output folder that is the input folder
    itself leaves everything in. Every entry with a JPEG name that is not a folder is an
    input, a pipe or a broken link too: reading it reports what it is, rather than skipping
    it without a word."""
    pattern = glob or "*"
    skip = real(out_dir) if out_dir is not None else None
    if skip == real(folder):
        skip = None
    return sorted(
        p
        for p in folder.rglob(pattern)
        if not p.is_dir()
        and (glob is not None or p.suffix.lower() in JPEG_SUFFIXES)
        and (skip is None or skip not in real(p).parents)
    )


def is_jpeg_file(path: str | os.PathLike) -> bool:
    """An existing regular file that starts like a JPEG (start-of-image marker); False for
    folders, and for pipes and devices, which are not opened (a FIFO would block)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as f:
            return f.read(3) == b"\xff\xd8\xff"
    except OSError:
        return False


def plan(
    inputs: list[str], output_dir: str | None, suffix: str | None, fmt: str | None = None, glob: str | None = None
) -> list[Job]:
    """The jobs of `qgac restore`'s arguments: beside the inputs (--suffix), a pair IN OUT, or
    inputs into an output folder (-o). Raises UsageError for none at all."""
    if suffix is not None:
        if output_dir is not None:
            raise UsageError("--suffix writes beside the inputs: give it or -o, not both")
        jobs = plan_beside(inputs, suffix, fmt, glob)
    elif len(inputs) == 2 and output_dir is None:
        jobs = plan_pair(inputs[0], inputs[1], fmt, glob)
    else:
        jobs = plan_jobs(inputs, output_dir, fmt, glob, folder=True)
    if not jobs:
        raise UsageError(f"no JPEG files found in {', '.join(inputs)}" + (f" matching {glob!r}" if glob else ""))
    return jobs


def plan_pair(source: str, target: str, fmt: str | None = None, glob: str | None = None) -> list[Job]:
    """`qgac restore A B`: B is the output, unless it is an existing JPEG, which is refused
    (a forgotten -o must not turn a second photo into an output, with or without --overwrite)."""
    if target != "-" and is_jpeg_file(target):
        raise UsageError(
            f"{target!r} is an existing JPEG, not an output: to restore several files use -o OUTDIR; "
            "to replace that file, delete it first"
        )
    return plan_jobs([source], target, fmt, glob)


def clashes(jobs: list[Job]) -> dict[Job, str]:
    """Jobs whose output another job would also write, each with a one-line reason: found
    before anything is restored, all of them fail (which one was meant cannot be known)."""
    by_target: dict[Path, list[Job]] = {}
    for job in jobs:
        if job.target != "-":
            by_target.setdefault(real(job.target), []).append(job)
    found = {}
    for group in by_target.values():
        if len(group) > 1:
            names = ", ".join(j.source for j in group)
            for job in group:
                found[job] = f"{names} would all be written to {job.target}; not restored (rename one)"
    return found


def plan_jobs(
    inputs: list[str], output: str | None, fmt: str | None = None, glob: str | None = None, folder: bool = False
) -> list[Job]:
    """Turn command-line inputs into (source, target) jobs.

    One input and an output path -> one job; otherwise `output` is a folder, created if need
    be: files go into it by name, folders are mirrored below it. With `folder` (-o), one
    input goes into the folder too unless `output` is named like an image (out.png).
    """
    if not inputs:
        raise UsageError("no input given")
    if output is None:
        raise UsageError("give an output: qgac restore IN OUT, or -o OUTDIR for several inputs")
    output_is_dir = output != "-" and Path(output).is_dir()
    named_file = output == "-" or (not output_is_dir and Path(output).suffix.lower() in EXTENSIONS)
    single = len(inputs) == 1 and not (inputs[0] != "-" and Path(inputs[0]).is_dir())
    if single and (named_file or (not folder and not output_is_dir)):
        # one input, one output: so even for an input that does not exist or is not a file
        # (its read fails, and nothing is created for it)
        if output != "-" and not Path(output).suffix and fmt is None:
            raise UsageError(f"{output!r} is not a folder and has no image extension")
        format_for(None if output == "-" else output, fmt)  # an unknown format is a usage error
        return [Job(inputs[0], output)]
    if output == "-":
        raise UsageError("several inputs cannot all go to standard output")
    if named_file:
        raise UsageError(f"{output!r} is named like an image file: several outputs need a folder (-o OUTDIR)")
    if "-" in inputs and len(inputs) > 1:
        raise UsageError("standard input can only be restored on its own")
    suffix = FORMATS[fmt or "png"].suffix
    out_dir = Path(output)
    jobs: list[Job] = []
    for item in inputs:
        path = Path(item)
        if item == "-":
            jobs.append(Job(item, str(out_dir / (STDIN_NAME + suffix))))
        elif path.is_dir():
            for src in inputs_of(path, glob, out_dir):
                target = (out_dir / src.relative_to(path)).with_suffix(suffix)
                jobs.append(Job(str(src), str(target)))
        else:
            jobs.append(Job(item, str((out_dir / path.name).with_suffix(suffix))))
    return jobs


def plan_beside(inputs: list[str], suffix: str, fmt: str | None = None, glob: str | None = None) -> list[Job]:
    """mogrify-style jobs: each output beside its input, named stem + suffix + the format's
    extension (photos/a.jpg -> photos/a.restored.png); folders are searched recursively, and
    files that already carry the suffix are not inputs."""
    if not suffix or "/" in suffix or suffix in (".", ".."):
        raise UsageError(f"--suffix must be a plain name part like .restored, got {suffix!r}")
    if "-" in inputs:
        raise UsageError("standard input has no folder to write beside; give an output")
    ext = FORMATS[fmt or "png"].suffix
    jobs: list[Job] = []
    for item in inputs:
        path = Path(item)
        sources = inputs_of(path, glob) if path.is_dir() else [path]
        for src in sources:
            if src.stem.endswith(suffix):
                continue  # an output of an earlier run
            jobs.append(Job(str(src), str(src.with_name(src.stem + suffix + ext))))
    return jobs


def check_writable(jobs: list[Job]) -> None:
    """Fail once, before any work, when an output folder cannot be created or written:
    that failure would otherwise repeat for every file after every restoration. Nothing is
    created here: folders are made when their first file is written, so a batch whose every
    input fails leaves none behind."""
    folders = {Path(j.target).parent for j in jobs if j.target != "-"}
    if not folders:
        return
    top = min(folders, key=lambda f: (len(f.parts), str(f)))  # -o OUTDIR, or the output's folder
    existing = top
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():  # a dangling link where a folder would go
            raise OutputExistsError(f"cannot write into {top}: {existing} is a broken symbolic link")
        existing = existing.parent
    if not existing.is_dir():
        what = f"{existing} is a file" if existing == top else f"{existing} (inside its path) is a file"
        raise OutputExistsError(f"cannot write into {top}: {what}, not a folder")
    if existing != top:  # the folders will be made under `existing`: may they be?
        if not os.access(existing, os.W_OK | os.X_OK):
            raise OutputExistsError(f"cannot write into {top}: Permission denied")
        return
    try:
        with tempfile.TemporaryFile(dir=top):
            pass
    except OSError as e:
        raise OutputExistsError(f"cannot write into {top}: {e.strerror or e}") from None


def check_formats(jobs: list[Job], fmt: str | None, bit_depth: int) -> None:
    """Output choices that would fail for every image, refused before the first one: a 16-bit
    output that is not PNG, and --format contradicting an output's extension."""
    for job in jobs:
        target = None if job.target == "-" else job.target
        chosen = format_for(target, fmt)
        check_bit_depth(chosen, bit_depth, job.target)
        if fmt and target and EXTENSIONS.get(Path(target).suffix.lower(), fmt) != fmt:
            raise UsageError(f"--format {fmt} contradicts the extension of {target}")


def apply_shard(jobs: list[Job], spec: str | None, environ: dict) -> list[Job]:
    """This process's share: --shard I/N, else under torchrun (WORLD_SIZE, RANK) its rank's."""
    if spec:
        try:
            index, count = (int(v) for v in spec.split("/"))
        except ValueError:
            raise UsageError(f"--shard takes I/N, got {spec!r}") from None
        return shard(jobs, index, count)
    world = int(environ.get("WORLD_SIZE", "1"))
    if world > 1:
        return shard(jobs, int(environ.get("RANK", "0")), world)
    return jobs


def dry_run(jobs: list[Job], overwrite: bool, fmt: str | None = None) -> list[tuple[Job, str, bool]]:
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
                _check_output_size(job, fmt)
                plan.append((job, "write", False))
        except QgacError as e:
            plan.append((job, f"refused: {e}", True))
    return plan


def _check_output_size(job: Job, fmt: str | None) -> None:
    """The size check of a real run, from the input's header (markers only); standard input
    is not read ahead."""
    chosen = format_for(None if job.target == "-" else job.target, fmt)
    if job.source == "-" or FORMATS[chosen].max_side is None:
        return
    data, name = file_bytes(job.source, job.source)
    header = read_header(data, name)
    check_size(chosen, header.width, header.height, job.source)


def shard(jobs: list[Job], index: int, count: int) -> list[Job]:
    """This process's share of the jobs (index in 0..count-1)."""
    if not 0 <= index < count:
        raise UsageError(f"shard {index}/{count} is out of range")
    return jobs[index::count]


@dataclass
class FileRecord:
    """What happened to one input: for `-v` lines and the `--json` summary."""

    source: str
    target: str
    status: str  # restored | skipped | failed
    message: str = ""
    width: int = 0
    height: int = 0
    subsampling: str = ""
    quality: int | None = None  # estimated from the quantization tables
    bytes_in: int | None = None
    bytes_out: int | None = None
    seconds: float = 0.0  # restoring and encoding (reading and writing overlap with other files)
    notes: list[str] = field(default_factory=list)  # metadata that could not be carried, and the like
    first: dict | None = None  # the earlier compression restored for (FirstCompression.as_dict)

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


@dataclass
class Report:
    """Outcome of a batch, file by file as it goes: decides the exit code."""

    files: list[FileRecord] = field(default_factory=list)
    planned: int = 0  # the jobs the batch was given (0: as many as ended)
    interrupted: str | None = None  # the signal that stopped the batch (SIGINT, SIGTERM, SIGHUP), or None

    @property
    def not_done(self) -> int:
        return max(self.planned - len(self.files), 0)

    def _sources(self, status: str) -> list[str]:
        return [r.source for r in self.files if r.status == status]

    @property
    def restored(self) -> list[str]:
        return self._sources("restored")

    @property
    def skipped(self) -> list[str]:
        return self._sources("skipped")

    @property
    def failed(self) -> list[tuple[str, str]]:
        return [(r.source, r.message) for r in self.files if r.status == "failed"]

    @property
    def megapixels(self) -> float:
        return sum(r.megapixels for r in self.files if r.status == "restored")

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def summary(self) -> dict:
        """JSON-ready: the counts, then every file."""
        return {
            "restored": len(self.restored),
            "skipped": len(self.skipped),
            "failed": len(self.failed),
            "not_done": self.not_done,
            "interrupted": self.interrupted,
            "megapixels": round(self.megapixels, 3),
            "seconds": round(sum(r.seconds for r in self.files), 3),
            "files": [
                {
                    **asdict(r),
                    "seconds": round(r.seconds, 3),
                    **json_path("source", r.source),
                    **json_path("target", r.target),
                }
                for r in self.files
            ],
        }


def check_target(job: Job, overwrite: bool) -> bool:
    """True when the job should run; raises when it would destroy an input."""
    if job.target == "-":
        return True
    if job.source != "-" and real(job.source) == real(job.target):
        raise OutputExistsError("output is the input itself; refusing to overwrite an input", job.source)
    return overwrite or not Path(job.target).exists()


def _read(job: Job, read_stdin: Callable[[], bytes], options: api.RestoreOptions) -> tuple[JpegData, int]:
    """The read JPEG and its size in bytes."""
    if job.source == "-":
        data = read_stdin()
        return api.read(data, options.max_pixels, "<stdin>", options.max_scans), len(data)
    return api.read(job.source, options.max_pixels, None, options.max_scans), os.path.getsize(job.source)


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
    options = replace(options, bits=output.bit_depth)  # no float copy of a whole image

    def record(entry: FileRecord) -> None:
        report.files.append(entry)
        if on_done:
            on_done(entry)

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

    def prefetch(pool: ThreadPoolExecutor) -> Iterator[tuple[Job, Future]]:
        """Each file is read while the one before it is restored: one image ahead, not more
        (a batch of huge photos must not hold several at once)."""
        ahead = pool.submit(_read, todo[0], read_stdin, options) if todo else None
        for i, job in enumerate(todo):
            future = ahead
            ahead = pool.submit(_read, todo[i + 1], read_stdin, options) if i + 1 < len(todo) else None
            yield job, future

    def finish(job: Job, image: RestoredImage, fmt: str) -> tuple[int, float, list[str]]:
        """Encode and write one image (beside the next one's restoration): (bytes, seconds,
        notes on metadata that could not be carried)."""
        started = time.perf_counter()
        notes: list[str] = list(image.notes)
        if job.target == "-":
            data = encode_image(image, fmt, output, notes)
            write_stdout(data)
            return len(data), time.perf_counter() - started, notes
        # PNG streams: no second copy; an output that appeared meanwhile is not replaced
        write_atomic(job.target, lambda f: notes.extend(write_image(f, image, fmt, output)), replace=overwrite)
        return os.path.getsize(job.target), time.perf_counter() - started, notes

    with ThreadPoolExecutor(max_workers=1) as readers, ThreadPoolExecutor(max_workers=1) as writers:
        pending: list[tuple[FileRecord, Future]] = []
        try:
            for job, future in prefetch(readers):
                try:
                    jpeg, size = future.result()
                    entry = _facts(job, jpeg, size)
                    started = time.perf_counter()
                    fmt = format_for(job.target if job.target != "-" else None, output.format)
                    check_size(fmt, jpeg.width, jpeg.height, job.source)
                    progress = (lambda done, count, job=job: on_tile(job, done, count)) if on_tile else None
                    image = api.restore(jpeg, model, options, progress)
                    entry.seconds = time.perf_counter() - started
                    entry.first = image.first.as_dict() if image.first is not None else None
                    pending.append((entry, writers.submit(finish, job, image, fmt)))
                except Exception as e:  # noqa: BLE001 - one file's surprise must not end the batch: recorded
                    record(FileRecord(job.source, job.target, "failed", _describe(e)))
                pending = _drain(pending, record, wait=False)
        finally:  # on Ctrl-C too: a file whose writing was under way is finished, and counted
            _drain(pending, record, wait=True)
    return report


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
