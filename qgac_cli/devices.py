"""Choosing a torch device from a user's word (auto, cpu, cuda or cuda:N) and the precision
the networks run in (auto, bf16 or fp32)."""

from __future__ import annotations

from pathlib import Path

from qgac_cli.choices import PRECISIONS
from qgac_cli.errors import UsageError

# CPU flags (Linux /proc/cpuinfo) under which bfloat16 convolutions run natively fast
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


DEVICES = "auto, cpu, cuda or cuda:N"  # the devices qgac runs on (its kernels: CPU and CUDA)


def pick_device(name: str):
    """A torch.device; "auto" prefers CUDA. Raises UsageError for a device qgac does not run
    on (mps, xpu, meta...), an absent one, or a GPU index past the last."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise UsageError(f"unknown device {name!r} ({DEVICES})") from e
    if device.type not in ("cpu", "cuda"):
        raise UsageError(f"device {name!r} is not one qgac runs on ({DEVICES})")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("CUDA was asked for but is not available on this machine")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UsageError(f"no GPU {device.index}: this machine has {torch.cuda.device_count()}")
    return device


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The flags of the first processor in /proc/cpuinfo (empty where there is none)."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.is_file() else ""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def bf16_is_fast(device) -> bool:
    """Whether bfloat16 runs natively on the device: a CUDA GPU that supports it, or a CPU with
    AMX or AVX-512 BF16 (elsewhere bfloat16 is emulated and slower than fp32)."""
    import torch

    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and bool(cpu_flags() & set(BF16_CPU_FLAGS))


def pick_dtype(precision: str, device):
    """The autocast dtype for the networks: torch.bfloat16, or None for fp32. "auto" is bf16
    where the device runs it natively."""
    import torch

    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "bf16" or (precision == "auto" and bf16_is_fast(device)):
        return torch.bfloat16
    return None


# glibc's mallopt parameter for the number of heaps (malloc.h)
_M_ARENA_MAX = -8


def share_one_heap(environ: dict[str, str] | None = None) -> bool:
    """Have every thread allocate from one glibc heap (arena), unless MALLOC_ARENA_MAX says
    otherwise; call before any thread starts. glibc gives each allocating thread a heap of
    its own, which keeps its freed buffers: two tile lanes, the reader and the writer held
    four heaps' worth of tile buffers, and a 24 MP restore with `fast` peaked at 729 MiB
    against 647-684 with one heap; a folder of 8 MP photos ran 5 % faster with one (fewer
    fresh pages to fault in). True where it was set; elsewhere (not glibc) nothing to do."""
    import ctypes
    import os
    import sys

    if "MALLOC_ARENA_MAX" in (os.environ if environ is None else environ) or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return mallopt(_M_ARENA_MAX, 1) == 1


def yield_when_waiting(environ: dict[str, str] | None = None) -> bool:
    """Have torch's OpenMP threads sleep, not spin, while they wait for each other (unless
    OMP_WAIT_POLICY or GOMP_SPINCOUNT says otherwise); call before torch is imported. Beside
    other CPU-bound work a spinning thread burns the core its partner needs: with two busy
    processes on 2 cores a folder of 100 photos of 256² took 2.5-3x, one of tiny photos 3-7x,
    the time of `--threads 1`; sleeping, 1.0-1.1x (bench/busy_machine.py), for 5-25 % more on an
    idle machine where one tile's threads meet often. True where it was set."""
    import os

    environ = os.environ if environ is None else environ
    if "OMP_WAIT_POLICY" in environ or "GOMP_SPINCOUNT" in environ:
        return False
    environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True
