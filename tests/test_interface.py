"""What a new user meets first: `models` at a terminal's width, `info` of files `restore`
refuses, `eval` off a terminal and on JPEG references, the help of the metadata options."""

import io
import json

from click.testing import CliRunner
from conftest import photo, pillow_jpeg
from PIL import Image

from qgac_cli.cli import main


def test_models_fits_an_80_column_terminal(monkeypatch):
    from rich.console import Console

    from qgac_cli.commands import inspect

    buffer = io.StringIO()
    monkeypatch.setattr(inspect, "table_console", lambda: Console(file=buffer, width=80))
    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 0, result.output
    lines = buffer.getvalue().splitlines()
    assert len(lines) <= 30 and max(len(line) for line in lines) <= 80
    assert all(name in buffer.getvalue() for name in ("large (default)", "base", "fast", "paper"))


def test_info_describes_a_cmyk_jpeg_it_does_not_restore(tmp_path):
    path = tmp_path / "cmyk.jpg"
    buffer = io.BytesIO()
    Image.fromarray(photo(32, 40)).convert("CMYK").save(buffer, "JPEG", quality=50)
    path.write_bytes(buffer.getvalue())
    result = CliRunner().invoke(main, ["info", "--json", str(path)])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["color_space"] == "CMYK" and record["components"] == 4
    assert record["restorable"] is False and "CMYK" in record["unsupported"]
    assert record["quality_estimate"]["quality"] == 50


def test_eval_off_a_terminal_draws_no_bar_and_names_jpeg_references(tmp_path):
    folder = tmp_path / "refs"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(pillow_jpeg(photo(32, 40), quality=95))
    result = CliRunner().invoke(main, ["eval", str(folder), "--quality", "30", "--jpeg-only"])
    assert result.exit_code == 0, result.output
    assert "holds JPEG files" in result.output
    assert "refs q30" not in result.output and "evaluating" not in result.output  # no progress bar when piped


def test_strip_metadata_help_says_everything_it_drops():
    text = " ".join(CliRunner().invoke(main, ["restore", "--help"]).output.split())
    assert "Write no EXIF (camera, date, GPS), XMP, IPTC or comment" in text
