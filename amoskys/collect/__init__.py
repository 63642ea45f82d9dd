"""Collectors: turn the report files a step leaves behind into test results and metrics.

* :mod:`amoskys.collect.discover` finds JUnit and coverage reports in a workspace (and the
  probe's reports in its report folder);
* :mod:`amoskys.collect.junit` reads JUnit XML into :class:`~amoskys.store.records.TestCaseResult`;
* :mod:`amoskys.collect.coverage` reads ``coverage.xml``, ``coverage.json`` and ``.coverage``;
* :mod:`amoskys.collect.tests` sums test results into metrics;
* :mod:`amoskys.collect.pytest_probe` is a standalone pytest plugin copied into the step's
  environment; it imports nothing from Amoskys.

A collector never raises for a bad report: what is wrong comes back as a
:class:`CollectWarning` next to whatever could be read.

XML safety (``defusedxml`` is not a dependency): :func:`xml_events` drives expat itself and
refuses a document type declaration with an internal subset (where entities are declared, so
no "billion laughs" expansion) and any entity declaration; external DTDs and entities are never
loaded. A ``<!DOCTYPE x SYSTEM "...">`` without an internal subset, as older Cobertura writers
emit, is allowed and ignored.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # TreeBuilder/Element only  # nosec B405
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.parsers import expat

XML_CHUNK = 256 * 1024
MAX_XML_BYTES = 512 * 1024 * 1024
"""Reports bigger than this are not read (a warning says so)."""


@dataclass(frozen=True)
class CollectWarning:
    """A report that could not be read, or only in part."""

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class XmlError(Exception):
    """A report that is not well-formed XML, is unsafe, or cannot be read."""


def local_name(tag: str) -> str:
    """``ns:testsuite`` or ``{uri}testsuite`` -> ``testsuite``."""
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def xml_events(path: Path) -> Iterator[tuple[str, ET.Element]]:
    """``("start" | "end", element)`` pairs while reading ``path`` in chunks.

    An ``"end"`` element is complete (children and text). Events before a problem are all
    yielded; then :class:`XmlError` is raised (malformed or truncated XML, a refused DTD or
    entity, a file too big or unreadable).
    """
    try:
        size = path.stat().st_size
    except OSError as error:
        raise XmlError(f"cannot read: {error.strerror or error}") from error
    if size > MAX_XML_BYTES:
        raise XmlError(f"too big to read ({size} bytes, limit {MAX_XML_BYTES})")
    if size == 0:
        raise XmlError("empty file")

    builder = ET.TreeBuilder()
    pending: list[tuple[str, ET.Element]] = []
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True

    def refuse_doctype(name: str, sysid: str | None, pubid: str | None, internal: int) -> None:
        if internal:
            raise XmlError("refused: a DTD with an internal subset (entity declarations)")

    def refuse_entity(*_: Any) -> None:
        raise XmlError("refused: entity declarations")

    def refuse_external(*_: Any) -> int:
        raise XmlError("refused: external entity reference")

    def start(tag: str, attrs: dict[str, str]) -> None:
        pending.append(("start", builder.start(tag, attrs)))

    def end(tag: str) -> None:
        pending.append(("end", builder.end(tag)))

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_entity
    parser.UnparsedEntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = refuse_external
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data

    try:
        handle = path.open("rb")
    except OSError as error:
        raise XmlError(f"cannot read: {error.strerror or error}") from error
    with handle:
        while True:
            try:
                chunk = handle.read(XML_CHUNK)
            except OSError as error:
                raise XmlError(f"cannot read: {error.strerror or error}") from error
            try:
                parser.Parse(chunk, not chunk)
            except expat.ExpatError as error:
                yield from pending
                raise XmlError(f"not well-formed XML: {error}") from error
            except XmlError:
                yield from pending
                raise
            yield from pending
            pending.clear()
            if not chunk:
                return
