"""The one family of expected errors: each carries where it happened and what would be right.

Every error a user can cause is an :class:`AmoskysError` (exit code 2). Anything else that
escapes is a bug: the CLI prints one line, writes a crash log and exits 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

EXIT_INPUT_ERROR = 2


@dataclass(frozen=True, order=True)
class Location:
    """A position in a file; ``line`` and ``col`` are 1-based, as editors count them."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.path
        if self.col <= 0:
            return f"{self.path}:{self.line}"
        return f"{self.path}:{self.line}:{self.col}"

    def shifted(self, columns: int) -> Location:
        """The same line, ``columns`` further right (for an offset inside a scalar)."""
        return Location(self.path, self.line, self.col + columns)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: ``path:line:col: message; hint``."""

    message: str
    location: Location | None = None
    hint: str | None = None

    def __str__(self) -> str:
        text = self.message
        if self.hint:
            text = f"{text}; {self.hint}"
        if self.location is not None:
            text = f"{self.location}: {text}"
        return text


class AmoskysError(Exception):
    """An error in what the user gave us. Printed without a traceback; exit code 2."""

    exit_code = EXIT_INPUT_ERROR

    def __init__(
        self, message: str, *, location: Location | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    @property
    def problems(self) -> tuple[Problem, ...]:
        return (Problem(self.message, self.location, self.hint),)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class ProblemsError(AmoskysError):
    """Several problems found in one pass (all of a file's mistakes at once)."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        found = tuple(problems)
        if not found:
            raise ValueError("ProblemsError needs at least one problem")
        first = found[0]
        super().__init__(first.message, location=first.location, hint=first.hint)
        self._problems = found

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self._problems


class WorkflowError(ProblemsError):
    """A workflow or action file that is not valid."""


class ExpressionError(AmoskysError):
    """An expression that cannot be parsed or evaluated.

    ``offset`` is the 0-based character offset inside the expression text where the problem
    is, so callers that know where the text sits in a file can point at the exact column.
    """

    def __init__(
        self,
        message: str,
        *,
        offset: int = 0,
        expression: str = "",
        location: Location | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, location=location, hint=hint)
        self.offset = offset
        self.expression = expression


class HistoryError(AmoskysError):
    """The history database refused a read or a write for a reason outside Amoskys: a
    read-only, removed or damaged file, a full disk, an I/O error, a lost server."""


class ConfigError(AmoskysError):
    """Bad configuration in ``[tool.amoskys]`` or on the command line."""
