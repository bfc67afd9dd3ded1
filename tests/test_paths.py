"""Paths a person types by mistake, and inputs that are not regular files: one line, an
honest exit code, nothing created for an input that failed, never a hang or a traceback."""

import io
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import photo, pillow_jpeg, tiny_model
from PIL import Image

from qgac_cli.cli import main


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.jpg"
    path.write_bytes(pillow_jpeg(photo(32, 40), quality=30))
    return path


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def qgac(*args, stdin=None, timeout=120):
    """The CLI in its own process (for inputs that could block or never end)."""
    return subprocess.run(
        [sys.executable, "-m", "qgac_cli", *map(str, args)],
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
    )


def test_a_missing_input_creates_nothing_and_its_output_stays_a_file(tmp_path, good, tiny_weights):
    out = tmp_path / "out.png"
    result = run("restore", tmp_path / "missing.jpg", out, "--weights", tiny_weights)
    assert result.exit_code == 1 and "missing.jpg" in result.output and "No such file" in result.output
    assert not out.exists()
    result = run("restore", good, out, "--weights", tiny_weights)
    assert result.exit_code == 0 and out.is_file()


def test_a_folder_for_an_image_named_output_is_a_usage_error(tmp_path, good, tiny_weights):
    result = run("restore", tmp_path, tmp_path / "restored.png", "--weights", tiny_weights)
    assert result.exit_code == 2 and "named like an image file" in result.output
    assert not (tmp_path / "restored.png").exists()


def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path, tiny_weights):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    for args in (("info", fifo), ("restore", fifo, tmp_path / "out.png", "--weights", tiny_weights)):
        result = qgac(*args, timeout=60)  # a blocking open would hang here
        err = result.stderr.decode()
        assert result.returncode == 1 and "is a pipe" in err and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.png").exists()


def test_a_device_is_refused_and_endless_stdin_ends_at_once(tmp_path, tiny_weights):
    result = qgac("info", "/dev/zero", timeout=60)
    assert result.returncode == 1 and b"is a device" in result.stderr
    with open("/dev/zero", "rb") as zero:
        result = qgac("restore", "-", tmp_path / "out.png", "--weights", tiny_weights, stdin=zero, timeout=60)
    assert result.returncode == 1 and b"not a JPEG" in result.stderr and b"Traceback" not in result.stderr
    with open("/dev/zero", "rb") as zero:
        result = qgac("info", "-", stdin=zero, timeout=60)
    assert result.returncode == 1 and b"not a JPEG" in result.stderr


def test_stdin_larger_than_any_jpeg_of_the_pixel_limit_is_refused():
    import io

    from qgac_cli.codec.jpeg import read_stream
    from qgac_cli.errors import ImageTooLargeError

    endless = io.BytesIO(b"\xff\xd8" + bytes(5_000_000))
    with pytest.raises(ImageTooLargeError, match="more than 1,000,000 bytes"):
        read_stream(endless, limit=1_000_000)
    assert read_stream(io.BytesIO(b"\xff\xd8" + bytes(10)), limit=100) == b"\xff\xd8" + bytes(10)


def test_a_file_larger_than_the_pixel_limit_allows_is_refused_unread(tmp_path, tiny_weights):
    big = tmp_path / "big.jpg"
    big.write_bytes(pillow_jpeg(photo(32, 40), quality=30) + bytes(70 << 20))  # 70 MB of trailing zeros
    result = run("restore", big, tmp_path / "out.png", "--weights", tiny_weights, "--max-pixels", "1000")
    assert result.exit_code == 1 and "more than any JPEG within the pixel limit" in result.output


def test_symlink_loops_are_one_line_each_and_the_batch_goes_on(tmp_path, good, tiny_weights):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").symlink_to("b.jpg")
    (folder / "b.jpg").symlink_to("a.jpg")
    out = tmp_path / "out"
    result = run("restore", folder / "a.jpg", good, "-o", out, "--weights", tiny_weights)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "a.jpg" in result.output and "symbolic links" in result.output
    assert (out / "good.png").is_file() and not (out / "a.png").exists()
    single = run("restore", folder / "a.jpg", tmp_path / "single.png", "--weights", tiny_weights)
    assert single.exit_code == 1 and "symbolic links" in single.output


def test_an_output_folder_that_is_a_file_is_named_as_a_file(tmp_path, good, tiny_weights):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    result = run("restore", good, "-o", afile, "--weights", tiny_weights)
    assert result.exit_code == 1 and "afile is a file, not a folder" in result.output
    assert afile.read_text() == "not a folder"


def test_stdin_alone_goes_into_an_output_folder(tmp_path, good, tiny_weights):
    out = tmp_path / "dir"
    result = run("restore", "-", "-o", out, "--weights", tiny_weights, input=good.read_bytes())
    assert result.exit_code == 0, result.output
    with Image.open(out / "stdin.png") as im:
        assert im.size == (40, 32)
    both = run("restore", "-", good, "-o", out, "--weights", tiny_weights, input=good.read_bytes())
    assert both.exit_code == 2 and "on its own" in both.output


def test_a_dry_run_exits_as_the_real_run_would(tmp_path, good, tiny_weights):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "x.jpg").write_bytes(good.read_bytes())
    (folder / "x.jpeg").write_bytes(good.read_bytes())  # both would be x.png
    dry = run("restore", folder, "-o", tmp_path / "out", "--dry-run", "--weights", tiny_weights)
    real = run("restore", folder, "-o", tmp_path / "out", "--weights", tiny_weights)
    assert dry.exit_code == real.exit_code == 1 and "clash" in dry.output
    clean = run("restore", good, "-o", tmp_path / "out2", "--dry-run", "--weights", tiny_weights)
    assert clean.exit_code == 0 and not (tmp_path / "out2").exists()


def test_an_output_that_appears_meanwhile_is_not_replaced(tmp_path, good, monkeypatch):
    """Two runs into one folder: the output another run wrote while this one restored stays
    as it is (counted as skipped), without --overwrite; with it, it is replaced."""
    from qgac_cli import api
    from qgac_cli.codec.output import OutputOptions
    from qgac_cli.restore import batch

    restore = api.restore

    def racing(jpeg, *args, **kwargs):
        (tmp_path / "out" / "good.png").write_bytes(b"the other run's")
        return restore(jpeg, *args, **kwargs)

    monkeypatch.setattr(api, "restore", racing)
    (tmp_path / "out").mkdir()
    jobs = [batch.Job(str(good), str(tmp_path / "out" / "good.png"))]
    report = batch.run_batch(jobs, tiny_model(), api.RestoreOptions(), OutputOptions())
    assert report.skipped == [str(good)] and "appeared" in report.files[0].message
    assert (tmp_path / "out" / "good.png").read_bytes() == b"the other run's"
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".part")]
    report = batch.run_batch(jobs, tiny_model(), api.RestoreOptions(), OutputOptions(), overwrite=True)
    assert report.restored == [str(good)]
    with Image.open(tmp_path / "out" / "good.png") as im:
        assert im.size == (40, 32)


def test_a_summary_that_cannot_be_written_is_one_line(tmp_path, good, tiny_weights, monkeypatch):
    import errno

    from qgac_cli.codec import output

    def full(path, data, replace=True):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(output, "write_atomic", full)  # the summary's writer; the image's is batch's own
    result = run("restore", good, tmp_path / "o.png", "--weights", tiny_weights, "--json", tmp_path / "s.json")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert (
        result.output.strip() == f"qgac: error: cannot write the summary {tmp_path / 's.json'}: No space left on device"
    )
    assert (tmp_path / "o.png").is_file()


def test_a_folder_of_hostile_files_restores_every_good_one_and_names_every_bad_one(tmp_path, tiny_weights):
    """The issue's end-to-end promise: one line per bad file, exit 1, every good file
    restored, nothing partial left, inputs unchanged."""
    from test_tools import load_tool

    shapes = load_tool("jpeg_shapes")
    rgb = photo(48, 64, seed=4)
    folder = tmp_path / "in"
    folder.mkdir()
    good = {
        "plain.jpg": pillow_jpeg(rgb, quality=30),
        "redefined-table.jpg": shapes.redefine_after_first_scan(pillow_jpeg(rgb, quality=30, progressive=True)),
        "chroma-slot-2.jpg": shapes.relabel_tables(pillow_jpeg(rgb, quality=30), {1: 2}),
        "scan-per-component.jpg": shapes.one_scan_per_component(rgb, (30, 80), (0, 1)),
    }
    cmyk = io.BytesIO()
    Image.fromarray(rgb).convert("CMYK").save(cmyk, "JPEG")
    bad = {
        "truncated.jpg": pillow_jpeg(rgb, quality=30)[:300],
        "scan-bomb.jpg": shapes.many_scans(pillow_jpeg(rgb, quality=30, progressive=True), 1_200),
        "cmyk.jpg": cmyk.getvalue(),
        "not-a-jpeg.jpg": b"GIF89a" + bytes(100),
    }
    for name, data in {**good, **bad}.items():
        (folder / name).write_bytes(data)
    os.mkfifo(folder / "fifo.jpg")
    (folder / "loop.jpg").symlink_to("loop2.jpg")
    (folder / "loop2.jpg").symlink_to("loop.jpg")
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    out = tmp_path / "out"
    result = qgac("restore", folder, "-o", out, "--weights", tiny_weights, timeout=300)
    err = result.stderr.decode()
    assert result.returncode == 1 and "Traceback" not in err, err
    named = [n for n in [*bad, "fifo.jpg", "loop.jpg", "loop2.jpg"] if n in err]
    assert len(named) == len(bad) + 3, err
    errors = [line for line in err.splitlines() if line.startswith("qgac: error:")]
    assert len(errors) == len(bad) + 3, err  # one line each
    assert sorted(p.name for p in out.iterdir()) == sorted(n.replace(".jpg", ".png") for n in good)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
