import pytest
import torch

from qgac_cli.devices import cpu_flags, pick_dtype
from qgac_cli.errors import UsageError


def test_cpu_flags_are_read_from_cpuinfo():
    text = "processor\t: 0\nflags\t\t: fpu avx2 amx_bf16 avx512_bf16\nbugs\t: none\n"
    assert {"avx2", "amx_bf16", "avx512_bf16"} <= cpu_flags(text)
    assert cpu_flags("no flags here") == set()


def test_precision_choice():
    cpu = torch.device("cpu")
    assert pick_dtype("fp32", cpu) is None
    assert pick_dtype("bf16", cpu) is torch.bfloat16
    assert pick_dtype("auto", cpu) in (None, torch.bfloat16)
    with pytest.raises(UsageError, match="unknown precision"):
        pick_dtype("fp8", cpu)


def test_auto_precision_follows_the_kind_of_cpu(cpu_kind):
    expected = torch.bfloat16 if cpu_kind == "bf16" else None
    assert pick_dtype("auto", torch.device("cpu")) is expected


def test_a_restore_on_either_kind_of_cpu_stays_within_its_precision(cpu_kind, tmp_path):
    """The same file through the CLI with `--precision auto`, as each kind of CPU runs it (bf16
    emulated where it is not native): fp32 bit for bit where bf16 is not native, within a
    level of it where it is."""
    import numpy as np
    from click.testing import CliRunner
    from conftest import photo, pillow_jpeg, tiny_model
    from PIL import Image

    from qgac_cli import weights
    from qgac_cli.cli import main

    model = tmp_path / "tiny.pt"
    weights.save(tiny_model(), model)
    src = tmp_path / "in.jpg"
    src.write_bytes(pillow_jpeg(photo(64, 96, seed=2), quality=20))
    outputs = {}
    for precision in ("auto", "fp32"):
        out = tmp_path / f"{precision}.png"
        result = CliRunner().invoke(
            main, ["restore", str(src), str(out), "--weights", str(model), "--precision", precision]
        )
        assert result.exit_code == 0, result.output
        outputs[precision] = np.asarray(Image.open(out)).astype(int)
    difference = np.abs(outputs["auto"] - outputs["fp32"])
    if cpu_kind == "bf16":
        assert difference.max() <= 2 and difference.any()  # bf16 did run, and stayed close
    else:
        assert not difference.any()


def test_threads_sleep_while_waiting_unless_told_otherwise():
    from qgac_cli.devices import yield_when_waiting

    environ: dict[str, str] = {}
    assert yield_when_waiting(environ) and environ == {"OMP_WAIT_POLICY": "PASSIVE"}
    for told in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "100000"}):
        kept = dict(told)
        assert not yield_when_waiting(kept) and kept == told


def test_a_small_picture_is_restored_on_one_lane_and_the_threads_come_back(tiny, monkeypatch):
    import torch
    from conftest import photo, pillow_jpeg

    from qgac_cli import api
    from qgac_cli.restore import tiling

    seen = []
    real = tiling.restore_tile

    def watch(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    monkeypatch.setattr(tiling, "restore_tile", watch)
    try:
        options = api.RestoreOptions(precision="fp32", lanes=2)
        small = api.restore(pillow_jpeg(photo(64, 64), quality=50), tiny, options).pixels
        larger = api.restore(pillow_jpeg(photo(320, 320), quality=50), tiny, options).pixels
        assert seen == [1, 2] and torch.get_num_threads() == 2
        one = api.restore(pillow_jpeg(photo(64, 64), quality=50), tiny, api.RestoreOptions(precision="fp32", lanes=1))
        assert small.shape == (64, 64, 3) and larger.shape == (320, 320, 3)
        assert abs(small - one.pixels).max() < 1e-5  # the same picture, whatever the threads
    finally:
        torch.set_num_threads(before)


def test_tiles_in_lanes_are_cut_smaller_and_give_the_same_picture(tiny, monkeypatch):
    """Where a picture takes several tiles and two are restored at once, they are the tiles of
    `lane_tile` of the side asked for (memory); with the whole reach as context the picture is
    the one-lane picture."""
    from conftest import photo, pillow_jpeg

    from qgac_cli import api
    from qgac_cli.codec.jpeg import read_jpeg
    from qgac_cli.restore import tiling

    windows = []
    real = tiling.restore_tile

    def watch(model, jpeg, window, *args, **kwargs):
        windows.append(window)
        return real(model, jpeg, window, *args, **kwargs)

    data = pillow_jpeg(photo(256, 256, seed=4), quality=40, subsampling=0)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    monkeypatch.setattr(tiling, "restore_tile", watch)
    pictures, cut = [], []
    try:
        for lanes in (1, 2):
            options = api.RestoreOptions(precision="fp32", tile=128, halo=None, lanes=lanes)
            pictures.append(api.restore(data, tiny, options).pixels)
            cut.append(sorted(windows))
            windows.clear()
    finally:
        torch.set_num_threads(before)
    assert tiling.lane_tile(128) == 96 and tiling.lane_tile(8) == 8
    assert len(cut[0]) == 4 and len(cut[1]) > 4
    assert cut == [sorted(tiling.tile_windows(tiny, read_jpeg(data), side)) for side in (128, 96)]
    assert abs(pictures[0] - pictures[1]).max() < 1e-5
