"""What `qgac restore` tells as it goes: -v lines, the --json summary, progress within an image."""

import json

import click
import pytest
from click.testing import CliRunner
from conftest import photo, pillow_jpeg

from qgac_cli import api, weights
from qgac_cli.cli import main
from qgac_cli.codec.output import OutputOptions
from qgac_cli.restore import batch


@pytest.fixture
def folder(tmp_path):
    """Two good JPEGs (q30 4:2:0 and q80 4:4:4) and a broken one."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jpg").write_bytes(pillow_jpeg(photo(48, 64), quality=30))
    (src / "b.jpg").write_bytes(pillow_jpeg(photo(40, 40, seed=1), quality=80, subsampling=0))
    (src / "c.jpg").write_bytes(b"\xff\xd8 not really")
    return src


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_verbose_prints_a_line_per_file(folder, tmp_path, tiny_weights):
    result = run("restore", folder, "-o", tmp_path / "out", "-v", "--weights", tiny_weights)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    a = next(line for line in lines if "a.jpg" in line)
    assert "restored 64x48" in a and "4:2:0" in a and "q~30" in a and " s, " in a and "KB" not in a.split("->")[0]
    b = next(line for line in lines if "b.jpg" in line)
    assert "4:4:4" in b and "q~80" in b
    assert any(line.startswith("qgac: error:") and "c.jpg" in line for line in lines)
    again = run("restore", folder, "-o", tmp_path / "out", "-v", "--weights", tiny_weights)
    assert "a.jpg -> " in again.output and "skipped (exists; --overwrite replaces it)" in again.output


def test_json_summary_counts_and_describes_every_file(folder, tmp_path, tiny_weights):
    summary_path = tmp_path / "summary.json"
    result = run("restore", folder, "-o", tmp_path / "out", "--json", summary_path, "--weights", tiny_weights)
    assert result.exit_code == 1
    summary = json.loads(summary_path.read_text())
    assert (summary["restored"], summary["skipped"], summary["failed"]) == (2, 0, 1)
    files = {f["source"].rsplit("/", 1)[-1]: f for f in summary["files"]}
    assert files["a.jpg"]["status"] == "restored" and files["a.jpg"]["quality"] == 30
    assert files["a.jpg"]["bytes_in"] == (folder / "a.jpg").stat().st_size
    assert files["a.jpg"]["bytes_out"] == (tmp_path / "out" / "a.png").stat().st_size
    assert files["c.jpg"]["status"] == "failed" and files["c.jpg"]["message"]
    assert summary["megapixels"] == pytest.approx((64 * 48 + 40 * 40) / 1e6, abs=1e-3)


def test_json_summary_on_stdout_and_its_conflict_with_an_image_there(folder, tmp_path, tiny_weights):
    result = run("restore", folder / "a.jpg", tmp_path / "a.png", "--json", "-", "--weights", tiny_weights)
    assert result.exit_code == 0 and json.loads(result.stdout)["restored"] == 1
    clash = run("restore", folder / "a.jpg", "-", "--json", "-", "--weights", tiny_weights)
    assert clash.exit_code == 2 and "--json" in clash.output


def test_a_bad_json_path_is_refused_before_any_work(folder, tmp_path, tiny_weights):
    result = run("restore", folder, "-o", tmp_path / "out", "--json", tmp_path / "no" / "such" / "s.json")
    assert result.exit_code == 2 and not (tmp_path / "out").exists()


class _Calls(list):
    def __call__(self, done, count):
        self.append((done, count))


def test_progress_reports_every_tile_once(tiny_weights, tmp_path):
    model = weights.load(tiny_weights)
    calls = _Calls()
    api.restore(pillow_jpeg(photo(160, 200), quality=30), model, api.RestoreOptions(tile=64), calls)
    count = calls[0][1]
    assert count > 1 and calls == [(i, count) for i in range(1, count + 1)]
    src = tmp_path / "big.jpg"
    src.write_bytes(pillow_jpeg(photo(160, 200), quality=30))
    seen = []
    batch.run_batch(
        [batch.Job(str(src), str(tmp_path / "big.png"))],
        model,
        api.RestoreOptions(tile=64),
        OutputOptions(),
        on_tile=lambda job, done, total: seen.append((job.source, done, total)),
    )
    assert seen[-1] == (str(src), count, count) and len(seen) == count


def test_shell_completion_offers_commands_and_shipped_weights():
    def complete(words: str, index: int) -> list[str]:
        env = {"_QGAC_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(index)}
        result = CliRunner().invoke(main, [], env=env, prog_name="qgac")
        assert result.exit_code == 0, result.output
        return result.output.split()

    assert "plain,restore" in complete("qgac re", 1)
    offered = complete("qgac restore a.jpg b.png --weights ba", 5)
    assert "plain,base" in offered and "plain,base-gan" in offered and "plain,large" not in offered
    script = CliRunner().invoke(main, [], env={"_QGAC_COMPLETE": "bash_source"}, prog_name="qgac")
    assert "_qgac_completion" in script.output  # what README tells users to source


@pytest.mark.parametrize("command", ["restore", "info", "compare", "models", "eval", "equivalent-quality", "train"])
def test_every_option_has_help(command):
    for param in main.commands[command].params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"qgac {command} {param.opts[0]} has no help"


def test_help_names_the_exit_codes():
    for args in ([], ["restore"]):
        text = CliRunner().invoke(main, [*args, "--help"]).output
        assert "Exit codes: 0" in text and "130" in text
