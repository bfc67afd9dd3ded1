"""What of a folder of camera JPEGs' metadata survives `qgac restore`, judged by exiftool.

    python tools/metadata_check.py PHOTOS [--format png --format jpg --format tif --format webp]
        [--weights fast] [--limit N]

Restores every JPEG under PHOTOS to each format (`qgac restore DIR -o OUT --format F`), then
compares `exiftool -a -G1 -j` of each input and output: the maker-note tags (exiftool's
groups named after the makers: Canon, Nikon, Olympus…, and MakerNotes) the input has and the
output lacks or changed, the EXIF main-directory (IFD0) tags lost, the thumbnail, and the
warnings exiftool gives the output but not the input. Tags a restore must change (size,
orientation, the encoder's own) are not counted. Needs exiftool (Debian's
libimage-exiftool-perl); the photos are not part of qgac (for example the public exif-samples
collection).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

# groups exiftool names after what it read from the file itself, not from metadata
_FILE_GROUPS = {
    "ExifTool",
    "System",
    "File",
    "JFIF",
    "PNG",
    "RIFF",
    "Composite",
    "ICC_Profile",
    "ICC-header",
    "ICC-view",
    "ICC-meas",
    "Photoshop",
    "APP14",
    "IFD1",
    "MPF0",
    "MPImage2",
    "XMP-x",
}
_MUST_CHANGE = {
    "Orientation",
    "ExifImageWidth",
    "ExifImageHeight",
    "ImageWidth",
    "ImageHeight",
    "XResolution",
    "YResolution",
    "ResolutionUnit",
    "ThumbnailOffset",
    "ThumbnailLength",
    "Compression",
    "Software",
    "ModifyDate",
    "YCbCrPositioning",
    "ExifByteOrder",
    "PhotometricInterpretation",
    "BitsPerSample",
    "SamplesPerPixel",
    "StripOffsets",
    "StripByteCounts",
    "RowsPerStrip",
    "PlanarConfiguration",
    "ImageSize",
    "Megapixels",
    "XMPToolkit",
    "ColorComponents",
    "EncodingProcess",
    "YCbCrSubSampling",
}
MAKERS = (
    "Canon",
    "Nikon",
    "Olympus",
    "Sony",
    "Panasonic",
    "Pentax",
    "Fujifilm",
    "Sanyo",
    "Casio",
    "Kodak",
    "Minolta",
    "Samsung",
    "Ricoh",
    "Apple",
    "MakerNotes",
    "Leica",
    "Sigma",
    "HP",
    "JVC",
    "GE",
)


def tags(path: Path) -> dict:
    out = subprocess.run(["exiftool", "-a", "-G1", "-j", "-b", "-n", str(path)], capture_output=True, text=True)
    return json.loads(out.stdout)[0] if out.stdout.strip() else {}


def maker_tags(record: dict) -> dict:
    return {k: v for k, v in record.items() if k.split(":")[0].startswith(MAKERS)}


def compare(before: dict, after: dict) -> dict:
    """Maker-note tags lost or changed, IFD0 tags lost, thumbnail kept, new warnings."""
    made, got = maker_tags(before), maker_tags(after)
    lost = [k for k in made if k not in got]
    changed = [k for k in made if k in got and got[k] != made[k]]
    main = [k for k in before if k.startswith("IFD0:") and k.split(":")[1] not in _MUST_CHANGE]
    main_lost = [k for k in main if k not in after and not any(a.endswith(":" + k.split(":")[1]) for a in after)]
    warn = (
        str(after.get("ExifTool:Warning", ""))
        if after.get("ExifTool:Warning") != before.get("ExifTool:Warning")
        else ""
    )
    return {
        "maker": len(made),
        "maker_lost": lost,
        "maker_changed": changed,
        "ifd0_lost": main_lost,
        "thumbnail": ("IFD1:ThumbnailImage" in before, "IFD1:ThumbnailImage" in after),
        "new_warning": warn,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos")
    parser.add_argument("--format", action="append", dest="formats")
    parser.add_argument("--weights", default="fast")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    inputs = sorted(p for p in Path(args.photos).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))[: args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for i, p in enumerate(inputs):
            (folder / f"{i:03d}_{p.name}").write_bytes(p.read_bytes())
        for fmt in args.formats or ["png", "jpg", "tif", "webp"]:
            out = Path(tmp) / fmt
            command = [sys.executable, "-m", "qgac_cli", "restore", str(folder), "-o", str(out)]
            done = subprocess.run(
                [*command, "--format", {"jpg": "jpeg", "tif": "tiff"}.get(fmt, fmt), "--weights", args.weights],
                capture_output=True,
                text=True,
            )
            warnings = [line for line in done.stderr.splitlines() if "warning" in line]
            totals = {
                "files": 0,
                "maker": 0,
                "maker_lost": 0,
                "maker_changed": 0,
                "ifd0_lost": 0,
                "thumb_in": 0,
                "thumb_out": 0,
                "new_warnings": 0,
                "not_restored": 0,
            }
            for source in sorted(folder.iterdir()):
                result = out / (source.stem + {"jpg": ".jpg", "tif": ".tif"}.get(fmt, "." + fmt))
                if not result.exists():
                    totals["not_restored"] += 1
                    continue
                c = compare(tags(source), tags(result))
                totals["files"] += 1
                totals["maker"] += c["maker"]
                totals["maker_lost"] += len(c["maker_lost"])
                totals["maker_changed"] += len(c["maker_changed"])
                totals["ifd0_lost"] += len(c["ifd0_lost"])
                totals["thumb_in"] += c["thumbnail"][0]
                totals["thumb_out"] += c["thumbnail"][1]
                totals["new_warnings"] += bool(c["new_warning"])
                if c["maker_lost"] or c["maker_changed"] or c["ifd0_lost"] or c["new_warning"]:
                    print(
                        f"{fmt} {source.name}: lost {c['maker_lost'][:4]} changed {c['maker_changed'][:4]} "
                        f"ifd0 {c['ifd0_lost'][:4]} warning {c['new_warning']!r}"
                    )
            print(f"{fmt}: {totals}; qgac warnings: {len(warnings)}", flush=True)


if __name__ == "__main__":
    main()
