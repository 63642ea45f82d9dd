"""YAML with positions: plain Python values plus the line and column of every key and value.

The text is composed with ruamel.yaml (YAML 1.2, so ``on`` stays the string ``"on"``) and the
node graph is turned into plain ``dict``/``list``/scalars by our own code, which records where
every node came from. Duplicate keys become :class:`Problem` values (not a traceback); syntax
errors become a :class:`WorkflowError` at the line and column ruamel reports. Anchors, aliases
and merge keys (``<<``) work; a value reached through an alias is located at its anchor.

ruamel has no type stubs, so its objects stay inside this module and are typed ``Any``.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Mapping

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from amoskys.errors import Location, Problem, WorkflowError

#: One step of a path into the document: a mapping key or a sequence index.
PathKey = str | int
#: A path from the document root, e.g. ``("jobs", "build", "steps", 0, "run")``.
YamlPath = tuple[PathKey, ...]

_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_TYPED = {
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
#: Guards against alias bombs and runaway nesting.
MAX_ENTRIES = 200_000
MAX_DEPTH = 100


@dataclass(frozen=True)
class Span:
    """Where one node sits: 0-based character range in the text, 1-based line/col of its start.

    ``style`` is ``None`` for plain scalars, ``"'"``, ``'"'``, ``"|"`` or ``">"`` for the other
    scalar styles, and ``"map"``/``"seq"`` for collections.
    """

    line: int
    col: int
    start: int
    end: int
    style: str | None = None


@dataclass
class YamlDocument:
    """A loaded YAML file: ``data`` as plain values and the spans of its keys and values."""

    path: str
    text: str
    data: Any
    values: Mapping[YamlPath, Span] = field(default_factory=dict)
    keys: Mapping[YamlPath, Span] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()

    def __post_init__(self) -> None:
        starts = [0]
        for index, char in enumerate(self.text):
            if char == "\n":
                starts.append(index + 1)
        self._line_starts = starts

    def location(self, path: YamlPath) -> Location:
        """The start of the value at ``path`` (or of its nearest located ancestor)."""
        span = self._nearest(self.values, path)
        if span is None:
            return Location(self.path, 1, 1)
        return Location(self.path, span.line, span.col)

    def key_location(self, path: YamlPath) -> Location:
        """The key that introduces ``path``; the value's location for sequence items."""
        span = self.keys.get(path)
        if span is not None:
            return Location(self.path, span.line, span.col)
        return self.location(path)

    def has(self, path: YamlPath) -> bool:
        """Whether a value was read at exactly ``path``."""
        return path in self.values

    def offset_location(self, path: YamlPath, offset: int) -> Location:
        """The position of character ``offset`` of the string value at ``path``.

        Exact for single-line plain and quoted scalars and for literal blocks; for folded
        and multi-line scalars the line is right and the column is the best alignment.
        """
        span = self.values.get(path)
        value = _lookup(self.data, path)
        if span is None or not isinstance(value, str) or span.style in ("map", "seq"):
            return self.location(path)
        index = self._char_index(span, offset, value)
        if index is None:
            return Location(self.path, span.line, span.col)
        return self._index_location(index)

    def line_text(self, line: int) -> str:
        """Line ``line`` (1-based) of the text, without its line break."""
        if line < 1 or line > len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def _nearest(self, table: Mapping[YamlPath, Span], path: YamlPath) -> Span | None:
        for size in range(len(path), -1, -1):
            span = table.get(path[:size])
            if span is not None:
                return span
        return None

    def _index_location(self, index: int) -> Location:
        line = bisect.bisect_right(self._line_starts, index)
        return Location(self.path, line, index - self._line_starts[line - 1] + 1)

    def _char_index(self, span: Span, offset: int, value: str) -> int | None:
        raw = self.text[span.start : span.end]
        body_at = _body_start(raw, span.style)
        if body_at is None:
            return None
        body = raw[body_at:]
        columns: list[int] | None = None
        if span.style in (None, "'", '"') and "\n" not in body.strip():
            columns = _inline_columns(body, span.style)
            if len(columns) != len(value) + 1:
                columns = None
        if columns is None:
            columns = _aligned_columns(body, value)
        if columns is None:
            return None
        offset = max(0, min(offset, len(columns) - 1))
        return span.start + body_at + columns[offset]


def _lookup(data: Any, path: YamlPath) -> Any:
    """The value at ``path`` in plain data, or ``None``."""
    for key in path:
        if isinstance(data, dict) and isinstance(key, str):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
            data = data[key]
        else:
            return None
    return data


def load_yaml(text: str, path: str) -> YamlDocument:
    """Parse ``text`` (the contents of ``path``) into a :class:`YamlDocument`.

    Raises :class:`WorkflowError` for YAML syntax errors; duplicate keys and values that
    cannot be constructed are returned in ``problems`` instead.
    """
    text = _normalise(text)
    node = _compose(text, path)
    builder = _Builder(path, text)
    data = None if node is None else builder.convert(node, (), 0, frozenset())
    return YamlDocument(
        path=path,
        text=text,
        data=data,
        values=builder.values,
        keys=builder.keys,
        problems=tuple(builder.problems),
    )


def _normalise(text: str) -> str:
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _compose(text: str, path: str) -> Any:
    yaml = YAML(typ="safe", pure=True)
    try:
        return yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path)
        message = f"invalid YAML: {exc.problem or exc.context or 'syntax error'}"
        hint = "fix the YAML syntax"
        if exc.problem and exc.context and str(exc.problem).startswith("but "):
            message = f"invalid YAML: {exc.context}, {exc.problem}"
        elif exc.problem and exc.context:
            hint = exc.context
            if exc.context_mark is not None:
                context_at = (exc.context_mark.line + 1, exc.context_mark.column + 1)
                hint = f"{hint} (from line {context_at[0]}, column {context_at[1]})"
        raise WorkflowError([Problem(message, where, hint)]) from None
    except ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1])
        message = f"invalid YAML: the control character U+{code:04X} is not allowed"
        problem = Problem(message, Location(path, line, col), "remove it or escape it in quotes")
        raise WorkflowError([problem]) from None
    except YAMLError as exc:
        raise WorkflowError([Problem(f"invalid YAML: {exc}", Location(path))]) from None
    except RecursionError:
        problem = Problem("invalid YAML: the document is nested too deeply", Location(path))
        raise WorkflowError([problem]) from None


class _Builder:
    """Turns a composed node graph into plain values, recording spans on the way."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.values: dict[YamlPath, Span] = {}
        self.keys: dict[YamlPath, Span] = {}
        self.problems: list[Problem] = []
        self._constructor: Any = YAML(typ="safe", pure=True).constructor
        self._too_big = False

    def convert(self, node: Any, path: YamlPath, depth: int, active: frozenset[int]) -> Any:
        """The plain value of ``node`` found at ``path``."""
        if len(self.values) >= MAX_ENTRIES or depth > MAX_DEPTH:
            if not self._too_big:
                self._too_big = True
                self.problems.append(
                    Problem(
                        "the document is too large or nested too deeply",
                        self._mark(node),
                        "expand fewer aliases",
                    )
                )
            return None
        if id(node) in active:
            self.problems.append(
                Problem("an alias refers to a node that contains it", self._mark(node), None)
            )
            return None
        if isinstance(node, ScalarNode):
            self.values[path] = self._span(node, node.style)
            return self._scalar(node)
        inner = active | {id(node)}
        if isinstance(node, SequenceNode):
            self.values[path] = self._span(node, "seq")
            return [
                self.convert(item, path + (index,), depth + 1, inner)
                for index, item in enumerate(node.value)
            ]
        if isinstance(node, MappingNode):
            self.values[path] = self._span(node, "map")
            return self._mapping(node, path, depth, inner)
        return None  # pragma: no cover - ruamel only produces the three node kinds

    def _mapping(
        self, node: Any, path: YamlPath, depth: int, active: frozenset[int]
    ) -> dict[str, Any]:
        explicit = {
            key_node.value
            for key_node, _ in node.value
            if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE
        }
        result: dict[str, Any] = {}
        first_seen: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE:
                self._merge(value_node, path, depth, active, explicit, result)
                continue
            if not isinstance(key_node, ScalarNode):
                self.problems.append(
                    Problem(
                        "a mapping key must be a plain string",
                        self._mark(key_node),
                        "write the key as a string",
                    )
                )
                continue
            key = str(key_node.value)
            if key in first_seen:
                first = first_seen[key]
                self.problems.append(
                    Problem(
                        f"duplicate key '{key}'",
                        self._mark(key_node),
                        f"it is already defined at line {first.start_mark.line + 1}; "
                        "remove one of them",
                    )
                )
                continue
            first_seen[key] = key_node
            child = path + (key,)
            self.keys[child] = self._span(key_node, key_node.style)
            result[key] = self.convert(value_node, child, depth + 1, active)
        return result

    def _merge(
        self,
        value_node: Any,
        path: YamlPath,
        depth: int,
        active: frozenset[int],
        explicit: set[str],
        result: dict[str, Any],
    ) -> None:
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        for source in sources:
            if not isinstance(source, MappingNode):
                self.problems.append(
                    Problem(
                        "a merge key ('<<') needs a mapping or a list of mappings",
                        self._mark(source),
                        "merge an alias of a mapping, like '<<: *defaults'",
                    )
                )
                continue
            if id(source) in active:
                self.problems.append(
                    Problem("an alias refers to a node that contains it", self._mark(source))
                )
                continue
            for key_node, item_node in source.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE:
                    continue
                key = str(key_node.value)
                if key in explicit or key in result:
                    continue
                child = path + (key,)
                self.keys[child] = self._span(key_node, key_node.style)
                result[key] = self.convert(item_node, child, depth + 1, active | {id(source)})

    def _scalar(self, node: Any) -> Any:
        if node.tag in _TYPED:
            try:
                return self._constructor.construct_object(node, deep=True)
            except (YAMLError, ValueError, TypeError) as exc:
                self.problems.append(
                    Problem(
                        f"value {node.value!r} is not a valid {node.tag.rsplit(':', 1)[-1]}",
                        self._mark(node),
                        str(getattr(exc, "problem", None) or "remove the tag or fix the value"),
                    )
                )
        return str(node.value)

    def _span(self, node: Any, style: str | None) -> Span:
        start, end = node.start_mark, node.end_mark
        return Span(start.line + 1, start.column + 1, start.index, end.index, style)

    def _mark(self, node: Any) -> Location:
        mark = node.start_mark
        return Location(self.path, mark.line + 1, mark.column + 1)


def _body_start(raw: str, style: str | None) -> int | None:
    """Where the scalar's characters start in ``raw``: after properties, quotes, headers."""
    at = 0
    while at < len(raw) and raw[at] in "&!":
        while at < len(raw) and not raw[at].isspace():
            at += 1
        while at < len(raw) and raw[at] in " \t\n":
            at += 1
    if style in ("'", '"'):
        return at + 1 if raw[at : at + 1] == style else None
    if style in ("|", ">"):
        newline = raw.find("\n", at)
        return None if newline < 0 else newline + 1
    return at


def _inline_columns(body: str, style: str | None) -> list[int]:
    """For a single-line scalar: the offset in ``body`` of each character of its value.

    One extra entry points just past the last character (or at the closing quote).
    """
    if style is None:
        return list(range(len(body.rstrip()) + 1))
    raw = body.rstrip()
    if raw.endswith(style or ""):
        raw = raw[:-1]
    columns: list[int] = []
    at = 0
    while at < len(raw):
        columns.append(at)
        if style == "'" and raw.startswith("''", at):
            at += 2
        elif style == '"' and raw[at] == "\\" and at + 1 < len(raw):
            at += 2 + {"x": 2, "u": 4, "U": 8}.get(raw[at + 1], 0)
        else:
            at += 1
    columns.append(at)
    return columns


def _aligned_columns(body: str, value: str) -> list[int] | None:
    """Align the value's characters with ``body`` (for folded and multi-line scalars).

    Non-blank characters of a scalar appear in its source in order, so a greedy match is
    enough to find the line (and nearly always the column) of each one.
    """
    columns: list[int] = []
    at = 0
    for char in value:
        if char.isspace():
            columns.append(min(at, max(len(body) - 1, 0)))
            if at < len(body) and body[at] == char:
                at += 1
            continue
        found = body.find(char, at)
        if found < 0:
            return None
        columns.append(found)
        at = found + 1
    columns.append(min(at, max(len(body) - 1, 0)))
    return columns
