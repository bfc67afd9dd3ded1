"""The tools: the GPU plan's packer (what travels must be the training pool, whole) and the
weight rebase."""

import importlib.util
from pathlib import Path

import numpy as np
from conftest import photo, pillow_jpeg
from PIL import Image

from qgac_cli.data import list_images

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pack_keeps_small_images_exact_jpegs_unchanged_and_fits_the_budget(tmp_path):
    pack = load_tool("gpu_pack")
    pool = tmp_path / "pool"
    (pool / "a").mkdir(parents=True)
    (pool / "b").mkdir()
    small = photo(64, 80, seed=1)
    Image.fromarray(small).save(pool / "a" / "small.png")
    Image.fromarray(photo(720, 760, seed=2)).save(pool / "a" / "large.png")  # 0.55 MP: may shrink
    jpeg = pillow_jpeg(photo(48, 48, seed=3), quality=95)
    (pool / "b" / "x.jpg").write_bytes(jpeg)
    out = tmp_path / "packed"
    folders = [pool / "a", pool / "b"]
    full_scale, full_size = pack.pack(list_images(folders), folders, out, 10 * 2**20)
    assert full_scale == 1.0
    budget = int(full_size * 0.6)
    scale, size = pack.pack(list_images(folders), folders, out, budget)
    assert scale < 1.0 and size <= budget
    assert [p.relative_to(out).as_posix() for p in list_images([out])] == ["a/large.webp", "a/small.webp", "b/x.jpg"]
    with Image.open(out / "a" / "small.webp") as im:
        assert np.array_equal(np.asarray(im.convert("RGB")), small)  # lossless
    with Image.open(out / "a" / "large.webp") as im:
        assert im.size == (round(760 * scale), round(720 * scale))
    assert (out / "b" / "x.jpg").read_bytes() == jpeg


def test_pack_parts_share_the_pool_and_keep_one_hold_out(tmp_path):
    pack = load_tool("gpu_pack")
    pool = tmp_path / "pool"
    pool.mkdir()
    for i in range(60):
        Image.fromarray(photo(40, 300 if i == 0 else 48, seed=i)).save(pool / f"{i:02d}.png")
    images = list_images([pool])
    one, held = pack.share(images, "1/2")
    two, held_again = pack.share(images, "2/2")
    assert held == held_again == images[::25]  # the hold-out of the whole pool, as training holds out
    assert not set(one) & set(two) and set(one) | set(two) | set(held) == set(images)
    assert pack.write_holdout(held, [pool], tmp_path / "held", scale=1.0) > 0
    crops = list_images([tmp_path / "held"])
    assert len(crops) == len(held)
    with Image.open(crops[0]) as im:  # 00.png, 40 x 300: the 32² centre crop validation takes
        assert im.size == (32, 32)
        assert np.array_equal(np.asarray(im.convert("RGB")), photo(40, 300, seed=0)[4:36, 134:166])


def test_rebase_tool_writes_a_loadable_checkpoint_with_the_change_carried(tmp_path, monkeypatch, capsys):
    import sys

    import torch
    from conftest import tiny_model

    from qgac_cli import weights

    paths = {}
    for name, seed in (("old", 0), ("tuned", 1), ("new", 2)):
        paths[name] = tmp_path / f"{name}.pt"
        weights.save(tiny_model(seed), paths[name], {"name": name})
    dst = tmp_path / "rebased.pt"
    argv = ["rebase_weights", str(paths["tuned"]), str(paths["old"]), str(paths["new"]), str(dst), "--name", "x-gan"]
    monkeypatch.setattr(sys, "argv", argv)
    load_tool("rebase_weights").main()
    out = weights.read(dst)
    assert out.metadata["name"] == "x-gan" and out.metadata["rebased"]["from"] == "tuned"
    old, tuned, new = (weights.read(paths[n]).state_dict for n in ("old", "tuned", "new"))
    key = next(k for k, v in old.items() if v.is_floating_point() and not torch.equal(v, tuned[k]))
    assert torch.allclose(out.state_dict[key], new[key] + tuned[key] - old[key], atol=1e-6)
    assert "of the weights' norm" in capsys.readouterr().out
    weights.load(dst)  # a working model


def test_the_lease_trainer_sweeps_trains_and_continues_on_the_cpu(tmp_path):
    """tools/gpu_lease.py as both lease calls run it, on the CPU with its CPU candidates."""
    import json
    import subprocess
    import sys

    from conftest import image_folder, tiny_model

    from qgac_cli import weights

    data = image_folder(tmp_path / "data", 4, 112, 128)
    held = image_folder(tmp_path / "held", 1, 64, 64)
    init = tmp_path / "tiny.pt"
    weights.save(tiny_model(), init)
    tool = [sys.executable, str(TOOLS / "gpu_lease.py")]
    common = ["--validation", str(held), "--device", "cpu", "--compile", "none", "--reserve", "2"]
    first = subprocess.run(
        [*tool, "25", str(tmp_path / "one"), str(data), "--init", str(init), "--sweep-seconds", "5", *common],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr[-2000:]
    sweep = json.loads((tmp_path / "one" / "sweep.json").read_text())
    assert sweep["measured"] and sweep["chosen"]["patches_per_s"] > 0
    assert (tmp_path / "one" / "run" / "best.pt").is_file() and "chosen:" in first.stdout
    second = subprocess.run(
        [*tool, "15", str(tmp_path / "two"), str(data), "--init", str(tmp_path / "one" / "run" / "best.pt"),
         "--reuse-sweep", str(tmp_path / "one" / "sweep.json"), *common],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr[-2000:]
    assert weights.read(tmp_path / "two" / "run" / "final.pt").metadata["total_steps"] > last_step(tmp_path / "one")


def last_step(folder):
    from qgac_cli.train import read_log

    return max(r["step"] for r in read_log(folder / "run" / "log.jsonl"))


def test_the_cuda_check_script_runs_end_to_end_on_the_cpu(tmp_path):
    """tools/gpu_check.sh, the lease's inference check, with the CPU standing in for CUDA."""
    import os
    import subprocess
    import sys

    from conftest import image_folder

    evalset = image_folder(tmp_path / "eval", 2, 64, 96)
    env = {
        **os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(TOOLS.parent), "DEVICE": "cpu",
        "PRECISIONS": "fp32", "EVAL": str(evalset), "SIDE": "96", "WEIGHTS": "fast", "OUT": str(tmp_path / "out"),
        "WORK": str(tmp_path / "work"),
    }  # fmt: skip
    done = subprocess.run(["bash", str(TOOLS / "gpu_check.sh")], cwd=TOOLS.parent, env=env, capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    log = (tmp_path / "out" / "check.log").read_text()
    assert "restore of a file on cpu: ok" in log and "restore of a folder on cpu: 2 of 2 files: ok" in log
    assert "fast fp32 on cpu:" in log and "s/MP at 1.0 MP" in log and "check done" in log
    assert (tmp_path / "out" / "eval-fp32.json").is_file()
