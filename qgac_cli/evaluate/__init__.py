"""Evaluation: the metrics (`metrics`), benchmarks under the paper's conventions (`scoring`),
storage saved (`equivalent`), generated patterns (`patterns`) and comparison sheets
(`compare`). `evaluate`, `EvalConfig` and the writers are reached from here too, loaded when
first asked for (the metrics need none of them)."""

import importlib

_PUBLIC = ("EvalConfig", "evaluate", "plan", "score", "write_csv", "write_json")


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.scoring"), name)
