"""GitHub's filter patterns for ``branches``, ``tags`` and ``paths`` ("filter pattern cheat sheet").

Syntax, as GitHub documents it:

* ``*`` matches zero or more characters except ``/``; ``**`` matches zero or more of any
  character. A ``**`` that fills a whole path segment and is followed by ``/`` (``**/``) also
  matches zero directories, so ``**/README.md`` matches ``README.md``.
* ``?`` matches zero or one, ``+`` one or more, of the preceding character (or ``[]`` set).
* ``[]`` matches one character listed in the brackets or included in a range; ranges can only
  be ``a-z``, ``A-Z`` and ``0-9`` (or parts of them).
* ``!`` at the start of a pattern negates it; anywhere else it is an ordinary character.
* ``\\`` makes the next character literal.

Matching is against the whole value and is case-sensitive. In a list, patterns are checked in
order and the last one that matches decides (a ``!`` pattern excludes, a later positive one
re-includes).

Choices where GitHub's documentation is silent: a ``?`` or ``+`` right after ``*``/``**`` adds
nothing and is accepted; one with nothing before it is an error (escape it as ``\\?``); a set
may also list non-alphanumeric characters literally (``[._-]``), but a set starting with ``^``
or ``!`` is an error because GitHub has no negated sets; a lone ``]`` is literal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from amoskys.errors import AmoskysError

__all__ = [
    "MAX_DIFF_FILES",
    "compile_pattern",
    "filter_passes",
    "is_negated",
    "matches_any",
    "paths_pass",
    "pattern_problem",
]

#: GitHub evaluates path filters against the first 300 files of the diff only.
MAX_DIFF_FILES = 300

_ESCAPE_HINT = "escape special characters with '\\' to match them literally"
_RANGE_CLASSES = (("a", "z"), ("A", "Z"), ("0", "9"))


class _PatternError(ValueError):
    """Internal: what is wrong with a pattern and where (0-based offset)."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass
class _Token:
    """One translated piece: ``regex`` text; ``atom`` if a following ``?``/``+`` applies to it."""

    regex: str
    atom: bool


def is_negated(pattern: str) -> bool:
    """True for a ``!`` pattern (one that excludes what it matches)."""
    return pattern.startswith("!")


def _in_range_class(start: str, end: str) -> bool:
    return any(lo <= start <= hi and lo <= end <= hi for lo, hi in _RANGE_CLASSES)


def _parse_set(body: str, pos: int) -> tuple[str, int]:
    """Translate the ``[...]`` starting at ``body[pos]``; return (regex, index after ``]``)."""
    start = pos
    pos += 1
    if pos < len(body) and body[pos] in "^!":
        raise _PatternError(
            f"'[{body[pos]}' negated sets are not part of GitHub's pattern syntax", pos
        )
    members: list[str] = []
    while True:
        if pos >= len(body):
            raise _PatternError("'[' is never closed by ']'", start)
        char = body[pos]
        if char == "]":
            break
        if char == "[":
            raise _PatternError("'[' inside a '[...]' set", pos)
        if char == "\\":
            if pos + 1 >= len(body):
                raise _PatternError("'\\' at the end escapes nothing", pos)
            char = body[pos + 1]
            pos += 1
        # A range: 'x-y' where '-' is not the last character of the set.
        if pos + 2 < len(body) and body[pos + 1] == "-" and body[pos + 2] != "]":
            end = body[pos + 2]
            if end == "\\":
                raise _PatternError("a range cannot end with an escaped character", pos + 2)
            if not _in_range_class(char, end):
                raise _PatternError(f"range '{char}-{end}' is not within a-z, A-Z or 0-9", pos)
            if end < char:
                raise _PatternError(f"range '{char}-{end}' is backwards", pos)
            members.append(f"{re.escape(char)}-{re.escape(end)}")
            pos += 3
            continue
        members.append(re.escape(char))
        pos += 1
    if not members:
        raise _PatternError("'[]' lists no characters", start)
    return "[" + "".join(members) + "]", pos + 1


def _translate(body: str, offset: int) -> str:
    """Translate a pattern body (without its ``!``) to a regular expression."""
    tokens: list[_Token] = []
    pos = 0
    while pos < len(body):
        char = body[pos]
        try:
            if char == "\\":
                if pos + 1 >= len(body):
                    raise _PatternError("'\\' at the end escapes nothing", pos)
                tokens.append(_Token(re.escape(body[pos + 1]), True))
                pos += 2
            elif char == "*":
                stars = pos
                while pos < len(body) and body[pos] == "*":
                    pos += 1
                if pos - stars == 1:
                    tokens.append(_Token("[^/]*", False))
                    continue
                segment_start = stars == 0 or body[stars - 1] == "/"
                slash_next = pos < len(body) and body[pos] == "/"
                quantified_slash = pos + 1 < len(body) and body[pos + 1] in "?+"
                if segment_start and slash_next and not quantified_slash:
                    tokens.append(_Token("(?:.*/)?", False))
                    pos += 1
                else:
                    tokens.append(_Token(".*", False))
            elif char in "?+":
                if not tokens:
                    raise _PatternError(f"'{char}' has no preceding character to repeat", pos)
                last = tokens[-1]
                if last.atom:
                    last.regex = f"(?:{last.regex}){char}"
                pos += 1
            elif char == "[":
                regex, pos = _parse_set(body, pos)
                tokens.append(_Token(regex, True))
            else:
                tokens.append(_Token(re.escape(char), True))
                pos += 1
        except _PatternError as exc:
            raise _PatternError(exc.message, exc.offset + offset) from None
    return "".join(token.regex for token in tokens)


def _check(pattern: str) -> str:
    """The regex for ``pattern`` (``!`` removed), or :class:`_PatternError`."""
    if pattern == "":
        raise _PatternError("empty pattern", 0)
    offset = 1 if is_negated(pattern) else 0
    body = pattern[offset:]
    if body == "":
        raise _PatternError("'!' must be followed by a pattern", 0)
    return r"\A" + _translate(body, offset) + r"\Z"


def pattern_problem(pattern: str) -> str | None:
    """What is wrong with ``pattern`` (for the parser's validation), or None when valid."""
    try:
        _check(pattern)
    except _PatternError as exc:
        return f"{exc.message} (at character {exc.offset + 1} of {pattern!r})"
    return None


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a filter pattern to a regex matching the whole value.

    A leading ``!`` is not part of the regex: it only marks the pattern as negated (see
    :func:`is_negated`); :func:`matches_any` applies it. Raises :class:`AmoskysError` for an
    invalid pattern.
    """
    try:
        regex = _check(pattern)
    except _PatternError as exc:
        raise AmoskysError(
            f"invalid filter pattern {pattern!r}: {exc.message}", hint=_ESCAPE_HINT
        ) from None
    return re.compile(regex, re.DOTALL)


def matches_any(patterns: Sequence[str], value: str) -> bool:
    """Whether ``value`` is included by ``patterns``: the last pattern that matches decides.

    A matching positive pattern includes, a matching ``!`` pattern excludes; a value that no
    pattern matches is not included (so a list of ``!`` patterns only includes nothing).
    """
    included = False
    for pattern in patterns:
        if compile_pattern(pattern).match(value) is not None:
            included = not is_negated(pattern)
    return included


def filter_passes(include: Sequence[str] | None, ignore: Sequence[str] | None, value: str) -> bool:
    """Apply a ``branches``/``branches-ignore`` (or ``tags``/``tags-ignore``) pair to ``value``.

    ``None`` means the filter was not written. With ``include``, ``value`` must be included by
    it; with ``ignore``, it must not be. (GitHub forbids writing both; if both are given anyway,
    both must pass.)
    """
    if include is not None and not matches_any(include, value):
        return False
    if ignore is not None and matches_any(ignore, value):
        return False
    return True


def paths_pass(
    include: Sequence[str] | None,
    ignore: Sequence[str] | None,
    changed: Sequence[str] | None,
) -> bool:
    """Apply ``paths``/``paths-ignore`` to the changed files, as GitHub documents it.

    * no path filter, or ``changed`` unknown (``None``: GitHub runs when it has no diff) → passes;
    * a path filter and no changed files → does not pass;
    * only the first :data:`MAX_DIFF_FILES` changed files are looked at;
    * ``paths``: passes if at least one changed file is included (ordered ``!`` semantics);
    * ``paths-ignore``: passes unless every changed file is ignored.
    """
    if (include is None and ignore is None) or changed is None:
        return True
    considered = list(changed[:MAX_DIFF_FILES])
    if not considered:
        return False
    if include is not None and not any(matches_any(include, path) for path in considered):
        return False
    if ignore is not None and all(matches_any(ignore, path) for path in considered):
        return False
    return True
