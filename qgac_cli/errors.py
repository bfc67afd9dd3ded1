"""One exception hierarchy for every problem a user can cause; the CLI maps it to exit codes."""

from __future__ import annotations


class QgacError(Exception):
    """Base class: a problem caused by the input or the request, reported in one line."""

    exit_code = 1

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path

    def __str__(self) -> str:
        message = super().__str__()
        return f"{self.path}: {message}" if self.path else message


class JpegError(QgacError):
    """The file is not a JPEG we can read (not a JPEG, truncated, corrupt, bad tables)."""


class UnsupportedJpegError(JpegError):
    """A valid JPEG of a kind we do not restore (CMYK, 12-bit, lossless...)."""


class ImageTooLargeError(QgacError):
    """The image is larger than the configured limit (decompression-bomb guard)."""


class WeightsError(QgacError):
    """A checkpoint that is missing, of another format, or of another configuration."""


class UsageError(QgacError):
    """A request that cannot be carried out as asked (bad option combination, bad path)."""

    exit_code = 2


class MissingWeightsError(WeightsError, UsageError):
    """Weights asked for by a name or path that does not exist: a usage error (exit 2)."""


class UnusableWeightsError(WeightsError, UsageError):
    """Weights that exist but cannot be used (not a checkpoint, another format, absurd values):
    found when they are loaded, before any image, so a usage error too (exit 2)."""


class OutputTooLargeError(QgacError):
    """The image is larger than the output format can hold (WebP: 16 383 pixels a side)."""


class OutputExistsError(QgacError):
    """The output exists and overwriting was not asked for, or would overwrite the input."""


class OutputAppearedError(OutputExistsError):
    """The output did not exist when the batch began but did when it was to be published
    (another run wrote it meanwhile): left as it is, the file counts as skipped."""
