"""``hashFiles()``: GitHub's algorithm for hashing the files that match glob patterns.

Facts followed (from the GitHub runner and its ``@actions/glob`` matcher):

* the arguments are joined by newlines and split again into lines; each line is trimmed,
  empty lines and lines starting with ``#`` are skipped; leading ``!`` negates (``!!`` undoes);
* a first argument ``--follow-symbolic-links`` makes the walk follow links to directories;
* patterns are relative to the workspace (``./`` allowed at the start, ``~`` is the home
  directory), ``.`` elsewhere and ``..`` anywhere are errors;
* ``*``, ``?``, ``[...]`` match within one path segment, ``**`` matches any number of
  segments, dot files are matched, there are no braces nor extended globs, case matters;
* a pattern also matches everything below a directory it matches; a trailing ``/`` makes
  a pattern match directories only; the last pattern that matches a path decides;
* files are visited per search root (the literal part of each pattern, in pattern order),
  depth first with the entries of each directory sorted by name; directories are skipped;
* the result is the SHA-256 over the concatenated SHA-256 digests of the files, in that
  order, as lowercase hex; the empty string when no file matches.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["HashFilesError", "hash_files"]

FOLLOW_OPTION = "--follow-symbolic-links"


class HashFilesError(Exception):
    """Why hashFiles() could not produce a hash."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class _Segment:
    """One path segment of a pattern: ``regex`` None is ``**``; ``literal`` None is a glob."""

    regex: str | None
    literal: str | None


@dataclass(frozen=True)
class _Glob:
    """One pattern, made absolute."""

    negate: bool
    segments: tuple[_Segment, ...]
    dir_only: bool

    def search_root(self) -> tuple[str, ...]:
        """The literal path parts before the first glob segment."""
        parts: list[str] = []
        for segment in self.segments:
            if segment.literal is None:
                break
            parts.append(segment.literal)
        return tuple(parts)

    def with_descendants(self) -> _Glob:
        """The same pattern followed by ``/**`` (everything below what it matches)."""
        return _Glob(self.negate, self.segments + (_Segment(None, None),), False)


def _literal(segment: str) -> str | None:
    """The literal text of a segment without glob characters (``[x]`` counts), else None."""
    out: list[str] = []
    pos = 0
    while pos < len(segment):
        char = segment[pos]
        if char == "\\" and pos + 1 < len(segment):
            out.append(segment[pos + 1])
            pos += 2
            continue
        if char in "*?":
            return None
        if char == "[":
            close = _class_end(segment, pos)
            if close is not None:
                members = _unescape(segment[pos + 1 : close])
                if len(members) != 1:
                    return None
                out.append(members)
                pos = close + 1
                continue
        out.append(char)
        pos += 1
    return "".join(out)


def _unescape(text: str) -> str:
    """Drop backslash escapes."""
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


def _class_end(segment: str, start: int) -> int | None:
    """Index of the ``]`` closing the character class opened at ``start``, or None."""
    pos = start + 1
    if pos < len(segment) and segment[pos] in "!^":
        pos += 1
    if pos < len(segment) and segment[pos] == "]":
        pos += 1
    while pos < len(segment):
        if segment[pos] == "\\":
            pos += 2
            continue
        if segment[pos] == "]":
            return pos
        pos += 1
    return None


def _class_regex(body: str) -> str:
    """A regex character class for the inside of a glob ``[...]``."""
    negate = body[:1] in ("!", "^")
    chars = _unescape(body[1:] if negate else body)
    items: list[str] = []
    pos = 0
    while pos < len(chars):
        if pos + 2 < len(chars) and chars[pos + 1] == "-":
            low, high = chars[pos], chars[pos + 2]
            if low <= high:
                items.append(f"{re.escape(low)}-{re.escape(high)}")
            pos += 3
            continue
        items.append(re.escape(chars[pos]))
        pos += 1
    if not items:
        return "[^/]" if negate else "(?!)"
    return ("[^/" if negate else "[") + "".join(items) + "]"


def _glob_regex(segment: str) -> str:
    """A regex for one glob segment (no ``/`` inside)."""
    out: list[str] = []
    pos = 0
    while pos < len(segment):
        char = segment[pos]
        if char == "\\" and pos + 1 < len(segment):
            out.append(re.escape(segment[pos + 1]))
            pos += 2
        elif char == "*":
            if not out or out[-1] != "[^/]*":
                out.append("[^/]*")
            pos += 1
        elif char == "?":
            out.append("[^/]")
            pos += 1
        elif char == "[" and (close := _class_end(segment, pos)) is not None:
            out.append(_class_regex(segment[pos + 1 : close]))
            pos = close + 1
        else:
            out.append(re.escape(char))
            pos += 1
    return "".join(out)


def _segment(text: str) -> _Segment:
    """Compile one pattern segment."""
    if text == "**":
        return _Segment(None, None)
    literal = _literal(text)
    if literal is not None:
        return _Segment(re.escape(literal), literal)
    return _Segment(_glob_regex(text), None)


def _literal_segments(parts: Sequence[str]) -> tuple[_Segment, ...]:
    """Segments that match a literal path exactly."""
    return tuple(_Segment(re.escape(part), part) for part in parts)


def _path_parts(path: str) -> tuple[str, ...]:
    """The parts of an absolute path, without the root."""
    return tuple(part for part in path.replace(os.sep, "/").split("/") if part)


def _parse_line(line: str, workspace: tuple[str, ...]) -> _Glob:
    """Turn one pattern line into an absolute :class:`_Glob`."""
    negate = False
    while line.startswith("!"):
        negate = not negate
        line = line[1:].strip()
    if not line:
        raise HashFilesError("hashFiles() pattern cannot be empty", "remove the lone '!'")
    absolute = line.startswith("/")
    raw = [part for part in line.split("/") if part]
    for position, part in enumerate(raw):
        literal = _literal(part)
        if literal == ".." or (literal == "." and (position > 0 or absolute)):
            raise HashFilesError(
                f"Invalid pattern '{line}'. Relative pathing '.' and '..' is not allowed.",
                "write the pattern relative to the workspace",
            )
    base: tuple[str, ...] = ()
    if not absolute:
        base = workspace
        if raw and raw[0] == ".":
            raw = raw[1:]
        elif raw and raw[0] == "~":
            base = _path_parts(str(Path.home()))
            raw = raw[1:]
    segments = _literal_segments(base) + tuple(_segment(part) for part in raw)
    return _Glob(negate, segments, line.endswith("/"))


def _compile(glob: _Glob) -> re.Pattern[str]:
    """A regex over absolute ``/``-separated paths for a pattern."""
    parts: list[str] = []
    last = len(glob.segments) - 1
    for position, segment in enumerate(glob.segments):
        if segment.regex is not None:
            parts.append("/" + segment.regex)
        elif position == last:
            parts.append("(?:/.*)?")
        else:
            parts.append("(?:/[^/]+)*")
    try:
        return re.compile("".join(parts) + r"\Z", re.DOTALL)
    except (re.error, RecursionError, OverflowError) as err:
        raise HashFilesError(f"Invalid pattern: {err}") from None


def _expand(globs: Sequence[_Glob]) -> list[_Glob]:
    """Add the implicit ``/**`` twin of each pattern (unless it already ends in ``**``)."""
    out: list[_Glob] = []
    for glob in globs:
        out.append(glob)
        ends_with_globstar = bool(glob.segments) and glob.segments[-1].regex is None
        if glob.dir_only or not ends_with_globstar:
            out.append(glob.with_descendants())
    return out


def _search_roots(globs: Sequence[_Glob]) -> list[tuple[str, ...]]:
    """Search roots in pattern order, without roots that sit below another candidate."""
    candidates = {glob.search_root() for glob in globs if not glob.negate}
    roots: list[tuple[str, ...]] = []
    for glob in globs:
        root = glob.search_root()
        if glob.negate or root in roots:
            continue
        if any(root[:size] in candidates for size in range(len(root))):
            continue
        roots.append(root)
    return roots


def _walk_root(root: tuple[str, ...], workspace: tuple[str, ...]) -> tuple[str, ...] | None:
    """Where to walk for a search root: files outside the workspace never count."""
    if root[: len(workspace)] == workspace:
        return root
    if workspace[: len(root)] == root:
        return workspace
    return None


def _stat(path: str, follow: bool) -> os.stat_result | None:
    """Stat a path (following links or not); None if it vanished or the link is broken."""
    try:
        return os.stat(path) if follow else os.lstat(path)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None  # missing, below a file, or a name no file can have (NUL)


def _walk(root: str, follow: bool) -> Iterator[str]:
    """Non-directories under ``root``, depth first, each directory's entries sorted by name."""
    if _stat(root, follow=False) is None:
        return
    stack: list[tuple[str, tuple[str, ...]]] = [(root, ())]
    while stack:
        path, chain = stack.pop()
        info = _stat(path, follow)
        if info is None:
            continue
        if not stat.S_ISDIR(info.st_mode):
            yield path
            continue
        if follow:
            real = os.path.realpath(path)
            if real in chain:
                continue  # a symbolic link cycle
            chain = chain + (real,)
        names = sorted(os.listdir(path), key=os.fsencode)
        stack.extend((os.path.join(path, name), chain) for name in reversed(names))


def _matches(path: str, compiled: Sequence[tuple[_Glob, re.Pattern[str]]]) -> bool:
    """Whether a file is selected: the last pattern that matches it decides."""
    selected = False
    for glob, regex in compiled:
        if not glob.dir_only and regex.match(path):
            selected = not glob.negate
    return selected


def _digest(path: str) -> bytes:
    """SHA-256 of one file's content (following a symbolic link to a file)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").digest()


def _parse_arguments(arguments: Sequence[str]) -> tuple[bool, list[str]]:
    """``(follow_links, pattern_lines)`` from the function's arguments."""
    follow = False
    texts = list(arguments)
    if texts and texts[0].startswith("--"):
        if texts[0].lower() != FOLLOW_OPTION:
            raise HashFilesError(
                f"Invalid glob option {texts[0]}", f"the only option is '{FOLLOW_OPTION}'"
            )
        follow = True
        texts = texts[1:]
    lines = [line.strip() for line in "\n".join(texts).split("\n")]
    return follow, [line for line in lines if line and not line.startswith("#")]


def _selected_files(workspace: str, arguments: Sequence[str]) -> list[str]:
    """The files to hash, in GitHub's order."""
    follow, lines = _parse_arguments(arguments)
    ws_parts = _path_parts(workspace)
    globs = _expand([_parse_line(line, ws_parts) for line in lines])
    compiled = [(glob, _compile(glob)) for glob in globs]
    files: list[str] = []
    seen: set[str] = set()
    for root in _search_roots(globs):
        walk_parts = _walk_root(root, ws_parts)
        if walk_parts is None:
            continue
        for path in _walk("/" + "/".join(walk_parts), follow):
            posix = path.replace(os.sep, "/")
            if posix not in seen and _matches(posix, compiled):
                seen.add(posix)
                files.append(path)
    return files


def hash_files(workspace: Path, arguments: Sequence[str]) -> str:
    """GitHub's ``hashFiles(...)`` over ``workspace``; '' when nothing matches."""
    root = os.path.realpath(workspace)
    try:
        outer = hashlib.sha256()
        count = 0
        for path in _selected_files(root, arguments):
            info = _stat(path, follow=True)
            if info is None:
                raise HashFilesError(f"'{path}' is a broken symbolic link")
            if not stat.S_ISREG(info.st_mode):
                continue  # directories (links to them), pipes, sockets, devices
            outer.update(_digest(path))
            count += 1
    except OSError as err:
        raise HashFilesError(f"cannot read files: {err}") from None
    return outer.hexdigest() if count else ""
