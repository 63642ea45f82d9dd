"""``amoskys init``: give a project the brief's pipeline, with amoskys commands as its gates.

It writes four files, each only where none exists (``--force`` overwrites):

* ``.github/workflows/ci-cd.yml``: the seed's jobs and triggers (plus ``workflow_dispatch``)
  whose steps run ``amoskys lint``, ``amoskys security-scan`` and ``amoskys test``, so GitHub
  and ``amoskys run`` on this machine reach the same verdict;
* ``.github/dependabot.yml``: the seed's weekly pip updates;
* ``Makefile``: ``lint``, ``security-scan``, ``test`` and ``ci-local`` (``amoskys run``);
* ``.pre-commit-config.yaml``: ``repo: local`` hooks running the amoskys on PATH, so
  pre-commit needs no network.

Every job installs amoskys with ``pip install "${AMOSKYS_PIP_SPEC:-amoskys==VERSION}"``: on
GitHub the default (or ``--amoskys-spec``), on this machine whatever ``AMOSKYS_PIP_SPEC``
names (a checkout, a wheel) once it is listed in ``[tool.amoskys] pass-env``.

The commands take no paths in these files: what they check comes from ``[tool.amoskys]``
(``packages``, ``tests``) or the detected layout, one source for CI, ``make`` and the hooks.

All files are staged as temporary files beside their targets first and then renamed into
place, so nothing is ever half written; if any of them cannot be written, none is.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import click

from amoskys import __version__
from amoskys.errors import AmoskysError, ConfigError

WORKFLOW_PATH = ".github/workflows/ci-cd.yml"
DEPENDABOT_PATH = ".github/dependabot.yml"
MAKEFILE_PATH = "Makefile"
PRE_COMMIT_PATH = ".pre-commit-config.yaml"

DEFAULT_PYTHONS = ("3.11", "3.12", "3.13")
SINGLE_JOB_PYTHON = "3.12"  # the seed's code-quality and security-scan jobs run on it
MATRIX_OS = ("ubuntu-latest", "windows-latest", "macOS-latest")
SECRETS_SCAN = "amoskys security-scan --secrets-only --staged"

_VERSION = re.compile(r"^[0-9]+\.[0-9]+(\.[0-9]+)?$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# What may stand inside "${AMOSKYS_PIP_SPEC:-...}" in bash: no quote, $, `, \ or }.
_PIP_SPEC = re.compile(r"^[A-Za-z0-9_.+\-\[\]=<>!~,:/@#%& ]+$")


@dataclass(frozen=True)
class Options:
    pythons: tuple[str, ...] = DEFAULT_PYTHONS
    amoskys_spec: str = f"amoskys=={__version__}"


@dataclass
class Outcome:
    written: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


# ---------------------------------------------------------------- what the gates check


def package_path(root: Path, package: str) -> str:
    """``src/<package>`` in a src layout (or where it already is), else ``<package>``."""
    if not _IDENTIFIER.match(package):
        raise ConfigError(
            f"--package {package!r} is not a Python import name",
            hint="write --package my_package (letters, digits and _)",
        )
    if (root / package).is_dir() and not (root / "src" / package).is_dir():
        return package
    return f"src/{package}" if (root / "src").is_dir() else package


def describe_checks(root: Path, package: str | None) -> list[str]:
    """What the gates will check here, and what to add to pyproject.toml for ``package``.

    The generated files call the commands without paths: ``amoskys lint``, ``security-scan``
    and ``test`` read ``[tool.amoskys] packages``/``tests`` or detect the layout, so the
    workflow, the Makefile and the hooks always check the same code. ``init`` never edits
    pyproject.toml; for ``--package`` it prints the lines to set there.
    """
    from amoskys.checks.settings import load_settings

    settings = load_settings(root)
    lines: list[str] = []
    if package is not None:
        wanted = package_path(root, package)
        if settings.packages != (wanted,):
            lines.append(
                f"to check {wanted}, set in pyproject.toml:\n"
                f'  [tool.amoskys]\n  packages = ["{wanted}"]'
            )
        if not (root / wanted).is_dir():
            lines.append(f"note: {wanted}/ does not exist yet")
    packages = [p for p in settings.packages if p != "."]
    tests = ", ".join(settings.tests) or "none found"
    label = "package" if len(packages) == 1 else "packages"
    checked = f"{label} {', '.join(packages)}" if packages else "the whole folder (none found yet)"
    lines.insert(0, f"the gates check {checked}; tests: {tests}")
    return lines


def check_options(pythons: Sequence[str], amoskys_spec: str | None) -> Options:
    """Validated options (they end up inside YAML, bash and make: nothing may break out)."""
    versions: list[str] = []
    for version in pythons:
        if not _VERSION.match(version):
            raise ConfigError(
                f"--python {version!r} is not a version like 3.12",
                hint="write --python 3.11 --python 3.12",
            )
        if version not in versions:
            versions.append(version)
    spec = f"amoskys=={__version__}" if amoskys_spec is None else amoskys_spec.strip()
    if not spec or not _PIP_SPEC.match(spec):
        raise ConfigError(
            f"--amoskys-spec {amoskys_spec!r} is not a pip requirement amoskys can write",
            hint="a name with a version, a path or a URL, without quotes, $, `, \\ or }",
        )
    return Options(pythons=tuple(versions) or DEFAULT_PYTHONS, amoskys_spec=spec)


# ---------------------------------------------------------------- the files


_LINT_TOOLS = ("black", "isort", "flake8", "mypy")
_SEC_TOOLS = ("bandit", "pip-audit", "safety")
_TEST_TOOLS = ("pytest", "pytest-cov")


def _install_step(name: str, spec: str, tools: Sequence[str]) -> str:
    """A run step installing amoskys, ``tools`` and the project with its requirements."""
    extra = " ".join(tools)
    return f"""      - name: {name}
        run: |
          python -m pip install "${{AMOSKYS_PIP_SPEC:-{spec}}}" {extra}
          if [ -f requirements.txt ]; then python -m pip install -r requirements.txt; fi
          if [ -f setup.py ] || grep -qs '^\\[project\\]' pyproject.toml; then
            python -m pip install -e .
          fi
"""


def _setup_python(version: str, label: str = "Set up Python") -> str:
    return f"""      - uses: actions/checkout@v4
      - name: {label}
        uses: actions/setup-python@v5
        with:
          python-version: {version}
"""


def _flow(items: Sequence[str], quote: bool = False) -> str:
    return "[" + ", ".join(f"'{i}'" if quote else i for i in items) + "]"


def render_workflow(options: Options) -> str:
    spec = options.amoskys_spec
    single = SINGLE_JOB_PYTHON if SINGLE_JOB_PYTHON in options.pythons else options.pythons[-1]
    return (
        f"""# Generated by `amoskys init` (amoskys {__version__}). Each gate is an amoskys command,
# so `amoskys run` (or `make ci-local`) on your machine gives the verdict GitHub gives.
#
# Every job installs amoskys with pip from "${{AMOSKYS_PIP_SPEC:-{spec}}}". For a
# local run from a checkout or a wheel, export AMOSKYS_PIP_SPEC=/path/to/it and let it through
# to the steps with `pass-env = ["AMOSKYS_PIP_SPEC"]` under [tool.amoskys] in pyproject.toml.
# The security scan matches your pins against an offline OSV database: on GitHub the job
# downloads it; for local runs, `amoskys vulndb update` once (--from DIR|ZIP offline).
name: CI/CD Pipeline
on:
  push:
    branches: [main, develop]
  pull_request:
    branches: [main]
  schedule:
    - cron: '0 6 * * 1'  # Weekly Monday 6 AM UTC
  workflow_dispatch:

permissions:
  contents: read

defaults:
  run:
    shell: bash  # one shell on Linux, macOS and Windows

jobs:
  code-quality:
    runs-on: ubuntu-latest
    steps:
"""
        + _setup_python(f"'{single}'")
        + _install_step("Install amoskys, the linters and the project", spec, _LINT_TOOLS)
        + """      - name: Lint (Black, isort, flake8, mypy)
        run: amoskys lint

  security-scan:
    runs-on: ubuntu-latest
    steps:
"""
        + _setup_python(f"'{single}'")
        + _install_step("Install amoskys, the security tools and the project", spec, _SEC_TOOLS)
        + f"""      - name: Vulnerability database (OSV; a local run uses the project's own)
        run: |
          if [ -z "${{AMOSKYS_RUN_ID:-}}" ]; then amoskys vulndb update; fi
      - name: Security scan (Bandit, vulnerabilities, secrets)
        run: amoskys security-scan

  test-matrix:
    runs-on: ${{{{ matrix.os }}}}
    strategy:
      matrix:
        os: {_flow(MATRIX_OS)}
        python-version: {_flow(options.pythons, quote=True)}
    steps:
"""
        + _setup_python(
            "${{ matrix.python-version }}", "Set up Python ${{ matrix.python-version }}"
        )
        + _install_step("Install amoskys, pytest and the project", spec, _TEST_TOOLS)
        + """      - name: Tests with coverage
        run: amoskys test
      - name: Upload coverage
        uses: codecov/codecov-action@v4
        with:
          fail_ci_if_error: false
"""
    )


DEPENDABOT = """# Generated by `amoskys init`: weekly pip updates, as in the AMOSKYS CI/CD brief.
# Put your own team under reviewers.
version: 2
updates:
  - package-ecosystem: "pip"
    directory: "/"
    schedule:
      interval: "weekly"
      day: "monday"
      time: "06:00"
    open-pull-requests-limit: 5
    reviewers:
      - "amoskys-team"
    labels:
      - "dependencies"
      - "security"
"""


def render_makefile() -> str:
    return """# Generated by `amoskys init`. Each target runs what the matching CI job runs, so
# `make ci-local` (the whole pipeline, `amoskys run`) gives GitHub's verdict before you push.
AMOSKYS ?= amoskys

.PHONY: lint security-scan test ci-local

lint:
\t$(AMOSKYS) lint

security-scan:
\t$(AMOSKYS) security-scan

test:
\t$(AMOSKYS) test

ci-local:
\t$(AMOSKYS) run
"""


def render_pre_commit() -> str:
    return f"""# Generated by `amoskys init`. The hooks run the amoskys on your PATH (repo: local,
# language: system): nothing is downloaded. Enable them with `pre-commit install`.
minimum_pre_commit_version: "3.2.0"
repos:
  - repo: local
    hooks:
      - id: amoskys-lint
        name: amoskys lint (Black, isort, flake8, mypy)
        entry: amoskys lint
        language: system
        types: [python]
        pass_filenames: false  # the whole project, as CI checks it (mypy needs all of it)
      - id: amoskys-secrets
        name: amoskys secret scan of the staged changes
        entry: {SECRETS_SCAN}
        language: system
        types: [text]
        pass_filenames: false  # it reads what is staged itself
        stages: [pre-commit]
"""


def render_files(options: Options) -> list[tuple[str, str]]:
    """(path relative to the project, text) for every file ``init`` writes, in that order."""
    return [
        (WORKFLOW_PATH, render_workflow(options)),
        (DEPENDABOT_PATH, DEPENDABOT),
        (MAKEFILE_PATH, render_makefile()),
        (PRE_COMMIT_PATH, render_pre_commit()),
    ]


# ---------------------------------------------------------------- writing, all or nothing


def _default_mode() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@dataclass
class _Staged:
    rel: str
    target: Path
    temp: Path
    replaces: bool
    backup: Path | None = None
    done: bool = False


def _stage(root: Path, rel: str, text: str, replaces: bool, made: list[Path]) -> _Staged:
    target = root / rel
    missing: list[Path] = []
    parent = target.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    for folder in reversed(missing):
        folder.mkdir()
        made.append(folder)
    mode = (target.stat().st_mode & 0o7777) if replaces else _default_mode()
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    temp = Path(name)
    staged = _Staged(rel, target, temp, replaces)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(text.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return staged


def _commit(item: _Staged, force: bool) -> bool:
    """Rename the staged file into place; False when (without --force) a file appeared."""
    if item.replaces:
        backup = item.temp.with_name(item.temp.name[: -len(".tmp")] + ".bak")
        try:
            os.link(item.target, backup)  # the old file stays reachable for a roll-back
            item.backup = backup
        except OSError:
            item.backup = None  # no hard links here: the replacement is still atomic
        os.replace(item.temp, item.target)
        item.done = True
        return True
    if not force:
        try:
            os.link(item.temp, item.target)  # fails if the target exists: never overwrites
        except FileExistsError:
            item.temp.unlink(missing_ok=True)
            return False
        except OSError:
            if item.target.exists():
                item.temp.unlink(missing_ok=True)
                return False
            os.replace(item.temp, item.target)
        else:
            item.temp.unlink(missing_ok=True)
        item.done = True
        return True
    os.replace(item.temp, item.target)
    item.done = True
    return True


def _roll_back(staged: Sequence[_Staged], made: Sequence[Path]) -> None:
    """Undo what is done, best effort: every step is tried even when one fails."""
    for item in staged:
        with contextlib.suppress(OSError):
            if item.done and item.backup is not None:
                os.replace(item.backup, item.target)
            elif item.done and not item.replaces:
                item.target.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            item.temp.unlink(missing_ok=True)
        if item.backup is not None:
            with contextlib.suppress(OSError):
                item.backup.unlink(missing_ok=True)
    for folder in reversed(made):
        with contextlib.suppress(OSError):
            folder.rmdir()  # fails when not empty (someone else wrote there): left alone


def write_files(root: Path, files: Sequence[tuple[str, str]], force: bool) -> Outcome:
    """Write ``files`` under ``root``: new ones always, existing ones only with ``force``.

    Raises :class:`AmoskysError` when a file cannot be written; then none is.
    """
    outcome = Outcome()
    wanted: list[tuple[str, str, bool]] = []
    for rel, text in files:
        target = root / rel
        exists = target.exists() or target.is_symlink()
        if exists and target.is_dir():
            if not force:
                outcome.skipped.append((rel, "a folder of that name exists"))
                continue
            raise AmoskysError(
                f"{rel} is a folder, not a file", hint="move it away, then run amoskys init"
            )
        if exists and not force:
            outcome.skipped.append((rel, "it exists (--force overwrites it)"))
            continue
        wanted.append((rel, text, exists))
    staged: list[_Staged] = []
    made: list[Path] = []
    current = ""
    try:
        for rel, text, exists in wanted:
            current = rel
            staged.append(_stage(root, rel, text, exists, made))
        for item in staged:
            current = item.rel
            if _commit(item, force):
                outcome.written.append(item.rel)
            else:
                outcome.skipped.append((item.rel, "it appeared while amoskys init ran"))
    except BaseException as err:  # interrupted too: never leave staged files behind
        _roll_back(staged, made)
        if not isinstance(err, OSError):
            raise
        reason = err.strerror or str(err)
        raise AmoskysError(
            f"cannot write {current}: {reason}",
            hint="nothing was written; make the folder writable and run amoskys init again",
        ) from None
    for item in staged:
        if item.backup is not None:
            item.backup.unlink(missing_ok=True)
    return outcome


# ---------------------------------------------------------------- the command


def _root() -> Path:
    from amoskys.run.workspace import repo_root

    try:
        return repo_root(Path.cwd())
    except AmoskysError:
        return Path.cwd()


@click.command(name="init")
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@click.option(
    "--python",
    "pythons",
    multiple=True,
    metavar="VERSION",
    help="A Python of the test matrix (repeatable; default 3.11, 3.12, 3.13).",
)
@click.option(
    "--package",
    default=None,
    help="The package the gates should check: prints the pyproject.toml lines for it.",
)
@click.option(
    "--amoskys-spec",
    default=None,
    metavar="SPEC",
    help=f"What the workflow pip-installs as amoskys (default amoskys=={__version__}).",
)
def init_command(
    force: bool, pythons: tuple[str, ...], package: str | None, amoskys_spec: str | None
) -> int:
    """Write the CI workflow, Dependabot config, Makefile and pre-commit config."""
    options = check_options(pythons, amoskys_spec)
    root = _root()
    checks = describe_checks(root, package)  # bad --package or pyproject: exit 2, no file
    outcome = write_files(root, render_files(options), force)
    for rel in outcome.written:
        click.echo(f"wrote {rel}")
    for rel, why in outcome.skipped:
        click.echo(f"skipped {rel}: {why}")
    if not outcome.written:
        click.echo("nothing written: every file exists; run amoskys init --force to rewrite them")
    for line in checks:
        click.echo(line)
    if outcome.written:
        click.echo(
            "next: amoskys vulndb update (once, for the security scan); make ci-local (the "
            "pipeline here); pre-commit install (the hooks)"
        )
    return 0


INIT_COMMANDS = (init_command,)
