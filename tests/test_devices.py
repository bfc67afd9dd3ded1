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
