"""What a batch did, file by file: the records, the exit code, and every sentence the user
reads about it (the summary line, the -v lines, the --json summary), written here once."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from qgac_cli.pathnames import json_path


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

    def sentence(self) -> str:
        """The summary line of a batch of several files."""
        return (
            f"restored {len(self.restored)}, skipped {len(self.skipped)} (exist; --overwrite), "
            f"failed {len(self.failed)}"
        )

    def stopped_sentence(self) -> str:
        """What an interrupted batch says as it ends."""
        return (
            f"qgac: interrupted ({self.interrupted}): restored {len(self.restored)}, skipped "
            f"{len(self.skipped)}, failed {len(self.failed)}, not done {self.not_done}"
        )

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


def lines(record: FileRecord, verbose: bool, quiet: bool) -> str | None:
    """What the user reads when a file ends: its -v line (a failure's even without -v, even
    with -q), and a warning for what of its metadata no output holds (not with -q)."""
    text = verbose_line(record) if verbose or record.status == "failed" else None
    if record.notes and not quiet:  # the image is written; what of its metadata is not, once
        warning = f"qgac: warning: {record.source}: " + "; ".join(record.notes)
        text = f"{text}\n{warning}" if text else warning
    return text


def verbose_line(record: FileRecord) -> str:
    """-v: one line for a file that ended."""
    where = f"{record.source} -> {record.target}"
    if record.status == "skipped":
        return f"{where}: skipped ({record.message})"
    if record.status == "failed":
        return failure_line(record.source, record.message)
    quality = f"q~{record.quality}" if record.quality is not None else "q?"
    if record.first is not None:
        quality += f" (recompressed: first q~{record.first['first_quality']}, {_confidence(record.first)})"
    size = f"{_bytes(record.bytes_in)} -> {_bytes(record.bytes_out)}"
    return (
        f"{where}: restored {record.width}x{record.height} ({record.megapixels:.1f} MP), "
        f"{record.subsampling}, {quality}, {record.seconds:.2f} s, {size}"
    )


def failure_line(source: str, message: str) -> str:
    """One line for a file that failed, naming it once."""
    named = source in message or (source == "-" and message.startswith("<stdin>"))
    return f"qgac: error: {message}" if named else f"qgac: error: {source}: {message}"


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
