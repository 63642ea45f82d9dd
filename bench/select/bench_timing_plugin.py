"""pytest plugin of the selection benchmark: when each test finished and how, in run order.

Loaded in the subject's own interpreter with ``-p bench_timing_plugin`` (this folder on
``PYTHONPATH``). With ``BENCH_TIMING_DIR=<dir>`` it appends one JSON line per test to
``<dir>/timing-<pid>.jsonl``: ``{"n": nodeid, "o": outcome, "t": finished, "f": failed at}``
(wall-clock seconds; outcome passed/failed/skipped), plus ``{"n": "<collect> path", "o":
"failed", ...}`` for a collection error and ``{"start": t}`` at session start. Several pytest
processes (shards) may write into the same folder. Imports only the standard library and pytest.
"""

from __future__ import annotations

import json
import os
import time
from typing import IO, Any

import pytest

_state: dict[str, Any] = {"out": None, "tests": {}}


def _out() -> IO[str] | None:
    folder = os.environ.get("BENCH_TIMING_DIR")
    if not folder:
        return None
    if _state["out"] is None:
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"timing-{os.getpid()}.jsonl")
        _state["out"] = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
    out: IO[str] = _state["out"]
    return out


def _write(record: dict[str, Any]) -> None:
    out = _out()
    if out is not None:
        out.write(json.dumps(record) + "\n")


def pytest_sessionstart(session: pytest.Session) -> None:
    _write({"start": time.time()})


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        now = time.time()
        _write({"n": f"<collect> {report.nodeid}", "o": "failed", "t": now, "f": now})


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    tests: dict[str, dict[str, Any]] = _state["tests"]
    entry = tests.setdefault(report.nodeid, {"o": "passed", "f": None})
    now = time.time()
    xfail = hasattr(report, "wasxfail")
    if report.failed and not xfail:
        entry["o"] = "failed"
        if entry["f"] is None:
            entry["f"] = now
    elif report.skipped and not xfail and entry["o"] == "passed":
        entry["o"] = "skipped"
    if report.when == "teardown":
        del tests[report.nodeid]
        _write({"n": report.nodeid, "o": entry["o"], "t": now, "f": entry["f"]})


def pytest_sessionfinish(session: pytest.Session) -> None:
    now = time.time()
    for nodeid, entry in _state["tests"].items():  # interrupted (-x, Ctrl-C) mid-test
        _write({"n": nodeid, "o": entry["o"], "t": now, "f": entry["f"]})
    _state["tests"] = {}
    if _state["out"] is not None:
        _state["out"].close()
        _state["out"] = None
