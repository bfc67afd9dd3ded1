"""Helpers shared by the benchmark scripts: peak memory of a child process, tables."""

from __future__ import annotations

import json
import subprocess
import sys


def run_child(code: str, threads: int = 2) -> dict:
    """Run Python code in a fresh process; it prints one JSON line. Adds the process's peak
    resident memory in MiB (VmHWM: unlike ru_maxrss it is not inherited across exec)."""
    wrapper = (
        "import json, torch\n"
        f"torch.set_num_threads({threads})\n"
        f"{code}\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "result['peak_mib'] = int(hwm.split()[1]) / 1024\n"
        "print(json.dumps(result))\n"
    )
    out = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_table(title: str, columns: list[str], rows: list[list]) -> None:
    widths = [max(len(str(c)), *(len(str(r[i])) for r in rows)) for i, c in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(str(c).ljust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)))
