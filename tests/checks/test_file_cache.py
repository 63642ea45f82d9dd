"""The per-file lint cache (issue 6, item 3): real tools on a real git repository.

Each tool is put on ``PATH`` behind a two-line shell script that writes its arguments to a
log and then runs the real tool, so the tests can see which tools started and which files
they were given.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path
from typing import Callable

import pytest

from amoskys.checks.commands import CheckOutcome, lint, lint_specs, security_scan
from amoskys.checks.file_cache import FileResults, finding_from_row, finding_row
from amoskys.checks.output import render_text
from amoskys.checks.settings import load_settings
from amoskys.checks.targets import black_files, flake8_files
from amoskys.checks.tools import ToolRun
from amoskys.findings.model import Category, Finding, Severity
from amoskys.run.workspace import ensure_state_dir

Repo = Callable[..., Path]
TOOLS = ("black", "isort", "flake8", "bandit")
FAKE_AWS_KEY = "AKIA" + "QYLPMN5HHHFPZAM2"  # random, in AWS's documented format

PROJECT = {
    "pyproject.toml": (
        '[tool.amoskys]\npackages = ["pkg"]\n\n[tool.isort]\nprofile = "black"\n\n'
        "[tool.black]\nline-length = 100\n"
    ),
    ".flake8": "[flake8]\nmax-line-length = 100\n",
    "config.env": f"AWS_ACCESS_KEY_ID={FAKE_AWS_KEY}\n",
    "pkg/__init__.py": "",
    "pkg/good.py": "def add(a: int, b: int) -> int:\n    return a + b\n",
    "pkg/fmt.py": "NAME = 'single quotes'\n",
    "pkg/imports.py": "import sys\nimport os\n\nPLACES = (os.sep, sys.platform)\n",
    "pkg/style.py": "import json\n\nVALUE = 1\n",
    "pkg/danger.py": "def run(expression: str) -> object:\n    return eval(expression)\n",
    "tests/test_good.py": "from pkg.good import add\n\n\ndef test_add() -> None:\n"
    "    assert add(1, 2) == 3\n",
}


REAL = {tool: shutil.which(tool) for tool in TOOLS}  # before any test puts shims on PATH


def _shim(folder: Path, logs: Path, tool: str, body: str | None = None) -> None:
    real = REAL[tool]
    assert real is not None, f"{tool} must be installed for these tests"
    script = folder / tool
    command = body if body is not None else f'exec "{real}" "$@"'
    script.write_text(f'#!/bin/sh\necho "$*" >> "{logs / tool}.log"\n{command}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


@pytest.fixture(autouse=True)
def tool_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tools' user caches (Bandit's stevedore writes ~/.cache) go to a home of their own."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))


@pytest.fixture
def shims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH folder whose tools log their arguments to ``<logs>/<tool>.log``."""
    folder = tmp_path / "bin"
    logs = tmp_path / "logs"
    folder.mkdir()
    logs.mkdir()
    for tool in TOOLS:
        _shim(folder, logs, tool)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return logs


def calls(logs: Path, tool: str) -> list[list[str]]:
    """Each start of ``tool``: the files it was given (arguments ending in .py)."""
    log = logs / f"{tool}.log"
    if not log.exists():
        return []
    return [
        sorted(a for a in line.split() if a.endswith(".py"))
        for line in log.read_text().splitlines()
    ]


def run_both(root: Path, *, use_cache: bool = True) -> tuple[CheckOutcome, CheckOutcome]:
    settings = load_settings(root)
    state = ensure_state_dir(root)
    linted = lint(settings, state_dir=state, use_cache=use_cache)
    scanned = security_scan(settings, state_dir=state, use_cache=use_cache)
    return linted, scanned


def prints(outcome: CheckOutcome, tool: str | None = None) -> list[tuple[str, str, str | None]]:
    return sorted(
        (j.finding.fingerprint, j.finding.rule, j.finding.file)
        for j in outcome.judged
        if tool is None or j.finding.tool == tool
    )


def by_name(outcome: CheckOutcome, name: str) -> ToolRun:
    return next(run for run in outcome.runs if run.spec.name == name)


PY_FILES = ["pkg/__init__.py", "pkg/danger.py", "pkg/fmt.py", "pkg/good.py", "pkg/imports.py"]
PY_FILES += ["pkg/style.py", "tests/test_good.py"]


def test_second_run_starts_no_tool_and_gives_the_same_findings(
    make_repo: Repo, shims: Path
) -> None:
    root = make_repo(PROJECT)
    first_lint, first_scan = run_both(root)
    for tool in ("black", "isort", "flake8"):
        assert calls(shims, tool) == [PY_FILES], tool
    assert calls(shims, "bandit") == [[f for f in PY_FILES if f.startswith("pkg/")]]
    assert {j.finding.rule for j in first_lint.judged} >= {"would-reformat", "F401"}
    assert {j.finding.tool for j in first_scan.judged} >= {"bandit", "secrets"}

    second_lint, second_scan = run_both(root)

    for tool in TOOLS:
        assert len(calls(shims, tool)) == 1, f"{tool} started again with nothing changed"
    assert prints(second_lint) == prints(first_lint)
    assert prints(second_scan) == prints(first_scan)
    flake8 = by_name(second_lint, "flake8")
    assert flake8.ran and flake8.checked_files == 0 and flake8.cached_files == len(PY_FILES)
    assert not second_lint.passed and not second_scan.passed  # cached findings still gate
    assert f"0 of {len(PY_FILES)} files from the cache" in render_text(first_lint)
    assert f"{len(PY_FILES)} of {len(PY_FILES)} files from the cache" in render_text(second_lint)


def test_only_the_edited_file_is_checked_again(make_repo: Repo, shims: Path) -> None:
    root = make_repo(PROJECT)
    first_lint, _ = run_both(root)
    (root / "pkg" / "style.py").write_text("VALUE = 1\n")  # the unused import is gone

    again, _ = run_both(root)

    for tool in ("black", "isort", "flake8"):
        assert calls(shims, tool)[-1] == ["pkg/style.py"], tool
    assert calls(shims, "bandit")[-1] == ["pkg/style.py"]
    rules = [j.finding.rule for j in again.judged]
    assert "F401" not in rules
    unchanged = [p for p in prints(first_lint) if p[2] != "pkg/style.py"]
    assert prints(again) == unchanged


def test_changing_a_tools_configuration_checks_every_file_again(
    make_repo: Repo, shims: Path
) -> None:
    root = make_repo(PROJECT)
    run_both(root)
    (root / ".pytest_cache").mkdir()  # caches coming and going do not change isort's key
    (root / ".coverage").write_text("")
    (root / ".flake8").write_text("[flake8]\nmax-line-length = 100\nextend-ignore = F401\n")

    again, _ = run_both(root)

    assert calls(shims, "flake8")[-1] == PY_FILES
    assert len(calls(shims, "black")) == 1 and len(calls(shims, "isort")) == 1
    assert "F401" not in [j.finding.rule for j in again.judged]

    pyproject = (
        (root / "pyproject.toml").read_text().replace("line-length = 100", "line-length = 20")
    )
    (root / "pyproject.toml").write_text(pyproject)
    run_both(root)
    assert calls(shims, "black")[-1] == PY_FILES
    assert len(calls(shims, "flake8")) == 2  # Black's section changed, not flake8's files


def test_flake8_configured_in_pyproject_checks_every_file_again(
    make_repo: Repo, shims: Path, tmp_path: Path
) -> None:
    # flake8 as the Flake8-pyproject plugin runs it: [tool.flake8] of pyproject.toml applies
    _shim(
        tmp_path / "bin",
        shims,
        "flake8",
        "limit=$(sed -n 's/^max-line-length = //p' pyproject.toml)\n"
        f'exec "{REAL["flake8"]}" --max-line-length "$limit" "$@"',
    )
    long_line = "VALUE = '" + "x" * 90 + "'\n"
    root = make_repo(
        {
            "pyproject.toml": '[tool.amoskys]\npackages = ["pkg"]\n\n'
            "[tool.flake8]\nmax-line-length = 120\n",
            "pkg/__init__.py": "",
            "pkg/long.py": long_line,
        }
    )
    state = ensure_state_dir(root)
    first = lint(load_settings(root), state_dir=state)
    assert "E501" not in [j.finding.rule for j in first.judged]
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("= 120", "= 79"))
    again = lint(load_settings(root), state_dir=state)
    assert "E501" in [j.finding.rule for j in again.judged], render_text(again)
    assert not again.passed


def test_a_corrupt_cache_file_is_a_miss_not_a_crash(make_repo: Repo, shims: Path) -> None:
    root = make_repo(PROJECT)
    first_lint, first_scan = run_both(root)
    folder = root / ".amoskys" / "cache" / "lint"
    stored = sorted(folder.glob("*.json"))
    assert {p.name.split("-")[0] for p in stored} == {*TOOLS, "secrets"}
    for index, path in enumerate(stored):
        path.write_text(["{not json", "[]", '{"format": 1, "key": "x"}'][index % 3])
    flake8_file = next(p for p in stored if p.name.startswith("flake8-"))

    again_lint, again_scan = run_both(root)

    for tool in TOOLS:
        assert len(calls(shims, tool)) == 2, tool
    assert prints(again_lint) == prints(first_lint)
    assert prints(again_scan) == prints(first_scan)
    assert json.loads(flake8_file.read_text())["files"]  # rewritten whole

    # A damaged entry inside a valid file is a miss for that file only.
    data = json.loads(flake8_file.read_text())
    data["files"]["pkg/style.py"][1] = [["not", "a", "finding"]]
    flake8_file.write_text(json.dumps(data))
    third, _ = run_both(root)
    assert calls(shims, "flake8")[-1] == ["pkg/style.py"]
    assert prints(third, "flake8") == prints(first_lint, "flake8")


def test_a_crashing_tool_is_reported_and_nothing_is_cached(
    make_repo: Repo, shims: Path, tmp_path: Path
) -> None:
    root = make_repo(PROJECT)
    _shim(tmp_path / "bin", shims, "flake8", "echo 'Traceback: boom' >&2; exit 3")

    crashed, _ = run_both(root)

    flake8 = by_name(crashed, "flake8")
    assert not flake8.ran and "crashed" in flake8.why
    assert not crashed.passed
    assert not list((root / ".amoskys" / "cache" / "lint").glob("flake8-*.json"))
    _shim(tmp_path / "bin", shims, "flake8")
    healed, _ = run_both(root)
    assert calls(shims, "flake8")[-1] == PY_FILES
    assert by_name(healed, "flake8").ran


def test_no_cache_checks_every_file(make_repo: Repo, shims: Path) -> None:
    root = make_repo(PROJECT)
    first_lint, first_scan = run_both(root)

    again_lint, again_scan = run_both(root, use_cache=False)

    for tool in ("black", "isort", "flake8"):
        assert calls(shims, tool) == [PY_FILES, PY_FILES], tool
    assert len(calls(shims, "bandit")) == 2
    assert prints(again_lint) == prints(first_lint)
    assert prints(again_scan) == prints(first_scan)


def test_the_secret_scan_reads_unchanged_files_from_the_cache(
    make_repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from amoskys.security import secrets

    root = make_repo(PROJECT)
    settings = load_settings(root)
    state = ensure_state_dir(root)
    first = security_scan(settings, state_dir=state, secrets_only=True)
    scanned: list[str] = []
    real = secrets.scan_bytes

    def counting(data: bytes, path: str, **kw: object) -> list[Finding]:
        scanned.append(path)
        return real(data, path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(secrets, "scan_bytes", counting)
    second = security_scan(settings, state_dir=state, secrets_only=True)
    assert scanned == []
    assert prints(second, "secrets") == prints(first, "secrets")
    assert [f for _, _, f in prints(second, "secrets")] == ["config.env"]

    (root / "config.env").write_text(f"# moved\nAWS_ACCESS_KEY_ID={FAKE_AWS_KEY}\n")
    third = security_scan(settings, state_dir=state, secrets_only=True)
    assert scanned == ["config.env"]
    assert [j.finding.line for j in third.judged if j.finding.tool == "secrets"] == [2]

    # Another allow pattern is another configuration: every file is scanned again.
    pyproject = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(
        pyproject.replace(
            'packages = ["pkg"]', 'packages = ["pkg"]\nsecrets.allow-paths = ["*.env"]'
        )
    )
    scanned.clear()
    fourth = security_scan(load_settings(root), state_dir=state, secrets_only=True)
    assert "pkg/good.py" in scanned
    assert not [j for j in fourth.judged if j.finding.tool == "secrets"]


def test_mypy_keeps_its_cache_under_the_state_folder(make_repo: Repo, tmp_path: Path) -> None:
    root = make_repo(PROJECT)
    state = ensure_state_dir(root)
    lint(load_settings(root), state_dir=state)
    folder = state / "cache" / "mypy"
    kept = [p for p in folder.rglob("*") if p.is_file() and p.parent.parent == folder]
    assert kept, "mypy wrote no incremental cache under .amoskys/cache/mypy"

    (root / "pyproject.toml").write_text(
        PROJECT["pyproject.toml"] + '\n[tool.mypy]\ncache_dir = "elsewhere"\n'
    )
    (mypy,) = [s for s in lint_specs(load_settings(root), state / "cache") if s.name == "mypy"]
    assert not any(a.startswith("--cache-dir") for a in mypy.args)


def test_findings_survive_the_round_trip_through_the_store(tmp_path: Path) -> None:
    finding = Finding(
        tool="flake8",
        rule="F401",
        severity=Severity.MEDIUM,
        category=Category.STYLE,
        message="'json' imported but unused",
        file="pkg/style.py",
        line=1,
        column=1,
        fingerprint="abc",
        aliases=("X-1",),
        extra={"notes": ("a", "b"), "n": 2},
    )
    assert finding_from_row(json.loads(json.dumps(finding_row(finding)))) == finding
    store = FileResults(tmp_path, "flake8", "k" * 64)
    store.put("pkg/style.py", "h1", [finding])
    store.save()
    again = FileResults(tmp_path, "flake8", "k" * 64)
    assert again.get("pkg/style.py", "h1") == [finding]
    assert again.get("pkg/style.py", "h2") is None  # other content
    assert FileResults(tmp_path, "flake8", "j" * 64).get("pkg/style.py", "h1") is None
    assert FileResults(tmp_path, "flake8", "k" * 64, read=False).get("pkg/style.py", "h1") is None


def test_each_tools_own_exclusions_are_applied(tmp_path: Path) -> None:
    files = ["pkg/a.py", "build/b.py", "pkg/gen/c.py", "pkg/d.pyi", "pkg/e.txt", "venv/x.py"]
    (tmp_path / "pyproject.toml").write_text("[tool.black]\nextend-exclude = '/gen/'\n")
    (tmp_path / ".flake8").write_text("[flake8]\nextend-exclude = gen,build\n")
    assert black_files(tmp_path, files) == ["pkg/a.py", "pkg/d.pyi"]
    assert flake8_files(tmp_path, files) == ["pkg/a.py", "venv/x.py"]


@pytest.mark.parametrize(
    "config",
    [
        "[flake8]\nmax-line-length = abc\n",  # a traceback (ValueError), exit 1
        "[flake8]\nper-file-ignores =\n  pkg/*.py E501\n  bad\n",  # 'critical error', exit 1
    ],
)
def test_flake8_that_stops_on_its_configuration_fails_the_style_gate(
    make_repo: Repo, config: str
) -> None:
    """The real flake8 exits 1 (as for findings) with only an error on stderr: its lines were
    'unrecognised', that warning counted as something read, and the style gate PASSED where
    a plain flake8 fails."""
    root = make_repo({**PROJECT, ".flake8": config, "pkg/style.py": "VALUE = 1\n"})
    settings = load_settings(root)
    linted = lint(settings, state_dir=ensure_state_dir(root), use_cache=True)
    flake8 = by_name(linted, "flake8")
    assert not flake8.ran and flake8.exit_code == 1, flake8
    assert "reported nothing readable" in flake8.why
    assert not linted.passed
    assert not list((root / ".amoskys" / "cache" / "lint").glob("flake8-*.json"))


def test_a_file_bandit_cannot_parse_fails_the_code_security_gate(make_repo: Repo) -> None:
    """Bandit skips a file it cannot parse (a syntax error, or grammar newer than the Python
    running it) and exits 0: code-security PASSED over code nothing had scanned."""
    root = make_repo({**PROJECT, "pkg/danger.py": "def f(:\n    return eval(x)\n"})
    settings = load_settings(root)
    scanned = security_scan(settings, state_dir=ensure_state_dir(root), use_cache=True)
    gate = next(g for g in scanned.verdict.gates if g.name == "code-security")
    assert not gate.passed, gate
    unscanned = [j for j in scanned.judged if j.finding.rule == "unscanned"]
    assert [f.finding.file for f in unscanned] == ["pkg/danger.py"]
    again = security_scan(settings, state_dir=ensure_state_dir(root), use_cache=True)
    assert not next(g for g in again.verdict.gates if g.name == "code-security").passed
