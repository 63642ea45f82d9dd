"""Amoskys's pytest probe: JUnit XML and coverage from the user's own pytest run.

Standalone on purpose: Amoskys copies this file as ``amoskys_pytest_probe.py`` into a folder on
the step's ``PYTHONPATH`` and sets ``PYTEST_ADDOPTS=-p amoskys_pytest_probe``, so it runs inside
the user's pytest, in the user's environment. It imports nothing from Amoskys and keeps to
Python 3.8 and pytest 6+.

Driven by the environment:

``AMOSKYS_REPORT_DIR``
    Where to write. Unset or empty: the probe does nothing at all.
``AMOSKYS_COVERAGE=1``
    Also measure coverage with coverage.py, when it is importable.

What it writes into the report folder:

* ``junit-<pid>-<n>.xml``: pytest's own JUnit XML report, asked for by setting ``--junitxml``
  before pytest's junitxml plugin reads it, unless the user asked for ``--junitxml``
  themselves; then their file is left alone and ``junitxml-<pid>-<n>.json`` (a sidecar,
  ``{"junitxml": "/abs/path"}``) names it. Only the xdist controller writes it (pytest's
  junitxml plugin does the same).
* ``coverage-<pid>.json``: coverage.py's JSON report, when ``AMOSKYS_COVERAGE=1``, coverage is
  importable, nothing else is measuring already (pytest-cov's ``--cov``, ``coverage run``),
  and the tests run in this process (not under pytest-xdist). Measurement starts in
  ``pytest_load_initial_conftests`` (tryfirst), before the project's conftest files are
  imported, with the project's own coverage configuration (``config_file=True``); the data file
  goes to the report folder, never over the project's ``.coverage``. It stops after the session
  (and its fixtures) finished.
* ``probe-warnings-<pid>.txt``: one line per thing that went wrong. The probe never fails the
  user's run: every hook catches everything and writes a line here instead.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from typing import Any, List, Optional

import pytest

ENV_REPORT_DIR = "AMOSKYS_REPORT_DIR"
ENV_COVERAGE = "AMOSKYS_COVERAGE"
_COVERAGE_ATTR = "_amoskys_probe_coverage"


def _report_dir() -> Optional[str]:
    folder = os.environ.get(ENV_REPORT_DIR, "")
    return os.path.abspath(folder) if folder else None


def _ensure(folder: str) -> None:
    os.makedirs(folder, exist_ok=True)


def _warn(folder: str, message: str) -> None:
    """Append one line to the warnings file; never raises."""
    try:
        _ensure(folder)
        line = " ".join(message.split())
        path = os.path.join(folder, "probe-warnings-%d.txt" % os.getpid())
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("pytest probe: %s\n" % line)
    except Exception:  # the run must not fail because we could not warn  # nosec B110
        pass


def _unique(folder: str, stem: str, suffix: str, first: int = 1) -> str:
    """``<stem>-<n><suffix>`` with the first ``n`` not taken yet."""
    number = first
    while True:
        path = os.path.join(folder, "%s-%d%s" % (stem, number, suffix))
        if not os.path.exists(path):
            return path
        number += 1


def _describe(error: BaseException) -> str:
    return "%s: %s" % (type(error).__name__, error)


# -- JUnit --------------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    folder = _report_dir()
    if folder is None:
        return
    try:
        _setup_junit(config, folder)
    except Exception as error:
        _warn(folder, "no JUnit report: %s" % _describe(error))


def _setup_junit(config: pytest.Config, folder: str) -> None:
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller writes the report
    option = config.option
    if not hasattr(option, "xmlpath"):
        _warn(folder, "no JUnit report: pytest's junitxml plugin is disabled")
        return
    _ensure(folder)
    theirs = option.xmlpath
    if theirs:
        path = os.path.normpath(os.path.abspath(os.path.expanduser(os.path.expandvars(theirs))))
        sidecar = _unique(folder, "junitxml-%d" % os.getpid(), ".json")
        with open(sidecar, "w", encoding="utf-8") as handle:
            json.dump({"junitxml": path, "pid": os.getpid(), "time": time.time()}, handle)
        return
    option.xmlpath = _unique(folder, "junit-%d" % os.getpid(), ".xml")


# -- coverage -----------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: List[str]
) -> None:
    folder = _report_dir()
    if folder is None or os.environ.get(ENV_COVERAGE) != "1":
        return
    try:
        _start_coverage(early_config, folder)
    except Exception as error:
        _warn(folder, "coverage not measured: %s" % _describe(error))


def _start_coverage(config: pytest.Config, folder: str) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # an xdist worker: skipped, as is the controller when -n is given
    namespace = config.known_args_namespace
    if getattr(namespace, "cov_source", None):
        return  # pytest-cov measures this session (--cov given)
    workers = getattr(namespace, "numprocesses", None)
    if workers not in (None, 0, "0"):
        _warn(folder, "coverage not measured: tests run in pytest-xdist workers (-n)")
        return
    try:
        import coverage
    except ImportError:
        _warn(folder, "coverage not measured: coverage.py is not installed in this environment")
        return
    current = getattr(coverage.Coverage, "current", None)
    if current is not None and current() is not None:
        return  # something (coverage run, another plugin) is measuring already
    _ensure(folder)
    data_file = os.path.join(folder, ".coverage-amoskys-%d" % os.getpid())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cov = coverage.Coverage(data_file=data_file, config_file=True, auto_data=False)
        omit = list(cov.get_option("run:omit") or [])  # type: ignore[arg-type]
        # not this probe, nor the plugins installed beside it (amoskys_select_plugin)
        here = os.path.dirname(os.path.abspath(__file__))
        cov.set_option("run:omit", [*omit, os.path.join(here, "amoskys_*.py")])
        cov.start()
    setattr(config, _COVERAGE_ATTR, cov)
    _report_caught(folder, caught)


def _report_caught(folder: str, caught: List[warnings.WarningMessage]) -> None:
    for item in caught:
        _warn(folder, "coverage: %s" % (item.message,))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: Any) -> None:
    _finish_coverage(session.config)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    _finish_coverage(config)  # when the session never finished (usage errors and the like)


def _finish_coverage(config: pytest.Config) -> None:
    cov: Any = getattr(config, _COVERAGE_ATTR, None)
    if cov is None:
        return
    folder = _report_dir()
    try:
        setattr(config, _COVERAGE_ATTR, None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cov.stop()
            cov.save()
            if folder is not None:
                outfile = os.path.join(folder, "coverage-%d.json" % os.getpid())
                if os.path.exists(outfile):
                    outfile = _unique(folder, "coverage-%d" % os.getpid(), ".json", first=2)
                cov.json_report(outfile=outfile, ignore_errors=True)
        if folder is not None:
            _report_caught(folder, caught)
    except Exception as error:
        if folder is not None:
            _warn(folder, "no coverage report: %s" % _describe(error))
