"""Every choice the tool offers and every default it has, written once and read by the CLI
(which starts without torch: nothing here imports it) and by the library alike."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    """An output format: what a planned output is named, which names mean it, what it holds."""

    suffix: str  # the extension of an output planned in a folder
    extensions: tuple[str, ...]  # file names ending so are written in this format
    bit_depths: tuple[int, ...]
    max_side: int | None = None  # the longest side it can hold (libwebp's 16383; libjpeg's 65535)


FORMATS = {
    "png": Format(".png", (".png",), (8, 16)),
    "tiff": Format(".tif", (".tif", ".tiff"), (8,)),
    "webp": Format(".webp", (".webp",), (8,), 16383),
    "jpeg": Format(".jpg", (".jpg", ".jpeg"), (8,), 65535),
}
EXTENSIONS = {extension: name for name, f in FORMATS.items() for extension in f.extensions}
BIT_DEPTHS = tuple(sorted({d for f in FORMATS.values() for d in f.bit_depths}))

PRECISIONS = ("auto", "bf16", "fp32")  # the networks' arithmetic; auto: bf16 where native
STAGES = ("y", "color", "joint", "gan")  # training stages, in their order
LOSSES = ("l1", "l2", "psnr")  # regression losses: the paper's, L2, each patch's dB alike
# the qualities a training run is validated at (its best checkpoint: their mean gain): low
# quality, and the q90 / q100 where most photos are and most of the error is colour (#31)
VALIDATION_QUALITIES = (10, 50, 90, 100)
# chroma subsamplings of JPEGs the tool writes (Pillow's codes): the eval sets, JPEG outputs
SUBSAMPLING_CODES = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}
EVAL_SUBSAMPLINGS = tuple(sorted(SUBSAMPLING_CODES, key=SUBSAMPLING_CODES.get, reverse=True))  # 4:2:0 first
OUTPUT_SUBSAMPLINGS = (*SUBSAMPLING_CODES, "input")  # input: the input file's own

# test-time augmentation: how many mirror images a restore may average (qgac_cli.restore.mirror)
TTA_COUNTS = (1, 2, 4)
DEFAULT_TILE = 1024  # tiles of at most DEFAULT_TILE² pixels (api: why this size)
# libjpeg-turbo's own guard against scan bombs is a limit on scans per file (its tools'
# -maxscans); no encoder writes more than a few dozen, and 300 000 valid scans of one
# megapixel cost libjpeg two minutes
DEFAULT_MAX_SCANS = 1000
DEFAULT_MAX_PIXELS = 200_000_000
DEFAULT_JPEG_QUALITY = 95
