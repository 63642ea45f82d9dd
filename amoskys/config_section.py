"""One ``[tool.amoskys.<name>]`` table, read and checked the same way by every reader.

:func:`read_tool_table` reads ``[tool.amoskys]`` from a project's pyproject.toml;
:func:`section` checks that a sub-table is a table of known keys, and the :class:`Section` it
returns hands out typed values. Every mistake is a :class:`ConfigError` at the pyproject's
location naming the key, the value found and what would be right:
``pyproject.toml: tool.amoskys.retry.attempts must be a whole number from 0 to 10, got -1``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from amoskys.errors import ConfigError, Location

PYPROJECT = "pyproject.toml"


def read_tool_table(root: Path) -> dict[str, Any]:
    """``[tool.amoskys]`` of ``root/pyproject.toml``; empty when the file or table is absent.

    A file that is not TOML or not UTF-8, or a ``tool.amoskys`` that is not a table, is a
    :class:`ConfigError`.
    """
    path = root / PYPROJECT
    where = Location(PYPROJECT)
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"pyproject.toml is not valid TOML: {err}", location=where) from None
    except UnicodeDecodeError:
        raise ConfigError("pyproject.toml is not UTF-8 text", location=where) from None
    tool = data.get("tool", {})
    table = tool.get("amoskys", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise ConfigError("[tool.amoskys] must be a table", location=where)
    return table


@dataclass(frozen=True)
class Section:
    """A checked ``[tool.amoskys.<name>]`` table; its getters give a key's value or default."""

    name: str  # "retry" for tool.amoskys.retry
    values: Mapping[str, Any]
    where: Location

    def key(self, key: str) -> str:
        """The key's full name, as messages say it: ``tool.amoskys.retry.attempts``."""
        return f"tool.amoskys.{self.name}.{key}"

    def wrong(self, key: str, what: str, value: Any, hint: str | None = None) -> ConfigError:
        """``<full key> must be <what>, got <value>`` at the section's location."""
        return ConfigError(
            f"{self.key(key)} must be {what}, got {value!r}", location=self.where, hint=hint
        )

    def flag(self, key: str, default: bool, *, hint: str | None = None) -> bool:
        """A true/false value."""
        value = self.values.get(key, default)
        if not isinstance(value, bool):
            raise self.wrong(key, "true or false", value, hint)
        return value

    def whole(
        self,
        key: str,
        default: int,
        *,
        valid: Callable[[int], bool],
        what: str,
        hint: str | None = None,
    ) -> int:
        """A whole number (not a boolean) that ``valid`` accepts; ``what`` says which."""
        value = self.values.get(key, default)
        if not _is_number(value, (int,)) or not valid(value):
            raise self.wrong(key, what, value, hint)
        return int(value)

    def number(
        self,
        key: str,
        default: float,
        *,
        valid: Callable[[float], bool],
        what: str,
        hint: str | None = None,
    ) -> float:
        """A number, whole or not (not a boolean), that ``valid`` accepts, as a float."""
        value = self.values.get(key, default)
        if not _is_number(value, (int, float)) or not valid(value):
            raise self.wrong(key, what, value, hint)
        return float(value)

    def choice(
        self, key: str, default: str, choices: Sequence[str], *, hint: str | None = None
    ) -> str:
        """One of ``choices``."""
        value = self.values.get(key, default)
        if value not in choices:
            raise self.wrong(key, f"one of {', '.join(choices)}", value, hint)
        return str(value)

    def strings(self, key: str, *, what: str, hint: str | None = None) -> tuple[str, ...] | None:
        """A list of non-blank strings (one string is a list of one), stripped; None when
        the key is absent."""
        value = self.values.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.wrong(key, what, value, hint)
        return tuple(v.strip() for v in value)


def _is_number(value: Any, types: tuple[type, ...]) -> bool:
    """TOML numbers of ``types``; ``true`` is a bool, never a number here."""
    return isinstance(value, types) and not isinstance(value, bool)


def section(
    value: Any,
    name: str,
    where: Location,
    *,
    keys: Sequence[str],
    hint: str,
    not_table: str = "{title} must be a table",
    unknown: str = "unknown key(s) in {title}: {unknown}",
    known: str = "known: {keys}",
) -> Section:
    """``value``, the parsed ``[tool.amoskys.<name>]`` (None when absent: every default),
    checked to be a table of ``keys`` only.

    ``hint`` says how to write the table. The messages' wording can be given (placeholders
    ``{title}``, ``{unknown}``: all unknown keys, ``{first}``: the first of them, ``{keys}``)
    so that a reader keeps the messages its users know.
    """
    title = f"tool.amoskys.{name}"
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ConfigError(not_table.format(title=title), location=where, hint=hint)
    extra = sorted(set(value) - set(keys))
    if extra:
        words = {"title": title, "unknown": ", ".join(extra), "first": extra[0]}
        raise ConfigError(
            unknown.format(**words), location=where, hint=known.format(keys=", ".join(keys))
        )
    return Section(name, value, where)
