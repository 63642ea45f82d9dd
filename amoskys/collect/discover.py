"""Finding report files: in a step's workspace, and in the pytest probe's report folder.

:func:`find_reports` walks the workspace breadth-first (shallow reports first, names sorted, so
the result is the same every time), without following symlinks, at most :data:`MAX_DEPTH`
folders deep and :data:`MAX_ENTRIES` directory entries in all; past that it returns what it
found. Skipped: the folders in :data:`SKIP_DIRS` and any virtual environment (a folder holding
``pyvenv.cfg``).

JUnit reports: ``junit*.xml``, ``*test*results*.xml`` (names compared in lowercase),
``TEST-*.xml``, and any other ``*.xml`` whose first element, within the first 512 bytes, is
``<testsuite>`` or ``<testsuites>``. Coverage: ``coverage.xml``, ``coverage.json``,
``.coverage``.

:func:`find_probe_reports` reads what :mod:`amoskys.collect.pytest_probe` left in its report
folder: its JUnit files, the user's own ``--junitxml`` file named by a sidecar, its coverage
JSON, and its warnings.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from collections import deque
from pathlib import Path

from amoskys.collect import CollectWarning

MAX_DEPTH = 6
MAX_ENTRIES = 10_000
SNIFF_BYTES = 512
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "node_modules",
        ".tox",
        ".nox",
        "site-packages",
        "__pycache__",
        ".amoskys",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
    }
)
COVERAGE_NAMES = frozenset({"coverage.xml", "coverage.json", ".coverage"})
_JUNIT_PATTERNS = ("junit*.xml", "*test*results*.xml")
_FIRST_ELEMENT = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_SKIP_PROLOG = re.compile(rb"<\?.*?\?>|<!--.*?-->", re.S)


def is_junit_name(name: str) -> bool:
    lower = name.lower()
    if not lower.endswith(".xml"):
        return False
    if name.startswith("TEST-"):
        return True
    return any(fnmatch.fnmatchcase(lower, pattern) for pattern in _JUNIT_PATTERNS)


def sniff_junit(path: Path) -> bool:
    """Whether the first element in the first :data:`SNIFF_BYTES` bytes is a test suite."""
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return False
    head = _SKIP_PROLOG.sub(b"", head.lstrip(b"\xef\xbb\xbf"))
    match = _FIRST_ELEMENT.search(head)
    if match is None:
        return False
    name = match.group(1).rsplit(b":", 1)[-1]
    return name in (b"testsuite", b"testsuites")


def find_reports(workspace: Path) -> list[Path]:
    """JUnit and coverage report files under ``workspace`` (see the module docstring)."""
    found: list[Path] = []
    queue: deque[tuple[Path, int]] = deque([(workspace, 0)])
    visited = 0
    while queue:
        folder, depth = queue.popleft()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError:
            continue
        if depth > 0 and any(entry.name == "pyvenv.cfg" for entry in entries):
            continue  # a virtual environment under another name
        for entry in entries:
            visited += 1
            if visited > MAX_ENTRIES:
                return found
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in SKIP_DIRS and depth + 1 <= MAX_DEPTH:
                        queue.append((Path(entry.path), depth + 1))
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
            except OSError:
                continue
            name = entry.name
            path = Path(entry.path)
            if name in COVERAGE_NAMES or is_junit_name(name):
                found.append(path)
            elif name.lower().endswith(".xml") and sniff_junit(path):
                found.append(path)
    return found


def find_probe_reports(report_dir: Path) -> tuple[list[Path], list[CollectWarning]]:
    """Reports the pytest probe wrote (or pointed at) in ``report_dir``, and its warnings.

    ``junit-*.xml`` and ``coverage-*.json`` are the probe's own files; each
    ``junitxml-*.json`` sidecar names a JUnit file the user asked pytest for; each line of a
    ``probe-warnings-*.txt`` file becomes a warning.
    """
    reports: list[Path] = []
    warnings: list[CollectWarning] = []
    try:
        names = sorted(os.listdir(report_dir))
    except OSError:
        return reports, warnings
    for name in names:
        path = report_dir / name
        if fnmatch.fnmatchcase(name, "junit-*.xml") or fnmatch.fnmatchcase(name, "coverage-*.json"):
            reports.append(path)
        elif fnmatch.fnmatchcase(name, "junitxml-*.json"):
            target, problem = _sidecar_target(path)
            if target is not None:
                reports.append(target)
            elif problem:
                warnings.append(CollectWarning(path, problem))
        elif fnmatch.fnmatchcase(name, "probe-warnings-*.txt"):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError as error:
                warnings.append(CollectWarning(path, f"cannot read: {error.strerror or error}"))
                continue
            warnings.extend(
                CollectWarning(path, line.strip()) for line in text.splitlines() if line.strip()
            )
    return reports, warnings


def _sidecar_target(path: Path) -> tuple[Path | None, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return None, f"unreadable sidecar: {error}"
    target = data.get("junitxml") if isinstance(data, dict) else None
    if not isinstance(target, str) or not target:
        return None, "sidecar names no junitxml file"
    report = Path(target)
    if not report.is_file():
        return None, f"the JUnit file pytest was asked for is missing: {target}"
    return report, ""
