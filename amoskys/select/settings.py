"""``[tool.amoskys.select]``: whether pytest steps select tests, and where code and data are.

```toml
[tool.amoskys.select]
enabled = true                 # pytest in amoskys run's steps selects (amoskys test: --select)
data = ["src/pkg/templates/**"] # non-Python files the tests read that the map cannot see
packages = ["src/pkg"]          # default: src/<pkg> or <pkg>/ found in the project
tests = ["tests"]               # default: tests/ or test/ when present
run-all = ["scripts/gen_*.py"]  # more files whose change runs everything
module-level = "module"         # or "names": see SelectSettings.module_level
```
``enabled`` (default false) is read by ``amoskys run`` before anything runs (``--select`` /
``--no-select`` override it): every pytest its workflow steps start then selects tests as
``amoskys test --select affected`` does (:mod:`amoskys.select.in_run`). ``amoskys test`` itself
selects only when asked with ``--select affected``.

A change of a non-Python file under ``packages`` or ``tests`` runs every test unless a ``data``
glob declares it. Globs are root-relative POSIX paths; ``**`` spans folders and a glob without
``/`` matches a file name in any folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amoskys.checks.settings import detect_packages
from amoskys.config_section import PYPROJECT, Section, read_tool_table, section
from amoskys.errors import Location
from amoskys.select.selection import SelectSettings

KEYS = ("enabled", "data", "packages", "tests", "run-all", "module-level")
MODULE_LEVEL = ("module", "names")


@dataclass(frozen=True)
class SelectConfig:
    """The section as read: ``enabled`` plus the settings selection works with."""

    enabled: bool
    settings: SelectSettings


def _globs(table: Section, key: str) -> tuple[str, ...] | None:
    return table.strings(
        key, what="a list of paths or globs", hint=f'write {key} = ["src/pkg/data/**"]'
    )


def default_tests(root: Path) -> tuple[str, ...]:
    """``tests`` and/or ``test`` when those folders exist (tests inside the package are
    covered by the package path)."""
    return tuple(name for name in ("tests", "test") if (root / name).is_dir())


def parse_select_section(value: Any, root: Path, where: Location) -> SelectConfig:
    """Validate a ``[tool.amoskys.select]`` table (already parsed) into :class:`SelectConfig`."""
    table = section(
        value,
        "select",
        where,
        keys=KEYS,
        hint="write [tool.amoskys.select] with enabled = true and data = [...]",
        not_table="[{title}] must be a table",
        unknown="unknown key {title}.{first}",
        known="the keys are {keys}",
    )
    enabled = table.flag("enabled", False, hint="write enabled = true")
    module_level = table.choice(
        "module-level",
        "module",
        MODULE_LEVEL,
        hint='write module-level = "module" (every test of the file) or "names"',
    )
    packages = _globs(table, "packages") or detect_packages(root) or (".",)
    tests = _globs(table, "tests")
    if tests is None:
        tests = default_tests(root)
    return SelectConfig(
        enabled=enabled,
        settings=SelectSettings(
            data_globs=_globs(table, "data") or (),
            package_paths=packages,
            test_paths=tests,
            extra_run_all_globs=_globs(table, "run-all") or (),
            module_level=module_level,
        ),
    )


def load_select_config(root: Path) -> SelectConfig:
    """Read ``[tool.amoskys.select]`` from ``root/pyproject.toml``; defaults when absent."""
    amoskys = read_tool_table(root)
    return parse_select_section(amoskys.get("select"), root, Location(PYPROJECT))
