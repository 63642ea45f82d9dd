"""What every collector shares: the result type, paths relative to the project root, the
text of a file's lines (read once, cached), fingerprints, and JSON that may be damaged.

A collector is a pure function from a tool's output (text) and the project root to a
:class:`Collected`; it never raises for bad input. Reading lines of files under the root is
its only contact with the file system, and only to compute fingerprints and to find the line
of a dependency in a manifest.
"""

from __future__ import annotations

import functools
import json
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import NamedTuple, ParamSpec

from amoskys.findings.model import Finding, FindingsProblem, with_fingerprint

MAX_SOURCE_BYTES = 8 * 1024 * 1024
"""Files bigger than this are not read for line text (the message is used instead)."""

MAX_MESSAGE_CHARS = 4096
"""Messages longer than this are cut (the head is kept)."""


class Collected(NamedTuple):
    """What a collector read: the findings, and what it could not read."""

    findings: list[Finding]
    problems: list[FindingsProblem]


class LineCache:
    """The lines of files under ``root``, each file read at most once.

    Share one between collectors of the same run to read each file once in all. Paths that
    lead outside the root, missing, unreadable or too big files give ``None``.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._resolved_root: Path | None = None
        self._files: dict[str, list[str] | None] = {}

    def lines(self, file: str) -> list[str] | None:
        """All the lines of ``file`` (relative to the root), without line endings."""
        if file in self._files:
            return self._files[file]
        found = self._read(file)
        self._files[file] = found
        return found

    def line(self, file: str | None, number: int | None) -> str | None:
        """Line ``number`` (1-based) of ``file``, or ``None``."""
        if file is None or number is None or number < 1:
            return None
        lines = self.lines(file)
        if lines is None or number > len(lines):
            return None
        return lines[number - 1]

    def _read(self, file: str) -> list[str] | None:
        if not file or PurePosixPath(file).is_absolute() or PureWindowsPath(file).is_absolute():
            return None
        try:
            if self._resolved_root is None:
                self._resolved_root = self.root.resolve()
            path = (self._resolved_root / file).resolve()
            if not path.is_relative_to(self._resolved_root) or not path.is_file():
                return None
            if path.stat().st_size > MAX_SOURCE_BYTES:
                return None
            data = path.read_bytes()
        except (OSError, RuntimeError, ValueError):
            return None
        return data.decode("utf-8", errors="replace").splitlines()


_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def relative_path(path: str, root: Path) -> str:
    """``path`` as a tool printed it, as a POSIX path relative to ``root``.

    Absolute paths under the root (also under its resolved form) become relative; other
    absolute paths are kept (POSIX form). Relative paths are taken as relative to the root
    (tools run there) and normalised: ``./a/../b.py`` -> ``b.py``. Backslashes of Windows
    paths become slashes.
    """
    text = path.strip()
    if not text:
        return text
    if "\\" in text and ("/" not in text or _DRIVE.match(text)):
        text = text.replace("\\", "/")
    candidate = PurePosixPath(text)
    if candidate.is_absolute() or _DRIVE.match(text):
        for base in _roots(root):
            try:
                inside = PurePosixPath(posixpath.normpath(text)).relative_to(base)
            except ValueError:
                continue
            return inside.as_posix() if str(inside) != "." else text
        return posixpath.normpath(text) if candidate.is_absolute() else text
    normal = posixpath.normpath(text)
    return normal


@functools.lru_cache(maxsize=64)
def _roots_cached(root: str) -> tuple[PurePosixPath, ...]:
    given = Path(root)
    bases = [PurePosixPath(given.absolute().as_posix())]
    try:
        resolved = PurePosixPath(given.resolve().as_posix())
    except (OSError, RuntimeError):
        resolved = bases[0]
    if resolved not in bases:
        bases.append(resolved)
    return tuple(bases)


def _roots(root: Path) -> tuple[PurePosixPath, ...]:
    return _roots_cached(str(root))


class Pending(NamedTuple):
    """A finding before its fingerprint, and text to hash when its line cannot be read."""

    finding: Finding
    fallback: str | None = None  # e.g. flake8-json's physical_line, a SARIF snippet
    use_line: bool = True  # False: hash the fallback even when the line can be read


def fingerprinted(pending: Iterable[Pending], lines: LineCache) -> list[Finding]:
    """The findings with fingerprints, in the same order.

    The hashed text is the finding's line read from the file under the root when it exists
    (unless ``use_line`` is false), else the fallback text, else the message. Findings that
    would share a fingerprint (the same rule twice on one line, or on two identical lines) get
    an occurrence number mixed in, in the order they come, so each keeps an id of its own.
    """
    done: list[Finding] = []
    seen: dict[str, int] = {}
    for item in pending:
        finding = item.finding
        text = lines.line(finding.file, finding.line) if item.use_line else None
        if text is None:
            text = item.fallback if item.fallback is not None else finding.message
        first = with_fingerprint(finding, text)
        count = seen.get(first.fingerprint, 0)
        seen[first.fingerprint] = count + 1
        done.append(first if count == 0 else with_fingerprint(finding, text, str(count)))
    return done


def clip(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``message`` without surrounding space, cut to ``limit`` characters."""
    text = message.strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "\u2026"


def first_line(text: str, limit: int = 300) -> str:
    """The first non-empty line of ``text``, cut to ``limit`` characters."""
    for line in text.splitlines():
        if line.strip():
            return clip(line, limit)
    return ""


def load_json(text: str, source: str) -> tuple[object, FindingsProblem | None]:
    """``text`` parsed as JSON; on failure ``(None, problem)``.

    Tools sometimes print a banner before their JSON (Safety's deprecation notice): when the
    whole text is not JSON, the first line that starts with ``{`` or ``[`` is tried.
    """
    if not isinstance(text, str):
        return None, FindingsProblem(source, f"expected text, got {type(text).__name__}")
    text = text.lstrip("\ufeff")
    if not text.strip():
        return None, FindingsProblem(source, "empty output")
    try:
        return json.loads(text), None
    except (ValueError, RecursionError) as error:
        first_error = _describe(error)
    start = _json_start(text)
    if start is not None and start > 0:
        try:
            value, _end = json.JSONDecoder().raw_decode(text, start)
        except (ValueError, RecursionError):
            pass
        else:
            return value, None
    return None, FindingsProblem(source, f"not valid JSON ({first_error})")


def _json_start(text: str) -> int | None:
    offset = 0
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip()
        if stripped.startswith(("{", "[")):
            return offset + len(line) - len(stripped)
        offset += len(line)
    return None


def _describe(error: Exception) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at line {error.lineno} column {error.colno}"
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(error)


def as_int(value: object) -> int | None:
    """A positive integer from JSON (``3``, ``"3"``, ``3.0``), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, float) and value.is_integer():
        return int(value) if value > 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
        return number if number > 0 else None
    return None


def as_str(value: object) -> str | None:
    """A non-empty string, else ``None`` (numbers are turned into text)."""
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def as_strings(value: object) -> tuple[str, ...]:
    """The non-empty strings in a JSON list (a single string counts as one)."""
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if not isinstance(value, list):
        return ()
    return tuple(item for item in (as_str(v) for v in value) if item is not None)


def as_mapping(value: object) -> Mapping[str, object]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> Sequence[object]:
    """``value`` when it is a JSON list, else an empty one."""
    return value if isinstance(value, list) else []


P = ParamSpec("P")


def never_raises(source: str) -> Callable[[Callable[P, Collected]], Callable[P, Collected]]:
    """Turn an unexpected exception in a collector into a problem (a last safety net: the
    collectors check what they read, so this is for what nobody foresaw)."""

    def decorate(collector: Callable[P, Collected]) -> Callable[P, Collected]:
        @functools.wraps(collector)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Collected:
            try:
                return collector(*args, **kwargs)
            except Exception as error:  # a collector must never raise for bad input
                message = f"could not read the output ({type(error).__name__}: {error})"
                return Collected([], [FindingsProblem(source, message)])

        return wrapper

    return decorate


def without_duplicates(findings: Iterable[Finding]) -> list[Finding]:
    """Findings in order, each (tool, rule, file, line, column, message) only once."""
    seen: set[tuple[object, ...]] = set()
    kept: list[Finding] = []
    for finding in findings:
        key = (
            finding.tool,
            finding.rule,
            finding.file,
            finding.line,
            finding.column,
            finding.message,
        )
        if key in seen:
            continue
        seen.add(key)
        kept.append(finding)
    return kept


def with_extra(finding: Finding, **values: object) -> Finding:
    """``finding`` with more entries in ``extra`` (``None`` values are left out)."""
    merged = dict(finding.extra)
    merged.update({key: value for key, value in values.items() if value is not None})
    return replace(finding, extra=merged)
