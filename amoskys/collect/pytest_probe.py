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
``AMOSKYS_RERUNS=N``
    Re-run a failed test (a failure or error in setup, call or teardown) up to ``N`` times,
    right after it failed, in the same session. Only one attempt is reported to pytest and its
    plugins, the passing one or, when every attempt failed, the first (re-runs render their
    tracebacks with Python's own formatter, much cheaper than pytest's): a test that passes on
    a re-run passes (pytest exits 0) but is *flaky*, and the JUnit report says so with Maven
    Surefire's convention, understood by Jenkins and ignored by readers that do not know it:
    one ``<flakyFailure>`` (``<flakyError>``) per failed attempt of a test that passed in the
    end, one ``<rerunFailure>`` (``<rerunError>``) per re-run of a test that failed every
    time. The terminal summary lists the flaky tests. Nothing is re-run when
    pytest-rerunfailures is re-running already (``--reruns``).
``AMOSKYS_RERUN_LIMIT=N``
    Re-runs stop once ``N`` tests have failed in this process (default 10, 0: no limit): many
    failures are a breakage, not flakiness, and re-running thousands of failing tests (each
    failure's traceback rendered again) multiplied the time of such runs (Gradle's test-retry
    plugin has the same bound, ``maxFailures``). Past that limit, later failures are also
    shown one line each (``--tb=line``) unless a ``--tb`` style was given: pytest's default
    rendering re-parses the test's module for each failure. The terminal summary says both.
``AMOSKYS_QUARANTINE=FILE``
    Node ids, one a line, of quarantined tests: they run and are reported as usual, but when
    they are the only failures the session's exit status is 0 (the terminal says so).

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
ENV_RERUNS = "AMOSKYS_RERUNS"
ENV_RERUN_LIMIT = "AMOSKYS_RERUN_LIMIT"
DEFAULT_RERUN_LIMIT = 10
ENV_QUARANTINE = "AMOSKYS_QUARANTINE"
MAX_RERUNS = 10
_ATTEMPTS_ATTR = "amoskys_failed_attempts"
_FLAKY_ATTR = "_amoskys_probe_flaky"
_FAILED_ATTR = "_amoskys_probe_failed"
_COVERAGE_ATTR = "_amoskys_probe_coverage"


_OWN_PLUGINS = ("amoskys_pytest_probe", "amoskys_select_plugin", "amoskys_select_child")


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
        # Never Amoskys's own plugins, wherever they were put: inside ``amoskys run`` the
        # engine's probe comes first on PYTHONPATH while ``amoskys test`` installs the
        # selection plugin in a folder of its own.
        ours = [os.path.abspath(__file__)] + ["*/%s.py" % name for name in _OWN_PLUGINS]
        cov.set_option("run:omit", [*omit, *ours])
        cov.start()
    setattr(config, _COVERAGE_ATTR, cov)
    _report_caught(folder, caught)


def _report_caught(folder: str, caught: List[warnings.WarningMessage]) -> None:
    for item in caught:
        _warn(folder, "coverage: %s" % (item.message,))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: Any) -> None:
    _apply_quarantine(session, exitstatus)
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


# -- re-runs of failed tests ----------------------------------------------------------------------


def _reruns(config: pytest.Config) -> int:
    """How many times a failed test is re-run here (0: not at all)."""
    if _report_dir() is None:
        return 0
    try:
        wanted = int(os.environ.get(ENV_RERUNS, "0") or "0")
    except ValueError:
        return 0
    if getattr(config.option, "reruns", 0):
        return 0  # pytest-rerunfailures re-runs this session already
    return max(0, min(wanted, MAX_RERUNS))


def _rerun_limit() -> int:
    """Failed tests after which nothing is re-run any more (0: no limit)."""
    try:
        return max(0, int(os.environ.get(ENV_RERUN_LIMIT, "") or DEFAULT_RERUN_LIMIT))
    except ValueError:
        return DEFAULT_RERUN_LIMIT


def _over_limit() -> bool:
    """True once as many tests failed as the re-run limit allows (noted for the summary)."""
    limit = _rerun_limit()
    if limit and len(_SESSION.get("failed", ())) >= limit:
        _SESSION["limited"] = limit
        return True
    return False


def _cheaper_tracebacks() -> None:
    """Past the re-run limit, later failures are shown one line each (``--tb=line``) unless
    a ``--tb`` style was chosen: pytest's default rendering re-parses the test module for
    every failure (0.15 s each in a 6,000-line module), which made a run with a few hundred
    failures take minutes when its first failure came after seconds."""
    config = _SESSION.get("config")
    limit = _rerun_limit()
    if config is None or not limit or _report_dir() is None:
        return
    if len(_SESSION.get("failed", ())) >= limit and getattr(config.option, "tbstyle", "") == "auto":
        config.option.tbstyle = "line"
        _SESSION["native"] = limit


def _attempt_failed(reports: List[Any]) -> bool:
    return any(report.failed and not hasattr(report, "wasxfail") for report in reports)


def _attempt_passed(reports: List[Any]) -> bool:
    """Whether a re-run passed: only a pass makes a failed test flaky. A re-run that was
    skipped (a test skipping itself when an earlier attempt left something behind) says
    nothing about the failure, which stands."""
    return not _attempt_failed(reports) and any(
        report.when == "call" and report.passed for report in reports
    )


def _failure_of(reports: List[Any]) -> dict:  # type: ignore[type-arg]
    """What went wrong in one failed attempt: in which phase and the first line of why (for
    a re-run that was skipped: that it was, and why)."""
    for report in reports:
        if report.failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            message = getattr(crash, "message", None) or str(report.longrepr or "")
            return {
                "when": report.when,
                "message": message.strip().splitlines()[0][:500] if message.strip() else "",
                "details": str(report.longrepr or "")[-4000:],
            }
    for report in reports:
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            message = "skipped on a re-run: %s" % reason[:480]
            return {"when": report.when, "message": message, "details": message}
    return {"when": "call", "message": "", "details": ""}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Optional[pytest.Item]) -> Optional[bool]:
    try:
        reruns = _reruns(item.config)
    except Exception:
        return None
    if reruns <= 0:
        return None
    from _pytest.runner import runtestprotocol

    ihook = item.ihook
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    failed_attempts: List[dict] = []  # type: ignore[type-arg]
    first = reports = runtestprotocol(item, log=False, nextitem=nextitem)
    while _attempt_failed(reports) and len(failed_attempts) < reruns:
        if item.session.shouldfail or item.session.shouldstop or _over_limit():
            break
        failed_attempts.append(_failure_of(reports))
        style = getattr(item.config.option, "tbstyle", "")
        if style == "auto":  # a re-run's failure is rendered cheaply (see below)
            item.config.option.tbstyle = "native"
        try:
            reports = runtestprotocol(item, log=False, nextitem=nextitem)
        finally:
            if style == "auto":
                item.config.option.tbstyle = style
    if failed_attempts and not _attempt_passed(reports):
        # Failed every time (or skipped on the last re-run): the first attempt, in pytest's
        # own rendering, is the one reported, the re-runs (Python's tracebacks: pytest's
        # re-parse the module for each failure) are its extra attempts. Rendering each
        # failure three times in full made a change that broke a few dozen tests cost
        # seconds per test.
        failed_attempts = failed_attempts[1:] + [_failure_of(reports)]
        reports = first
    if failed_attempts:
        for report in reports:
            if report.when == "teardown":
                setattr(report, _ATTEMPTS_ATTR, failed_attempts)
    for report in reports:
        ihook.pytest_runtest_logreport(report=report)
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: Any) -> None:
    """Before pytest's junitxml closes a test case: add its failed attempts to it; and keep
    which tests failed (for the quarantine) and which were flaky (for the summary)."""
    try:
        _note_outcome(report)
        attempts = getattr(report, _ATTEMPTS_ATTR, None)
        if attempts and report.when == "teardown":
            _add_attempts_to_junit(report, attempts)
    except Exception as error:
        folder = _report_dir()
        if folder is not None:
            _warn(folder, "re-run details not recorded: %s" % _describe(error))


_SESSION: dict = {}  # type: ignore[type-arg]  # this process's flaky and failed node ids


def _note_outcome(report: Any) -> None:
    if report.failed and not hasattr(report, "wasxfail"):
        _SESSION.setdefault("failed", set()).add(report.nodeid)
        _cheaper_tracebacks()
    attempts = getattr(report, _ATTEMPTS_ATTR, None)
    if attempts and report.when == "teardown":
        final_failed = report.nodeid in _SESSION.get("failed", set())
        if not final_failed:
            _SESSION.setdefault("flaky", {})[report.nodeid] = len(attempts)


def _add_attempts_to_junit(report: Any, attempts: List[dict]) -> None:  # type: ignore[type-arg]
    config = _SESSION.get("config")
    if config is None:
        return
    xml = _logxml(config)
    if xml is None:
        return
    import xml.etree.ElementTree as ET  # builds elements only  # nosec B405

    reporter = xml.node_reporter(report)
    final_failed = report.nodeid in _SESSION.get("failed", set())
    for attempt in attempts:
        error = attempt["when"] != "call"
        if final_failed:
            tag = "rerunError" if error else "rerunFailure"
        else:
            tag = "flakyError" if error else "flakyFailure"
        element = ET.Element(tag, message=_xml_text(attempt["message"]))
        element.text = _xml_text(attempt["details"])
        reporter.nodes.append(element)  # not counted in the suite's failure statistics


def _xml_text(text: str) -> str:
    """Characters XML 1.0 allows (pytest escapes the others the same way)."""
    return "".join(
        (
            char
            if char in "\t\n\r" or 0x20 <= ord(char) <= 0xD7FF or 0xE000 <= ord(char) <= 0xFFFD
            else "#x%02X" % ord(char)
        )
        for char in text
    )


def _logxml(config: pytest.Config) -> Any:
    try:
        from _pytest.junitxml import xml_key

        return config.stash.get(xml_key, None)
    except (ImportError, AttributeError):
        return getattr(config, "_xml", None)  # pytest before 7


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    _SESSION.clear()
    _SESSION["config"] = session.config


def _quarantined() -> set:  # type: ignore[type-arg]
    path = os.environ.get(ENV_QUARANTINE, "")
    if not path:
        return set()
    try:
        with open(path, encoding="utf-8") as handle:
            return {line.strip() for line in handle if line.strip()}
    except OSError as error:
        folder = _report_dir()
        if folder is not None:
            _warn(folder, "quarantine list not read: %s" % _describe(error))
        return set()


def _apply_quarantine(session: pytest.Session, exitstatus: Any) -> None:
    """Quarantined failures alone do not fail the session."""
    if _report_dir() is None or hasattr(session.config, "workerinput"):
        return
    try:
        failed = _SESSION.get("failed", set())
        quarantine = _quarantined()
        if failed and quarantine and failed <= quarantine and int(exitstatus) == 1:
            session.exitstatus = 0
            _SESSION["forgiven"] = sorted(failed)
    except Exception as error:
        folder = _report_dir()
        if folder is not None:
            _warn(folder, "quarantine not applied: %s" % _describe(error))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    flaky = _SESSION.get("flaky", {})
    forgiven = _SESSION.get("forgiven", [])
    limited = _SESSION.get("limited")
    native = _SESSION.get("native")
    write = terminalreporter.write_line
    if native:
        write(
            "amoskys: after %d failed tests the others are shown one line each "
            "(--tb=line; pass --tb=long for every traceback)" % native
        )
    if limited:
        write(
            "amoskys: re-runs stopped after %d failed tests: that many failures are a "
            "breakage, not flakiness ([tool.amoskys.flaky] rerun-limit)" % limited
        )
    if not flaky and not forgiven:
        return
    if flaky:
        terminalreporter.section("amoskys: flaky tests (passed on a re-run)", sep="-")
        for nodeid, failures in sorted(flaky.items()):
            write("FLAKY %s (failed %d time(s) first)" % (nodeid, failures))
    if forgiven:
        terminalreporter.section("amoskys: quarantined failures (not failing the run)", sep="-")
        for nodeid in forgiven:
            write("QUARANTINED %s" % nodeid)
