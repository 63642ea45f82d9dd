"""What the check commands look at: ``[tool.amoskys]`` paths, gates and suppressions.

Defaults follow the seed: Black, isort and flake8 over the package and the tests
(``black --check amoskys/ tests/``), mypy and Bandit over the package only.
"""

from __future__ import annotations

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


def load_settings(root: Path) -> CheckSettings:
    """Read ``pyproject.toml``; bad values are configuration errors (exit 2)."""
    where = Location(PYPROJECT)
    section = read_tool_table(root)
    packages = _strings(section, "packages", where) or detect_packages(root)
    tests = _strings(section, "tests", where) or tuple(
        name for name in ("tests", "test") if (root / name).is_dir()
    )
    paths = _strings(section, "paths", where) or (packages + tests) or (".",)
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
