"""``[tool.amoskys]`` in pyproject.toml: the project's settings for Amoskys.

Read once at the edge; everything downstream gets the frozen :class:`Config`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amoskys.errors import ConfigError, Location


@dataclass(frozen=True)
class Config:
    """The settings that exist so far; unknown sections are left for later stages."""

    runner_labels: tuple[str, ...] = ()  # [tool.amoskys.runners] labels = [...]
    pass_env: tuple[str, ...] = ()  # [tool.amoskys] pass-env = [...]
    pytest_probe: bool = True  # [tool.amoskys] pytest-probe = false leaves pytest alone
    raw: dict[str, Any] | None = None


def _string_list(value: Any, where: Location, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"{key} must be a list of strings, got {value!r}",
            location=where,
            hint=f'write {key} = ["..."]',
        )
    return tuple(value)


def load_config(root: Path) -> Config:
    """Read ``[tool.amoskys]`` from ``root/pyproject.toml``; defaults when absent."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return Config()
    where = Location(str(path.name))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"pyproject.toml is not valid TOML: {err}", location=where) from None
    except UnicodeDecodeError:
        raise ConfigError("pyproject.toml is not UTF-8 text", location=where) from None
    section = data.get("tool", {}).get("amoskys", {})
    if not isinstance(section, dict):
        raise ConfigError("[tool.amoskys] must be a table", location=where)
    labels: tuple[str, ...] = ()
    runners = section.get("runners", {})
    if isinstance(runners, dict):
        labels = _string_list(runners.get("labels", []), where, "tool.amoskys.runners.labels")
    elif isinstance(runners, list):
        labels = _string_list(runners, where, "tool.amoskys.runners")
    else:
        raise ConfigError(
            "tool.amoskys.runners must be a table with labels = [...]",
            location=where,
            hint='write [tool.amoskys.runners] labels = ["self-hosted"]',
        )
    pass_env = _string_list(section.get("pass-env", []), where, "tool.amoskys.pass-env")
    probe = section.get("pytest-probe", True)
    if not isinstance(probe, bool):
        raise ConfigError(
            f"tool.amoskys.pytest-probe must be true or false, got {probe!r}", location=where
        )
    return Config(runner_labels=labels, pass_env=pass_env, pytest_probe=probe, raw=section)
