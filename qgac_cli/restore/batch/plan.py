"""Planning `qgac restore`'s jobs: which input goes to which output in which format, and the
checks made before any work (clashes, formats, writable folders, shards)."""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from qgac_cli.choices import EXTENSIONS, FORMATS
from qgac_cli.codec.output import check_bit_depth, format_for
from qgac_cli.errors import OutputExistsError, UsageError

JPEG_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".jfif"}


STDIN_NAME = "stdin"  # the output's name for standard input in an output folder


def real(path: str | os.PathLike) -> Path:
    """The path with its symlinks resolved as far as they go: a loop or a missing file ends
    the resolution there, without the RuntimeError of Path.resolve (it is reported when the
    file is read)."""
    return Path(os.path.realpath(path))


@dataclass(frozen=True)
class Job:
    """One input and its output, in the output format decided when the job was planned."""

    source: str  # a path, or "-" for standard input
    target: str  # a path, or "-" for standard output
    format: str = field(default="", compare=False)  # decided from the target (or --format) when not given

    def __post_init__(self) -> None:
        if not self.format:
            object.__setattr__(self, "format", format_for(None if self.target == "-" else self.target, None))


@dataclass(frozen=True)
class Request:
    """What `qgac restore` was asked, as far as planning goes."""

    inputs: tuple[str, ...]
    output_dir: str | None = None
    suffix: str | None = None
    format: str | None = None  # --format; None: from each output's extension
    glob: str | None = None
    shard: str | None = None  # "I/N"
    bit_depth: int = 8


def plan_request(request: Request, environ: dict) -> list[Job]:
    """The jobs of a request, checked (formats, bit depth), this process's share of them."""
    jobs = plan(list(request.inputs), request.output_dir, request.suffix, request.format, request.glob)
    check_formats(jobs, request.format, request.bit_depth)
    return apply_shard(jobs, request.shard, environ)


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
        # an unknown format is a usage error
        return [Job(inputs[0], output, format_for(None if output == "-" else output, fmt))]
    if output == "-":
        raise UsageError("several inputs cannot all go to standard output")
    if named_file:
        raise UsageError(f"{output!r} is named like an image file: several outputs need a folder (-o OUTDIR)")
    if "-" in inputs and len(inputs) > 1:
        raise UsageError("standard input can only be restored on its own")
    chosen = fmt or "png"
    suffix = FORMATS[chosen].suffix
    out_dir = Path(output)
    jobs: list[Job] = []
    for item in inputs:
        path = Path(item)
        if item == "-":
            jobs.append(Job(item, str(out_dir / (STDIN_NAME + suffix)), chosen))
        elif path.is_dir():
            for src in inputs_of(path, glob, out_dir):
                target = (out_dir / src.relative_to(path)).with_suffix(suffix)
                jobs.append(Job(str(src), str(target), chosen))
        else:
            jobs.append(Job(item, str((out_dir / path.name).with_suffix(suffix)), chosen))
    return jobs


def plan_beside(inputs: list[str], suffix: str, fmt: str | None = None, glob: str | None = None) -> list[Job]:
    """mogrify-style jobs: each output beside its input, named stem + suffix + the format's
    extension (photos/a.jpg -> photos/a.restored.png); folders are searched recursively, and
    files that already carry the suffix are not inputs."""
    if not suffix or "/" in suffix or suffix in (".", ".."):
        raise UsageError(f"--suffix must be a plain name part like .restored, got {suffix!r}")
    if "-" in inputs:
        raise UsageError("standard input has no folder to write beside; give an output")
    chosen = fmt or "png"
    ext = FORMATS[chosen].suffix
    jobs: list[Job] = []
    for item in inputs:
        path = Path(item)
        sources = inputs_of(path, glob) if path.is_dir() else [path]
        for src in sources:
            if src.stem.endswith(suffix):
                continue  # an output of an earlier run
            jobs.append(Job(str(src), str(src.with_name(src.stem + suffix + ext)), chosen))
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
        check_bit_depth(job.format, bit_depth, job.target)
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


def shard(jobs: list[Job], index: int, count: int) -> list[Job]:
    """This process's share of the jobs (index in 0..count-1)."""
    if not 0 <= index < count:
        raise UsageError(f"shard {index}/{count} is out of range")
    return jobs[index::count]


def check_target(job: Job, overwrite: bool) -> bool:
    """True when the job should run; raises when it would destroy an input."""
    if job.target == "-":
        return True
    if job.source != "-" and real(job.source) == real(job.target):
        raise OutputExistsError("output is the input itself; refusing to overwrite an input", job.source)
    return overwrite or not Path(job.target).exists()
