"""Coverage reports -> :class:`~amoskys.store.records.Metric`.

Three inputs, chosen by file name (``*.json`` is coverage.py's JSON report, ``*.xml`` is
Cobertura, anything else is tried as a coverage.py data file):

* ``coverage.xml`` (Cobertura, as ``coverage xml`` writes it): ``line-rate``, ``branch-rate``,
  ``lines-covered``/``lines-valid`` and ``branches-covered``/``branches-valid`` on the root.
  ``coverage.line`` is computed from the counts when they are there (more precise than the
  rounded rate); ``coverage.branch`` only when branches were measured (``branches-valid`` > 0,
  or a ``branch-rate`` with no count at all, as some writers give).
* ``coverage.json`` (``coverage json``): ``totals.covered_lines``/``num_statements`` and
  ``totals.covered_branches``/``num_branches``. With branch coverage on, coverage.py's own
  headline ``percent_covered`` mixes lines and branches; it is kept as ``coverage.total`` (the
  number ``coverage report`` and ``fail_under`` use) and ``coverage.line`` is lines only.
* ``.coverage`` (coverage.py's SQLite data file, read directly, without importing coverage):
  it holds the lines that ran, not the statements that could have, so only ``coverage.files``
  and ``coverage.lines_executed`` come from it; a line percentage needs the XML or JSON report.
  The pre-5.0 JSON data format (``!coverage.py: This is a private format...``) is read too.

Metric names: ``coverage.line`` and ``coverage.branch`` (%), ``coverage.total`` (%),
``coverage.lines_covered``, ``coverage.lines_total``, ``coverage.branches_covered``,
``coverage.branches_total``, ``coverage.files``, ``coverage.lines_executed`` (count).
A file that cannot be read gives a :class:`CollectWarning`, never an exception.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from amoskys.collect import CollectWarning, XmlError, local_name, xml_events
from amoskys.store.records import Metric

MAX_JSON_BYTES = 512 * 1024 * 1024
_SQLITE_MAGIC = b"SQLite format 3\x00"
_OLD_DATA_PREFIX = b"!coverage.py: This is a private format"


def parse_coverage(path: Path) -> tuple[list[Metric], list[CollectWarning]]:
    """Metrics from one coverage file, and what was wrong with it. Never raises for bad input."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".xml":
            return _cobertura(path)
        if suffix == ".json":
            return _json_report(path)
        return _data_file(path)
    except _Bad as bad:
        return [], [CollectWarning(path, str(bad))]


class _Bad(Exception):
    pass


def _percent(part: float, whole: float) -> float:
    # coverage.py counts nothing-to-cover as fully covered
    return 100.0 if whole <= 0 else 100.0 * part / whole


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _Bad(f"{what} is not a number: {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise _Bad(f"{what} is not a number: {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise _Bad(f"{what} is out of range: {value!r}")
    return number


def _metrics(
    *,
    lines_covered: float | None,
    lines_total: float | None,
    line_pct: float | None = None,
    branches_covered: float | None = None,
    branches_total: float | None = None,
    branch_pct: float | None = None,
    total_pct: float | None = None,
    files: int | None = None,
) -> list[Metric]:
    out: list[Metric] = []
    if lines_covered is not None and lines_total is not None:
        if lines_covered > lines_total:
            raise _Bad(f"more lines covered ({lines_covered:g}) than there are ({lines_total:g})")
        line_pct = _percent(lines_covered, lines_total)
    if line_pct is not None:
        out.append(Metric("coverage.line", round(min(line_pct, 100.0), 4), "%"))
    if branches_covered is not None and branches_total is not None and branches_total > 0:
        branch_pct = _percent(branches_covered, branches_total)
    if branch_pct is not None:
        out.append(Metric("coverage.branch", round(min(branch_pct, 100.0), 4), "%"))
    if total_pct is not None:
        out.append(Metric("coverage.total", round(min(total_pct, 100.0), 4), "%"))
    if lines_covered is not None and lines_total is not None:
        out.append(Metric("coverage.lines_covered", lines_covered, "count"))
        out.append(Metric("coverage.lines_total", lines_total, "count"))
    if branches_covered is not None and branches_total is not None and branches_total > 0:
        out.append(Metric("coverage.branches_covered", branches_covered, "count"))
        out.append(Metric("coverage.branches_total", branches_total, "count"))
    if files is not None:
        out.append(Metric("coverage.files", float(files), "count"))
    return out


# -- Cobertura XML ---------------------------------------------------------------------------


def _cobertura(path: Path) -> tuple[list[Metric], list[CollectWarning]]:
    attrs: dict[str, str] | None = None
    files: set[str] = set()
    warnings: list[CollectWarning] = []
    try:
        for event, element in xml_events(path):
            tag = local_name(element.tag)
            if attrs is None:
                if tag != "coverage":
                    raise _Bad(f"not a Cobertura report (root element <{tag}>)")
                attrs = dict(element.attrib)
            elif event == "start" and tag == "class" and element.get("filename"):
                files.add(element.get("filename", ""))
            elif event == "end" and tag in ("class", "package"):
                element.clear()
    except XmlError as error:
        if attrs is None:
            raise _Bad(str(error)) from None
        # the totals sit on the root, read first: a torn tail only loses the file count
        warnings.append(CollectWarning(path, f"{error}; totals kept, file count left out"))
        files.clear()
    if attrs is None:
        raise _Bad("no root element")

    def optional(name: str) -> float | None:
        value = attrs.get(name) if attrs is not None else None
        return None if value in (None, "") else _number(value, name)

    line_rate = optional("line-rate")
    branch_rate = optional("branch-rate")
    lines_covered = optional("lines-covered")
    lines_total = optional("lines-valid")
    branches_covered = optional("branches-covered")
    branches_total = optional("branches-valid")
    if line_rate is None and (lines_covered is None or lines_total is None):
        raise _Bad("no line-rate nor lines-covered/lines-valid on <coverage>")
    branch_pct = None
    if branch_rate is not None and branches_total is None:
        branch_pct = 100.0 * branch_rate
    metrics = _metrics(
        lines_covered=lines_covered if lines_total is not None else None,
        lines_total=lines_total if lines_covered is not None else None,
        line_pct=None if line_rate is None else 100.0 * line_rate,
        branches_covered=branches_covered,
        branches_total=branches_total,
        branch_pct=branch_pct,
        files=len(files) if files else None,
    )
    return metrics, warnings


# -- coverage.py JSON report -------------------------------------------------------------------


def _load_json(path: Path) -> Any:
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise _Bad(f"too big to read ({size} bytes, limit {MAX_JSON_BYTES})")
        with path.open("rb") as handle:
            return json.load(handle)
    except OSError as error:
        raise _Bad(f"cannot read: {error.strerror or error}") from None
    except (ValueError, RecursionError) as error:  # JSONDecodeError, bad UTF-8, deep nesting
        raise _Bad(f"not valid JSON: {error}") from None


def _json_report(path: Path) -> tuple[list[Metric], list[CollectWarning]]:
    data = _load_json(path)
    totals = data.get("totals") if isinstance(data, Mapping) else None
    if not isinstance(totals, Mapping):
        raise _Bad("not a coverage.py JSON report (no 'totals' object)")

    def get(name: str) -> float | None:
        return None if totals.get(name) is None else _number(totals[name], f"totals.{name}")

    covered, statements = get("covered_lines"), get("num_statements")
    percent = get("percent_covered")
    if (covered is None or statements is None) and percent is None:
        raise _Bad("totals has neither covered_lines/num_statements nor percent_covered")
    branches_covered, branches = get("covered_branches"), get("num_branches")
    files = data.get("files")
    metrics = _metrics(
        lines_covered=covered if statements is not None else None,
        lines_total=statements if covered is not None else None,
        line_pct=percent,
        branches_covered=branches_covered,
        branches_total=branches,
        total_pct=percent,
        files=len(files) if isinstance(files, Mapping) else None,
    )
    return metrics, []


# -- coverage.py data file -----------------------------------------------------------------------


def _data_file(path: Path) -> tuple[list[Metric], list[CollectWarning]]:
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_OLD_DATA_PREFIX))
    except OSError as error:
        raise _Bad(f"cannot read: {error.strerror or error}") from None
    if head.startswith(_SQLITE_MAGIC):
        per_file = _sqlite_lines(path)
    elif head.startswith(_OLD_DATA_PREFIX):
        per_file = _old_json_lines(path)
    else:
        raise _Bad("not a coverage.py data file (neither SQLite nor the old JSON format)")
    executed = sum(len(lines) for lines in per_file.values())
    return [
        Metric("coverage.files", float(len(per_file)), "count"),
        Metric("coverage.lines_executed", float(executed), "count"),
    ], []


def _numbits(blob: bytes) -> set[int]:
    """coverage.py's packed line set: bit ``j`` of byte ``i`` is line ``8 * i + j``."""
    return {
        index * 8 + bit for index, byte in enumerate(blob) for bit in range(8) if byte >> bit & 1
    }


def _sqlite_lines(path: Path) -> dict[str, set[int]]:
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as error:
        raise _Bad(f"cannot open the SQLite data file: {error}") from None
    try:
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if "file" not in tables or not {"line_bits", "arc"} & tables:
            raise _Bad("not a coverage.py data file (no file/line_bits/arc tables)")
        names = dict(connection.execute("SELECT id, path FROM file").fetchall())
        per_file: dict[str, set[int]] = {}
        if "line_bits" in tables:
            for file_id, blob in connection.execute("SELECT file_id, numbits FROM line_bits"):
                if isinstance(blob, bytes) and file_id in names:
                    per_file.setdefault(names[file_id], set()).update(_numbits(blob))
        if "arc" in tables:
            for file_id, start, end in connection.execute("SELECT file_id, fromno, tono FROM arc"):
                if file_id in names:
                    lines = per_file.setdefault(names[file_id], set())
                    lines.update(n for n in (start, end) if isinstance(n, int) and n > 0)
        return {name: lines for name, lines in per_file.items() if lines}
    except sqlite3.Error as error:
        raise _Bad(f"unreadable SQLite data file: {error}") from None
    finally:
        connection.close()


def _old_json_lines(path: Path) -> dict[str, set[int]]:
    try:
        text = path.read_bytes()[len(_OLD_DATA_PREFIX) :]
    except OSError as error:
        raise _Bad(f"cannot read: {error.strerror or error}") from None
    start = text.find(b"{")
    try:
        data = json.loads(text[start:]) if start >= 0 else None
    except (ValueError, RecursionError) as error:
        raise _Bad(f"unreadable coverage data: {error}") from None
    if not isinstance(data, Mapping):
        raise _Bad("unreadable coverage data (no JSON object)")
    per_file: dict[str, set[int]] = {}
    lines = data.get("lines")
    if isinstance(lines, Mapping):
        for name, numbers in lines.items():
            per_file[str(name)] = set(_ints(numbers))
    arcs = data.get("arcs")
    if isinstance(arcs, Mapping):
        for name, pairs in arcs.items():
            found = per_file.setdefault(str(name), set())
            for pair in pairs if isinstance(pairs, list) else []:
                found.update(n for n in _ints(pair) if n > 0)
    return {name: found for name, found in per_file.items() if found}


def _ints(values: object) -> Iterable[int]:
    if isinstance(values, list):
        return (v for v in values if isinstance(v, int) and not isinstance(v, bool) and v > 0)
    return ()
