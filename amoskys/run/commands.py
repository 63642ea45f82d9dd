"""What a step tells the runner: workflow commands on stdout and the environment files.

Workflow commands are lines like ``::error file=app.py,line=3::Broken`` printed by a step.
:class:`CommandProcessor` is fed every stdout line of one step, in order, and says for each what
to show in the log and what else to do (register a secret, record an annotation, open a group).
It follows GitHub's runner:

* a command is ``::NAME PROPERTIES::DATA`` after leading whitespace; names and property keys are
  case-insensitive; a line whose name is not a known command is shown unchanged;
* properties are ``key=value`` pairs separated by ``,``; pairs without a key or a value are
  ignored. Data escapes ``%``, CR and LF as ``%25``, ``%0D``, ``%0A``; property values
  additionally escape ``:`` and ``,`` as ``%3A`` and ``%2C``;
* ``::stop-commands::TOKEN`` turns commands off until a line ``::TOKEN::``; both lines are shown;
* ``::echo::on`` makes processed commands show their own line (``add-mask``, ``debug`` and the
  annotation commands never do; ``add-mask`` shows ``::add-mask::***``). Echo starts on when
  step debug logging is on, as on GitHub;
* ``set-output``, ``set-env``, ``add-path`` and ``save-state`` are refused with a message naming
  the environment file to use instead. (GitHub fails a step that uses ``set-env`` or
  ``add-path``; it still accepts ``set-output`` and ``save-state`` with a deprecation warning,
  which amoskys deliberately does not.)

The environment files (``$GITHUB_ENV``, ``$GITHUB_OUTPUT``, ``$GITHUB_STATE``) hold
``NAME=value`` lines and ``NAME<<DELIMITER`` ... ``DELIMITER`` blocks; ``$GITHUB_PATH`` holds one
directory a line; ``$GITHUB_STEP_SUMMARY`` holds Markdown, at most 1 MiB.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from amoskys.errors import AmoskysError, Location

STEP_SUMMARY_LIMIT = 1024 * 1024
"""GitHub's cap on one step's summary, in bytes; a larger summary is dropped entirely."""

BLOCKED_ENV_NAMES = frozenset({"NODE_OPTIONS"})
"""Names ``$GITHUB_ENV`` may not set (compared case-insensitively, as GitHub does)."""

ANNOTATION_LEVELS = ("error", "warning", "notice")

REFUSED_COMMANDS = frozenset({"set-output", "set-env", "add-path", "save-state"})
"""Commands GitHub deprecated or disabled in favour of environment files."""

KNOWN_COMMANDS = frozenset(
    {
        "add-mask",
        "debug",
        "group",
        "endgroup",
        "stop-commands",
        "echo",
        "add-matcher",
        "remove-matcher",
        *ANNOTATION_LEVELS,
        *REFUSED_COMMANDS,
    }
)

_COMMAND_KEY = "::"

# Escapes, in the order GitHub's runner undoes them ("%25" last, so "%250A" stays "%0A").
_DATA_ESCAPES = (("\r", "%0D"), ("\n", "%0A"))
_PROPERTY_ESCAPES = _DATA_ESCAPES + ((":", "%3A"), (",", "%2C"))
_DATA_UNESCAPE = re.compile(r"%(?:25|0D|0A)")
_PROPERTY_UNESCAPE = re.compile(r"%(?:25|0D|0A|3A|2C)")
_UNESCAPED = {"%25": "%", "%0D": "\r", "%0A": "\n", "%3A": ":", "%2C": ","}
_INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*")
_PATH_LINE_BREAK = re.compile(r"\r\n|\r|\n")


# --- escaping -------------------------------------------------------------------------------


def escape_data(text: str) -> str:
    """Escape a command's data (the part after the second ``::``)."""
    text = text.replace("%", "%25")
    for raw, escaped in _DATA_ESCAPES:
        text = text.replace(raw, escaped)
    return text


def escape_property(text: str) -> str:
    """Escape a property value: as data, plus ``:`` and ``,``."""
    text = text.replace("%", "%25")
    for raw, escaped in _PROPERTY_ESCAPES:
        text = text.replace(raw, escaped)
    return text


def unescape_data(text: str) -> str:
    """Undo :func:`escape_data`. Other ``%`` sequences (and lower-case hex) stay as they are."""
    return _DATA_UNESCAPE.sub(lambda m: _UNESCAPED[m.group(0)], text)


def unescape_property(text: str) -> str:
    """Undo :func:`escape_property`."""
    return _PROPERTY_UNESCAPE.sub(lambda m: _UNESCAPED[m.group(0)], text)


# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkflowCommand:
    """One parsed command: lower-case ``name``, lower-case property keys, unescaped values."""

    name: str
    properties: Mapping[str, str] = field(default_factory=dict, hash=False)
    message: str = ""


@dataclass(frozen=True)
class Annotation:
    """An error, warning or notice attached to the run (and, given ``file``, to a file)."""

    level: str
    message: str
    file: str | None = None
    line: int | None = None
    col: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    title: str | None = None

    def __str__(self) -> str:
        parts = [self.level.capitalize()]
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.col is not None:
                    where += f":{self.col}"
            parts.append(where)
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.title:
            parts.append(self.title)
        return ": ".join(parts) + f": {self.message}"


@dataclass(frozen=True)
class CommandOutcome:
    """What to do with one line of step output.

    ``display`` is the text for the log (``None``: show nothing; it may hold several lines).
    ``mask`` is a new secret; ``annotation`` a new annotation; ``group`` the name of a group that
    starts (``""`` for an unnamed one); ``end_group`` whether the innermost group ends; ``debug``
    a debug message (always reported; shown in ``display`` only with step debug on); ``error`` a
    refused or failed command, which should fail the step (as GitHub does for a command it
    cannot process).
    """

    display: str | None = None
    mask: str | None = None
    annotation: Annotation | None = None
    group: str | None = None
    end_group: bool = False
    debug: str | None = None
    error: str | None = None


def _split_command(line: str) -> WorkflowCommand | None:
    """``::NAME PROPS::DATA`` with any name; ``None`` when the line is not of that shape."""
    text = line.lstrip()
    if not text.startswith(_COMMAND_KEY):
        return None
    end = text.find(_COMMAND_KEY, len(_COMMAND_KEY))
    if end < 0:
        return None
    info = text[len(_COMMAND_KEY) : end]
    name, _, props_text = info.partition(" ")
    if not name:
        return None
    properties: dict[str, str] = {}
    for pair in props_text.strip().split(","):
        key, _, value = pair.partition("=")
        if key and value:
            properties[key.lower()] = unescape_property(value)
    message = unescape_data(text[end + len(_COMMAND_KEY) :])
    return WorkflowCommand(name.lower(), MappingProxyType(properties), message)


def _strip_line_end(line: str) -> str:
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    return line


def parse_command(line: str) -> WorkflowCommand | None:
    """The known workflow command on ``line`` (a trailing line break is ignored), else ``None``."""
    command = _split_command(_strip_line_end(line))
    if command is None or command.name not in KNOWN_COMMANDS:
        return None
    return command


def format_command(
    name: str, properties: Mapping[str, str] | None = None, message: str = ""
) -> str:
    """The line a step prints to issue a command, escaped as GitHub documents."""
    props = ",".join(f"{key}={escape_property(value)}" for key, value in (properties or {}).items())
    head = f"{name} {props}" if props else name
    return f"::{head}::{escape_data(message)}"


def _positive_int(text: str | None) -> int | None:
    if text is None or not _INTEGER.fullmatch(text):
        return None
    number = int(text)
    return number if number > 0 else None


def annotation_from_command(command: WorkflowCommand) -> Annotation:
    """Build the annotation of an ``error``/``warning``/``notice`` command.

    Positions are sanitised as GitHub's runner does: ``endLine`` alone also sets ``line``,
    ``endColumn`` alone also sets ``col``; columns are dropped without a line or when the range
    spans several lines; a range that ends before it starts is dropped. Values that are not
    positive integers count as absent.
    """
    props = command.properties
    line = _positive_int(props.get("line"))
    end_line = _positive_int(props.get("endline"))
    col = _positive_int(props.get("col"))
    end_col = _positive_int(props.get("endcolumn"))
    has_column = col is not None or end_col is not None
    if end_line is not None and line is None:
        line = end_line
    if end_col is not None and col is None:
        col = end_col
    if line is None and has_column:
        col = end_col = None
    if end_line is not None and line != end_line and has_column:
        col = end_col = None
    if line is not None and end_line is not None and end_line < line:
        line = end_line = None
    if col is not None and end_col is not None and end_col < col:
        col = end_col = None
    return Annotation(
        level=command.name,
        message=command.message,
        file=props.get("file") or None,
        line=line,
        col=col,
        end_line=end_line,
        end_column=end_col,
        title=props.get("title") or None,
    )


def _refusal(command: WorkflowCommand) -> str:
    """The message for a removed command, naming the environment file to use instead."""
    name = command.properties.get("name") or "NAME"
    if command.name == "add-path":
        directory = command.message or "DIRECTORY"
        return (
            "the '::add-path::' workflow command was disabled by GitHub; append the directory "
            f'to the $GITHUB_PATH file instead: echo "{directory}" >> "$GITHUB_PATH"'
        )
    file = {
        "set-output": "GITHUB_OUTPUT",
        "set-env": "GITHUB_ENV",
        "save-state": "GITHUB_STATE",
    }[command.name]
    return (
        f"the '::{command.name}::' workflow command was disabled by GitHub; append "
        f'"{name}=value" to the ${file} file instead: echo "{name}=value" >> "${file}" '
        f"(for a multi-line value: {name}<<EOF, the lines, then EOF)"
    )


class CommandProcessor:
    """Reads one step's stdout lines in order and says what each one means.

    ``debug`` is step debug logging (``ACTIONS_STEP_DEBUG``): it shows ``::debug::`` messages
    and starts with command echo on. ``echo`` overrides the initial echo state.
    """

    def __init__(self, *, debug: bool = False, echo: bool | None = None) -> None:
        self._debug = debug
        self._echo = debug if echo is None else echo
        self._stop_token: str | None = None
        self._depth = 0

    @property
    def stopped(self) -> bool:
        """Whether ``::stop-commands::`` is in effect."""
        return self._stop_token is not None

    @property
    def echo(self) -> bool:
        """Whether processed commands show their own line."""
        return self._echo

    @property
    def group_depth(self) -> int:
        """How many groups are open (a caller closes them when the step ends)."""
        return self._depth

    def _debug_outcome(self, message: str, echoed: str | None = None) -> CommandOutcome:
        shown = [echoed] if echoed is not None else []
        if self._debug:
            shown.append(f"Debug: {message}")
        return CommandOutcome(display="\n".join(shown) or None, debug=message)

    def feed(self, line: str) -> CommandOutcome:
        """Process one line of output (with or without its line break)."""
        text = _strip_line_end(line)
        if self._stop_token is not None:
            candidate = _split_command(text)
            if (
                candidate is not None
                and self._stop_token
                and candidate.name == self._stop_token.lower()
            ):
                self._stop_token = None
            return CommandOutcome(display=text)
        command = parse_command(text)
        if command is None:
            return CommandOutcome(display=text)
        return self._process(command, text)

    def _process(self, command: WorkflowCommand, text: str) -> CommandOutcome:
        name = command.name
        echoed = text if self._echo else None
        if name == "add-mask":
            if not command.message.strip():
                warning = Annotation("warning", "'::add-mask::' was given an empty value")
                return CommandOutcome(display=str(warning), annotation=warning)
            shown = "::add-mask::***" if self._echo else None
            return CommandOutcome(display=shown, mask=command.message)
        if name in ANNOTATION_LEVELS:
            annotation = annotation_from_command(command)
            return CommandOutcome(display=str(annotation), annotation=annotation)
        if name == "debug":
            return self._debug_outcome(command.message)
        if name == "group":
            self._depth += 1
            header = f"[group] {command.message}".rstrip()
            shown = header if echoed is None else f"{echoed}\n{header}"
            return CommandOutcome(display=shown, group=command.message)
        if name == "endgroup":
            if self._depth == 0:
                return CommandOutcome(display=echoed)
            self._depth -= 1
            return CommandOutcome(display=echoed, end_group=True)
        if name == "stop-commands":
            self._stop_token = command.message
            if not command.message:
                warning = Annotation(
                    "warning",
                    "'::stop-commands::' without a token: workflow commands stay off for the "
                    "rest of this step",
                )
                return CommandOutcome(display=f"{text}\n{warning}", annotation=warning)
            return CommandOutcome(display=text)
        if name == "echo":
            value = command.message.strip().lower()
            if value not in ("on", "off"):
                return CommandOutcome(
                    display=echoed,
                    error=f"'::echo::' takes 'on' or 'off', not {command.message!r}",
                )
            self._echo = value == "on"
            return CommandOutcome(display=echoed)
        if name in REFUSED_COMMANDS:
            return CommandOutcome(error=_refusal(command))
        # add-matcher / remove-matcher: problem matchers are not supported locally.
        return self._debug_outcome(f"'::{name}::' (problem matchers) is ignored locally", echoed)


# --- environment files ----------------------------------------------------------------------


def _read_text(path: Path) -> str | None:
    """The file's text (``None`` if it does not exist): UTF-8, or UTF-16 with a BOM."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AmoskysError(
            f"cannot read {path}: {exc.strerror or exc}", location=Location(str(path))
        ) from exc
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", errors="replace")
    return raw.decode("utf-8-sig", errors="replace")


def _shown(text: str, limit: int = 40) -> str:
    """A short quotation of a line for an error message."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


_FORMS = "expected NAME=value or NAME<<DELIMITER"


def parse_env_file(path: Path) -> dict[str, str]:
    """Read ``$GITHUB_ENV``, ``$GITHUB_OUTPUT`` or ``$GITHUB_STATE`` into a dict.

    Each non-empty line is ``NAME=value`` (the first ``=`` splits, so the value may hold ``=``
    and ``<<``) or ``NAME<<DELIMITER`` followed by the value's lines and a line that is exactly
    the delimiter (``<<`` before any ``=``). Whichever of ``=`` and ``<<`` comes first decides.
    A CR before a line break is dropped (line breaks inside a multi-line value are kept as
    written). Later assignments win. A missing file reads as empty. Raises
    :class:`AmoskysError` with the file and 1-based line for an empty name or delimiter, a line
    of neither form, or a value whose end delimiter never comes.
    """
    text = _read_text(path)
    if not text:
        return {}
    pieces = text.split("\n")
    if pieces[-1] == "":
        pieces.pop()  # the text ended with a line break
    values: dict[str, str] = {}
    index = 0
    while index < len(pieces):
        number = index + 1
        line = pieces[index].removesuffix("\r")
        index += 1
        if not line:
            continue
        where = Location(str(path), number)
        equals, heredoc = line.find("="), line.find("<<")
        if equals >= 0 and (heredoc < 0 or equals < heredoc):
            name, _, value = line.partition("=")
            if not name:
                raise AmoskysError(
                    f"{_FORMS}, found a line with no name before '='", location=where
                )
            values[name] = value
        elif heredoc >= 0:
            name, _, delimiter = line.partition("<<")
            if not name or not delimiter:
                missing = "name before '<<'" if not name else "delimiter after '<<'"
                raise AmoskysError(f"{_FORMS}, found a line with no {missing}", location=where)
            body: list[str] = []
            while index < len(pieces) and pieces[index].removesuffix("\r") != delimiter:
                body.append(pieces[index])
                index += 1
            if index == len(pieces):
                raise AmoskysError(
                    f"the multi-line value of {name!r} started here has no end delimiter: "
                    f"expected a line {delimiter!r} before the end of the file",
                    location=where,
                    hint=f"end the value with a line holding exactly {delimiter}, nothing else",
                )
            index += 1
            values[name] = "\n".join(body).removesuffix("\r")
        else:
            raise AmoskysError(f"{_FORMS}, found {_shown(line)}", location=where)
    return values


def drop_blocked_env(values: Mapping[str, str]) -> tuple[dict[str, str], list[Annotation]]:
    """Remove the names ``$GITHUB_ENV`` may not set; one error annotation per name removed.

    Like GitHub, the other variables still apply and the step does not fail.
    """
    kept: dict[str, str] = {}
    refused: list[Annotation] = []
    blocked = {name.upper() for name in BLOCKED_ENV_NAMES}
    for name, value in values.items():
        if name.upper() in blocked:
            refused.append(
                Annotation(
                    "error",
                    f"{name} cannot be set through $GITHUB_ENV (GitHub blocks it for security); "
                    "set it in the 'env:' of the step that needs it",
                )
            )
        else:
            kept[name] = value
    return kept, refused


def parse_github_env(path: Path) -> tuple[dict[str, str], list[Annotation]]:
    """:func:`parse_env_file` for ``$GITHUB_ENV``, with :func:`drop_blocked_env` applied."""
    return drop_blocked_env(parse_env_file(path))


def parse_path_file(path: Path) -> list[str]:
    """The directories added through ``$GITHUB_PATH``, highest precedence first.

    Every line that is not blank is a directory, kept as written. Each one goes in front of the
    ones before it, so the last line comes first; a directory written twice keeps its last
    position. A missing file reads as empty.
    """
    text = _read_text(path)
    if not text:
        return []
    ordered: list[str] = []
    for line in _PATH_LINE_BREAK.split(text):
        if not line.strip():
            continue
        if line in ordered:
            ordered.remove(line)
        ordered.append(line)
    ordered.reverse()
    return ordered


def prepend_paths(current: Sequence[str], added: Sequence[str]) -> list[str]:
    """The job's added directories after a step added ``added`` (both highest first)."""
    return list(added) + [directory for directory in current if directory not in added]


# --- step summary ---------------------------------------------------------------------------


class StepSummaryTooLargeError(AmoskysError):
    """A step summary over :data:`STEP_SUMMARY_LIMIT`.

    GitHub drops such a summary entirely and records an error annotation, without failing the
    step; :attr:`annotation` is that annotation.
    """

    def __init__(self, path: Path, size: int) -> None:
        super().__init__(
            f"$GITHUB_STEP_SUMMARY is {size // 1024}k; a step summary may hold at most "
            f"{STEP_SUMMARY_LIMIT // 1024}k, so it was not kept",
            location=Location(str(path)),
            hint="write large reports to a file (an artifact) and link to it from the summary",
        )
        self.size = size

    @property
    def annotation(self) -> Annotation:
        """The error annotation to record instead of the summary."""
        return Annotation("error", self.message)


def step_summary_markdown(path: Path) -> str:
    """The Markdown a step wrote to ``$GITHUB_STEP_SUMMARY`` (``""`` if none).

    Raises :class:`StepSummaryTooLargeError` past 1 MiB: the whole summary is dropped then, as
    on GitHub. The text is not masked here; mask it before showing or storing it.
    """
    try:
        with path.open("rb") as stream:
            raw = stream.read(STEP_SUMMARY_LIMIT + 1)
            if len(raw) > STEP_SUMMARY_LIMIT:
                stream.seek(0, 2)
                raise StepSummaryTooLargeError(path, stream.tell())
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise AmoskysError(
            f"cannot read {path}: {exc.strerror or exc}", location=Location(str(path))
        ) from exc
    return raw.decode("utf-8-sig", errors="replace")
