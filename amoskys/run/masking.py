"""Secret masking for step output, modelled on what GitHub's runner hides.

:class:`Masker` holds the secrets and replaces every occurrence with ``***``; :class:`LineMasker`
turns raw pipe reads into complete, masked lines.

Besides the value itself, :meth:`Masker.add` registers the forms a secret commonly takes when a
step prints it: each line of a multi-line value, its base64 encodings, its URL encoding, its
JSON string escaping and its XML escaping.

Base64 and alignment: base64 turns every 3 input bytes into 4 characters, so how a secret looks
inside a longer encoded blob depends on where in a 3-byte group it starts
(``base64("user:" + password)``). GitHub's runner registers ``base64(secret)``,
``base64(secret[1:])`` and ``base64(secret[2:])`` (byte offsets), which covers all three
alignments: dropping 1 or 2 leading bytes puts what is left on a group boundary. As its ADR 0297
proposes, the aligned forms are also registered *trimmed*: without ``=`` padding and without the
last character when padding was present, because those characters also carry bits of whatever
follows the secret. Only the characters fully determined by the secret remain, so the secret is
found in the middle of a blob too.

Short values: values (and lines of multi-line values) shorter than :data:`MIN_SECRET_LENGTH`
characters are never masked. GitHub's runner masks any non-empty value, but masking ``a`` or
``42`` turns every log into noise and, by showing where each occurrence was, tells a reader more
about a tiny secret than it hides. Encoded forms shorter than :data:`MIN_ENCODED_LENGTH` are
skipped for the same reason (a 1-character base64 fragment would match almost anywhere).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections import deque
from pathlib import Path
from typing import Iterator
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape  # nosec B406

MASK = "***"
MIN_SECRET_LENGTH = 3
MIN_ENCODED_LENGTH = 4
MAX_LINE_BYTES = 1024 * 1024
"""A line longer than this (no newline yet) is emitted in pieces so memory stays bounded.

A secret that straddles such a forced break is not masked; real output lines are far shorter.
"""

_LINE_BREAK = re.compile(r"\r?\n")


def _base64_forms(value: str) -> set[str]:
    """The base64 forms GitHub registers: the plain encoding, and trimmed forms at 3 offsets."""
    raw = value.encode("utf-8")
    forms = {base64.b64encode(raw).decode("ascii")}
    for shift in range(3):
        if shift and len(raw) <= shift:
            break
        part = raw[shift:]
        # 4 characters per 3 bytes; a partial last group leaves 1 or 2 characters that depend
        # only on this secret's bytes (the next one mixes in the following byte).
        determined = len(part) * 4 // 3
        forms.add(base64.b64encode(part).decode("ascii")[:determined])
    return forms


def encoded_forms(value: str) -> set[str]:
    """Every form of ``value`` that is masked: itself plus its base64, URL, JSON and XML forms
    (the XML escaping is how a secret in a failing test's message sits in a JUnit report)."""
    forms = {value, quote(value, safe="")}
    forms.add(xml_escape(value))
    forms.add(xml_escape(value, {'"': "&quot;", "'": "&apos;"}))
    forms.add(json.dumps(value)[1:-1])
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    forms.update(_base64_forms(value))
    return {form for form in forms if len(form) >= MIN_ENCODED_LENGTH or form == value}


class Masker:
    """A thread-safe set of secrets; :meth:`mask` replaces each occurrence by ``***``.

    Secrets may be added (``::add-mask::``) while other threads mask. The matcher is one compiled
    regex alternation, longest secret first, rebuilt lazily on the first :meth:`mask` after a
    change.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._matchers: tuple[re.Pattern[str], re.Pattern[str]] | None = None

    def add(self, secret: str) -> None:
        """Register ``secret``, each of its lines, and their encoded forms."""
        values = []
        if len(secret.strip()) >= MIN_SECRET_LENGTH:
            values.append(secret)
        if "\n" in secret:
            values.extend(
                line for line in _LINE_BREAK.split(secret) if len(line.strip()) >= MIN_SECRET_LENGTH
            )
        forms: set[str] = set()
        for value in values:
            forms.update(encoded_forms(value))
        if not forms:
            return
        with self._lock:
            if forms <= self._secrets:
                return
            self._secrets |= forms
            self._matchers = None

    def mask(self, text: str) -> str:
        """``text`` with every occurrence of every secret replaced by ``***``.

        Overlapping or adjacent occurrences become a single ``***``.
        """
        matchers = self._matchers
        if matchers is None:
            matchers = self._build()
            if matchers is None:
                return text
        finder, scanner = matchers
        if finder.search(text) is None:
            return text
        pieces: list[str] = []
        kept = 0  # text[:kept] is already in pieces
        span_start = span_end = -1
        for match in scanner.finditer(text):
            start = match.start()
            end = start + len(match.group(1))
            if start <= span_end:
                span_end = max(span_end, end)
                continue
            if span_end >= 0:
                pieces.append(text[kept:span_start])
                pieces.append(MASK)
                kept = span_end
            span_start, span_end = start, end
        pieces.append(text[kept:span_start])
        pieces.append(MASK)
        pieces.append(text[span_end:])
        return "".join(pieces)

    def _build(self) -> tuple[re.Pattern[str], re.Pattern[str]] | None:
        with self._lock:
            if self._matchers is None and self._secrets:
                ordered = sorted(self._secrets, key=lambda s: (-len(s), s))
                alternation = "|".join(re.escape(secret) for secret in ordered)
                # The plain pattern rejects clean text fast; the lookahead one finds a match at
                # every position, so overlapping occurrences are all seen.
                self._matchers = (re.compile(alternation), re.compile(f"(?=({alternation}))"))
            return self._matchers


class LineMasker:
    """Turns chunks read from a pipe into complete, masked lines.

    A chunk may end inside a line, inside a secret or inside a multi-byte UTF-8 character, so
    bytes are buffered until a newline arrives and decoded only then. Lines come back without
    their line ending (``\\n`` or ``\\r\\n``) and are masked at the moment they are taken from
    the returned iterator, so a secret added while handling one line applies to the next one.
    """

    def __init__(self, masker: Masker | None = None) -> None:
        self._masker = masker
        self._buffer = bytearray()
        self._pending: deque[bytes] = deque()

    def feed(self, chunk: bytes | str) -> Iterator[str]:
        """Take one read; return the lines it completed (masked lazily as they are taken)."""
        data = chunk.encode("utf-8", "surrogatepass") if isinstance(chunk, str) else chunk
        self._buffer += data
        if b"\n" in data:
            *complete, rest = bytes(self._buffer).split(b"\n")
            self._pending.extend(complete)
            self._buffer = bytearray(rest)
        while len(self._buffer) > MAX_LINE_BYTES:
            cut = MAX_LINE_BYTES
            while cut > MAX_LINE_BYTES - 3 and self._buffer[cut] & 0xC0 == 0x80:
                cut -= 1  # do not split a UTF-8 sequence
            self._pending.append(bytes(self._buffer[:cut]))
            del self._buffer[:cut]
        return self._take()

    def flush(self) -> Iterator[str]:
        """At EOF: the lines still pending plus the unterminated remainder, masked."""
        if self._buffer:
            self._pending.append(bytes(self._buffer))
            self._buffer.clear()
        return self._take()

    def _take(self) -> Iterator[str]:
        while self._pending:
            raw = self._pending.popleft()
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            line = raw.decode("utf-8", errors="replace")
            yield self._masker.mask(line) if self._masker is not None else line


def mask_file(path: Path, masker: Masker) -> None:
    """Rewrite a UTF-8 text file Amoskys keeps (a test report) with its secrets masked.

    A file that cannot be read or written is left alone: its reader already got masked text.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        masked = masker.mask(text)
        if masked != text:
            path.write_text(masked, encoding="utf-8", errors="surrogateescape")
    except OSError:
        return
