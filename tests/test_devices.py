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
