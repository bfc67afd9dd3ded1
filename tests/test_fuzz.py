"""A short fuzz run (tools/fuzz_reader.py) is part of the suite: no crash, traceback, hang or
memory blow-up may come out of hostile JPEGs, in the reader or through `qgac restore`."""

from test_tools import load_tool


def test_seeds_cover_the_flavours_and_are_all_read():
    from qgac_cli.codec.jpeg import read_jpeg

    fuzz = load_tool("fuzz_reader")
    seeds = fuzz.seed_corpus()
    jpegs = [read_jpeg(s) for s in seeds]
    assert {j.subsampling for j in jpegs} >= {"4:4:4", "4:2:2", "4:2:0", "gray"}
    assert any(j.progressive for j in jpegs) and any(j.restart_interval for j in jpegs)


def test_short_reader_fuzz_run_is_clean():
    fuzz = load_tool("fuzz_reader")
    counts, findings = fuzz.run(10**6, seconds=20, target="reader", seed=7)
    assert sum(counts.values()) > 1000
    assert counts["error"] > 0 and counts["ok"] > 0  # the mutations reach both outcomes
    assert not findings, findings[:3]


def test_short_restore_fuzz_run_is_clean():
    fuzz = load_tool("fuzz_reader")
    counts, findings = fuzz.run(10**6, seconds=10, target="restore", seed=8)
    assert sum(counts.values()) > 100
    assert not findings, findings[:3]
