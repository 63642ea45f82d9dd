"""The check commands on the command line: ``lint``, ``security-scan``, ``test``, ``vulndb``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import click

from amoskys.checks.commands import CheckOutcome, lint, run_tests, security_scan
from amoskys.checks.output import append_results, outcome_json, render_text
from amoskys.checks.settings import CheckSettings, load_settings
from amoskys.errors import AmoskysError

FORMATS = ("json", "sarif", "junit")


def _root() -> Path:
    from amoskys.run.workspace import repo_root

    try:
        return repo_root(Path.cwd())
    except AmoskysError:
        return Path.cwd()


def _state_dir(root: Path) -> Path:
    from amoskys.run.workspace import ensure_state_dir

    try:
        return ensure_state_dir(root)
    except AmoskysError:
        (root / ".amoskys").mkdir(exist_ok=True)
        return root / ".amoskys"


def _formatted(outcome: CheckOutcome, fmt: str, settings: CheckSettings) -> str:
    if fmt == "json":
        return json.dumps(outcome_json(outcome), indent=2)
    from amoskys.findings.sarif import to_junit_xml, to_sarif

    findings = [j.finding for j in outcome.judged]
    if fmt == "sarif":
        suppressed = {
            j.finding.fingerprint: j.suppression.reason
            for j in outcome.judged
            if j.suppression is not None
        }
        return json.dumps(to_sarif(findings, root=settings.root, suppressed=suppressed), indent=2)
    return to_junit_xml(findings)


def _finish(
    outcome: CheckOutcome, settings: CheckSettings, fmt: str | None, output: str | None
) -> int:
    append_results(outcome)
    text = render_text(outcome)
    if fmt is None:
        click.echo(text)
        if output:
            _write(Path(output), text)
    else:
        rendered = _formatted(outcome, fmt, settings)
        if output:
            _write(Path(output), rendered)
            click.echo(text)  # the file gets the format, the terminal the human report
        else:
            click.echo(rendered)
    return 0 if outcome.passed else 1


def _write(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    try:
        temp.write_text(text + "\n", encoding="utf-8")
        temp.replace(path)
    except OSError as err:
        temp.unlink(missing_ok=True)
        raise AmoskysError(f"cannot write {path}: {err.strerror}") from None


def _report_options(func: Callable[..., int]) -> Callable[..., int]:
    func = click.option(
        "--output", type=click.Path(dir_okay=False), help="Also write the report to FILE."
    )(func)
    func = click.option(
        "--report", "fmt", type=click.Choice(FORMATS), help="json, sarif or junit."
    )(func)
    return func


_NO_CACHE_HELP = "Check every file, not only those changed since the cached results."


@click.command(name="lint")
@click.option("--no-cache", is_flag=True, help=_NO_CACHE_HELP)
@_report_options
def lint_command(no_cache: bool, fmt: str | None, output: str | None) -> int:
    """Black, isort, flake8 and mypy in parallel; exit 1 when a gate fails."""
    root = _root()
    settings = load_settings(root)
    outcome = lint(settings, state_dir=_state_dir(root), use_cache=not no_cache)
    return _finish(outcome, settings, fmt, output)


@click.command(name="security-scan")
@click.option("--secrets-only", is_flag=True, help="Only the secret scan.")
@click.option("--staged", is_flag=True, help="Scan staged changes (for the pre-commit hook).")
@click.option("--no-cache", is_flag=True, help=_NO_CACHE_HELP)
@_report_options
def security_scan_command(
    secrets_only: bool, staged: bool, no_cache: bool, fmt: str | None, output: str | None
) -> int:
    """Bandit, offline vulnerabilities, secrets (pip-audit and Safety when installed)."""
    root = _root()
    settings = load_settings(root)
    outcome = security_scan(
        settings,
        state_dir=_state_dir(root),
        secrets_only=secrets_only,
        staged=staged,
        use_cache=not no_cache,
    )
    return _finish(outcome, settings, fmt, output)


@click.command(name="test", context_settings={"ignore_unknown_options": True})
@click.option(
    "--select",
    type=click.Choice(("affected", "all")),
    default="all",
    show_default=True,
    help="affected: only the tests the change since the last recorded commit can affect; "
    "all: every test, recording which code each runs.",
)
@click.option("--fail-fast", is_flag=True, help="Stop at the first failing test.")
@click.option(
    "-n",
    "workers",
    default="1",
    metavar="auto|N",
    help="Split the tests over N pytest processes, balanced by recorded durations.",
)
@click.option("--why", is_flag=True, help="Say why each selected test runs.")
@click.option("--explain", multiple=True, metavar="NODEID", help="Say why this test runs or not.")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
@_report_options
def test_command(
    select: str,
    fail_fast: bool,
    workers: str,
    why: bool,
    explain: tuple[str, ...],
    pytest_args: tuple[str, ...],
    fmt: str | None,
    output: str | None,
) -> int:
    """pytest with coverage; the gate wants every test passing and the coverage threshold."""
    from amoskys.select.runner import SelectOptions, check_workers

    root = _root()
    settings = load_settings(root)
    options = SelectOptions(
        select=select,
        fail_fast=fail_fast,
        workers=check_workers(workers),
        why=why,
        explain=explain,
    )
    outcome = run_tests(
        settings,
        pytest_args=pytest_args,
        show=click.echo,
        options=options,
        state_dir=_state_dir(root),
    )
    return _finish(outcome, settings, fmt, output)


@click.group(name="vulndb")
def vulndb_group() -> None:
    """The offline vulnerability database (OSV records for PyPI)."""


@vulndb_group.command(name="update")
@click.option(
    "--from",
    "source",
    default=None,
    help="A folder or zip of OSV records, or a URL (default: OSV's PyPI export).",
)
def vulndb_update(source: str | None) -> int:
    """Load OSV records into the local index used by `amoskys security-scan`."""
    from amoskys.security.scan import update_vulndb

    root = _root()
    message = update_vulndb(load_settings(root), _state_dir(root), source)
    click.echo(message)
    return 0


COMMANDS = (lint_command, security_scan_command, test_command, vulndb_group)
