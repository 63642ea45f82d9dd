"""Collectors for the code-quality tools: Black, isort, flake8 and mypy.

Each takes the tool's output as text (stdout and stderr together are fine) and the project
root, and returns a :class:`~amoskys.findings.common.Collected`. Lines that are not findings
(summaries, banners, source excerpts) are skipped; lines that look like nothing the tool
prints are reported once as a problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from amoskys.findings.common import (
    Collected,
    LineCache,
    Pending,
    as_int,
    as_mapping,
    as_str,
    clip,
    fingerprinted,
    load_json,
    never_raises,
    relative_path,
    without_duplicates,
)
from amoskys.findings.model import Category, Finding, FindingsProblem, Severity, with_fingerprint

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_DIFF_OLD = re.compile(r"^--- (?P<path>[^\t]+?)(?:\t.*)?$")
_DIFF_NEW = re.compile(r"^\+\+\+ ")
_HUNK = re.compile(r"^@@ -(?P<start>\d+)(?:,\d+)? \+\d+(?:,\d+)? @@")


def _plain_lines(output: str) -> list[str]:
    return [_ANSI.sub("", line).rstrip("\r") for line in output.splitlines()]


def _first_changes(lines: list[str], strip_suffix: str = "") -> dict[str, int]:
    """The first changed line (in the old file) of each file in a unified diff."""
    first: dict[str, int] = {}
    current: str | None = None
    line_no: int | None = None
    for index, line in enumerate(lines):
        old = _DIFF_OLD.match(line)
        if old and index + 1 < len(lines) and _DIFF_NEW.match(lines[index + 1]):
            current = old.group("path").strip()
            if strip_suffix and current.endswith(strip_suffix):
                current = current[: -len(strip_suffix)]
            line_no = None
            continue
        if current is None or current in first:
            continue
        hunk = _HUNK.match(line)
        if hunk:
            line_no = int(hunk.group("start"))
            continue
        if line_no is None:
            continue
        if line.startswith(("-", "+")):
            first[current] = max(line_no, 1)
        elif line.startswith(" ") or line == "":
            line_no += 1
    return first


# --- Black -------------------------------------------------------------------------------

_BLACK_WOULD = re.compile(r"^would reformat (?P<path>.+?)\s*$")
_BLACK_CANNOT = re.compile(r"^error: cannot format (?P<path>.+?): (?P<message>.*)$")
_BLACK_PARSE = re.compile(
    r"^error: (?P<context>cannot parse[^:]*): (?P<path>.+?):(?P<line>\d+):(?P<col>\d+)$"
)
_ERROR_NAME = re.compile(r"^\w+Error: .*$")


@never_raises("black")
def collect_black(output: str, root: Path, *, lines: LineCache | None = None) -> Collected:
    """Black ``--check`` (``would reformat X`` on stderr) and ``--diff`` output.

    One finding per file: ``would-reformat`` (format, low), with the first changed line
    when a diff is given. A file Black cannot parse gives ``cannot-format`` (format, medium;
    ``error: cannot parse: X:line:col`` of Black 24+ and ``error: cannot format X: ...``).
    Black findings are per file, so the fingerprint hashes the file, not a line.
    """
    del lines  # per-file findings need no line text
    if not isinstance(output, str):
        return Collected([], [FindingsProblem("black", "expected text output")])
    plain = _plain_lines(output)
    changed = {relative_path(path, root): line for path, line in _first_changes(plain).items()}
    files: dict[str, None] = {}
    findings: list[Finding] = []
    for index, line in enumerate(plain):
        would = _BLACK_WOULD.match(line)
        if would:
            files[relative_path(would.group("path"), root)] = None
            continue
        cannot = _BLACK_CANNOT.match(line)
        parse = _BLACK_PARSE.match(line)
        if cannot:
            file = relative_path(cannot.group("path"), root)
            findings.append(_cannot_format(file, cannot.group("message"), None, None))
        elif parse:
            file = relative_path(parse.group("path"), root)
            reason = next(
                (text for text in plain[index + 1 : index + 5] if _ERROR_NAME.match(text)),
                parse.group("context"),
            )
            line_no, column = as_int(parse.group("line")), as_int(parse.group("col"))
            findings.append(_cannot_format(file, reason, line_no, column))
    for file in changed:
        if file not in ("STDIN", "-"):
            files.setdefault(file, None)
    for file in files:
        finding = Finding(
            tool="black",
            rule="would-reformat",
            severity=Severity.LOW,
            category=Category.FORMAT,
            message=f"Black would reformat {file}",
            file=file,
            line=changed.get(file),
            fix=f"run black {file}",
        )
        findings.append(with_fingerprint(finding, f"would reformat {file}"))
    return Collected(without_duplicates(findings), [])


def _cannot_format(file: str, reason: str, line: int | None, column: int | None) -> Finding:
    finding = Finding(
        tool="black",
        rule="cannot-format",
        severity=Severity.MEDIUM,
        category=Category.FORMAT,
        message=clip(f"Black cannot format {file}: {reason}"),
        file=file,
        line=line,
        column=column,
        fix=f"fix the syntax error, then run black {file}",
    )
    return with_fingerprint(finding, f"cannot format {file}")


# --- isort -------------------------------------------------------------------------------

_ISORT_WRONG = re.compile(
    r"^ERROR: (?P<path>.+?) Imports are incorrectly sorted and/or formatted\.?\s*$"
)
_ISORT_ERROR = re.compile(r"^ERROR: (?P<message>.*)$")


@never_raises("isort")
def collect_isort(output: str, root: Path, *, lines: LineCache | None = None) -> Collected:
    """isort ``--check-only`` (``ERROR: X Imports are incorrectly sorted and/or formatted.``)
    and ``--diff`` output: one ``incorrectly-sorted`` finding per file (imports, low).

    Other ``ERROR:`` lines (a file isort could not read) come back as problems.
    """
    del lines
    if not isinstance(output, str):
        return Collected([], [FindingsProblem("isort", "expected text output")])
    plain = _plain_lines(output)
    changed = {
        relative_path(path, root): line
        for path, line in _first_changes(plain, strip_suffix=":before").items()
    }
    files: dict[str, None] = {}
    problems: list[FindingsProblem] = []
    for line in plain:
        wrong = _ISORT_WRONG.match(line)
        if wrong:
            files[relative_path(wrong.group("path"), root)] = None
            continue
        error = _ISORT_ERROR.match(line)
        if error:
            problems.append(FindingsProblem("isort", clip(error.group("message"), 500)))
    for file in changed:
        files.setdefault(file, None)
    findings = []
    for file in files:
        finding = Finding(
            tool="isort",
            rule="incorrectly-sorted",
            severity=Severity.LOW,
            category=Category.IMPORTS,
            message=f"isort would re-sort the imports in {file}",
            file=file,
            line=changed.get(file),
            fix=f"run isort {file}",
        )
        findings.append(with_fingerprint(finding, f"incorrectly sorted {file}"))
    return Collected(findings, problems)


# --- flake8 ------------------------------------------------------------------------------

_FLAKE8_LINE = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+)(?::(?P<col>\d+))?:? (?P<code>[A-Z]{1,3}[0-9]{1,4})\b:? ?"
    r"(?P<message>.*)$"
)
_FLAKE8_NOISE = re.compile(r"^(\d+(\s+\S.*)?|\s.*|\^\s*)$")
_FLAKE8_HIGH = ("E9", "F63", "F7", "F82")


def flake8_severity(code: str) -> Severity:
    """Syntax errors and undefined names (E9, F63, F7, F82) high; other pyflakes (F)
    medium; pycodestyle (E, W), mccabe (C) and plugins' codes low."""
    if code.startswith(_FLAKE8_HIGH):
        return Severity.HIGH
    if code.startswith("F"):
        return Severity.MEDIUM
    return Severity.LOW


def _flake8_finding(
    path: str, root: Path, line: int | None, column: int | None, code: str, message: str
) -> Finding:
    return Finding(
        tool="flake8",
        rule=code,
        severity=flake8_severity(code),
        category=Category.STYLE,
        message=clip(message),
        file=relative_path(path, root),
        line=line,
        column=column,
    )


@never_raises("flake8")
def collect_flake8(output: str, root: Path, *, lines: LineCache | None = None) -> Collected:
    """flake8's default text format (``path:line:col: CODE message``); JSON output (see
    :func:`collect_flake8_json`) is recognised and read as such."""
    if not isinstance(output, str):
        return Collected([], [FindingsProblem("flake8", "expected text output")])
    if output.lstrip().startswith(("{", "[")):
        return collect_flake8_json(output, root, lines=lines)
    cache = lines if lines is not None else LineCache(root)
    pending: list[Pending] = []
    unknown: list[str] = []
    for raw in _plain_lines(output):
        match = _FLAKE8_LINE.match(raw)
        if match:
            pending.append(
                Pending(
                    _flake8_finding(
                        match.group("path"),
                        root,
                        as_int(match.group("line")),
                        as_int(match.group("col")),
                        match.group("code"),
                        match.group("message"),
                    )
                )
            )
        elif raw.strip() and not _FLAKE8_NOISE.match(raw):
            unknown.append(raw)
    return Collected(fingerprinted(pending, cache), _unknown_lines("flake8", unknown))


@never_raises("flake8 JSON")
def collect_flake8_json(output: str, root: Path, *, lines: LineCache | None = None) -> Collected:
    """flake8 JSON: the flake8-json plugin's ``--format=json`` / ``json-pretty``, an object
    from path to a list of ``{"code", "line_number", "column_number", "text",
    "physical_line"}``; a plain list of such objects with a ``filename`` is read too."""
    source = "flake8 JSON"
    data, problem = load_json(output, source)
    if problem is not None:
        return Collected([], [problem])
    entries: list[tuple[str | None, object]] = []
    if isinstance(data, dict):
        for path, items in data.items():
            if not isinstance(items, list):
                return Collected([], [FindingsProblem(source, f"{path!r}: expected a list")])
            entries.extend((path, item) for item in items)
    elif isinstance(data, list):
        entries.extend((None, item) for item in data)
    else:
        return Collected([], [FindingsProblem(source, "expected an object of files")])
    cache = lines if lines is not None else LineCache(root)
    pending: list[Pending] = []
    skipped = 0
    for path, item in entries:
        entry = as_mapping(item)
        code = as_str(entry.get("code"))
        file = as_str(entry.get("filename")) or path
        if code is None or file is None:
            skipped += 1
            continue
        text = as_str(entry.get("text")) or code
        physical = entry.get("physical_line")
        pending.append(
            Pending(
                _flake8_finding(
                    file,
                    root,
                    as_int(entry.get("line_number")),
                    as_int(entry.get("column_number")),
                    code,
                    text,
                ),
                physical.rstrip("\r\n") if isinstance(physical, str) else None,
            )
        )
    problems = [FindingsProblem(source, f"{skipped} entries without a code or file")]
    return Collected(fingerprinted(pending, cache), problems if skipped else [])


# --- mypy --------------------------------------------------------------------------------

_MYPY_LINE = re.compile(
    r"^(?P<path>(?:[A-Za-z]:[\\/])?[^:\s][^:]*?)"
    r":(?:(?P<line>-?\d+):(?:(?P<col>-?\d+):)?(?:\d+:\d+:)?)? ?"
    r"(?P<severity>error|warning|note): (?P<message>.*?)(?:  \[(?P<code>[a-z0-9-]+)\])?$"
)
_MYPY_NOISE = re.compile(
    r"^(Found \d+ errors? in \d+ files?.*|Success: no issues found.*|\s.*|\^.*|~+)$"
)


@dataclass
class _MypyRecord:
    file: str
    line: int | None
    column: int | None
    severity: str
    message: str
    code: str | None
    notes: list[str] = field(default_factory=list)


def _mypy_findings(records: list[_MypyRecord], cache: LineCache) -> list[Finding]:
    pending = []
    for record in records:
        is_note = record.severity == "note"
        if is_note:
            severity = Severity.INFO
        elif record.code == "syntax":
            severity = Severity.HIGH
        else:
            severity = Severity.MEDIUM
        extra: dict[str, object] = {}
        if record.notes:
            extra["notes"] = tuple(record.notes)
        finding = Finding(
            tool="mypy",
            rule="note" if is_note else (record.code or "misc"),
            severity=severity,
            category=Category.TYPES,
            message=clip(record.message),
            file=record.file,
            line=record.line,
            column=record.column,
            extra=extra,
        )
        pending.append(Pending(finding))
    return fingerprinted(pending, cache)


def _add_mypy(
    records: list[_MypyRecord],
    latest: dict[tuple[str, int | None, int | None], _MypyRecord],
    record: _MypyRecord,
) -> None:
    """mypy's own rule (as for ``-O json``): a note belongs to the latest error at the same
    file, line and column; a note with no such error stands alone."""
    key = (record.file, record.line, record.column)
    if record.severity == "note":
        owner = latest.get(key)
        if owner is not None:
            owner.notes.append(record.message)
            return
    else:
        latest[key] = record
    records.append(record)


@never_raises("mypy")
def collect_mypy(output: str, root: Path, *, lines: LineCache | None = None) -> Collected:
    """mypy's text output: ``path:line:col: error: message  [code]``, also without the column
    (the default) or the line, and with ``--show-error-end``. Errors are type findings
    (medium; ``[syntax]`` high); a note joins the error at the same place (``extra["notes"]``)
    or stands alone as an info finding (rule ``note``). ``-O json`` output is recognised
    and read by :func:`collect_mypy_json`.
    """
    if not isinstance(output, str):
        return Collected([], [FindingsProblem("mypy", "expected text output")])
    if output.lstrip().startswith("{"):
        return collect_mypy_json(output, root, lines=lines)
    records: list[_MypyRecord] = []
    latest: dict[tuple[str, int | None, int | None], _MypyRecord] = {}
    problems: list[FindingsProblem] = []
    unknown: list[str] = []
    for raw in _plain_lines(output):
        match = _MYPY_LINE.match(raw)
        if match is None:
            if raw.strip() and not _MYPY_NOISE.match(raw):
                unknown.append(raw)
            continue
        if match.group("path") == "mypy":
            problems.append(FindingsProblem("mypy", clip(match.group("message"), 500)))
            continue
        record = _MypyRecord(
            file=relative_path(match.group("path"), root),
            line=as_int(match.group("line")),
            column=as_int(match.group("col")),
            severity="note" if match.group("severity") == "note" else "error",
            message=match.group("message"),
            code=match.group("code"),
        )
        _add_mypy(records, latest, record)
    cache = lines if lines is not None else LineCache(root)
    return Collected(_mypy_findings(records, cache), problems + _unknown_lines("mypy", unknown))


@never_raises("mypy JSON")
def collect_mypy_json(output: str, root: Path, *, lines: LineCache | None = None) -> Collected:
    """``mypy -O json``: one object per line with ``file``, ``line``, ``column`` (0-based;
    made 1-based here), ``message``, ``hint`` (the notes, joined), ``code``, ``severity``."""
    source = "mypy JSON"
    if not isinstance(output, str):
        return Collected([], [FindingsProblem(source, "expected text output")])
    records: list[_MypyRecord] = []
    latest: dict[tuple[str, int | None, int | None], _MypyRecord] = {}
    bad = 0
    for raw in output.splitlines():
        if not raw.strip():
            continue
        data, problem = load_json(raw, source)
        entry = as_mapping(data)
        file = as_str(entry.get("file"))
        message = as_str(entry.get("message"))
        if problem is not None or file is None or message is None:
            bad += 1
            continue
        column = entry.get("column")
        hint = as_str(entry.get("hint"))
        severity = "note" if entry.get("severity") == "note" else "error"
        record = _MypyRecord(
            file=relative_path(file, root),
            line=as_int(entry.get("line")),
            column=(
                column + 1 if isinstance(column, int) and not isinstance(column, bool) else None
            ),
            severity=severity,
            message=message,
            code=as_str(entry.get("code")),
            notes=hint.splitlines() if hint else [],
        )
        if record.column is not None and record.column < 1:
            record.column = None
        _add_mypy(records, latest, record)
    problems = []
    if bad:
        problems.append(FindingsProblem(source, f"{bad} lines are not mypy JSON records"))
    cache = lines if lines is not None else LineCache(root)
    return Collected(_mypy_findings(records, cache), problems)


def _unknown_lines(source: str, unknown: list[str]) -> list[FindingsProblem]:
    if not unknown:
        return []
    first = clip(unknown[0], 200)
    count = len(unknown)
    noun = "line" if count == 1 else "lines"
    return [FindingsProblem(source, f"{count} unrecognised {noun}, the first: {first!r}")]
