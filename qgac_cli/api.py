"""The library behind `qgac restore`: files, bytes, arrays in; restored images out.

Usable without the CLI:

    from qgac_cli.api import RestoreOptions, load_model, restore
    model = load_model()
    image = restore("photo.jpg", model)          # RestoredImage, pixels as a numpy array
    write_atomic("photo.png", encode_image(image, "png"))
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from qgac_cli import weights as weights_mod
from qgac_cli.devices import pick_device, pick_dtype
from qgac_cli.errors import OutputExistsError, QgacError, UsageError, WeightsError
from qgac_cli.jpeg import DEFAULT_MAX_PIXELS, JpegData, read_jpeg

DEFAULT_TILE = 1024


@dataclass(frozen=True)
class RestoreOptions:
    tile: int | None = DEFAULT_TILE  # pixels per tile side; 0 or None restores in one piece
    project: bool = True  # keep every coefficient inside its quantization interval
    max_pixels: int = DEFAULT_MAX_PIXELS
    precision: str = "auto"  # the networks' arithmetic: auto (bf16 where native) | bf16 | fp32
    bits: int | None = None  # result as float32 in [0, 1] (None), or uint8 (8) / uint16 (16)


@dataclass(frozen=True)
class OutputOptions:
    format: str | None = None  # png | tiff | webp | jpeg; None: from the extension
    bit_depth: int = 8
    jpeg_quality: int = 95
    keep_orientation: bool = False
    strip_metadata: bool = False  # drop EXIF (camera, date, GPS); the ICC profile is always kept


@dataclass(frozen=True)
class RestoredImage:
    pixels: np.ndarray  # (H, W, 3) or (H, W): float32 in [0, 1], or uint8/uint16; stored orientation
    icc_profile: bytes | None
    exif: bytes | None
    orientation: int


# --------------------------------------------------------------------------- model


def gan_sibling(name_or_path: str | None) -> str:
    """The GAN weights that pair with a shipped regression name ("large" -> "base-gan")."""
    name = name_or_path or weights_mod.DEFAULT_WEIGHTS
    if name not in weights_mod.GAN_SIBLINGS:
        raise WeightsError(f"no GAN weights pair with {name!r}; give --gan-weights")
    return weights_mod.GAN_SIBLINGS[name]


def load_model(
    weights: str | None = None,
    texture: float | None = None,
    gan_weights: str | None = None,
    device: str = "auto",
):
    """Load weights (name or path); with `texture`, blend regression and GAN weights."""
    if texture is None:
        model = weights_mod.load(weights)
    else:
        regression = weights_mod.read(weights_mod.resolve(weights))
        gan = weights_mod.read(weights_mod.resolve(gan_weights or gan_sibling(weights)))
        gan = weights_mod.match_config(gan, regression.config)
        model = weights_mod.build(weights_mod.interpolate(regression, gan, texture))
    return model.to(pick_device(device))


# --------------------------------------------------------------------------- restoring


def restore_jpeg(jpeg: JpegData, model, options: RestoreOptions = RestoreOptions()) -> np.ndarray:
    """Restore a read JPEG (on the model's device): pixels (H, W, 3) or (H, W), float32 in
    [0, 1], or uint8/uint16 when `options.bits` asks for them.

    A file with nothing left to restore (every quantization step at most EXACT_STEP and no
    chroma subsampling) comes back as libjpeg decodes it: the projection would keep all its
    coefficients anyway, and libjpeg's integer IDCT matches the encoder's integer DCT better
    than a float one at those steps (measured: -0.12 dB on Live-1 4:4:4 at quality 100).
    """
    if options.project and jpeg.decoded is not None and nothing_to_restore(jpeg):
        return _as_bits(jpeg.decoded.astype(np.float32) / 255.0, options.bits)
    import torch

    from qgac_cli.coefficients import from_jpeg
    from qgac_cli.tiling import restore_tiles

    device = next(model.parameters()).device
    dtype = pick_dtype(options.precision, device)
    planes = from_jpeg(jpeg).to(device)
    channels = 3 if planes.is_color else 1
    kind = {None: np.float32, 8: np.uint8, 16: np.uint16}[options.bits]
    out = np.empty((jpeg.height, jpeg.width, channels), dtype=kind)  # filled tile by tile
    for tile in restore_tiles(model, planes, options.tile, options.project, dtype):
        if not torch.isfinite(tile.pixels).all():
            raise WeightsError("the network produced non-finite values (NaN or infinity); no output written")
        h, w = tile.pixels.shape[-2:]
        pixels = tile.pixels[0].float().cpu().numpy().transpose(1, 2, 0)
        out[tile.top : tile.top + h, tile.left : tile.left + w] = _as_bits(pixels, options.bits)
    return out[..., 0] if channels == 1 else out


def _as_bits(pixels: np.ndarray, bits: int | None) -> np.ndarray:
    return pixels if bits is None else _quantize(pixels, bits)


def nothing_to_restore(jpeg: JpegData) -> bool:
    """True when every step is at most EXACT_STEP and chroma is not subsampled."""
    from qgac_cli.coefficients import EXACT_STEP

    steps = max(int(jpeg.table_for(i).max()) for i in range(len(jpeg.components)))
    return jpeg.chroma_factor == (1, 1) and steps <= EXACT_STEP


def restore(
    source: bytes | str | os.PathLike | JpegData, model, options: RestoreOptions = RestoreOptions()
) -> RestoredImage:
    """Restore a JPEG given as bytes, a path or a read `JpegData`."""
    jpeg = source if isinstance(source, JpegData) else read_jpeg(source, max_pixels=options.max_pixels)
    return RestoredImage(restore_jpeg(jpeg, model, options), jpeg.icc_profile, jpeg.exif, jpeg.orientation)


# --------------------------------------------------------------------------- output encoding

EXTENSIONS = {".png": "png", ".tif": "tiff", ".tiff": "tiff", ".webp": "webp", ".jpg": "jpeg", ".jpeg": "jpeg"}
FORMAT_SUFFIX = {"png": ".png", "tiff": ".tif", "webp": ".webp", "jpeg": ".jpg"}

# EXIF orientation -> (transpose?, flip vertical?, flip horizontal?) applied in that order.
_ORIENT = {
    1: (False, False, False),
    2: (False, False, True),
    3: (False, True, True),
    4: (False, True, False),
    5: (True, False, False),
    6: (True, False, True),
    7: (True, True, True),
    8: (True, True, False),
}


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels (H, W[, C]) into display orientation per the EXIF tag."""
    transpose, flip_v, flip_h = _ORIENT.get(orientation, _ORIENT[1])
    if transpose:
        pixels = pixels.swapaxes(0, 1)
    if flip_v:
        pixels = pixels[::-1]
    if flip_h:
        pixels = pixels[:, ::-1]
    return np.ascontiguousarray(pixels)


def format_for(path: str | os.PathLike | None, explicit: str | None) -> str:
    """The output format: explicit, else from the extension; PNG for standard output."""
    if explicit:
        if explicit not in FORMAT_SUFFIX:
            raise UsageError(f"unknown output format {explicit!r}; choose one of {', '.join(FORMAT_SUFFIX)}")
        return explicit
    if path is None:
        return "png"
    suffix = Path(str(path)).suffix.lower()
    if suffix not in EXTENSIONS:
        raise UsageError(
            f"cannot tell the output format from {str(path)!r}; use an extension "
            f"({', '.join(sorted(EXTENSIONS))}) or --format"
        )
    return EXTENSIONS[suffix]


def _quantize(pixels: np.ndarray, bits: int) -> np.ndarray:
    """float [0, 1], uint8 or uint16 pixels -> `bits`-bit integers."""
    if pixels.dtype == np.uint8:
        return pixels if bits == 8 else pixels.astype(np.uint16) * 257
    if pixels.dtype == np.uint16:
        return pixels if bits == 16 else np.round(pixels / 257.0).astype(np.uint8)
    top = (1 << bits) - 1
    return np.round(np.clip(pixels, 0, 1) * top).astype(np.uint8 if bits == 8 else np.uint16)


def _png16(pixels: np.ndarray, icc: bytes | None, exif: bytes | None = None) -> bytes:
    """A 16-bit PNG (gray or RGB) with optional iCCP and eXIf chunks: Pillow cannot write
    16-bit RGB."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    h, w = pixels.shape[:2]
    color_type = 2 if pixels.ndim == 3 else 0
    rows = pixels.astype(">u2").reshape(h, -1).tobytes()
    stride = len(rows) // h
    raw = b"".join(b"\x00" + rows[i * stride : (i + 1) * stride] for i in range(h))
    parts = [b"\x89PNG\r\n\x1a\n", chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0))]
    if icc:
        parts.append(chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(icc)))
    if exif:
        parts.append(chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    parts += [chunk(b"IDAT", zlib.compress(raw, 6)), chunk(b"IEND", b"")]
    return b"".join(parts)


def _exif_without_orientation(exif: bytes | None) -> bytes | None:
    if not exif:
        return None
    data = Image.Exif()
    try:
        data.load(exif[6:] if exif.startswith(b"Exif\x00\x00") else exif)
    except (SyntaxError, ValueError, struct.error, TypeError):
        return None
    data[0x0112] = 1
    return data.tobytes()


def encode_image(image: RestoredImage, fmt: str, options: OutputOptions = OutputOptions()) -> bytes:
    """The bytes of the output file: orientation applied (unless kept), ICC carried over."""
    if options.bit_depth not in (8, 16):
        raise UsageError(f"bit depth must be 8 or 16, got {options.bit_depth}")
    if options.bit_depth == 16 and fmt != "png":
        raise UsageError("16-bit output is available for PNG only")
    pixels = image.pixels if options.keep_orientation else apply_orientation(image.pixels, image.orientation)
    # EXIF goes into every format; its orientation tag says 1 once the pixels are turned, and
    # keeps its value where they stay as stored (--keep-orientation), so viewers turn them
    exif = None
    if not options.strip_metadata:
        exif = image.exif if options.keep_orientation else _exif_without_orientation(image.exif)
    if fmt == "png" and options.bit_depth == 16:
        return _png16(_quantize(pixels, 16), image.icc_profile, exif)
    pil = Image.fromarray(_quantize(pixels, 8))
    buffer = io.BytesIO()
    extra: dict = {"icc_profile": image.icc_profile} if image.icc_profile else {}
    if exif:
        extra["exif"] = exif
    if fmt == "png":
        pil.save(buffer, format="PNG", compress_level=6, **extra)
    elif fmt == "tiff":
        pil.save(buffer, format="TIFF", compression="tiff_deflate", **extra)
    elif fmt == "webp":
        pil.save(buffer, format="WEBP", lossless=True, **extra)
    elif fmt == "jpeg":
        pil.save(buffer, format="JPEG", quality=options.jpeg_quality, subsampling=0, **extra)
    else:
        raise UsageError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMAT_SUFFIX)}")
    return buffer.getvalue()


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it (/proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary name in the same folder, then rename: never a truncated file.
    The file gets the mode any new file gets here (0666 less the umask), not mkstemp's 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- batches

JPEG_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".jfif"}


@dataclass(frozen=True)
class Job:
    source: str  # a path, or "-" for standard input
    target: str  # a path, or "-" for standard output


def _inputs_of(folder: Path, glob: str | None, out_dir: Path | None = None) -> list[Path]:
    """The input files of a folder, leaving out an output folder inside it (a second run
    would otherwise restore its own outputs)."""
    pattern = glob or "*"
    skip = out_dir.resolve() if out_dir is not None else None
    return sorted(
        p
        for p in folder.rglob(pattern)
        if p.is_file()
        and (glob is not None or p.suffix.lower() in JPEG_SUFFIXES)
        and (skip is None or skip not in p.resolve().parents)
    )


def is_jpeg_file(path: str | os.PathLike) -> bool:
    """An existing file that starts like a JPEG (start-of-image marker)."""
    try:
        with open(path, "rb") as f:
            return f.read(3) == b"\xff\xd8\xff"
    except OSError:
        return False


def plan_pair(source: str, target: str, fmt: str | None = None, glob: str | None = None) -> list[Job]:
    """`qgac restore A B`: B is the output, unless it is an existing JPEG, which is refused
    (a forgotten -o must not turn a second photo into an output, with or without --overwrite)."""
    if target != "-" and Path(target).is_file() and is_jpeg_file(target):
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
            by_target.setdefault(Path(job.target).resolve(), []).append(job)
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

    One input and an output path -> one job; otherwise, or with `folder` (-o), `output` is a
    folder, created if need be: files go into it by name, folders are mirrored below it.
    """
    if not inputs:
        raise UsageError("no input given")
    if output is None:
        raise UsageError("give an output: qgac restore IN OUT, or -o OUTDIR for several inputs")
    single = len(inputs) == 1 and (inputs[0] == "-" or Path(inputs[0]).is_file())
    if single and not folder and (output == "-" or not Path(output).is_dir()):
        if output != "-" and not Path(output).suffix and fmt is None:
            raise UsageError(f"{output!r} is not a folder and has no image extension")
        format_for(None if output == "-" else output, fmt)  # an unknown format is a usage error
        return [Job(inputs[0], output)]
    if output == "-":
        raise UsageError("several inputs cannot all go to standard output")
    if "-" in inputs:
        raise UsageError("standard input can only be restored on its own")
    suffix = FORMAT_SUFFIX[fmt or "png"]
    out_dir = Path(output)
    jobs: list[Job] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for src in _inputs_of(path, glob, out_dir):
                target = (out_dir / src.relative_to(path)).with_suffix(suffix)
                jobs.append(Job(str(src), str(target)))
        else:
            jobs.append(Job(item, str((out_dir / path.name).with_suffix(suffix))))
    return jobs


def check_writable(jobs: list[Job]) -> None:
    """Fail once, before any work, when an output folder cannot be created or written:
    that failure would otherwise repeat for every file after every restoration."""
    folders = {Path(j.target).parent for j in jobs if j.target != "-"}
    if not folders:
        return
    top = min(folders, key=lambda f: (len(f.parts), str(f)))  # -o OUTDIR, or the output's folder
    try:
        top.mkdir(parents=True, exist_ok=True)
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
        if bit_depth == 16 and chosen != "png":
            raise UsageError(f"16-bit output is available for PNG only ({job.target} would be {chosen})")
        if (
            fmt
            and target
            and Path(target).suffix.lower() in EXTENSIONS
            and EXTENSIONS[Path(target).suffix.lower()] != fmt
        ):
            raise UsageError(f"--format {fmt} contradicts the extension of {target}")


def shard(jobs: list[Job], index: int, count: int) -> list[Job]:
    """This process's share of the jobs (index in 0..count-1)."""
    if not 0 <= index < count:
        raise UsageError(f"shard {index}/{count} is out of range")
    return jobs[index::count]


@dataclass
class Report:
    """Outcome of a batch: decides the exit code."""

    restored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    megapixels: float = 0.0

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def _check_target(job: Job, overwrite: bool) -> bool:
    """True when the job should run; raises when it would destroy an input."""
    if job.target == "-":
        return True
    if job.source != "-" and Path(job.source).resolve() == Path(job.target).resolve():
        raise OutputExistsError("output is the input itself; refusing to overwrite an input", job.source)
    return overwrite or not Path(job.target).exists()


def _read(job: Job, read_stdin: Callable[[], bytes], max_pixels: int) -> JpegData:
    if job.source == "-":
        return read_jpeg(read_stdin(), source="<stdin>", max_pixels=max_pixels)
    return read_jpeg(job.source, max_pixels=max_pixels)


def run_batch(
    jobs: list[Job],
    model,
    options: RestoreOptions,
    output: OutputOptions,
    overwrite: bool = False,
    on_done: Callable[[Job, str, float], None] | None = None,
    read_stdin: Callable[[], bytes] = lambda: b"",
    write_stdout: Callable[[bytes], None] = lambda b: None,
    report: Report | None = None,
) -> Report:
    """Restore every job; a failure is recorded and the batch goes on. Reading of the next
    file and writing of the previous one overlap with inference. `report`, when given, is
    filled as the batch goes (what was done is known even if the batch is interrupted)."""
    report = report if report is not None else Report()
    options = replace(options, bits=output.bit_depth)  # no float copy of a whole image
    todo: list[Job] = []
    clashing = clashes(jobs)
    for job in jobs:
        try:
            if job in clashing:
                raise OutputExistsError(clashing[job])
            if _check_target(job, overwrite):
                todo.append(job)
            else:
                report.skipped.append(job.source)
                if on_done:
                    on_done(job, "skipped", 0.0)
        except QgacError as e:
            report.failed.append((job.source, str(e)))
            if on_done:
                on_done(job, "failed", 0.0)

    def prefetch(pool: ThreadPoolExecutor) -> Iterator[tuple[Job, Future]]:
        futures = [(job, pool.submit(_read, job, read_stdin, options.max_pixels)) for job in todo[:2]]
        for i, _ in enumerate(todo):
            job, future = futures[i]
            if i + 2 < len(todo):
                futures.append((todo[i + 2], pool.submit(_read, todo[i + 2], read_stdin, options.max_pixels)))
            yield job, future

    def finish(job: Job, data: bytes) -> None:
        if job.target == "-":
            write_stdout(data)
        else:
            write_atomic(job.target, data)

    with ThreadPoolExecutor(max_workers=2) as readers, ThreadPoolExecutor(max_workers=1) as writers:
        pending: list[tuple[Job, Future, float]] = []
        for job, future in prefetch(readers):
            try:
                jpeg = future.result()
                fmt = format_for(job.target if job.target != "-" else None, output.format)
                image = RestoredImage(restore_jpeg(jpeg, model, options), jpeg.icc_profile, jpeg.exif, jpeg.orientation)
                data = encode_image(image, fmt, output)
                pending.append((job, writers.submit(finish, job, data), jpeg.width * jpeg.height / 1e6))
            except Exception as e:  # noqa: BLE001 - one file's surprise must not end the batch: recorded, reported
                report.failed.append((job.source, _describe(e)))
                if on_done:
                    on_done(job, "failed", 0.0)
            pending = _drain(pending, report, on_done, wait=False)
        _drain(pending, report, on_done, wait=True)
    return report


def _drain(pending, report: Report, on_done, wait: bool):
    left = []
    for job, future, mp in pending:
        if not wait and not future.done():
            left.append((job, future, mp))
            continue
        try:
            future.result()
            report.restored.append(job.source)
            report.megapixels += mp
            if on_done:
                on_done(job, "restored", mp)
        except OSError as e:
            report.failed.append((job.source, f"cannot write {job.target}: {e.strerror or e}"))
            if on_done:
                on_done(job, "failed", 0.0)
        except Exception as e:  # noqa: BLE001 - as in run_batch: recorded and reported
            report.failed.append((job.source, _describe(e)))
            if on_done:
                on_done(job, "failed", 0.0)
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
