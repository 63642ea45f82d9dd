"""The run report: structure, escaping and self-containment, then a real browser renders it."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from amoskys.report import render_html, render_json
from amoskys.report.html import LOG_TAIL_LINES, SCHEMA, format_duration
from amoskys.store.records import (
    ArtifactRecord,
    JobRecord,
    Metric,
    RunDetail,
    RunRecord,
    StepRecord,
)
from amoskys.store.records import TestCaseResult as CaseResult

T0 = 1_769_860_800.0  # 2026-01-31 12:00:00 UTC
XSS = "<script>alert(1)</script>"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _step(
    step_id: int,
    index: int,
    name: str,
    outcome: str | None,
    start: float,
    seconds: float,
    exit_code: int | None = 0,
    log_lines: int = 0,
) -> StepRecord:
    return StepRecord(
        id=step_id,
        index=index,
        name=name,
        step_id=None,
        outcome=outcome,
        conclusion=outcome,
        exit_code=exit_code,
        started=T0 + start,
        finished=None if outcome is None else T0 + start + seconds,
        log_path=f"runs/7/logs/{step_id}.log",
        log_lines=log_lines,
    )


def _test(test_id: str, outcome: str, duration: float, message: str = "") -> CaseResult:
    file, _, name = test_id.partition("::")
    return CaseResult(
        test_id=test_id,
        file=file,
        name=name,
        classname=file.replace("/", ".").removesuffix(".py"),
        outcome=outcome,
        duration=duration,
        message=message,
    )


def _run(status: str = "failure", finished: float | None = T0 + 95) -> RunRecord:
    return RunRecord(
        id=7,
        workflow=".github/workflows/ci.yml",
        trigger="push",
        event="push",
        ref="refs/heads/main",
        branch="main",
        sha="0123456789abcdef0123456789abcdef01234567",
        actor="ada <ada@example.com>",
        workflow_sha256="f" * 64,
        status=status,
        started=T0,
        finished=finished,
        jobs_total=3,
        jobs_failed=1,
    )


def failed_detail() -> RunDetail:
    """A failed run: a lint job and a two-instance test matrix, one instance failing."""
    lint = JobRecord(
        id=1,
        key="lint",
        name="lint",
        job_id="lint",
        matrix={},
        runner="ubuntu-latest",
        status="success",
        conclusion="success",
        reason="",
        started=T0,
        finished=T0 + 20,
        steps=(
            _step(11, 1, "Check out", "success", 0, 1),
            _step(12, 2, "Black & isort", "success", 1, 18),
        ),
    )
    test_ok = JobRecord(
        id=2,
        key="test-3.11",
        name="test (3.11)",
        job_id="test",
        matrix={"python": "3.11", "os": "ubuntu-latest"},
        runner="ubuntu-latest",
        status="success",
        conclusion="success",
        reason="",
        started=T0,
        finished=T0 + 80,
        steps=(
            _step(21, 1, "Check out", "success", 0, 1),
            _step(22, 2, "pytest", "success", 1, 78),
        ),
        tests=(
            _test("tests/test_math.py::test_add", "passed", 0.01),
            _test("tests/test_math.py::test_div", "passed", 0.02),
            _test("tests/test_io.py::test_net", "skipped", 0.0, "needs the network"),
        ),
        metrics=(
            Metric("coverage.line", 91.25, "%"),
            Metric("coverage.branch", 84.0, "%"),
        ),
    )
    test_bad = JobRecord(
        id=3,
        key="test-3.12",
        name="test (3.12)",
        job_id="test",
        matrix={"python": "3.12", "os": "ubuntu-latest"},
        runner="ubuntu-latest",
        status="failure",
        conclusion="failure",
        reason="Process completed with exit code 1.",
        started=T0,
        finished=T0 + 95,
        steps=(
            _step(31, 1, "Check out", "success", 0, 1),
            _step(32, 2, "pytest <all>", "failure", 1, 90, exit_code=1, log_lines=240),
            _step(33, 3, "Upload coverage", "skipped", 91, 0, exit_code=None),
        ),
        tests=(
            _test("tests/test_math.py::test_add", "passed", 0.01),
            _test(
                "tests/test_math.py::test_div",
                "failed",
                0.05,
                "AssertionError: assert 1 / 3 == 0.33\n  where <b>bold</b> & more",
            ),
            _test("tests/test_parse.py::test_yaml", "error", 1.5, "ImportError: no module yaml"),
            _test("tests/test_io.py::test_net", "skipped", 0.0, "needs the network"),
        ),
        metrics=(Metric("coverage.line", 42.5, "%"),),
    )
    return RunDetail(
        run=_run(),
        jobs=(lint, test_ok, test_bad),
        artifacts=(ArtifactRecord("coverage-xml", 20480, "ab" * 32, "artifacts/coverage.xml"),),
        run_dir="runs/7",
    )


def log_tails() -> dict[int, list[str]]:
    lines = [f"\x1b[32mline {n}\x1b[0m collected" for n in range(1, 200)]
    lines += ["E   " + XSS, "FAILED tests/test_math.py::test_div", "=== 1 failed, 3 passed ==="]
    return {32: lines, 22: ["all good"]}


class _Balance(HTMLParser):
    """Checks that every non-void element is closed, in order."""

    VOID = {"meta", "link", "br", "hr", "img", "input", "col", "area", "base", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.doctype = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = self.doctype or decl.lower() == "doctype html"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attrs += [(tag, name, value) for name, value in attrs]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attrs += [(tag, name, value) for name, value in attrs]

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


def _parse(page: str) -> _Balance:
    checker = _Balance()
    checker.feed(page)
    checker.close()
    return checker


def _assert_well_formed(page: str) -> _Balance:
    checker = _parse(page)
    assert checker.doctype, "missing <!DOCTYPE html>"
    assert not checker.errors, checker.errors[:5]
    assert not checker.stack, f"unclosed: {checker.stack}"
    return checker


# --------------------------------------------------------------------------- structure


def test_page_is_balanced_html5_with_no_external_resources_or_script() -> None:
    page = render_html(failed_detail(), log_tails=log_tails())
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    checker = _assert_well_formed(page)
    tags = {tag for tag, _, _ in checker.attrs} | {"html"}
    assert "script" not in tags and "link" not in tags and "img" not in tags
    for tag, name, value in checker.attrs:
        if name in ("src", "href", "srcset", "action", "poster", "data"):
            assert value is not None and value.startswith("#"), (tag, name, value)
        assert not name.startswith("on"), (tag, name)
    assert "url(" not in page and "@import" not in page
    assert "http://" not in page and "https://" not in page


def test_user_text_is_escaped_everywhere() -> None:
    page = render_html(failed_detail(), log_tails=log_tails())
    assert XSS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt; &amp; more" in page
    assert "pytest &lt;all&gt;" in page
    assert "Black &amp; isort" in page
    assert "ada &lt;ada@example.com&gt;" in page
    assert "\x1b" not in page, "terminal colour codes must be stripped from log lines"


def test_failures_come_before_passing_tests_with_their_messages() -> None:
    page = render_html(failed_detail(), log_tails=log_tails())
    failures = page.index('id="test-failures"')
    others = page.index('id="test-others"')
    assert failures < others
    failure_part = page[failures:others]
    assert "tests/test_math.py::test_div" in failure_part
    assert "AssertionError: assert 1 / 3 == 0.33" in failure_part
    assert "tests/test_parse.py::test_yaml" in failure_part
    assert "ImportError: no module yaml" in failure_part
    assert "test_add" not in failure_part
    rest = page[others:]
    assert "tests/test_math.py::test_add" in rest and "needs the network" in rest
    assert "<details" in page[others - 40 : others]


def test_failed_step_shows_the_last_log_lines_only() -> None:
    page = render_html(failed_detail(), log_tails=log_tails())
    section = page[page.index('id="failed-steps"') :]
    assert 'id="log-32"' in section
    assert "=== 1 failed, 3 passed ===" in section
    assert "FAILED tests/test_math.py::test_div" in section
    assert "line 199 collected" in section
    assert "line 152 collected" not in section, "only the last lines of the log"
    assert f"last {LOG_TAIL_LINES} of 240 log lines" in section
    assert "all good" not in page, "a passing step's log is not shown"
    assert 'href="#log-32"' in page


def test_summary_jobs_matrix_steps_and_coverage() -> None:
    page = render_html(failed_detail(), log_tails=log_tails())
    for text in (
        ".github/workflows/ci.yml",
        "refs/heads/main",
        "0123456789ab",
        "2026-01-31 12:00:00 UTC",
        format_duration(95),
        "1 failure",
        "2 success",
        "python: 3.12, os: ubuntu-latest",
        "Process completed with exit code 1.",
        "Upload coverage",
        "91.2%",
        "84.0%",
        "42.5%",
        "coverage-xml",
        "20.0 KiB",
    ):
        assert text in page, text
    assert page.count("<svg") == 3
    assert 'aria-label="line coverage 42.5%"' in page
    assert 'class="badge t-bad">failure</span>' in page
    assert "prefers-color-scheme:dark" in page and "@media print" in page


def test_run_without_tests_or_coverage_still_running() -> None:
    job = JobRecord(
        id=1,
        key="build",
        name="build",
        job_id="build",
        matrix={},
        runner="ubuntu-latest",
        status="running",
        conclusion=None,
        reason="",
        started=T0,
        finished=None,
        steps=(_step(1, 1, "Build", None, 0, 0, exit_code=None),),
    )
    detail = RunDetail(run=_run(status="running", finished=None), jobs=(job,))
    page = render_html(detail, log_tails={})
    _assert_well_formed(page)
    assert "still running" in page
    assert "No test results were collected" in page
    assert "No coverage was measured" in page
    assert 'id="failed-steps"' not in page
    assert ">running</span>" in page
    data = render_json(detail, log_tails={})
    assert data["summary"]["note"] and data["run"]["duration"] is None
    assert data["jobs"][0]["steps"][0]["state"] == "running"


def test_interrupted_run_and_empty_run() -> None:
    detail = RunDetail(run=_run(status="interrupted", finished=None))
    page = render_html(detail, log_tails={})
    _assert_well_formed(page)
    assert "interrupted before it finished" in page
    assert "No job of this run was recorded" in page
    assert 'class="badge t-warn">interrupted' in page


def test_control_characters_and_odd_values_do_not_break_the_page() -> None:
    detail = failed_detail()
    tails = {32: ["progress 10%\rprogress 100%", "nul\x00byte \x07bell", "\ud800 lone surrogate"]}
    page = render_html(detail, log_tails=tails)
    _assert_well_formed(page)
    assert "progress 100%" in page and "progress 10%" not in page
    assert "\x00" not in page and "\x07" not in page
    page.encode("utf-8")  # no lone surrogate survives


def test_json_has_the_same_content_and_serialises() -> None:
    data = render_json(failed_detail(), log_tails=log_tails())
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data
    assert data["schema"] == SCHEMA
    assert set(data) == {
        "schema",
        "run",
        "summary",
        "jobs",
        "flaky_tests",
        "quarantined_tests",
        "failed_tests",
        "other_tests",
        "failed_steps",
        "coverage",
        "metrics",
        "artifacts",
        "run_dir",
    }
    assert data["summary"]["jobs_by_status"] == {"failure": 1, "success": 2}
    assert data["summary"]["tests"] == {
        "total": 7,
        "passed": 3,
        "failed": 1,
        "error": 1,
        "skipped": 2,
        "flaky": 0,
        "other": 0,
    }
    assert [t["test_id"] for t in data["failed_tests"]] == [
        "tests/test_math.py::test_div",
        "tests/test_parse.py::test_yaml",
    ]
    assert data["failed_tests"][0]["job"] == "test (3.12)"
    assert len(data["other_tests"]) == 5
    [step] = data["failed_steps"]
    assert step["id"] == 32 and step["job"] == "test (3.12)"
    assert len(step["log_tail"]) == LOG_TAIL_LINES
    assert step["log_tail"][-3] == "E   " + XSS  # data stays raw; escaping is the page's job
    assert step["log_tail"][0] == "line 153 collected"  # colour codes removed
    assert data["coverage"] == [
        {"job": "test (3.11)", "job_record_id": 2, "scope": "job", "line": 91.25, "branch": 84.0},
        {"job": "test (3.12)", "job_record_id": 3, "scope": "job", "line": 42.5, "branch": None},
    ]
    assert data["jobs"][2]["matrix"] == {"python": "3.12", "os": "ubuntu-latest"}
    assert data["run"]["started_iso"] == "2026-01-31T12:00:00Z"


# --------------------------------------------------------------------------- a real browser


def _launch_chromium():  # type: ignore[no-untyped-def]
    """Playwright and Debian's chromium, or a skip (a clear failure under CI)."""
    reasons = []
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reasons.append("the Python package 'playwright' is not installed (pip install playwright)")
        sync_playwright = None
    if not os.path.exists(CHROMIUM):
        reasons.append(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    if reasons:
        message = "browser test needs " + "; ".join(reasons)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    assert sync_playwright is not None
    return sync_playwright


def test_report_renders_in_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sync_playwright = _launch_chromium()
    browser_home = tmp_path / "browser-home"  # chromium writes its profile and caches there
    monkeypatch.setenv("HOME", str(browser_home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(browser_home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(browser_home / ".cache"))
    report = tmp_path / "report.html"
    report.write_text(render_html(failed_detail(), log_tails=log_tails()), encoding="utf-8")
    shot = tmp_path / "report.png"
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(report.as_uri())
            assert page.title().startswith("Run #7 failure")
            summary = page.inner_text("#summary")
            for text in (
                "ci.yml",
                "push",
                "refs/heads/main",
                "0123456789ab",
                "ada <ada@example.com>",
                "2026-01-31 12:00:00 UTC",
                "1 failure",
                "2 success",
            ):
                assert text in summary, text
            failures = page.locator("#test-failures")
            assert failures.is_visible()
            assert "AssertionError: assert 1 / 3 == 0.33" in failures.inner_text()
            others = page.locator("#test-others")
            assert others.is_visible()  # the folded list's summary line
            fail_box = failures.bounding_box()
            other_box = others.bounding_box()
            assert fail_box is not None and other_box is not None
            assert fail_box["y"] + fail_box["height"] <= other_box["y"]
            assert not page.get_by_text("tests/test_math.py::test_add").first.is_visible()
            log = page.locator("#log-32 pre").inner_text()
            assert XSS in log and "=== 1 failed, 3 passed ===" in log
            assert page.locator("#log-32 pre").is_visible()
            assert not dialogs, "a script ran"
            page.screenshot(path=str(shot), full_page=True)
            page.emulate_media(color_scheme="dark")
            page.screenshot(path=str(tmp_path / "report-dark.png"), full_page=True)
        finally:
            browser.close()
    assert all(url.startswith("file://") for url in requests), requests
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    assert width == 1200 and height > 900


def test_continue_on_error_nested_matrix_run_coverage_and_long_message() -> None:
    soft = StepRecord(
        id=41,
        index=1,
        name="audit",
        step_id="audit",
        outcome="failure",
        conclusion="success",
        exit_code=2,
        started=T0,
        finished=T0 + 3,
        log_path=None,
    )
    job = JobRecord(
        id=4,
        key="audit",
        name="audit",
        job_id="audit",
        matrix={"include": [{"os": "linux"}], "big": 2.5},
        runner="",
        status="success",
        conclusion="success",
        reason="",
        started=T0,
        finished=T0 + 3,
        steps=(soft,),
        tests=(_test("t.py::test_long", "failed", 0.1, "x" * 30_000),),
    )
    detail = RunDetail(
        run=_run(status="success"),
        jobs=(job,),
        metrics=(Metric("coverage.line", 77.0, "%", "run"), Metric("coverage.branch", 60.0, "%")),
    )
    page = render_html(detail, log_tails={})
    _assert_well_formed(page)
    assert "outcome failure, conclusion success (continue-on-error)" in page
    assert "No log output was captured for this step." in page
    assert "include: [{&quot;os&quot;: &quot;linux&quot;}], big: 2.5" in page
    assert "whole run" in page and "77.0%" in page and "60.0%" in page
    assert "(10000 more characters cut)" in page
    data = render_json(detail, log_tails={})
    assert data["coverage"] == [
        {"job": None, "job_record_id": None, "scope": "run", "line": 77.0, "branch": 60.0}
    ]
    assert data["failed_steps"][0]["log_tail"] == []
    assert data["failed_tests"][0]["message"] == "x" * 30_000  # the data is not cut


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "\u2014"),
        (float("nan"), "\u2014"),
        (-3, "0.00s"),
        (0.42, "0.42s"),
        (9.996, "10.0s"),
        (12.34, "12.3s"),
        (59.96, "1m 00s"),
        (125, "2m 05s"),
        (3725, "1h 02m"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_a_job_whose_tests_were_a_selection_says_so_in_page_and_json() -> None:
    detail = failed_detail()
    lint, test_ok, test_bad = detail.jobs
    chosen = (
        Metric("select.partial", 1.0, "count"),
        Metric("select.selected", 14.0, "count"),
        Metric("select.known", 1203.0, "count"),
    )
    partial = replace(test_ok, metrics=chosen)
    failed_partial = replace(test_bad, metrics=chosen)
    detail = replace(detail, jobs=(lint, partial, failed_partial))
    page = render_html(detail, log_tails=log_tails())
    note = "tests: a selection: 14 tests ran, the map knows 1,203"
    assert page.count(note) == 2
    # under the failed job's reason, on a line of its own
    assert f'exit code 1.<br><span class="muted">{note}</span>' in page
    jobs = {job["name"]: job for job in render_json(detail, log_tails=log_tails())["jobs"]}
    assert jobs["test (3.11)"]["selection"] == {"selected": 14, "known": 1203}
    assert jobs["lint"]["selection"] is None
    full = render_html(failed_detail(), log_tails=log_tails())
    assert "a selection" not in full
