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

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amoskys.checks.settings import detect_packages
from amoskys.errors import ConfigError, Location
from amoskys.select.selection import SelectSettings

KEYS = ("enabled", "data", "packages", "tests", "run-all", "module-level")
MODULE_LEVEL = ("module", "names")


@dataclass(frozen=True)
class SelectConfig:
    """The section as read: ``enabled`` plus the settings selection works with."""

    enabled: bool
    settings: SelectSettings


def _globs(section: dict[str, Any], key: str, where: Location) -> tuple[str, ...] | None:
    value = section.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(
            f"tool.amoskys.select.{key} must be a list of paths or globs, got {value!r}",
            location=where,
            hint=f'write {key} = ["src/pkg/data/**"]',
        )
    return tuple(v.strip() for v in value)


def default_tests(root: Path) -> tuple[str, ...]:
    """``tests`` and/or ``test`` when those folders exist (tests inside the package are
    covered by the package path)."""
    return tuple(name for name in ("tests", "test") if (root / name).is_dir())


def parse_select_section(section: Any, root: Path, where: Location) -> SelectConfig:
    """Validate a ``[tool.amoskys.select]`` table (already parsed) into :class:`SelectConfig`."""
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ConfigError(
            "[tool.amoskys.select] must be a table",
            location=where,
            hint="write [tool.amoskys.select] with enabled = true and data = [...]",
        )
    unknown = sorted(set(section) - set(KEYS))
    if unknown:
        raise ConfigError(
            f"unknown key tool.amoskys.select.{unknown[0]}",
            location=where,
            hint="the keys are " + ", ".join(KEYS),
        )
    enabled = section.get("enabled", False)
    if not isinstance(enabled, bool):
        raise ConfigError(
            f"tool.amoskys.select.enabled must be true or false, got {enabled!r}",
            location=where,
            hint="write enabled = true",
        )
    module_level = section.get("module-level", "module")
    if module_level not in MODULE_LEVEL:
        raise ConfigError(
            f"tool.amoskys.select.module-level must be one of {', '.join(MODULE_LEVEL)},"
            f" got {module_level!r}",
            location=where,
            hint='write module-level = "module" (every test of the file) or "names"',
        )
    packages = _globs(section, "packages", where) or detect_packages(root) or (".",)
    tests = _globs(section, "tests", where)
    if tests is None:
        tests = default_tests(root)
    return SelectConfig(
        enabled=enabled,
        settings=SelectSettings(
            data_globs=_globs(section, "data", where) or (),
            package_paths=packages,
            test_paths=tests,
            extra_run_all_globs=_globs(section, "run-all", where) or (),
            module_level=module_level,
        ),
    )


def load_select_config(root: Path) -> SelectConfig:
    """Read ``[tool.amoskys.select]`` from ``root/pyproject.toml``; defaults when absent."""
    path = root / "pyproject.toml"
    where = Location("pyproject.toml")
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"pyproject.toml is not valid TOML: {err}", location=where) from None
        except UnicodeDecodeError:
            raise ConfigError("pyproject.toml is not UTF-8 text", location=where) from None
    tool = data.get("tool", {})
    amoskys = tool.get("amoskys", {}) if isinstance(tool, dict) else {}
    if not isinstance(amoskys, dict):
        raise ConfigError("[tool.amoskys] must be a table", location=where)
    return parse_select_section(amoskys.get("select"), root, where)
