"""`qgac restore` on a folder beside other CPU-bound work: the default threads against
`--threads 1`, and the time per file of many tiny files.

    python bench/busy_machine.py [--small 200] [--tiny 2000] [--busy 2] [--weights fast]
        [--setting default --setting "--threads 1" ...] [--env OMP_WAIT_POLICY=ACTIVE ...]

Makes a folder of `--small` photos of 256×256 and one of `--tiny` photos of 32×32 (q50,
4:2:0, from a generated photo-like picture), then times `qgac restore DIR -o OUT -q` for each
--setting, on an idle machine and with `--busy` other processes spinning on the CPU (plain
Python loops, one core each), each run in a fresh process. Prints seconds, files per second
and the ratio to the best setting of the same condition. --env KEY=VALUE runs every setting
with that variable in its environment too (a second row each).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import print_table

from qgac_cli.codec.jpeg import encode


def spin(stop) -> None:
    while not stop.is_set():
        sum(range(10_000))


def picture(size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    planes = [
        128 + 60 * np.sin(xx / (9 + 4 * c) + seed) * np.cos(yy / (13 + c)) + rng.normal(0, 6, (size, size))
        for c in range(3)
    ]
    return np.clip(np.stack(planes, -1), 0, 255).astype(np.uint8)


def make_folder(folder: Path, count: int, size: int) -> Path:
    folder.mkdir(parents=True)
    for i in range(count):
        (folder / f"{i:05d}.jpg").write_bytes(encode(picture(size, i % 50), 50))
    return folder


def timed(folder: Path, out: Path, setting: str, weights: str, env: dict) -> float:
    command = [sys.executable, "-m", "qgac_cli", "restore", str(folder), "-o", str(out), "-q", "--overwrite"]
    command += ["--weights", weights, *([] if setting == "default" else shlex.split(setting))]
    start = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, **env})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--tiny", type=int, default=2000)
    parser.add_argument("--busy", type=int, default=2)
    parser.add_argument("--weights", default="fast")
    parser.add_argument("--setting", action="append", help='"default" or qgac restore options')
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for a second row of every setting")
    args = parser.parse_args()
    settings = args.setting or ["default", "--threads 1"]
    envs = [("", {})] + [(e, dict([e.split("=", 1)])) for e in args.env]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folders = [
            (f"{args.small} of 256²", make_folder(Path(tmp) / "small", args.small, 256)),
            (f"{args.tiny} of 32²", make_folder(Path(tmp) / "tiny", args.tiny, 32)),
        ]
        for busy in (0, args.busy):
            stop = multiprocessing.Event()
            spinners = [multiprocessing.Process(target=spin, args=(stop,)) for _ in range(busy)]
            for p in spinners:
                p.start()
            try:
                for name, folder in folders:
                    times = {}
                    for setting in settings:
                        for label, env in envs:
                            key = f"{setting} {label}".strip()
                            times[key] = timed(folder, Path(tmp) / "out", setting, args.weights, env)
                    best = min(times.values())
                    count = len(list(folder.glob("*.jpg")))
                    for key, seconds in times.items():
                        rows.append(
                            [
                                f"{busy} busy",
                                name,
                                key,
                                f"{seconds:.1f}",
                                f"{count / seconds:.1f}",
                                f"{seconds / best:.2f}",
                            ]
                        )
                        print(" ".join(rows[-1]), flush=True)
            finally:
                stop.set()
                for p in spinners:
                    p.join()
    cpu = os.cpu_count()
    print_table(
        f"qgac restore beside other work ({cpu} CPUs, --weights {args.weights})",
        ["machine", "folder", "setting", "s", "files/s", "x best"],
        rows,
    )


if __name__ == "__main__":
    main()
