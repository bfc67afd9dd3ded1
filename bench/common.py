"""Helpers shared by the benchmark scripts: peak memory of a child process, tables."""

from __future__ import annotations

import json
import subprocess
import sys


def run_child(code: str, threads: int = 2) -> dict:
    """Run Python code in a fresh process; it prints one JSON line. Adds peak RSS in MiB."""
    wrapper = (
        "import json, resource, torch\n"
        f"torch.set_num_threads({threads})\n"
        f"{code}\n"
        "result['peak_mib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
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
