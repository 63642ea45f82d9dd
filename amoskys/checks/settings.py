"""What the check commands look at: ``[tool.amoskys]`` paths, gates and suppressions.

Defaults follow the seed: Black, isort and flake8 over the package and the tests
(``black --check amoskys/ tests/``), mypy and Bandit over the package only.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amoskys.collect.flakiness import FlakyConfig, parse_flaky
from amoskys.config_section import PYPROJECT, read_tool_table
from amoskys.errors import ConfigError, Location
from amoskys.gates import GatesConfig, parse_gates
from amoskys.run.transient import RetryConfig, parse_retry
from amoskys.suppress import Suppression, parse_suppressions

_SKIP = {"tests", "test", "docs", "doc", "bench", "build", "dist", "examples", "scripts"}


@dataclass(frozen=True)
class CheckSettings:
    root: Path
    packages: tuple[str, ...]  # mypy, Bandit, coverage
    paths: tuple[str, ...]  # Black, isort, flake8: packages plus tests
    tests: tuple[str, ...]  # pytest
    gates: GatesConfig = GatesConfig()
    suppressions: tuple[Suppression, ...] = ()
    vulndb: str | None = None  # folder of the offline vulnerability index
    flaky: FlakyConfig = FlakyConfig()  # [tool.amoskys.flaky]: re-runs and quarantine
    retry: RetryConfig = RetryConfig()  # [tool.amoskys.retry]: transient step failures
    raw: dict[str, Any] = field(default_factory=dict)


def detect_packages(root: Path) -> tuple[str, ...]:
    """Top-level importable packages (flat or ``src/`` layout), tests excluded."""
    found: list[str] = []
    for base in (root / "src", root):
        if not base.is_dir():
            continue
        for child in sorted(base.iterdir()):
            if child.name in _SKIP or child.name.startswith("."):
                continue
            if child.is_dir() and (child / "__init__.py").is_file():
                found.append(child.relative_to(root).as_posix())
        if found:
            break
    return tuple(found)


def _strings(section: dict[str, Any], key: str, where: Location) -> tuple[str, ...] | None:
    value = section.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"tool.amoskys.{key} must be a list of paths", location=where)
    return tuple(value)


def pytest_testpaths(root: Path) -> tuple[str, ...] | None:
    """The ``testpaths`` of the project's pytest configuration, read from the file pytest
    itself would take (pytest.ini, .pytest.ini, pyproject.toml, tox.ini, setup.cfg: the
    first that configures pytest); None when it sets none.

    ``amoskys test`` names the folders pytest collects, and named folders replace
    ``testpaths``: without this, tests that a plain ``pytest`` runs (say under ``src/``)
    would not run at all, and could not fail the gate.
    """
    for name, table in (
        ("pytest.ini", "pytest"),
        (".pytest.ini", "pytest"),
        ("pyproject.toml", None),
        ("tox.ini", "pytest"),
        ("setup.cfg", "tool:pytest"),
    ):
        path = root / name
        if not path.is_file():
            continue
        if table is None:
            from amoskys.checks.targets import pyproject_section

            tool = pyproject_section(root, "tool", "pytest")
            if not isinstance(tool, dict):
                continue
            options = tool.get("ini_options", tool)
            value = options.get("testpaths") if isinstance(options, dict) else None
            if isinstance(value, str):
                value = value.split()
            if not isinstance(value, list):
                return None
            values = [str(v) for v in value]
        else:
            parser = configparser.ConfigParser(interpolation=None)
            try:
                parser.read(path, encoding="utf-8")
            except (configparser.Error, UnicodeDecodeError):
                continue
            if not parser.has_section(table):
                if name.startswith(("pytest", ".pytest")):
                    return None  # pytest.ini is pytest's file even without the section
                continue
            values = parser.get(table, "testpaths", fallback="").split()
        return _expanded(root, values) or None
    return None


def _expanded(root: Path, patterns: list[str]) -> tuple[str, ...]:
    """``testpaths`` entries as pytest reads them: globs are expanded (in order, sorted)."""
    found: list[str] = []
    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            found.extend(sorted(p.relative_to(root).as_posix() for p in root.glob(pattern)))
        else:
            found.append(pattern)
    return tuple(found)


def load_settings(root: Path) -> CheckSettings:
    """Read ``pyproject.toml``; bad values are configuration errors (exit 2). The tests
    pytest runs are ``[tool.amoskys] tests``, else the project's pytest ``testpaths``,
    else ``tests/`` or ``test/``."""
    where = Location(PYPROJECT)
    section = read_tool_table(root)
    packages = _strings(section, "packages", where) or detect_packages(root)
    found = tuple(name for name in ("tests", "test") if (root / name).is_dir())
    paths = _strings(section, "paths", where) or (packages + found) or (".",)
    tests = _strings(section, "tests", where) or pytest_testpaths(root) or found
    vulndb = section.get("vulndb")
    if vulndb is not None and not isinstance(vulndb, str):
        raise ConfigError("tool.amoskys.vulndb must be a folder path", location=where)
    return CheckSettings(
        root=root,
        packages=packages or (".",),
        paths=paths,
        tests=tests,
        gates=parse_gates(section.get("gates"), where),
        suppressions=parse_suppressions(section.get("suppress"), where),
        vulndb=vulndb,
        flaky=parse_flaky(section.get("flaky"), where),
        retry=parse_retry(section.get("retry"), where),
        raw=section,
    )
