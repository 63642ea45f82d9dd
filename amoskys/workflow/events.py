"""Which workflows an event triggers, and the typed inputs of a dispatch or call.

The rules follow GitHub's documentation of ``on``:

* ``push``: a branch push is filtered by ``branches``/``branches-ignore`` and the path filters;
  a tag push by ``tags``/``tags-ignore`` only (path filters are not evaluated for tags). When
  only branch filters are written, tag pushes do not trigger, and the other way round; with
  neither, both do.
* ``pull_request``/``pull_request_target``: ``branches`` filters match the *base* branch;
  ``types`` defaults to ``opened``, ``synchronize`` and ``reopened``; path filters apply.
* ``schedule``: fires for any of the listed crons (or the one given); it runs on the default
  branch, which the caller chooses as ``ref``, so no branch filter applies.
* ``workflow_run``: ``branches``/``branches-ignore`` match the branch of ``ref``. The
  ``workflows`` filter cannot be checked (the event does not say which workflow completed).
* Any other event (``workflow_dispatch``, ``workflow_call``, ...): triggers when listed; a
  ``types`` filter applies when both it and the event's ``action`` are given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from amoskys.errors import AmoskysError, Location
from amoskys.model import NOWHERE, InputSpec, Trigger, Workflow
from amoskys.workflow.filters import filter_passes, paths_pass

__all__ = [
    "DEFAULT_PULL_REQUEST_TYPES",
    "Event",
    "TriggerDecision",
    "normalise_ref",
    "resolve_inputs",
    "trigger_decision",
]

#: Activity types a ``pull_request``/``pull_request_target`` trigger without ``types`` runs for.
DEFAULT_PULL_REQUEST_TYPES = ("opened", "synchronize", "reopened")

_PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")
_HEADS = "refs/heads/"
_TAGS = "refs/tags/"
_BOOLEAN_TEXT = {"true": True, "false": False}


@dataclass(frozen=True)
class Event:
    """An event to test workflows against."""

    name: str
    ref: str = "refs/heads/main"  # the pushed branch/tag, or the PR head
    base_ref: str | None = None  # pull_request(_target): the base branch; None = unknown
    changed_paths: tuple[str, ...] | None = None  # None = unknown (path filters pass)
    inputs: Mapping[str, str] = field(default_factory=dict)
    action: str | None = None  # activity type; None = the event's default
    cron: str | None = None  # schedule: the cron that fired; None = any of them


@dataclass(frozen=True)
class TriggerDecision:
    """Whether a workflow runs for an event, and why (or why not)."""

    triggered: bool
    reason: str


def normalise_ref(ref_or_name: str, *, default_prefix: str = "refs/heads/") -> str:
    """A full ref: ``main`` → ``refs/heads/main``; ``tags/v1`` → ``refs/tags/v1``.

    Full refs (``refs/...``) are returned unchanged; ``heads/``, ``tags/`` and ``pull/`` get
    ``refs/`` in front; any other name gets ``default_prefix``.
    """
    ref = ref_or_name.strip()
    if not ref:
        raise AmoskysError("empty git ref", hint="give a branch name, a tag or a full ref")
    if ref.startswith("refs/"):
        return ref
    if ref.startswith(("heads/", "tags/", "pull/")):
        return "refs/" + ref
    return default_prefix + ref


def _short(ref: str) -> str:
    for prefix in (_HEADS, _TAGS):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def _listing(patterns: Sequence[str]) -> str:
    return "[" + ", ".join(patterns) + "]"


def _ref_filter_failure(
    kind: str,
    name: str,
    include: Sequence[str] | None,
    ignore: Sequence[str] | None,
    ignore_key: str,
) -> str | None:
    """Why a branch/tag ``name`` fails an include/ignore pair, or None if it passes."""
    if include is not None and not filter_passes(include, None, name):
        return f"{kind} not in {_listing(include)}"
    if ignore is not None and not filter_passes(None, ignore, name):
        return f"{kind} matches {ignore_key} {_listing(ignore)}"
    return None


def _paths_failure(trigger: Trigger, event: Event) -> str | None:
    if paths_pass(trigger.paths, trigger.paths_ignore, event.changed_paths):
        return None
    changed = event.changed_paths or ()
    if not changed:
        return "no changed files to match the path filters"
    if trigger.paths is not None:
        return f"no changed file matches paths {_listing(trigger.paths)}"
    return f"every changed file matches paths-ignore {_listing(trigger.paths_ignore or ())}"


def _has(*filters: Sequence[str] | None) -> bool:
    return any(f is not None for f in filters)


def _push(trigger: Trigger, event: Event, ref: str) -> TriggerDecision:
    head = f"push to {ref}"
    branch_filtered = _has(trigger.branches, trigger.branches_ignore)
    tag_filtered = _has(trigger.tags, trigger.tags_ignore)
    if ref.startswith(_TAGS):
        if branch_filtered and not tag_filtered:
            return TriggerDecision(False, f"{head}: only branch filters are set, tags never match")
        failure = _ref_filter_failure(
            "tag", _short(ref), trigger.tags, trigger.tags_ignore, "tags-ignore"
        )
        if failure:
            return TriggerDecision(False, f"{head}: {failure}")
        return TriggerDecision(True, f"{head}: tag matches (path filters do not apply to tags)")
    if tag_filtered and not branch_filtered:
        return TriggerDecision(False, f"{head}: only tag filters are set, branches never match")
    failure = _ref_filter_failure(
        "branch", _short(ref), trigger.branches, trigger.branches_ignore, "branches-ignore"
    ) or _paths_failure(trigger, event)
    if failure:
        return TriggerDecision(False, f"{head}: {failure}")
    return TriggerDecision(True, f"{head}: matches the push filters")


def _types_failure(trigger: Trigger, event: Event, defaults: Sequence[str] | None) -> str | None:
    """Why the activity type does not match, or None. ``defaults``: the event's default types."""
    wanted = trigger.types if trigger.types is not None else defaults
    if wanted is None:
        return None
    if event.action is None:
        if defaults is None or any(kind in wanted for kind in defaults):
            return None
        return f"types {_listing(wanted)} include none of the default {_listing(defaults)}"
    if event.action in wanted:
        return None
    origin = "types" if trigger.types is not None else "default types"
    return f"activity '{event.action}' not in {origin} {_listing(wanted)}"


def _pull_request(trigger: Trigger, event: Event) -> TriggerDecision:
    action = f" ({event.action})" if event.action else ""
    if event.base_ref is None:
        head = f"{event.name}{action} into an unknown base"
        branch_failure = None
    else:
        base = normalise_ref(event.base_ref)
        head = f"{event.name}{action} into {base}"
        branch_failure = _ref_filter_failure(
            "base branch",
            _short(base),
            trigger.branches,
            trigger.branches_ignore,
            "branches-ignore",
        )
    failure = (
        _types_failure(trigger, event, DEFAULT_PULL_REQUEST_TYPES)
        or branch_failure
        or _paths_failure(trigger, event)
    )
    if failure:
        return TriggerDecision(False, f"{head}: {failure}")
    return TriggerDecision(True, f"{head}: matches the {event.name} filters")


def _schedule(trigger: Trigger, event: Event) -> TriggerDecision:
    if not trigger.crons:
        return TriggerDecision(False, "schedule: the workflow lists no cron")
    if event.cron is None:
        return TriggerDecision(True, f"schedule: crons {_listing(trigger.crons)}")
    wanted = " ".join(event.cron.split())
    if any(" ".join(cron.split()) == wanted for cron in trigger.crons):
        return TriggerDecision(True, f"schedule: cron '{event.cron}' is listed")
    return TriggerDecision(False, f"schedule: cron '{event.cron}' not in {_listing(trigger.crons)}")


def _other(trigger: Trigger, event: Event, ref: str) -> TriggerDecision:
    action = f" ({event.action})" if event.action else ""
    head = f"{event.name}{action}"
    failure = _types_failure(trigger, event, None)
    if failure is None and event.name == "workflow_run":
        failure = _ref_filter_failure(
            "branch", _short(ref), trigger.branches, trigger.branches_ignore, "branches-ignore"
        )
    if failure:
        return TriggerDecision(False, f"{head}: {failure}")
    return TriggerDecision(True, f"{head}: listed under 'on'")


def trigger_decision(workflow: Workflow, event: Event) -> TriggerDecision:
    """Whether ``event`` triggers ``workflow``, with a human reason.

    Raises :class:`AmoskysError` only for an invalid filter pattern or an empty ref.
    """
    trigger = workflow.trigger(event.name)
    if trigger is None:
        listed = _listing([t.event for t in workflow.triggers])
        return TriggerDecision(False, f"{event.name}: not among the workflow's events {listed}")
    ref = normalise_ref(event.ref)
    if event.name == "push":
        return _push(trigger, event, ref)
    if event.name in _PULL_REQUEST_EVENTS:
        return _pull_request(trigger, event)
    if event.name == "schedule":
        return _schedule(trigger, event)
    return _other(trigger, event, ref)


def _where(spec: InputSpec, trigger: Trigger) -> Location | None:
    for location in (spec.location, trigger.location):
        if location != NOWHERE:
            return location
    return None


def _input_error(spec: InputSpec, trigger: Trigger, expected: str, got: object) -> AmoskysError:
    return AmoskysError(
        f"input '{spec.name}' of {trigger.event} must be {expected}, got {got!r}",
        location=_where(spec, trigger),
    )


def _to_number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _typed(spec: InputSpec, trigger: Trigger, value: object) -> Any:
    """``value`` converted to the input's type, or :class:`AmoskysError`."""
    kind = spec.type
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _BOOLEAN_TEXT:
            return _BOOLEAN_TEXT[value.strip().lower()]
        raise _input_error(spec, trigger, "a boolean (true or false)", value)
    if kind == "number":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isfinite(value):
                return value
        elif isinstance(value, str):
            number = _to_number(value.strip())
            if number is not None:
                return number
        raise _input_error(spec, trigger, "a number", value)
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (str, int, float)):
        text = str(value)
    else:
        raise _input_error(spec, trigger, "a string", value)
    if kind == "choice" and text not in spec.options:
        raise _input_error(spec, trigger, f"one of {_listing(spec.options)}", text)
    return text


def _is_expression(value: object) -> bool:
    return isinstance(value, str) and "${{" in value


def resolve_inputs(trigger: Trigger, given: Mapping[str, object]) -> dict[str, Any]:
    """The typed inputs of a ``workflow_dispatch``/``workflow_call``, defaults filled in.

    ``boolean`` gives ``bool`` (from ``true``/``false``), ``number`` gives ``int`` or ``float``,
    ``choice`` must be one of its options, ``string``/``environment`` stay text. A missing input
    takes its default, else is an error when required, else ``false``/``0``/``""`` by type. A
    default holding an expression (``${{ }}``) is kept as written. An input the trigger does not
    declare is an error, as on GitHub. Raises :class:`AmoskysError` naming the input.
    """
    declared = {spec.name: spec for spec in trigger.inputs}
    unknown = sorted(name for name in given if name not in declared)
    if unknown:
        names = ", ".join(f"'{name}'" for name in unknown)
        accepted = _listing(sorted(declared)) if declared else "none"
        raise AmoskysError(
            f"{trigger.event} has no input {names}",
            location=None if trigger.location == NOWHERE else trigger.location,
            hint=f"declared inputs: {accepted}",
        )
    resolved: dict[str, Any] = {}
    for spec in trigger.inputs:
        if spec.name in given:
            resolved[spec.name] = _typed(spec, trigger, given[spec.name])
        elif spec.default is not None:
            default = spec.default
            resolved[spec.name] = (
                default if _is_expression(default) else _typed(spec, trigger, default)
            )
        elif spec.required:
            raise AmoskysError(
                f"input '{spec.name}' of {trigger.event} is required",
                location=_where(spec, trigger),
                hint=f"give a value for '{spec.name}'"
                + (f" (one of {_listing(spec.options)})" if spec.options else ""),
            )
        elif spec.type == "boolean":
            resolved[spec.name] = False
        elif spec.type == "number":
            resolved[spec.name] = 0
        else:
            resolved[spec.name] = ""
    return resolved
