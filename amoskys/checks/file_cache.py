"""The per-file result cache of the per-file checkers (Black, isort, flake8, Bandit, secrets).

A file whose content, tool version and tool configuration are unchanged since it was last
checked keeps the findings it had: the tool is started only for the other files, and not at
all when nothing changed. One JSON file per tool and key (``<tool>-<key>.json`` under
``.amoskys/cache/lint/``) maps each path to the sha256 of its content and its findings; the
key hashes the tool's version stamp and configuration. One JSON file per key measured faster
than sqlite3 here (see ``bench/README.md``, bench_checks): it is read once and written once
per run.

Writes are atomic (a temporary file, then ``os.replace``); a cache file that cannot be read
or does not look right is a miss, never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from amoskys.findings.model import Category, Finding, Severity

FORMAT = 1
"""Bump when the stored form of a finding changes: older cache files are then misses."""

KEEP_PER_TOOL = 4
"""Cache files kept per tool (other configurations, e.g. on another branch); older go."""

_FINDINGS_SOURCES = ("model.py", "common.py", "linters.py", "scanners.py")


def digest(data: bytes) -> str:
    """The sha256 of a file's content (hex)."""
    return hashlib.sha256(data).hexdigest()


def key_of(*parts: str) -> str:
    """One hash of the parts that make a cache key (each part is delimited)."""
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part.encode("utf-8", errors="surrogateescape"))
        hasher.update(b"\x00")
    return hasher.hexdigest()


def file_text(path: Path) -> str:
    """The content of a configuration file, or a marker when it is missing or unreadable."""
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return "<absent>"


def amoskys_stamp() -> str:
    """Our own part of every key: the cache format and the code that turns output into
    findings (editing a collector must not serve findings the old code produced)."""
    folder = Path(__file__).resolve().parents[1] / "findings"
    return key_of(str(FORMAT), *(file_text(folder / name) for name in _FINDINGS_SOURCES))


def tool_stamp(argv_prefix: Sequence[str]) -> str:
    """What identifies a tool's version without starting it.

    The executable's path, size and modification time, and the modification times of the
    ``site-packages`` folders of the interpreter that runs it: installing, upgrading or
    removing any package there (the tool, or a flake8 plugin) touches those folders.
    """
    parts: list[str] = []
    interpreter = sys.executable
    for item in argv_prefix[:1]:
        parts.append(_stat_text(Path(item)))
        shebang = _shebang(Path(item))
        if shebang:
            interpreter = shebang
    parts.append(_stat_text(Path(interpreter)))
    for folder in _site_folders(interpreter):
        parts.append(_stat_text(folder))
    return key_of(*parts)


def _stat_text(path: Path) -> str:
    try:
        real = path.resolve()
        info = real.stat()
    except (OSError, RuntimeError):
        return f"{path}:absent"
    return f"{real}:{info.st_size}:{info.st_mtime_ns}"


def _shebang(path: Path) -> str | None:
    try:
        with open(path, "rb") as handle:
            head = handle.read(256)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n", 1)[0].decode("utf-8", errors="replace").split()
    return words[0] if words else None


def _site_folders(interpreter: str) -> list[Path]:
    if Path(interpreter).resolve() == Path(sys.executable).resolve() or interpreter == "":
        return sorted({Path(p) for p in sys.path if p.endswith("-packages") and Path(p).is_dir()})
    prefix = Path(interpreter).parent.parent  # <venv>/bin/python -> <venv>
    return sorted(prefix.glob("lib/python*/site-packages"))


def finding_row(finding: Finding) -> list[Any]:
    """A finding in compact JSON form (see :func:`finding_from_row`)."""
    return [
        finding.tool,
        finding.rule,
        finding.severity.value,
        finding.category.value,
        finding.message,
        finding.file,
        finding.line,
        finding.column,
        finding.fingerprint,
        list(finding.aliases),
        finding.fix,
        dict(finding.extra),
        finding.suppressed,
        finding.suppress_reason,
    ]


def finding_from_row(row: Any) -> Finding:
    """The finding back; raises ``ValueError``/``TypeError`` for a row that does not fit."""
    if not isinstance(row, list) or len(row) != 14:
        raise ValueError("not a finding row")
    tool, rule, severity, category, message, file, line, column = row[:8]
    fingerprint, aliases, fix, extra, suppressed, reason = row[8:]
    if not all(isinstance(v, str) for v in (tool, rule, message, fingerprint, reason)):
        raise ValueError("not a finding row")
    if not isinstance(extra, dict) or not isinstance(aliases, list):
        raise ValueError("not a finding row")
    return Finding(
        tool=tool,
        rule=rule,
        severity=Severity(severity),
        category=Category(category),
        message=message,
        file=_optional(file, str),
        line=_optional(line, int),
        column=_optional(column, int),
        fingerprint=fingerprint,
        aliases=tuple(str(a) for a in aliases),
        fix=_optional(fix, str),
        extra={k: _frozen(v) for k, v in extra.items()},
        suppressed=bool(suppressed),
        suppress_reason=reason,
    )


def _optional(value: Any, kind: type) -> Any:
    if value is None or (isinstance(value, kind) and not isinstance(value, bool)):
        return value
    raise ValueError(f"expected {kind.__name__} or null")


def _frozen(value: Any) -> Any:
    """JSON lists back as tuples (the collectors put tuples in ``extra``)."""
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


class FileResults:
    """The stored results of one tool under one key: ``get`` and ``put`` per file, then
    ``save`` once. With ``read=False`` (``--no-cache``) nothing is served but fresh results
    are still stored, so the next run is warm again."""

    def __init__(self, folder: Path, tool: str, key: str, *, read: bool = True) -> None:
        self.folder = folder
        self.tool = tool
        self.key = key
        self.read = read
        self.path = folder / f"{tool}-{key[:32]}.json"
        self._entries: dict[str, tuple[str, list[Any]]] | None = None
        self._changed = False

    def _load(self) -> dict[str, tuple[str, list[Any]]]:
        if self._entries is None:
            self._entries = _read_entries(self.path, self.key) if self.read else {}
        return self._entries

    def get(self, path: str, content: str) -> list[Finding] | None:
        """The findings stored for ``path`` with content hash ``content``, or ``None``."""
        if not self.read:
            return None
        entry = self._load().get(path)
        if entry is None or entry[0] != content:
            return None
        try:
            return [finding_from_row(row) for row in entry[1]]
        except (ValueError, TypeError, KeyError):
            return None  # a damaged entry is a miss

    def put(self, path: str, content: str, findings: Iterable[Finding]) -> None:
        self._load()[path] = (content, [finding_row(f) for f in findings])
        self._changed = True

    def save(self, root: Path | None = None) -> None:
        """Write the entries (only when something was put); entries of files that no longer
        exist under ``root`` are dropped. Errors writing the cache are ignored."""
        if not self._changed:
            return
        entries = dict(_read_entries(self.path, self.key)) if not self.read else {}
        entries.update(self._load())
        if root is not None:
            entries = {p: e for p, e in entries.items() if (root / p).exists()}
        data = {"format": FORMAT, "key": self.key, "files": entries}
        try:
            text = json.dumps(data, separators=(",", ":"))
        except (TypeError, ValueError):
            return  # a finding whose extra is not JSON: do not cache
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(prefix=f".{self.tool}-", dir=self.folder)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(text)
                os.replace(temp, self.path)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        except OSError:
            return
        self._changed = False
        _prune(self.folder, self.tool, keep=self.path)


def _read_entries(path: Path, key: str) -> dict[str, tuple[str, list[Any]]]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("key") != key:
        return {}
    files = data.get("files")
    if not isinstance(files, dict):
        return {}
    entries: dict[str, tuple[str, list[Any]]] = {}
    for name, entry in files.items():
        if (
            isinstance(entry, list)
            and len(entry) == 2
            and isinstance(entry[0], str)
            and isinstance(entry[1], list)
        ):
            entries[name] = (entry[0], entry[1])
    return entries


def _prune(folder: Path, tool: str, keep: Path) -> None:
    """Keep the newest :data:`KEEP_PER_TOOL` cache files of ``tool``."""
    try:
        mine = [p for p in folder.glob(f"{tool}-*.json") if p != keep]
        mine.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in mine[KEEP_PER_TOOL - 1 :]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
