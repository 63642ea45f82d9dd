"""``amoskys lint``, ``security-scan`` and ``test``: tools in parallel, one verdict.

Each command runs its tools at once, reads their findings, applies the suppressions, and
evaluates its gates. The outcome is printed as one readable report, written to
``$AMOSKYS_RESULTS`` when set (so ``amoskys run`` stores it with the run), and decides the
exit code: 0 when the gates pass, 1 when one fails.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from amoskys.checks.settings import CheckSettings
from amoskys.errors import AmoskysError
from amoskys.findings.model import Finding, FindingsProblem
from amoskys.gates import GateResult, TestSummary, Verdict, evaluate, missing_tool
from amoskys.suppress import Judged, judge

if TYPE_CHECKING:
    # imported where used: ``amoskys test`` needs none of the linters' and scanners' parsers
    from amoskys.checks.tools import FileCacheSetup, ToolRun, ToolSpec
    from amoskys.select.runner import Plan, SelectOptions
    from amoskys.store.db import Store


@dataclass(frozen=True)
class CheckOutcome:
    command: str  # "lint", "security-scan", "test"
    runs: tuple[ToolRun, ...]
    judged: tuple[Judged, ...]
    verdict: Verdict
    tests: TestSummary | None = None
    notes: tuple[str, ...] = ()  # e.g. "pip-audit could not reach its service"
    problems: tuple[FindingsProblem, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return self.verdict.passed


def lint_specs(settings: CheckSettings, cache: Path | None = None) -> list[ToolSpec]:
    """The four linters; ``cache`` keeps mypy's incremental cache under ``.amoskys/``
    (unless the project's mypy configuration names its own cache folder)."""
    from amoskys.checks.tools import ToolSpec
    from amoskys.findings.linters import collect_black, collect_flake8, collect_isort, collect_mypy

    paths = tuple(settings.paths)
    mypy_cache: tuple[str, ...] = ()
    if cache is not None and not mypy_sets_cache_dir(settings.root):
        mypy_cache = (f"--cache-dir={cache / 'mypy'}",)
    return [
        ToolSpec(
            "black",
            "format",
            "black",
            ("--check",),
            collect_black,
            (0, 1),
            targets=paths,
            per_file=True,
        ),
        ToolSpec(
            "isort",
            "imports",
            "isort",
            ("--check-only", "--filter-files"),  # its skip rules also for files given by name
            collect_isort,
            (0, 1),
            targets=paths,
            per_file=True,
        ),
        ToolSpec(
            "flake8", "style", "flake8", (), collect_flake8, (0, 1), targets=paths, per_file=True
        ),
        ToolSpec(
            "mypy",
            "types",
            "mypy",
            (
                "--show-column-numbers",
                "--no-pretty",
                "--no-color-output",
                "--no-error-summary",
                *mypy_cache,
            ),
            collect_mypy,
            (0, 1),
            targets=tuple(settings.packages),
        ),
    ]


def mypy_sets_cache_dir(root: Path) -> bool:
    """Whether the project (or ``$MYPY_CACHE_DIR``) already chooses mypy's cache folder."""
    import configparser

    from amoskys.checks.targets import pyproject_section

    if os.environ.get("MYPY_CACHE_DIR"):
        return True
    section = pyproject_section(root, "tool", "mypy")
    if isinstance(section, dict) and "cache_dir" in section:
        return True
    for name in ("mypy.ini", ".mypy.ini", "setup.cfg"):
        parser = configparser.RawConfigParser()
        try:
            parser.read(root / name, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue
        if parser.has_option("mypy", "cache_dir"):
            return True
    return False


def bandit_spec(settings: CheckSettings) -> ToolSpec:
    from amoskys.checks.tools import ToolSpec
    from amoskys.findings.scanners import collect_bandit

    args = ["-f", "json", "-o", "{report}", "-q", "-r"]
    if (settings.root / "pyproject.toml").is_file():
        text = (settings.root / "pyproject.toml").read_text(encoding="utf-8", errors="replace")
        if "[tool.bandit" in text:
            args[:0] = ["-c", "pyproject.toml"]
    return ToolSpec(
        "bandit",
        "code-security",
        "bandit",
        tuple(args),
        collect_bandit,
        (0, 1),
        reads_report=True,
        targets=tuple(settings.packages),
        per_file=True,
    )


def online_specs(settings: CheckSettings) -> list[ToolSpec]:
    """pip-audit and Safety, when they are installed: they need their online services."""
    from amoskys.checks.tools import ToolSpec
    from amoskys.findings.scanners import collect_pip_audit, collect_safety

    specs: list[ToolSpec] = []
    if shutil.which("pip-audit"):
        specs.append(
            ToolSpec(
                "pip-audit",
                "vulnerabilities",
                "pip_audit",
                ("--format=json", "--output={report}", "--progress-spinner=off"),
                collect_pip_audit,
                (0, 1),
                reads_report=True,
            )
        )
    if shutil.which("safety"):
        specs.append(
            ToolSpec(
                "safety",
                "vulnerabilities",
                "safety",
                ("check", "--json", "--output", "{report}"),
                collect_safety,
                (0, 1, 64),
                reads_report=True,
            )
        )
    return specs


def tracked_files(root: Path) -> list[str]:
    """The files git tracks plus untracked ones it does not ignore (what would be pushed)."""
    from amoskys.run.workspace import list_workspace_files

    return list_workspace_files(root)


def staged_files(root: Path) -> list[tuple[str, str]]:
    """(path, staged content) of every file added or changed in the index."""
    from amoskys.run.process import output_of

    names = output_of(
        ["git", "diff", "--cached", "--name-only", "--diff-filter=ACMR", "-z"], cwd=root
    )
    staged: list[tuple[str, str]] = []
    for name in filter(None, names.split("\0")):
        text = output_of(["git", "show", f":{name}"], cwd=root)
        staged.append((name, text))
    return staged


InProcess = Callable[[], tuple[list[Finding], list[str]]]


def _finish(
    command: str,
    settings: CheckSettings,
    runs: Sequence[ToolRun],
    extra: Sequence[Finding],
    ran_gates: set[str],
    *,
    tests: TestSummary | None = None,
    notes: Sequence[str] = (),
    today: date | None = None,
) -> CheckOutcome:
    findings = [f for run in runs for f in run.findings] + list(extra)
    judged = judge(findings, settings.suppressions, today or date.today())
    verdict = evaluate(
        judged, settings.gates, ran=ran_gates | {r.spec.gate for r in runs if r.ran}, tests=tests
    )
    failed: list[GateResult] = []
    for run in runs:
        if not run.ran and run.spec.name not in ("pip-audit", "safety"):
            failed.append(missing_tool(run.spec.gate, run.spec.name, run.why))
    if failed:
        names = {g.name for g in failed}
        verdict = Verdict(tuple(g for g in verdict.gates if g.name not in names) + tuple(failed))
    problems = tuple(p for run in runs for p in run.problems)
    return CheckOutcome(command, tuple(runs), tuple(judged), verdict, tests, tuple(notes), problems)


def file_cache_setup(root: Path, state_dir: Path | None, *, read: bool) -> FileCacheSetup | None:
    """The per-file result cache under ``.amoskys/cache/lint``; ``None`` outside a git
    repository (the candidates are the files git would push) or without a state folder."""
    from amoskys.checks.tools import FileCacheSetup

    if state_dir is None:
        return None
    try:
        files = tracked_files(root)
    except AmoskysError:
        return None
    return FileCacheSetup(state_dir / "cache" / "lint", tuple(files), read=read)


def lint(
    settings: CheckSettings,
    *,
    state_dir: Path | None = None,
    today: date | None = None,
    use_cache: bool = True,
) -> CheckOutcome:
    """Black, isort, flake8 and mypy at once (their caches under ``.amoskys/cache``).

    Black, isort and flake8 re-check only files changed since their cached results;
    ``use_cache=False`` (``--no-cache``) checks every file and refreshes the cache.
    """
    from amoskys.checks.tools import run_tools

    env = dict(os.environ)
    cache = state_dir / "cache" if state_dir is not None else None
    if cache is not None:
        env["BLACK_CACHE_DIR"] = str(cache / "black")
    setup = file_cache_setup(settings.root, state_dir, read=use_cache)
    runs = run_tools(lint_specs(settings, cache), settings.root, env, cache=setup)
    return _finish("lint", settings, runs, (), set(), today=today)


def security_scan(
    settings: CheckSettings,
    *,
    state_dir: Path,
    secrets_only: bool = False,
    staged: bool = False,
    today: date | None = None,
    use_cache: bool = True,
) -> CheckOutcome:
    """Bandit, offline vulnerabilities (OSV), secrets; pip-audit and Safety when installed.

    Bandit and the secret scan re-check only files changed since their cached results;
    ``use_cache=False`` (``--no-cache``) checks every file and refreshes the cache.
    """
    from amoskys.checks.tools import run_tools
    from amoskys.run.diagnosis import network_evidence
    from amoskys.security.scan import scan_dependencies, scan_secrets

    extra: list[Finding] = []
    notes: list[str] = []
    ran: set[str] = set()
    lock = threading.Lock()

    missing: list[GateResult] = []

    setup = file_cache_setup(settings.root, state_dir, read=use_cache)

    def secrets() -> None:
        if staged or setup is None:
            found = scan_secrets(settings, staged=staged)
        else:
            found = cached_secret_scan(settings, setup)
        with lock:
            extra.extend(found)
            ran.add("secrets")

    def dependencies() -> None:
        found, said, why_not = scan_dependencies(settings, state_dir)
        with lock:
            extra.extend(found)
            notes.extend(said)
            if why_not is None:
                ran.add("vulnerabilities")
            else:
                missing.append(
                    missing_tool(
                        "vulnerabilities",
                        "the offline OSV scan",
                        why_not,
                        "amoskys vulndb update (or --from DIR|ZIP of OSV records)",
                    )
                )

    workers = [threading.Thread(target=secrets)]
    specs: list[ToolSpec] = []
    if not secrets_only:
        workers.append(threading.Thread(target=dependencies))
        specs = [bandit_spec(settings), *online_specs(settings)]
    for worker in workers:
        worker.start()
    runs = run_tools(specs, settings.root, cache=setup)
    for worker in workers:
        worker.join()
    for run in runs:
        if run.spec.name in ("pip-audit", "safety") and not run.ran:
            evidence = network_evidence(run.output_tail)
            if evidence is not None:
                notes.append(
                    f"{run.spec.name} could not reach its service ({evidence[:120]}); "
                    "the offline vulnerability scan stands"
                )
            else:
                notes.append(f"{run.why}; the offline vulnerability scan stands")
    outcome = _finish("security-scan", settings, runs, extra, ran, notes=notes, today=today)
    if missing:
        gates = tuple(g for g in outcome.verdict.gates if g.name != "vulnerabilities")
        outcome = replace(outcome, verdict=Verdict(gates + tuple(missing)))
    return outcome


def cached_secret_scan(settings: CheckSettings, setup: FileCacheSetup) -> list[Finding]:
    """The secret scan over the files git would push, per file through the result cache
    (keyed by the scanner's own code and its configuration)."""
    from amoskys.checks.file_cache import FileResults, amoskys_stamp, file_text, key_of
    from amoskys.security import secrets
    from amoskys.security.scan import secrets_config

    config = secrets_config(settings)
    scanner = file_text(Path(secrets.__file__))
    key = key_of("secrets", amoskys_stamp(), scanner, repr(config))
    store = FileResults(setup.folder, "secrets", key, read=setup.read)
    found = secrets.scan_files(settings.root, setup.files, config=config, cache=store)
    store.save(settings.root)
    return found


def run_tests(
    settings: CheckSettings,
    *,
    pytest_args: Sequence[str] = (),
    show: Callable[[str], None] = print,
    today: date | None = None,
    options: SelectOptions | None = None,
    state_dir: Path | None = None,
) -> CheckOutcome:
    """pytest with coverage, through the same probe ``amoskys run`` uses.

    With a ``state_dir`` inside a git repository, a full run also records the test impact map
    of the checked-out commit, and ``options.select == "affected"`` runs only the tests the
    change since the newest mapped commit can affect (see :mod:`amoskys.select.runner`).
    """
    from amoskys.run.installed import installed_digest
    from amoskys.select.mapstore import head_commit, latest_map
    from amoskys.select.runner import SelectOptions, interpreter_of, make_plan, read_failures
    from amoskys.store.quick import QuickReader, open_quick

    options = options or SelectOptions()
    python = _python()
    commit = head_commit(settings.root) if state_dir is not None else None
    store: Store | None = None
    reader: QuickReader | None = None
    notes: list[str] = []
    if state_dir is not None and commit is not None:
        # the quick reader spares SQLAlchemy's import when the store is current SQLite
        reader = open_quick(state_dir)
        if reader is None:
            from amoskys.store.db import open_store

            store = open_store(state_dir)
    elif options.select == "affected":
        notes.append("not a git repository with a commit: no test map, every test runs")
    try:
        failures = read_failures(state_dir)
        m = None
        interpreter = installed = ""
        source = reader or store
        if source is not None:
            interpreter = interpreter_of(python, settings.root, state_dir=state_dir)
            installed = installed_digest(python, os.environ)
            failures += source.recent_test_failures()
            m = latest_map(source, settings.root, interpreter)
        plan = make_plan(
            settings.root,
            m,
            options=options,
            interpreter=interpreter,
            failures=failures,
            show=show,
            installed=installed,
        )
        if source is not None:
            show(f"amoskys: {plan.summary}")
        if options.why:
            for nodeid in plan.keep or ():
                show(f"  {nodeid}: {plan.reasons.get(nodeid, 'runs all')}")
        if plan.nothing:
            return _no_test_needed(settings, plan.summary, notes, today)
        if reader is not None and plan.full and options.record:
            from amoskys.store.db import open_store

            store = open_store(state_dir or settings.root / ".amoskys")  # the map is written
        return _run_pytest(
            settings,
            plan=plan,
            options=options,
            python=python,
            pytest_args=pytest_args,
            store=store,
            commit=commit,
            interpreter=interpreter,
            installed=installed,
            state_dir=state_dir,
            notes=notes,
            show=show,
            today=today,
        )
    finally:
        if reader is not None:
            reader.close()
        if store is not None:
            store.close()


def _run_pytest(
    settings: CheckSettings,
    *,
    plan: Plan,
    options: SelectOptions,
    python: str,
    pytest_args: Sequence[str],
    store: Store | None,
    commit: str | None,
    interpreter: str,
    installed: str,
    state_dir: Path | None,
    notes: list[str],
    show: Callable[[str], None],
    today: date | None,
) -> CheckOutcome:
    from amoskys.collect.discover import find_probe_reports
    from amoskys.collect.reports import collect_reports
    from amoskys.run.flaky_env import flaky_summary, probe_environment, quarantine_of_project
    from amoskys.select.mapstore import dirty_texts
    from amoskys.select.runner import (
        NO_TESTS,
        record_map,
        run_pytest,
        selected_results,
        write_failures,
    )

    record = plan.full and options.record and store is not None and commit is not None
    dirty = dirty_texts(settings.root, commit) if record and commit is not None else {}
    with tempfile.TemporaryDirectory(prefix="amoskys-test-") as temp:
        folder = Path(temp)
        quarantine = quarantine_of_project(settings.root, settings.flaky)
        raw = folder / "map" if record else None
        done = run_pytest(
            settings.root,
            python=python,
            test_paths=settings.tests,
            pytest_args=pytest_args,
            plan=plan,
            options=options,
            folder=folder,
            record_to=raw,
            show=show,
            extra_env=probe_environment(settings.flaky, quarantine, folder),
        )
        paths, warnings = find_probe_reports(done.reports)
        results, metrics, more = collect_reports(paths, root=settings.root)
        selected = selected_results(folder)
        ran: list[str] = list(selected.ran) if selected else []
        failed: list[str] = list(selected.failed) if selected else []
        if raw is not None and commit is not None and all(c in (0, 1) for c in done.exit_codes):
            try:
                recorded = record_map(
                    store,
                    raw,
                    commit=commit,
                    interpreter=interpreter,
                    dirty=dirty,
                    installed=installed,
                )
            except AmoskysError as error:  # the tests ran: their verdict stands
                recorded = None
                notes.append(str(error))
            if recorded is not None:
                notes.append(f"test map recorded for {commit[:12]} ({len(recorded.tests):,} tests)")
                ran = list(recorded.tests)
                failed = [n for n, r in recorded.tests.items() if r.outcome in ("failed", "error")]
    if state_dir is not None and (ran or failed):
        write_failures(state_dir, ran, failed)
    if selected is not None and not plan.full:
        show(f"amoskys: {selected.kept} tests ran, {len(selected.new)} of them new")
    notes.extend(done.notes)
    values = {m.name: m.value for m in metrics}
    outcomes = [r.outcome for r in results]
    summary = TestSummary(
        total=len(outcomes),
        passed=outcomes.count("passed"),
        failed=outcomes.count("failed"),
        errors=outcomes.count("error"),
        skipped=outcomes.count("skipped"),
        coverage=values.get("coverage.line") if done.coverage else None,
        **flaky_summary(results, quarantine, settings.flaky.quarantine),
    )
    notes.extend(f"{w.path}: {w.message}" for w in [*warnings, *more])
    if done.partial and all(c in (0, NO_TESTS) for c in done.exit_codes):
        if not results:
            return _no_test_needed(settings, plan.summary, notes, today)
        if all(outcome == "skipped" for outcome in outcomes):  # skip conditions still hold
            count = f"the {len(outcomes)} selected test{'s were' if len(outcomes) > 1 else ' was'}"
            return _no_test_needed(settings, f"{plan.summary}; {count} skipped", notes, today)
    for code in done.exit_codes:
        if code not in (0, 1) and not results:
            notes.append(f"pytest exited with {code} before reporting any test")
    if not done.coverage:  # a selection, or split over processes: no coverage gate
        settings = replace(settings, gates=replace(settings.gates, coverage=None))
    outcome = _finish("test", settings, [], [], set(), tests=summary, notes=notes, today=today)
    stopped = (
        pytest_failed_unreported(
            done.exit_codes, outcomes, partial=done.partial or len(done.exit_codes) > 1
        )
        if results
        else None
    )
    if stopped is None:
        return outcome
    gates = tuple(
        (
            replace(g, passed=False, evidence=f"{g.evidence}; {stopped}", hint=STOPPED_HINT)
            if g.name == "tests"
            else g
        )
        for g in outcome.verdict.gates
    )
    return replace(outcome, verdict=Verdict(gates))


STOPPED_HINT = "read pytest's output above: the report does not hold every test it should"


def pytest_failed_unreported(
    codes: Sequence[int | None], outcomes: Sequence[str], *, partial: bool = False
) -> str | None:
    """Why pytest's exit codes fail the run although its report may not say so, or None.

    The report holds the tests that ran; pytest's exit code also knows what stopped the
    session (an interruption, an internal error, ``pytest.exit``, a kill) and what failed
    outside any test (a plugin's own check such as ``--cov-fail-under``). A plain pytest
    would fail on those, so the verdict must not pass. Quarantined and flaky tests do not
    get here: the probe ends such a session with 0. A ``partial`` run (a selection, or
    one process of several) is not failed by 1 alone: a coverage threshold cannot hold for
    a subset of the tests, which is why the coverage gate is off for it too.
    """
    from amoskys.select.runner import NO_TESTS

    for code in codes:
        if code is None:
            return "pytest timed out or was cancelled before it finished"
        if code not in (0, 1, NO_TESTS):
            return f"pytest stopped with exit code {code} (interrupted, crashed or misused)"
    if 1 in codes and not partial and not any(o in ("failed", "error") for o in outcomes):
        return "pytest exited with 1 though no test in its report failed"
    return None


def _no_test_needed(
    settings: CheckSettings, why: str, notes: Sequence[str], today: date | None
) -> CheckOutcome:
    """Nothing the map knows was affected and no new test appeared: the gate passes."""
    outcome = _finish("test", settings, [], [], set(), notes=notes, today=today)
    gate = GateResult("tests", True, why)
    return replace(outcome, verdict=Verdict(outcome.verdict.gates + (gate,)))


def _python() -> str:
    """The project's Python: the one on PATH if any (a venv's), else ours."""
    import sys

    return shutil.which("python") or sys.executable
