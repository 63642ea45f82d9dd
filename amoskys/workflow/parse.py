"""GitHub Actions workflow files (and local composite actions) -> the model, validated.

Every mistake in a file is collected in one pass as a :class:`Problem` that names the file,
line and column and says what would be right; a file with any problem raises one
:class:`WorkflowError` listing them all. Values GitHub evaluates later are kept as written.

When a workflow is read from a repository root, the local reusable workflows
(``jobs.<id>.uses: ./.github/workflows/x.yml``) and local composite actions
(``steps[*].uses: ./path``) it refers to are read as well; their problems carry their own
paths. :func:`load_reusable` and :func:`load_local_action` give the planner the parsed
files (cached per path and modification time).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Mapping, Sequence, TypeVar

from amoskys.errors import ExpressionError, Location, Problem, WorkflowError
from amoskys.model import (
    ActionInput,
    CompositeAction,
    Concurrency,
    Environment,
    InputSpec,
    Job,
    Matrix,
    OutputSpec,
    RunDefaults,
    RunsOn,
    SecretSpec,
    Step,
    Strategy,
    Trigger,
    Workflow,
)
from amoskys.workflow.cron import cron_problem
from amoskys.workflow.expressions import check_expression, check_template
from amoskys.workflow.filters import pattern_problem
from amoskys.workflow.yaml_source import YamlDocument, YamlPath, load_yaml

__all__ = [
    "discover_workflows",
    "load_local_action",
    "load_reusable",
    "load_workflows",
    "parse_action",
    "parse_action_text",
    "parse_workflow",
    "parse_workflow_text",
]

WORKFLOWS_DIR = ".github/workflows"
ACTION_FILES = ("action.yml", "action.yaml")

# ---------------------------------------------------------------------------------------------
# What GitHub's workflow syntax allows
# ---------------------------------------------------------------------------------------------

WORKFLOW_KEYS = ("name", "run-name", "on", "env", "defaults", "concurrency", "permissions", "jobs")
JOB_KEYS = tuple(
    "name permissions needs if runs-on environment concurrency outputs env defaults steps"
    " timeout-minutes strategy continue-on-error container services uses with secrets".split()
)
#: Keys a job that calls a reusable workflow may have.
CALL_JOB_KEYS = tuple("name uses with secrets strategy needs if permissions concurrency".split())
STEP_KEYS = tuple(
    "id if name uses run shell with env working-directory continue-on-error timeout-minutes".split()
)
COMPOSITE_STEP_KEYS = tuple(key for key in STEP_KEYS if key != "timeout-minutes")
ACTION_KEYS = ("name", "author", "description", "inputs", "outputs", "runs", "branding")
SHELLS = ("bash", "pwsh", "python", "sh", "cmd", "powershell")
PERMISSION_SCOPES = tuple(
    "actions attestations checks contents deployments discussions id-token issues models"
    " packages pages pull-requests repository-projects security-events statuses".split()
)
PERMISSION_LEVELS = ("read", "write", "none")

_PR_TYPES = tuple(
    "assigned unassigned labeled unlabeled opened edited closed reopened synchronize"
    " converted_to_draft ready_for_review locked unlocked review_requested"
    " review_request_removed auto_merge_enabled auto_merge_disabled milestoned demilestoned"
    " enqueued dequeued".split()
)
_CRUD = ("created", "edited", "deleted")
_ANY = None
#: Events GitHub knows, with their activity types (``None``: any ``types`` are accepted).
EVENT_TYPES: dict[str, tuple[str, ...] | None] = {
    "branch_protection_rule": _CRUD,
    "check_run": ("created", "rerequested", "completed", "requested_action"),
    "check_suite": ("completed",),
    "create": _ANY,
    "delete": _ANY,
    "deployment": _ANY,
    "deployment_status": _ANY,
    "discussion": _CRUD
    + tuple(
        "transferred pinned unpinned labeled unlabeled locked unlocked category_changed"
        " answered unanswered".split()
    ),
    "discussion_comment": _CRUD,
    "fork": _ANY,
    "gollum": _ANY,
    "image_version": _ANY,
    "issue_comment": _CRUD,
    "issues": tuple(
        "opened edited deleted transferred pinned unpinned closed reopened assigned unassigned"
        " labeled unlabeled locked unlocked milestoned demilestoned typed untyped".split()
    ),
    "label": _CRUD,
    "merge_group": ("checks_requested",),
    "milestone": ("created", "closed", "opened", "edited", "deleted"),
    "page_build": _ANY,
    "project": _ANY,
    "project_card": _ANY,
    "project_column": _ANY,
    "public": _ANY,
    "pull_request": _PR_TYPES,
    "pull_request_review": ("submitted", "edited", "dismissed"),
    "pull_request_review_comment": _CRUD,
    "pull_request_target": _PR_TYPES,
    "push": _ANY,
    "registry_package": ("published", "updated"),
    "release": tuple("published unpublished created edited deleted prereleased released".split()),
    "repository_dispatch": _ANY,
    "schedule": _ANY,
    "status": _ANY,
    "watch": ("started",),
    "workflow_call": _ANY,
    "workflow_dispatch": _ANY,
    "workflow_run": ("completed", "requested", "in_progress"),
}
_REF_FILTERS = ("branches", "branches-ignore", "tags", "tags-ignore")
_PATH_FILTERS = ("paths", "paths-ignore")
#: The keys each event's configuration may have (others: only ``types``).
EVENT_KEYS: dict[str, tuple[str, ...]] = {
    "push": _REF_FILTERS + _PATH_FILTERS,
    "pull_request": ("branches", "branches-ignore") + _PATH_FILTERS + ("types",),
    "pull_request_target": ("branches", "branches-ignore") + _PATH_FILTERS + ("types",),
    "workflow_run": ("workflows", "types", "branches", "branches-ignore"),
    "workflow_dispatch": ("inputs",),
    "workflow_call": ("inputs", "outputs", "secrets"),
}
_FILTER_FIELDS = {
    "branches": "branches",
    "branches-ignore": "branches_ignore",
    "tags": "tags",
    "tags-ignore": "tags_ignore",
    "paths": "paths",
    "paths-ignore": "paths_ignore",
    "types": "types",
    "workflows": "workflows",
}
DISPATCH_INPUT_KEYS = ("description", "required", "default", "type", "options")
DISPATCH_INPUT_TYPES = ("string", "boolean", "number", "choice", "environment")
CALL_INPUT_KEYS = ("description", "required", "default", "type")
CALL_INPUT_TYPES = ("string", "boolean", "number")
CONTAINER_KEYS = ("image", "credentials", "env", "ports", "volumes", "options")

#: Every context GitHub's expressions know; any other name is an error anywhere.
ALL_CONTEXTS = frozenset(
    {"github", "env", "vars", "job", "jobs", "steps", "runner", "secrets", "strategy", "matrix"}
    | {"needs", "inputs"}
)
# Which contexts each key may use (GitHub's "Context availability" table).
_STEP_CONTEXTS = frozenset(
    {"github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets", "steps"}
    | {"inputs"}
)
_JOB_CONTEXTS = frozenset({"github", "needs", "strategy", "matrix", "vars", "inputs"})
_CREDENTIAL_CONTEXTS = _JOB_CONTEXTS | {"env", "secrets"}
_CONTAINER_ENV_CONTEXTS = _JOB_CONTEXTS | {"job", "runner", "env", "secrets"}
#: Composite actions cannot read ``secrets``; everything else of a step is there.
_ACTION_CONTEXTS = _STEP_CONTEXTS - {"secrets"}
CONTEXTS: dict[str, frozenset[str]] = {
    "run-name": frozenset({"github", "inputs", "vars"}),
    "concurrency": frozenset({"github", "inputs", "vars"}),
    "env": frozenset({"github", "secrets", "inputs", "vars"}),
    "jobs.<job_id>.concurrency": _JOB_CONTEXTS,
    "jobs.<job_id>.container": _JOB_CONTEXTS,
    "jobs.<job_id>.container.credentials": _CREDENTIAL_CONTEXTS,
    "jobs.<job_id>.container.env.<env_id>": _CONTAINER_ENV_CONTEXTS,
    "jobs.<job_id>.continue-on-error": _JOB_CONTEXTS,
    "jobs.<job_id>.defaults.run": _JOB_CONTEXTS | {"env"},
    "jobs.<job_id>.env": _JOB_CONTEXTS | {"secrets"},
    "jobs.<job_id>.environment": _JOB_CONTEXTS,
    "jobs.<job_id>.environment.url": _JOB_CONTEXTS | {"job", "runner", "env", "steps"},
    "jobs.<job_id>.if": frozenset({"github", "needs", "vars", "inputs"}),
    "jobs.<job_id>.name": _JOB_CONTEXTS,
    "jobs.<job_id>.outputs.<output_id>": _STEP_CONTEXTS,
    "jobs.<job_id>.runs-on": _JOB_CONTEXTS,
    "jobs.<job_id>.secrets.<secrets_id>": _JOB_CONTEXTS | {"secrets"},
    "jobs.<job_id>.services": _JOB_CONTEXTS,
    "jobs.<job_id>.services.<service_id>.credentials": _CREDENTIAL_CONTEXTS,
    "jobs.<job_id>.services.<service_id>.env.<env_id>": _CONTAINER_ENV_CONTEXTS,
    "jobs.<job_id>.steps.continue-on-error": _STEP_CONTEXTS,
    "jobs.<job_id>.steps.env": _STEP_CONTEXTS,
    "jobs.<job_id>.steps.if": _STEP_CONTEXTS - {"secrets"},
    "jobs.<job_id>.steps.name": _STEP_CONTEXTS,
    "jobs.<job_id>.steps.run": _STEP_CONTEXTS,
    "jobs.<job_id>.steps.timeout-minutes": _STEP_CONTEXTS,
    "jobs.<job_id>.steps.with": _STEP_CONTEXTS,
    "jobs.<job_id>.steps.working-directory": _STEP_CONTEXTS,
    "jobs.<job_id>.strategy": frozenset({"github", "needs", "vars", "inputs"}),
    "jobs.<job_id>.timeout-minutes": _JOB_CONTEXTS,
    "jobs.<job_id>.with.<with_id>": _JOB_CONTEXTS,
    "on.workflow_call.inputs.<inputs_id>.default": frozenset({"github", "inputs", "vars"}),
    "on.workflow_call.outputs.<output_id>.value": frozenset({"github", "jobs", "vars", "inputs"}),
    "runs.steps": _ACTION_CONTEXTS,
    "outputs.<output_id>.value": _ACTION_CONTEXTS,
}

_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_NAME_AT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_REMOTE_ACTION = re.compile(r"[^/@\s]+/[^/@\s]+(/[^@\s]+)?@[^@\s]+\Z")
_REMOTE_WORKFLOW = re.compile(r"[^/@\s]+/[^/@\s]+/\.github/workflows/[^/@\s]+\.ya?ml@[^@\s]+\Z")
_LOCAL_WORKFLOW = re.compile(r"\./\.github/workflows/[^/@\s]+\.ya?ml\Z")


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def _dotted(path: YamlPath) -> str:
    """``("jobs", "b", "steps", 0)`` -> ``jobs.b.steps[0]``."""
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
    return text


def _describe(value: Any) -> str:
    """A value's YAML kind, for messages."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})" if len(value) <= 40 else "a string"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def _scalar_text(value: Any) -> str:
    """A YAML scalar as GitHub turns it into a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _is_expression(value: Any) -> bool:
    return isinstance(value, str) and "${{" in value


def _is_single_expression(value: str) -> bool:
    """Whether the whole string is one ``${{ ... }}``."""
    text = value.strip()
    return text.startswith("${{") and text.endswith("}}") and text.count("${{") == 1


def _suggest(key: str, known: Iterable[str]) -> str:
    options = list(known)
    close = difflib.get_close_matches(key, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return "expected one of: " + ", ".join(options)


def _cycle_text(cycle: Sequence[str]) -> str:
    return " -> ".join([*cycle, cycle[0]])


def _dedupe(problems: Iterable[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    unique: list[Problem] = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            unique.append(problem)
    return unique


def _sorted(problems: Iterable[Problem]) -> list[Problem]:
    nowhere = Location("")
    return sorted(_dedupe(problems), key=lambda p: p.location or nowhere)


# ---------------------------------------------------------------------------------------------
# The reader: typed access to the document that records every problem
# ---------------------------------------------------------------------------------------------


class _Reader:
    """Reads one YAML document, collecting problems instead of stopping at the first."""

    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self.problems: list[Problem] = list(doc.problems)

    def report(self, message: str, at: Location, hint: str | None = None) -> None:
        self.problems.append(Problem(message, at, hint))

    def at(self, path: YamlPath) -> Location:
        return self.doc.location(path)

    def key_at(self, path: YamlPath) -> Location:
        return self.doc.key_location(path)

    def wrong_type(self, path: YamlPath, value: Any, expected: str) -> None:
        self.report(f"'{_dotted(path)}' cannot be {_describe(value)}", self.at(path), expected)

    def unknown_keys(
        self, mapping: Mapping[str, Any], path: YamlPath, known: Sequence[str]
    ) -> None:
        where = f"'{_dotted(path)}'" if path else "the file"
        for key in mapping:
            if key not in known:
                self.report(
                    f"unknown key '{key}' in {where}",
                    self.key_at(path + (key,)),
                    _suggest(key, known),
                )

    def mapping(self, value: Any, path: YamlPath, expected: str) -> dict[str, Any] | None:
        """``value`` if it is a mapping (``{}`` for an empty value); else a problem and None."""
        if value is None:
            return {}
        if isinstance(value, dict):
            return value
        self.wrong_type(path, value, expected)
        return None

    def text(
        self, value: Any, path: YamlPath, context: str | None = None, *, required: bool = False
    ) -> str | None:
        """A scalar as a string; expressions in it are checked when ``context`` is given."""
        if value is None and not required:
            return None
        if isinstance(value, (dict, list)) or value is None:
            self.wrong_type(path, value, "expected a string")
            return None
        text = _scalar_text(value)
        if context is not None:
            self.template(text, path, context)
        return text

    def strings(self, value: Any, path: YamlPath, what: str) -> tuple[str, ...] | None:
        """A list of strings (scalars are turned into strings)."""
        if not isinstance(value, list):
            self.wrong_type(path, value, f"expected a list of {what}")
            return None
        items: list[str] = []
        for index, item in enumerate(value):
            if isinstance(item, (dict, list)) or item is None:
                self.wrong_type(path + (index,), item, f"expected one of the {what} as a string")
            else:
                items.append(_scalar_text(item))
        return tuple(items)

    def template(self, text: str, path: YamlPath, context: str) -> None:
        """Check every ``${{ }}`` in ``text`` (a value GitHub evaluates as a template)."""
        if "${{" not in text:
            return
        try:
            check_template(text, ALL_CONTEXTS)
        except ExpressionError as exc:
            self._expression_problem(exc, path, text)
            return
        allowed = CONTEXTS[context]
        try:
            check_template(text, allowed)
        except ExpressionError as exc:
            self._context_problem(exc, text, path, context, allowed)

    def condition(self, value: Any, path: YamlPath, context: str) -> str | None:
        """An ``if:``: a bare expression or a template; booleans and numbers are kept as text."""
        if value is None:
            return None
        if isinstance(value, (dict, list)):
            self.wrong_type(path, value, "expected an expression")
            return None
        text = _scalar_text(value)
        if not isinstance(value, str):
            return text
        if "${{" in text:
            self.template(text, path, context)
            return text
        if not text.strip():
            self.report(f"'{_dotted(path)}' is empty", self.at(path), "expected an expression")
            return text
        allowed = CONTEXTS[context]
        try:
            check_expression(text, ALL_CONTEXTS)
        except ExpressionError as exc:
            self._expression_problem(exc, path, text)
            return text
        try:
            check_expression(text, allowed)
        except ExpressionError as exc:
            self._context_problem(exc, text, path, context, allowed)
        return text

    def flag(self, value: Any, path: YamlPath, context: str | None) -> bool | str | None:
        """A boolean, or an expression where GitHub allows one."""
        if isinstance(value, bool):
            return value
        if context is not None and _is_expression(value):
            self.template(value, path, context)
            return str(value)
        hint = "expected true or false" + (" or an expression" if context else "")
        self.wrong_type(path, value, hint)
        return None

    def number(self, value: Any, path: YamlPath, context: str | None) -> float | str | None:
        """A number, or an expression where GitHub allows one."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        if context is not None and _is_expression(value):
            self.template(value, path, context)
            return str(value)
        hint = "expected a number" + (" or an expression" if context else "")
        self.wrong_type(path, value, hint)
        return None

    def env(self, value: Any, path: YamlPath, context: str | None) -> dict[str, Any]:
        """``env``-like mappings: names to strings, numbers or booleans, kept as YAML gave them."""
        mapping = self.mapping(value, path, "expected a mapping of names to values")
        result: dict[str, Any] = {}
        for name, item in (mapping or {}).items():
            child = path + (name,)
            if isinstance(item, (dict, list)):
                self.wrong_type(child, item, "expected a string, a number or a boolean")
                continue
            if item is None:
                item = ""
            if isinstance(item, str) and context is not None:
                self.template(item, child, context)
            result[name] = item
        return result

    def check_id(self, ident: str, at: Location, what: str) -> None:
        """Ids of jobs, steps, inputs...: a letter or ``_``, then alphanumerics, ``-``, ``_``."""
        if not _ID.match(ident):
            self.report(
                f"invalid {what} '{ident}'",
                at,
                "it must start with a letter or '_' and contain only alphanumerics, '-' or '_'",
            )

    def _expression_problem(self, exc: ExpressionError, path: YamlPath, text: str) -> None:
        at = self.doc.offset_location(path, exc.offset)
        hint = exc.hint or "fix the expression"
        match = _NAME_AT.match(text, exc.offset)
        if match and "named-value" in exc.message:
            close = difflib.get_close_matches(match.group(0).lower(), ALL_CONTEXTS, n=1)
            if close:
                hint = f"did you mean '{close[0]}'? {hint}"
        self.report(exc.message, at, hint)

    def _context_problem(
        self,
        exc: ExpressionError,
        text: str,
        path: YamlPath,
        context: str,
        allowed: Collection[str],
    ) -> None:
        match = _NAME_AT.match(text, exc.offset)
        name = match.group(0) if match else "this context"
        self.report(
            f"the '{name}' context is not available in '{context}'",
            self.doc.offset_location(path, exc.offset),
            "available here: " + ", ".join(sorted(allowed)),
        )


# ---------------------------------------------------------------------------------------------
# Workflow-level parts
# ---------------------------------------------------------------------------------------------


def _defaults(r: _Reader, value: Any, path: YamlPath, context: str | None) -> RunDefaults:
    mapping = r.mapping(value, path, "expected a mapping with 'run'")
    if not mapping:
        return RunDefaults()
    r.unknown_keys(mapping, path, ("run",))
    run_path = path + ("run",)
    run = r.mapping(mapping.get("run"), run_path, "expected a mapping of shell, working-directory")
    if not run:
        return RunDefaults()
    r.unknown_keys(run, run_path, ("shell", "working-directory"))
    shell = r.text(run.get("shell"), run_path + ("shell",), context)
    if shell is not None:
        _check_shell(r, shell, run_path + ("shell",))
    workdir = r.text(run.get("working-directory"), run_path + ("working-directory",), context)
    return RunDefaults(shell=shell, working_directory=workdir)  # data, not a call  # nosec B604


def _check_shell(r: _Reader, shell: str, path: YamlPath) -> None:
    if shell in SHELLS or "{0}" in shell or _is_expression(shell):
        return
    r.report(
        f"unknown shell '{shell}'",
        r.at(path),
        f"expected one of {', '.join(SHELLS)}, or a command template containing '{{0}}'",
    )


def _concurrency(r: _Reader, value: Any, path: YamlPath, context: str) -> Concurrency | None:
    if value is None:
        return None
    if isinstance(value, str):
        r.template(value, path, context)
        return Concurrency(group=value)
    mapping = r.mapping(value, path, "expected a group name or {group, cancel-in-progress}")
    if mapping is None:
        return None
    r.unknown_keys(mapping, path, ("group", "cancel-in-progress"))
    if "group" not in mapping:
        r.report(f"'{_dotted(path)}' has no 'group'", r.at(path), "add 'group: <name>'")
        return None
    group = r.text(mapping["group"], path + ("group",), context, required=True)
    cancel: bool | str | None = False
    if "cancel-in-progress" in mapping:
        cancel = r.flag(mapping["cancel-in-progress"], path + ("cancel-in-progress",), context)
    if group is None or cancel is None:
        return None
    return Concurrency(group=group, cancel_in_progress=cancel)


def _permissions(r: _Reader, value: Any, path: YamlPath) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in ("read-all", "write-all"):
            r.report(
                f"invalid permissions '{value}'",
                r.at(path),
                "expected 'read-all', 'write-all' or a mapping of scopes to read/write/none",
            )
        return value
    mapping = r.mapping(value, path, "expected 'read-all', 'write-all' or a mapping of scopes")
    if mapping is None:
        return None
    r.unknown_keys(mapping, path, PERMISSION_SCOPES)
    for scope, level in mapping.items():
        if scope in PERMISSION_SCOPES and level not in PERMISSION_LEVELS:
            r.report(
                f"invalid permission {_describe(level)} for '{scope}'",
                r.at(path + (scope,)),
                "expected read, write or none",
            )
    return dict(mapping)


# ---------------------------------------------------------------------------------------------
# on:
# ---------------------------------------------------------------------------------------------


def _triggers(r: _Reader, value: Any, path: YamlPath) -> tuple[Trigger, ...]:
    if isinstance(value, str):
        return tuple(t for t in [_event_name(r, value, path, r.at(path))] if t)
    if isinstance(value, list):
        found: list[Trigger] = []
        for index, item in enumerate(value):
            if not isinstance(item, str):
                r.wrong_type(path + (index,), item, "expected an event name")
                continue
            trigger = _event_name(r, item, path + (index,), r.at(path + (index,)))
            if trigger is not None:
                found.append(trigger)
        if not value:
            r.report("'on' lists no events", r.at(path), "add an event, e.g. 'on: [push]'")
        return tuple(found)
    if isinstance(value, dict):
        if not value:
            r.report("'on' lists no events", r.at(path), "add an event, e.g. 'on: push'")
        triggers = []
        for event, config in value.items():
            trigger = _trigger(r, event, config, path + (event,))
            if trigger is not None:
                triggers.append(trigger)
        return tuple(triggers)
    r.wrong_type(path, value, "expected an event name, a list of events or a mapping of events")
    return ()


def _known_event(r: _Reader, event: str, at: Location) -> bool:
    if event in EVENT_TYPES:
        return True
    r.report(f"unknown event '{event}'", at, _suggest(event, EVENT_TYPES))
    return False


def _event_name(r: _Reader, event: str, path: YamlPath, at: Location) -> Trigger | None:
    if not _known_event(r, event, at):
        return None
    if event == "schedule":
        r.report(
            "'schedule' needs a list of crons", at, "write 'schedule: [{cron: \"0 6 * * 1\"}]'"
        )
    return Trigger(event=event, location=at)


def _trigger(r: _Reader, event: str, config: Any, path: YamlPath) -> Trigger | None:
    at = r.key_at(path)
    if not _known_event(r, event, at):
        return None
    if event == "schedule":
        return Trigger(event=event, crons=_crons(r, config, path), location=at)
    mapping = r.mapping(config, path, f"expected the configuration of '{event}' as a mapping")
    if mapping is None:
        return Trigger(event=event, location=at)
    r.unknown_keys(mapping, path, EVENT_KEYS.get(event, ("types",)))
    fields: dict[str, Any] = {}
    for key in _FILTER_FIELDS:
        if key in mapping and key in EVENT_KEYS.get(event, ("types",)):
            fields[_FILTER_FIELDS[key]] = _filter(r, event, key, mapping[key], path + (key,))
    for include in ("branches", "tags", "paths"):
        exclude = f"{include}-ignore"
        if include in mapping and exclude in mapping:
            r.report(
                f"'{include}' and '{exclude}' cannot both be used for '{event}'",
                r.key_at(path + (exclude,)),
                f"keep '{include}' and exclude with '!' patterns in it",
            )
    if event == "workflow_dispatch" and "inputs" in mapping:
        fields["inputs"] = _dispatch_inputs(r, mapping["inputs"], path + ("inputs",))
    if event == "workflow_call":
        if "inputs" in mapping:
            fields["inputs"] = _call_inputs(r, mapping["inputs"], path + ("inputs",))
        if "outputs" in mapping:
            fields["outputs"] = _call_outputs(r, mapping["outputs"], path + ("outputs",))
        if "secrets" in mapping:
            fields["secrets"] = _call_secrets(r, mapping["secrets"], path + ("secrets",))
    return Trigger(event=event, location=at, **fields)


def _filter(r: _Reader, event: str, key: str, value: Any, path: YamlPath) -> tuple[str, ...]:
    items = r.strings(value, path, "patterns" if key != "types" else "activity types")
    if items is None:
        return ()
    for index, item in enumerate(items):
        item_path = path + (index,)
        if key == "types":
            known = EVENT_TYPES.get(event)
            if known is not None and item not in known:
                r.report(
                    f"unknown activity type '{item}' for '{event}'",
                    r.at(item_path),
                    _suggest(item, known),
                )
        elif key != "workflows":
            problem = pattern_problem(item)
            if problem is not None:
                r.report(f"invalid pattern '{item}'", r.at(item_path), problem)
    return items


def _crons(r: _Reader, value: Any, path: YamlPath) -> tuple[str, ...]:
    expected = "expected a list of {cron: '<min> <hour> <day> <month> <weekday>'}"
    if not isinstance(value, list) or not value:
        r.wrong_type(path, value, expected)
        return ()
    crons: list[str] = []
    for index, item in enumerate(value):
        item_path = path + (index,)
        if not isinstance(item, dict) or "cron" not in item:
            r.wrong_type(item_path, item, "expected {cron: '<expression>'}")
            continue
        r.unknown_keys(item, item_path, ("cron",))
        cron = item["cron"]
        if not isinstance(cron, str):
            r.wrong_type(item_path + ("cron",), cron, "expected a cron expression string")
            continue
        problem = cron_problem(cron)
        if problem is not None:
            r.report(f"invalid cron '{cron}'", r.at(item_path + ("cron",)), problem)
            continue
        crons.append(cron)
    return tuple(crons)


def _input_name(r: _Reader, name: str, path: YamlPath) -> None:
    r.check_id(name, r.key_at(path), "input name")


def _bool_field(r: _Reader, spec: Mapping[str, Any], key: str, path: YamlPath) -> bool:
    if key not in spec:
        return False
    value = r.flag(spec[key], path + (key,), None)
    return bool(value) if isinstance(value, bool) else False


def _dispatch_inputs(r: _Reader, value: Any, path: YamlPath) -> tuple[InputSpec, ...]:
    mapping = r.mapping(value, path, "expected a mapping of input names to definitions")
    specs: list[InputSpec] = []
    for name, body in (mapping or {}).items():
        child = path + (name,)
        _input_name(r, name, child)
        spec = r.mapping(body, child, "expected {description, required, default, type, ...}")
        if spec is None:
            continue
        r.unknown_keys(spec, child, DISPATCH_INPUT_KEYS)
        kind = _input_type(r, spec, child, DISPATCH_INPUT_TYPES, default="string")
        options: tuple[str, ...] = ()
        if "options" in spec:
            options = r.strings(spec["options"], child + ("options",), "options") or ()
            if kind != "choice":
                r.report(
                    f"'options' is only used by choice inputs, and '{name}' is a {kind}",
                    r.key_at(child + ("options",)),
                    "add 'type: choice' or remove 'options'",
                )
        elif kind == "choice":
            r.report(
                f"choice input '{name}' has no 'options'",
                r.key_at(child),
                "add 'options: [a, b]'",
            )
        default = spec.get("default")
        if "default" in spec:
            _check_default(r, kind, default, child + ("default",), options)
        specs.append(
            InputSpec(
                name=name,
                type=kind,
                description=r.text(spec.get("description"), child + ("description",)),
                required=_bool_field(r, spec, "required", child),
                default=default,
                options=options,
                location=r.key_at(child),
            )
        )
    return tuple(specs)


def _input_type(
    r: _Reader, spec: Mapping[str, Any], path: YamlPath, kinds: Sequence[str], default: str | None
) -> str:
    if "type" not in spec:
        if default is None:
            r.report(
                f"input '{path[-1]}' has no 'type'",
                r.key_at(path),
                "add 'type:' with one of " + ", ".join(kinds),
            )
            return "string"
        return default
    kind = spec["type"]
    if kind not in kinds:
        r.report(
            f"invalid input type {_describe(kind)}",
            r.at(path + ("type",)),
            "expected one of " + ", ".join(kinds),
        )
        return "string"
    return str(kind)


def _default_fits(kind: str, default: Any) -> bool:
    """Whether an input's ``default`` suits its type (``"true"``, ``"3"`` are accepted too)."""
    if isinstance(default, (dict, list)):
        return False
    if kind == "boolean":
        return isinstance(default, bool) or default in ("true", "false")
    if kind == "number":
        if isinstance(default, bool):
            return False
        if isinstance(default, (int, float)):
            return True
        try:
            float(str(default))
        except ValueError:
            return False
        return True
    return True


def _check_default(
    r: _Reader, kind: str, default: Any, path: YamlPath, options: Sequence[str]
) -> None:
    if _is_expression(default):
        return
    if not _default_fits(kind, default):
        r.wrong_type(path, default, f"expected a default of type {kind}")
    elif kind == "choice" and options and _scalar_text(default) not in options:
        r.report(
            f"default '{_scalar_text(default)}' is not one of the options",
            r.at(path),
            "expected one of " + ", ".join(options),
        )


def _call_inputs(r: _Reader, value: Any, path: YamlPath) -> tuple[InputSpec, ...]:
    mapping = r.mapping(value, path, "expected a mapping of input names to definitions")
    specs: list[InputSpec] = []
    for name, body in (mapping or {}).items():
        child = path + (name,)
        _input_name(r, name, child)
        spec = r.mapping(body, child, "expected {description, required, default, type}")
        if spec is None:
            continue
        r.unknown_keys(spec, child, CALL_INPUT_KEYS)
        kind = _input_type(r, spec, child, CALL_INPUT_TYPES, default=None)
        default = spec.get("default")
        if "default" in spec:
            _check_default(r, kind, default, child + ("default",), ())
            if isinstance(default, str):
                r.template(
                    default, child + ("default",), "on.workflow_call.inputs.<inputs_id>.default"
                )
        specs.append(
            InputSpec(
                name=name,
                type=kind,
                description=r.text(spec.get("description"), child + ("description",)),
                required=_bool_field(r, spec, "required", child),
                default=default,
                location=r.key_at(child),
            )
        )
    return tuple(specs)


def _call_outputs(r: _Reader, value: Any, path: YamlPath) -> tuple[OutputSpec, ...]:
    mapping = r.mapping(value, path, "expected a mapping of output names to {value}")
    specs: list[OutputSpec] = []
    for name, body in (mapping or {}).items():
        child = path + (name,)
        r.check_id(name, r.key_at(child), "output name")
        spec = r.mapping(body, child, "expected {description, value}")
        if spec is None:
            continue
        r.unknown_keys(spec, child, ("description", "value"))
        if "value" not in spec:
            r.report(f"output '{name}' has no 'value'", r.key_at(child), "add 'value: ${{ ... }}'")
            continue
        text = r.text(
            spec["value"],
            child + ("value",),
            "on.workflow_call.outputs.<output_id>.value",
            required=True,
        )
        if text is None:
            continue
        specs.append(
            OutputSpec(
                name=name,
                value=text,
                description=r.text(spec.get("description"), child + ("description",)),
                location=r.key_at(child),
            )
        )
    return tuple(specs)


def _call_secrets(r: _Reader, value: Any, path: YamlPath) -> tuple[SecretSpec, ...]:
    mapping = r.mapping(value, path, "expected a mapping of secret names to definitions")
    specs: list[SecretSpec] = []
    for name, body in (mapping or {}).items():
        child = path + (name,)
        r.check_id(name, r.key_at(child), "secret name")
        spec = r.mapping(body, child, "expected {description, required}")
        if spec is None:
            continue
        r.unknown_keys(spec, child, ("description", "required"))
        specs.append(
            SecretSpec(
                name=name,
                required=_bool_field(r, spec, "required", child),
                description=r.text(spec.get("description"), child + ("description",)),
                location=r.key_at(child),
            )
        )
    return tuple(specs)


# ---------------------------------------------------------------------------------------------
# jobs:
# ---------------------------------------------------------------------------------------------


def _runs_on(r: _Reader, value: Any, path: YamlPath) -> RunsOn | None:
    context = "jobs.<job_id>.runs-on"
    expected = "expected a runner label, a list of labels, {group, labels} or an expression"
    if isinstance(value, str) and value.strip():
        r.template(value, path, context)
        if _is_single_expression(value):
            return RunsOn(expression=value)
        return RunsOn(labels=(value,))
    if isinstance(value, list) and not value:
        r.report(f"'{_dotted(path)}' names no runner", r.at(path), expected)
        return None
    if isinstance(value, list):
        listed = _labels(r, value, path, context)
        return RunsOn(labels=listed) if listed is not None else None
    if isinstance(value, dict):
        r.unknown_keys(value, path, ("group", "labels"))
        group = r.text(value.get("group"), path + ("group",), context)
        labels: tuple[str, ...] | None = ()
        if "labels" in value:
            raw = value["labels"]
            labels = _labels(r, [raw] if isinstance(raw, str) else raw, path + ("labels",), context)
        if group is None and not labels:
            r.report(
                f"'{_dotted(path)}' names no runner",
                r.at(path),
                "add 'group' or 'labels'",
            )
            return None
        return RunsOn(labels=labels or (), group=group)
    r.wrong_type(path, value, expected)
    return None


def _labels(r: _Reader, value: Any, path: YamlPath, context: str) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        r.wrong_type(path, value, "expected a label or a list of labels")
        return None
    labels: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            r.wrong_type(path + (index,), item, "expected a runner label")
            continue
        r.template(item, path + (index,), context)
        labels.append(item)
    return tuple(labels) if len(labels) == len(value) else None


def _needs(r: _Reader, value: Any, path: YamlPath) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        needs: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str):
                r.wrong_type(path + (index,), item, "expected a job id")
                continue
            needs.append(item)
        return tuple(needs)
    r.wrong_type(path, value, "expected a job id or a list of job ids")
    return ()


def _matrix(r: _Reader, value: Any, path: YamlPath) -> Matrix | None:
    context = "jobs.<job_id>.strategy"
    if isinstance(value, str) and _is_expression(value):
        r.template(value, path, context)
        return Matrix(expression=value)
    mapping = r.mapping(value, path, "expected a mapping of axes to lists, or an expression")
    if mapping is None:
        return None
    axes: list[tuple[str, Any]] = []
    for key, item in mapping.items():
        if key in ("include", "exclude"):
            continue
        child = path + (key,)
        if isinstance(item, str) and _is_expression(item):
            r.template(item, child, context)
        elif not isinstance(item, list):
            r.wrong_type(child, item, f"expected the values of matrix axis '{key}' as a list")
            continue
        elif not item:
            r.report(f"matrix axis '{key}' has no values", r.at(child), "list at least one value")
            continue
        else:
            _check_values(r, item, child, context)
        axes.append((key, item))
    include = _combinations(r, mapping, "include", path, context)
    exclude = _combinations(r, mapping, "exclude", path, context)
    if not [key for key in mapping if key not in ("include", "exclude")] and not include:
        r.report(
            f"'{_dotted(path)}' defines no axes",
            r.at(path),
            "add an axis like 'python-version: [\"3.11\", \"3.12\"]' or 'include'",
        )
    return Matrix(axes=tuple(axes), include=include, exclude=exclude)


def _combinations(
    r: _Reader, mapping: Mapping[str, Any], key: str, path: YamlPath, context: str
) -> tuple[Mapping[str, Any], ...] | str:
    if key not in mapping:
        return ()
    value, child = mapping[key], path + (key,)
    if isinstance(value, str) and _is_expression(value):
        r.template(value, child, context)
        return value
    if not isinstance(value, list):
        r.wrong_type(child, value, f"expected a list of mappings for '{key}', or an expression")
        return ()
    items: list[Mapping[str, Any]] = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            r.wrong_type(child + (index,), item, "expected a mapping of matrix keys to values")
            continue
        _check_values(r, list(item.values()), child + (index,), context, keys=list(item))
        items.append(item)
    return tuple(items)


def _check_values(
    r: _Reader, values: list[Any], path: YamlPath, context: str, keys: list[str] | None = None
) -> None:
    for index, item in enumerate(values):
        child = path + ((keys[index],) if keys is not None else (index,))
        if isinstance(item, str):
            r.template(item, child, context)


def _strategy(r: _Reader, value: Any, path: YamlPath) -> Strategy | None:
    context = "jobs.<job_id>.strategy"
    mapping = r.mapping(value, path, "expected a mapping with matrix, fail-fast, max-parallel")
    if mapping is None:
        return None
    r.unknown_keys(mapping, path, ("matrix", "fail-fast", "max-parallel"))
    matrix = _matrix(r, mapping["matrix"], path + ("matrix",)) if "matrix" in mapping else None
    fail_fast: bool | str | None = True
    if "fail-fast" in mapping:
        fail_fast = r.flag(mapping["fail-fast"], path + ("fail-fast",), context)
    max_parallel: int | str | None = None
    if "max-parallel" in mapping:
        raw = mapping["max-parallel"]
        if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
            max_parallel = raw
        elif _is_expression(raw):
            r.template(raw, path + ("max-parallel",), context)
            max_parallel = raw
        else:
            r.wrong_type(path + ("max-parallel",), raw, "expected a positive whole number")
    return Strategy(
        matrix=matrix,
        fail_fast=True if fail_fast is None else fail_fast,
        max_parallel=max_parallel,
    )


def _environment(r: _Reader, value: Any, path: YamlPath) -> Environment | None:
    context = "jobs.<job_id>.environment"
    if isinstance(value, str):
        r.template(value, path, context)
        return Environment(name=value)
    mapping = r.mapping(value, path, "expected an environment name or {name, url}")
    if not mapping:
        return None
    r.unknown_keys(mapping, path, ("name", "url"))
    if "name" not in mapping:
        r.report(f"'{_dotted(path)}' has no 'name'", r.at(path), "add 'name: <environment>'")
        return None
    name = r.text(mapping["name"], path + ("name",), context, required=True)
    url = r.text(mapping.get("url"), path + ("url",), "jobs.<job_id>.environment.url")
    return Environment(name=name, url=url) if name is not None else None


def _container_body(
    r: _Reader, value: Any, path: YamlPath, *, service: bool
) -> dict[str, Any] | None:
    """A ``container`` or one service: an image name or {image, credentials, env, ...}."""
    prefix = "jobs.<job_id>.services" if service else "jobs.<job_id>.container"
    base = prefix + (".<service_id>" if service else "")
    if isinstance(value, str) and not service:
        r.template(value, path, prefix)
        return {"image": value}
    mapping = r.mapping(value, path, "expected {image, credentials, env, ports, volumes, options}")
    if mapping is None:
        return None
    r.unknown_keys(mapping, path, CONTAINER_KEYS)
    if "image" not in mapping:
        r.report(f"'{_dotted(path)}' has no 'image'", r.at(path), "add 'image: <name>:<tag>'")
    else:
        r.text(mapping["image"], path + ("image",), prefix, required=True)
    if "credentials" in mapping:
        creds = r.mapping(
            mapping["credentials"], path + ("credentials",), "expected {username, password}"
        )
        if creds is not None:
            r.unknown_keys(creds, path + ("credentials",), ("username", "password"))
            for key in ("username", "password"):
                r.text(creds.get(key), path + ("credentials", key), base + ".credentials")
    if "env" in mapping:
        r.env(mapping["env"], path + ("env",), base + ".env.<env_id>")
    for key in ("ports", "volumes"):
        if key in mapping:
            items = mapping[key]
            if isinstance(items, list):
                for index, item in enumerate(items):
                    r.text(item, path + (key, index), prefix, required=True)
            else:
                r.wrong_type(path + (key,), items, f"expected a list of {key}")
    if "options" in mapping:
        r.text(mapping["options"], path + ("options",), prefix)
    return dict(mapping)


def _services(r: _Reader, value: Any, path: YamlPath) -> dict[str, Any]:
    mapping = r.mapping(value, path, "expected a mapping of service names to containers")
    services: dict[str, Any] = {}
    for name, body in (mapping or {}).items():
        service = _container_body(r, body, path + (name,), service=True)
        if service is not None:
            services[name] = service
    return services


def _outputs(r: _Reader, value: Any, path: YamlPath, context: str) -> dict[str, str]:
    mapping = r.mapping(value, path, "expected a mapping of output names to values")
    outputs: dict[str, str] = {}
    for name, item in (mapping or {}).items():
        text = r.text(item, path + (name,), context, required=True)
        if text is not None:
            outputs[name] = text
    return outputs


def _with(r: _Reader, value: Any, path: YamlPath, context: str) -> dict[str, Any]:
    """``with``: input names to scalars, kept as YAML gave them (``null`` becomes ``""``)."""
    return r.env(value, path, context)


def _job_secrets(r: _Reader, value: Any, path: YamlPath) -> Mapping[str, Any] | str | None:
    if value == "inherit":
        return "inherit"
    if isinstance(value, str):
        r.report(
            f"invalid secrets '{value}'",
            r.at(path),
            "expected 'inherit' or a mapping of secret names to values",
        )
        return None
    mapping = r.mapping(value, path, "expected 'inherit' or a mapping of secret names to values")
    if mapping is None:
        return None
    return r.env(mapping, path, "jobs.<job_id>.secrets.<secrets_id>")


def _reusable_ref(r: _Reader, uses: Any, path: YamlPath) -> str | None:
    if not isinstance(uses, str):
        r.wrong_type(path, uses, "expected './.github/workflows/<file>.yml' or owner/repo/...@ref")
        return None
    if "${{" in uses:
        r.report("expressions are not allowed in 'uses'", r.at(path), "write the path literally")
        return None
    if uses.startswith("./"):
        if not _LOCAL_WORKFLOW.match(uses):
            r.report(
                f"invalid local reusable workflow '{uses}'",
                r.at(path),
                "expected './.github/workflows/<file>.yml' (local workflows take no '@ref')",
            )
        return uses
    if "@" not in uses:
        r.report(
            f"reusable workflow '{uses}' has no '@ref'",
            r.at(path),
            "expected '<owner>/<repo>/.github/workflows/<file>.yml@<ref>'",
        )
    elif not _REMOTE_WORKFLOW.match(uses):
        r.report(
            f"invalid reusable workflow reference '{uses}'",
            r.at(path),
            "expected '<owner>/<repo>/.github/workflows/<file>.yml@<ref>'",
        )
    return uses


def _action_ref(r: _Reader, uses: Any, path: YamlPath) -> str | None:
    if not isinstance(uses, str) or not uses.strip():
        r.wrong_type(path, uses, "expected owner/repo@ref, ./path or docker://image")
        return None
    if "${{" in uses:
        r.report("expressions are not allowed in 'uses'", r.at(path), "write the action literally")
    elif uses.startswith("docker://"):
        if len(uses) == len("docker://"):
            r.report("'docker://' names no image", r.at(path), "expected docker://<image>:<tag>")
    elif uses.startswith("./") or uses.startswith("../"):
        if "@" in uses:
            r.report(
                f"local action '{uses}' cannot have a '@ref'",
                r.at(path),
                "remove the '@ref'; a local action is used as it is in the workspace",
            )
    elif "@" not in uses:
        r.report(
            f"action '{uses}' has no '@ref'",
            r.at(path),
            f"expected '{uses}@<ref>' (a tag, branch or commit SHA), './path' or 'docker://image'",
        )
    elif not _REMOTE_ACTION.match(uses):
        r.report(
            f"invalid action reference '{uses}'",
            r.at(path),
            "expected '<owner>/<repo>[/<path>]@<ref>', './path' or 'docker://image'",
        )
    return uses


@dataclass(frozen=True)
class _StepRules:
    """What differs between workflow steps and composite-action steps."""

    keys: Sequence[str]
    contexts: Mapping[str, str]
    shell_required: bool


_WORKFLOW_STEP = _StepRules(
    keys=STEP_KEYS,
    contexts={
        key: f"jobs.<job_id>.steps.{key}"
        for key in (
            "if",
            "name",
            "run",
            "with",
            "env",
            "working-directory",
            "continue-on-error",
            "timeout-minutes",
        )
    },
    shell_required=False,
)
_ACTION_STEP = _StepRules(
    keys=COMPOSITE_STEP_KEYS,
    contexts={key: "runs.steps" for key in _WORKFLOW_STEP.contexts},
    shell_required=True,
)


def _steps(r: _Reader, value: Any, path: YamlPath, rules: _StepRules) -> tuple[Step, ...]:
    if not isinstance(value, list):
        r.wrong_type(path, value, "expected a list of steps")
        return ()
    steps: list[Step] = []
    seen_ids: dict[str, YamlPath] = {}
    for index, body in enumerate(value):
        step = _step(r, body, path + (index,), index, rules)
        if step is None:
            continue
        if step.id is not None:
            if step.id in seen_ids:
                first = r.at(seen_ids[step.id])
                r.report(
                    f"duplicate step id '{step.id}'",
                    r.at(path + (index, "id")),
                    f"step ids must be unique in a job; it is already used at line {first.line}",
                )
            else:
                seen_ids[step.id] = path + (index, "id")
        steps.append(step)
    return tuple(steps)


def _step(r: _Reader, body: Any, path: YamlPath, index: int, rules: _StepRules) -> Step | None:
    if not isinstance(body, dict):
        r.wrong_type(path, body, "expected a step: a mapping with 'run' or 'uses'")
        return None
    r.unknown_keys(body, path, rules.keys)
    ctx = rules.contexts
    step_id = None
    if "id" in body:
        step_id = r.text(body["id"], path + ("id",), required=True)
        if step_id is not None:
            r.check_id(step_id, r.at(path + ("id",)), "step id")
    has_run, has_uses = "run" in body, "uses" in body
    if has_run and has_uses:
        r.report(
            "a step cannot have both 'run' and 'uses'",
            r.key_at(path + ("uses",)),
            "split it into two steps",
        )
    elif not has_run and not has_uses:
        r.report(
            "a step needs 'run' or 'uses'",
            r.at(path),
            "add 'run: <command>' or 'uses: <owner>/<repo>@<ref>'",
        )
    uses = _action_ref(r, body["uses"], path + ("uses",)) if has_uses else None
    run = r.text(body["run"], path + ("run",), ctx["run"], required=True) if has_run else None
    shell = r.text(body.get("shell"), path + ("shell",))
    if shell is not None:
        _check_shell(r, shell, path + ("shell",))
    elif rules.shell_required and has_run:
        r.report(
            "a 'run' step of a composite action needs 'shell'",
            r.key_at(path + ("run",)),
            "add 'shell: bash' (or another shell)",
        )
    timeout: float | str | None = None
    if "timeout-minutes" in body:
        timeout = r.number(
            body["timeout-minutes"], path + ("timeout-minutes",), ctx["timeout-minutes"]
        )
    continue_on_error: bool | str | None = False
    if "continue-on-error" in body:
        continue_on_error = r.flag(
            body["continue-on-error"], path + ("continue-on-error",), ctx["continue-on-error"]
        )
    return Step(
        index=index,
        id=step_id,
        name=r.text(body.get("name"), path + ("name",), ctx["name"]),
        if_=r.condition(body.get("if"), path + ("if",), ctx["if"]),
        uses=uses,
        with_=_with(r, body["with"], path + ("with",), ctx["with"]) if "with" in body else {},
        run=run,
        shell=shell,  # a field of the model, not a call  # nosec B604
        env=r.env(body["env"], path + ("env",), ctx["env"]) if "env" in body else {},
        working_directory=r.text(
            body.get("working-directory"), path + ("working-directory",), ctx["working-directory"]
        ),
        timeout_minutes=timeout,
        continue_on_error=False if continue_on_error is None else continue_on_error,
        location=r.at(path),
    )


def _job(r: _Reader, job_id: str, body: Any, path: YamlPath) -> Job | None:
    at = r.key_at(path)
    r.check_id(job_id, at, "job id")
    if not isinstance(body, dict):
        r.wrong_type(path, body, "expected a job: a mapping with 'runs-on' and 'steps'")
        return None
    calls = "uses" in body
    for key in body:
        if key not in JOB_KEYS:
            r.report(
                f"unknown key '{key}' in job '{job_id}'",
                r.key_at(path + (key,)),
                _suggest(key, CALL_JOB_KEYS if calls else JOB_KEYS),
            )
        elif calls and key not in CALL_JOB_KEYS:
            r.report(
                f"'{key}' cannot be used in a job that calls a reusable workflow",
                r.key_at(path + (key,)),
                "a job with 'uses' may only have " + ", ".join(CALL_JOB_KEYS),
            )
    if not calls:
        for key in ("with", "secrets"):
            if key in body:
                r.report(
                    f"'{key}' is only used with 'uses' in job '{job_id}'",
                    r.key_at(path + (key,)),
                    "call a reusable workflow with 'uses', or remove it",
                )
        if "runs-on" not in body:
            r.report(
                f"job '{job_id}' has neither 'runs-on' nor 'uses'",
                at,
                "add 'runs-on: ubuntu-latest' or call a reusable workflow with 'uses'",
            )

    def part(key: str) -> YamlPath:
        return path + (key,)

    timeout: float | str | None = 360
    if "timeout-minutes" in body:
        timeout = r.number(
            body["timeout-minutes"], part("timeout-minutes"), "jobs.<job_id>.timeout-minutes"
        )
    continue_on_error: bool | str | None = False
    if "continue-on-error" in body:
        continue_on_error = r.flag(
            body["continue-on-error"], part("continue-on-error"), "jobs.<job_id>.continue-on-error"
        )
    return Job(
        id=job_id,
        name=r.text(body.get("name"), part("name"), "jobs.<job_id>.name"),
        runs_on=_runs_on(r, body["runs-on"], part("runs-on")) if "runs-on" in body else None,
        needs=_needs(r, body["needs"], part("needs")) if "needs" in body else (),
        if_=r.condition(body.get("if"), part("if"), "jobs.<job_id>.if"),
        strategy=_strategy(r, body["strategy"], part("strategy")) if "strategy" in body else None,
        env=r.env(body["env"], part("env"), "jobs.<job_id>.env") if "env" in body else {},
        defaults=(
            _defaults(r, body["defaults"], part("defaults"), "jobs.<job_id>.defaults.run")
            if "defaults" in body
            else RunDefaults()
        ),
        timeout_minutes=360 if timeout is None else timeout,
        continue_on_error=False if continue_on_error is None else continue_on_error,
        outputs=(
            _outputs(r, body["outputs"], part("outputs"), "jobs.<job_id>.outputs.<output_id>")
            if "outputs" in body
            else {}
        ),
        environment=(
            _environment(r, body["environment"], part("environment"))
            if "environment" in body
            else None
        ),
        services=_services(r, body["services"], part("services")) if "services" in body else {},
        container=(
            _container_body(r, body["container"], part("container"), service=False)
            if "container" in body
            else None
        ),
        concurrency=_concurrency(
            r, body.get("concurrency"), part("concurrency"), "jobs.<job_id>.concurrency"
        ),
        permissions=_permissions(r, body.get("permissions"), part("permissions")),
        uses=_reusable_ref(r, body["uses"], part("uses")) if calls else None,
        with_=(
            _with(r, body["with"], part("with"), "jobs.<job_id>.with.<with_id>")
            if calls and "with" in body
            else {}
        ),
        secrets=(
            _job_secrets(r, body["secrets"], part("secrets"))
            if calls and "secrets" in body
            else None
        ),
        steps=(
            _steps(r, body["steps"], part("steps"), _WORKFLOW_STEP)
            if "steps" in body and not calls
            else ()
        ),
        location=at,
    )


def _jobs(r: _Reader, value: Any, path: YamlPath) -> tuple[Job, ...]:
    mapping = r.mapping(value, path, "expected a mapping of job ids to jobs")
    if mapping is None:
        return ()
    if not mapping:
        r.report("the workflow has no jobs", r.key_at(path), "add at least one job under 'jobs'")
        return ()
    jobs = [_job(r, job_id, body, path + (job_id,)) for job_id, body in mapping.items()]
    found = tuple(job for job in jobs if job is not None)
    _check_needs(r, found, mapping, path)
    return found


def _check_needs(r: _Reader, jobs: Sequence[Job], raw: Mapping[str, Any], path: YamlPath) -> None:
    """Unknown jobs in ``needs`` and cycles, each named at the ``needs`` entry."""
    known = [job.id for job in jobs]
    edges: dict[str, list[str]] = {job.id: [] for job in jobs}
    for job in jobs:
        for index, need in enumerate(job.needs):
            need_path = _need_path(raw, path, job.id, index)
            if need not in edges:
                r.report(
                    f"job '{job.id}' needs unknown job '{need}'",
                    r.at(need_path),
                    _suggest(need, [k for k in known if k != job.id] or known),
                )
            elif need not in edges[job.id]:
                edges[job.id].append(need)
    for cycle in _cycles(edges, known):
        first, second = cycle[0], cycle[1 % len(cycle)]
        job = next(j for j in jobs if j.id == first)
        index = job.needs.index(second)
        r.report(
            f"jobs depend on each other in a cycle: {_cycle_text(cycle)}",
            r.at(_need_path(raw, path, first, index)),
            "remove one of these 'needs'",
        )


def _need_path(raw: Mapping[str, Any], path: YamlPath, job_id: str, index: int) -> YamlPath:
    body = raw.get(job_id)
    needs = body.get("needs") if isinstance(body, dict) else None
    if isinstance(needs, list):
        return path + (job_id, "needs", index)
    return path + (job_id, "needs")


def _cycles(edges: Mapping[str, Sequence[str]], order: Sequence[str]) -> list[list[str]]:
    """Each cycle of the graph once, starting at its job that comes first in the file."""
    rank = {name: position for position, name in enumerate(order)}
    found: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in edges.get(node, ()):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :]
                start = min(range(len(cycle)), key=lambda i: rank[cycle[i]])
                rotated = cycle[start:] + cycle[:start]
                if tuple(rotated) not in seen:
                    seen.add(tuple(rotated))
                    found.append(rotated)
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in order:
        if name not in state:
            visit(name)
    return found


# ---------------------------------------------------------------------------------------------
# Whole files
# ---------------------------------------------------------------------------------------------


def _workflow(doc: YamlDocument, sha: str) -> tuple[Workflow, list[Problem]]:
    """The model of one workflow document and every problem found in it."""
    r = _Reader(doc)
    start = Location(doc.path, 1, 1)
    data = doc.data
    if data is None:
        r.report("the workflow file is empty", start, "expected 'on' and 'jobs'")
        return Workflow(path=doc.path, text_sha256=sha, location=start), r.problems
    if not isinstance(data, dict):
        r.wrong_type((), data, "expected a workflow: a mapping with 'on' and 'jobs'")
        return Workflow(path=doc.path, text_sha256=sha, location=start), r.problems
    r.unknown_keys(data, (), WORKFLOW_KEYS)
    if "on" not in data:
        r.report(
            "the workflow has no 'on'", start, "add the events that trigger it, e.g. 'on: push'"
        )
    if "jobs" not in data:
        r.report("the workflow has no 'jobs'", start, "add at least one job under 'jobs'")
    name = r.text(data.get("name"), ("name",))
    workflow = Workflow(
        path=doc.path,
        name=name,
        run_name=r.text(data.get("run-name"), ("run-name",), "run-name"),
        triggers=_triggers(r, data["on"], ("on",)) if "on" in data else (),
        env=r.env(data["env"], ("env",), "env") if "env" in data else {},
        defaults=(
            _defaults(r, data["defaults"], ("defaults",), None)
            if "defaults" in data
            else RunDefaults()
        ),
        concurrency=_concurrency(r, data.get("concurrency"), ("concurrency",), "concurrency"),
        permissions=_permissions(r, data.get("permissions"), ("permissions",)),
        jobs=_jobs(r, data["jobs"], ("jobs",)) if "jobs" in data else (),
        text_sha256=sha,
        location=start,
    )
    return workflow, r.problems


def _action(doc: YamlDocument) -> tuple[CompositeAction, list[Problem]]:
    """The model of one ``action.yml`` and every problem found in it."""
    r = _Reader(doc)
    start = Location(doc.path, 1, 1)
    data = doc.data
    empty = CompositeAction(path=doc.path, location=start)
    if not isinstance(data, dict):
        r.wrong_type((), data, "expected an action: a mapping with name, description and runs")
        return empty, r.problems
    r.unknown_keys(data, (), ACTION_KEYS)
    inputs: list[ActionInput] = []
    raw_inputs = r.mapping(data.get("inputs"), ("inputs",), "expected a mapping of inputs") or {}
    for name, body in raw_inputs.items():
        child = ("inputs", name)
        spec = r.mapping(body, child, "expected {description, required, default}")
        if spec is None:
            continue
        r.unknown_keys(spec, child, ("description", "required", "default", "deprecationMessage"))
        default = spec.get("default")
        inputs.append(
            ActionInput(
                name=name,
                description=r.text(spec.get("description"), child + ("description",)),
                required=_bool_field(r, spec, "required", child),
                default=None if default is None else r.text(default, child + ("default",)),
            )
        )
    outputs: dict[str, str] = {}
    raw_outputs = (
        r.mapping(data.get("outputs"), ("outputs",), "expected a mapping of outputs") or {}
    )
    for name, body in raw_outputs.items():
        child = ("outputs", name)
        spec = r.mapping(body, child, "expected {description, value}")
        if spec is None:
            continue
        r.unknown_keys(spec, child, ("description", "value"))
        if "value" not in spec:
            r.report(f"output '{name}' has no 'value'", r.key_at(child), "add 'value: ${{ ... }}'")
            continue
        text = r.text(spec["value"], child + ("value",), "outputs.<output_id>.value", required=True)
        if text is not None:
            outputs[name] = text
    steps: tuple[Step, ...] = ()
    if "runs" not in data:
        r.report("the action has no 'runs'", start, "add 'runs: {using: composite, steps: [...]}'")
    else:
        runs = r.mapping(data["runs"], ("runs",), "expected {using: composite, steps}") or {}
        using = runs.get("using")
        if using != "composite":
            where = r.at(("runs", "using")) if "using" in runs else r.key_at(("runs",))
            r.report(
                f"unsupported action type {_describe(using)} in 'runs.using'",
                where,
                "only composite local actions are supported ('using: composite')",
            )
        else:
            r.unknown_keys(runs, ("runs",), ("using", "steps"))
            if "steps" not in runs:
                r.report("the composite action has no 'steps'", r.key_at(("runs",)), "add 'steps'")
            else:
                steps = _steps(r, runs["steps"], ("runs", "steps"), _ACTION_STEP)
    action = CompositeAction(
        path=doc.path,
        name=r.text(data.get("name"), ("name",)),
        description=r.text(data.get("description"), ("description",)),
        inputs=tuple(inputs),
        outputs=outputs,
        steps=steps,
        location=start,
    )
    return action, r.problems


def _load(text: str, path: str) -> YamlDocument:
    return load_yaml(text, path)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_workflow_text(text: str, path: str) -> Workflow:
    """Parse one workflow's text; ``path`` is used in the model and in every Location.

    Local reusable workflows and actions are not read (there is no root to find them in).
    """
    workflow, problems = _workflow(_load(text, path), _sha(text))
    if problems:
        raise WorkflowError(_sorted(problems))
    return workflow


def parse_action_text(text: str, path: str) -> CompositeAction:
    """Parse the text of an ``action.yml``; only composite actions are supported."""
    action, problems = _action(_load(text, path))
    if problems:
        raise WorkflowError(_sorted(problems))
    return action


def _display(path: Path, root: Path | None) -> str:
    """``path`` relative to ``root`` with forward slashes when it is inside it."""
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def _read(path: Path, display: str, at: Location | None = None) -> str:
    """The text of ``path``; unreadable files are problems at ``at`` (or at the file)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        where = at or Location(display)
        reason = exc.strerror or type(exc).__name__
        raise WorkflowError([Problem(f"cannot read {display}: {reason}", where)]) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problem = Problem(
            f"{display} is not UTF-8 text", Location(display, line), "save the file as UTF-8"
        )
        raise WorkflowError([problem]) from None


def parse_workflow(path: Path, *, root: Path | None = None) -> Workflow:
    """Parse and validate one workflow file.

    With ``root``, the path in the model is relative to it (``.github/workflows/ci.yml``) and
    local reusable workflows and composite actions it uses are read and checked too.
    """
    return _parse_workflow_file(Path(path), root, ())


def _parse_workflow_file(path: Path, root: Path | None, chain: tuple[str, ...]) -> Workflow:
    display = _display(path, root)
    text = _read(path, display)
    doc = _load(text, display)
    workflow, problems = _workflow(doc, _sha(text))
    if root is not None:
        problems.extend(_local_references(workflow, doc, root, chain + (_key(path),)))
    if problems:
        raise WorkflowError(_sorted(problems))
    return workflow


def parse_action(path: Path, root: Path | None = None) -> CompositeAction:
    """Parse a local composite action: its ``action.yml``/``action.yaml`` or its directory."""
    return _parse_action_file(Path(path), root, ())


def _action_file(path: Path) -> Path | None:
    if path.is_file():
        return path
    for name in ACTION_FILES:
        candidate = path / name
        if candidate.is_file():
            return candidate
    return None


def _parse_action_file(path: Path, root: Path | None, chain: tuple[str, ...]) -> CompositeAction:
    file = _action_file(path)
    if file is None:
        display = _display(path, root)
        raise WorkflowError(
            [Problem(f"no action.yml or action.yaml in {display}", Location(display))]
        )
    display = _display(file, root)
    text = _read(file, display)
    doc = _load(text, display)
    action, problems = _action(doc)
    if root is not None:
        for step in action.steps:
            at = doc.location(("runs", "steps", step.index, "uses"))
            problems.extend(_step_reference(step, at, root, chain + (_key(file),)))
    if problems:
        raise WorkflowError(_sorted(problems))
    return action


def discover_workflows(root: Path) -> list[Path]:
    """The workflow files of a repository: ``.github/workflows/*.yml`` and ``*.yaml``, sorted."""
    folder = Path(root) / WORKFLOWS_DIR
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file()]
    return sorted(files)


def load_workflows(root: Path, files: Sequence[Path] | None = None) -> list[Workflow]:
    """Parse every workflow of ``root`` (or ``files``); all problems of all files in one error."""
    root = Path(root)
    paths = discover_workflows(root) if files is None else [Path(f) for f in files]
    if not paths:
        raise WorkflowError(
            [
                Problem(
                    f"no workflow files in {WORKFLOWS_DIR}",
                    Location(WORKFLOWS_DIR),
                    "add a workflow such as .github/workflows/ci.yml",
                )
            ]
        )
    workflows: list[Workflow] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            workflows.append(parse_workflow(path, root=root))
        except WorkflowError as exc:
            problems.extend(exc.problems)
    if problems:
        raise WorkflowError(_dedupe(problems))
    return workflows


# ---------------------------------------------------------------------------------------------
# Local reusable workflows and composite actions
# ---------------------------------------------------------------------------------------------

_WORKFLOW_CACHE: dict[tuple[str, str, int, int], Workflow | tuple[Problem, ...]] = {}
_ACTION_CACHE: dict[tuple[str, str, int, int], CompositeAction | tuple[Problem, ...]] = {}


def _key(path: Path) -> str:
    return str(path.resolve())


def _stamp(root: Path, path: Path) -> tuple[str, str, int, int]:
    stat = path.stat()
    return (_key(root), _key(path), stat.st_mtime_ns, stat.st_size)


def _inside(root: Path, relative: str, at: Location, what: str) -> Path:
    target = (root / relative).resolve()
    if not target.is_relative_to(root.resolve()):
        raise WorkflowError(
            [Problem(f"{what} '{relative}' is outside the repository", at, "use a path inside it")]
        )
    return target


Loaded = TypeVar("Loaded", Workflow, CompositeAction)


def _parse_cached(
    root: Path,
    file: Path,
    at: Location,
    chain: tuple[str, ...],
    cache: dict[tuple[str, str, int, int], Loaded | tuple[Problem, ...]],
    parse: Callable[[Path, Path, tuple[str, ...]], Loaded],
    loop: str,
    loop_hint: str,
) -> Loaded:
    """Parse a referenced file once per modification, refusing a loop of references."""
    if _key(file) in chain:
        names = [_display(Path(p), root) for p in chain[chain.index(_key(file)) :]]
        raise WorkflowError([Problem(f"{loop}: {_cycle_text(names)}", at, loop_hint)])
    stamp = _stamp(root, file)
    cached = cache.get(stamp)
    if cached is None:
        try:
            cached = parse(file, root, chain)
        except WorkflowError as exc:
            cached = exc.problems
        cache[stamp] = cached
    if isinstance(cached, tuple):
        raise WorkflowError(cached)
    return cached


def load_reusable(root: Path, uses: str, at: Location) -> Workflow:
    """The local reusable workflow ``uses`` (``./.github/workflows/x.yml``) of ``root``.

    Raises :class:`WorkflowError`: a missing file is reported at ``at``; problems inside the
    file carry its own path. Results are cached per file and modification time.
    """
    return _load_reusable(Path(root), uses, at, ())


def _load_reusable(root: Path, uses: str, at: Location, chain: tuple[str, ...]) -> Workflow:
    file = _inside(root, uses, at, "reusable workflow")
    if not file.is_file():
        raise WorkflowError(
            [
                Problem(
                    f"reusable workflow '{uses}' not found",
                    at,
                    f"expected a file at {_display(file, root)}",
                )
            ]
        )
    return _parse_cached(
        root,
        file,
        at,
        chain,
        _WORKFLOW_CACHE,
        _parse_workflow_file,
        "reusable workflows call each other in a loop",
        "a reusable workflow cannot call itself",
    )


def load_local_action(root: Path, uses: str, at: Location) -> CompositeAction:
    """The local composite action ``uses`` (``./path`` to a directory with ``action.yml``).

    Raises :class:`WorkflowError` like :func:`load_reusable`; cached the same way.
    """
    return _load_local_action(Path(root), uses, at, ())


def _load_local_action(
    root: Path, uses: str, at: Location, chain: tuple[str, ...]
) -> CompositeAction:
    folder = _inside(root, uses, at, "local action")
    file = _action_file(folder) if folder.is_dir() else None
    if file is None:
        raise WorkflowError(
            [
                Problem(
                    f"local action '{uses}' not found",
                    at,
                    f"expected {_display(folder, root)}/action.yml or action.yaml",
                )
            ]
        )
    return _parse_cached(
        root,
        file,
        at,
        chain,
        _ACTION_CACHE,
        _parse_action_file,
        "local actions use each other in a loop",
        "a composite action cannot use itself",
    )


def _is_local(uses: str | None) -> bool:
    return uses is not None and uses.startswith("./") and "${{" not in uses and "@" not in uses


def _step_reference(step: Step, at: Location, root: Path, chain: tuple[str, ...]) -> list[Problem]:
    if step.uses is None or not _is_local(step.uses):
        return []
    try:
        _load_local_action(root, step.uses, at, chain)
    except WorkflowError as exc:
        return list(exc.problems)
    return []


def _local_references(
    workflow: Workflow, doc: YamlDocument, root: Path, chain: tuple[str, ...]
) -> list[Problem]:
    """Problems of the local reusable workflows and actions ``workflow`` uses."""
    problems: list[Problem] = []
    for job in workflow.jobs:
        job_path: YamlPath = ("jobs", job.id)
        for step in job.steps:
            at = doc.location(job_path + ("steps", step.index, "uses"))
            problems.extend(_step_reference(step, at, root, chain))
        if job.uses is None or not _LOCAL_WORKFLOW.match(job.uses):
            continue
        try:
            called = _load_reusable(root, job.uses, doc.location(job_path + ("uses",)), chain)
        except WorkflowError as exc:
            problems.extend(exc.problems)
            continue
        problems.extend(_check_call(job, called, doc, job_path))
    return problems


def _check_call(job: Job, called: Workflow, doc: YamlDocument, path: YamlPath) -> list[Problem]:
    """Inputs and secrets a job passes against what the reusable workflow declares."""
    trigger = called.trigger("workflow_call")
    at = doc.location(path + ("uses",))
    if trigger is None:
        return [
            Problem(
                f"'{job.uses}' is not a reusable workflow",
                at,
                "it needs 'on: workflow_call' to be called from a job",
            )
        ]
    problems: list[Problem] = []
    declared = {spec.name: spec for spec in trigger.inputs}
    for name, value in job.with_.items():
        spec = declared.get(name)
        if spec is None:
            problems.append(
                Problem(
                    f"job '{job.id}' passes input '{name}' that '{job.uses}' does not declare",
                    doc.key_location(path + ("with", name)),
                    _suggest(name, declared) if declared else "it declares no inputs",
                )
            )
        elif not _is_expression(value) and not _input_fits(spec.type, value):
            problems.append(
                Problem(
                    f"input '{name}' of '{job.uses}' is a {spec.type}, not {_describe(value)}",
                    doc.location(path + ("with", name)),
                    f"pass a {spec.type}",
                )
            )
    for spec in trigger.inputs:
        if spec.required and spec.default is None and spec.name not in job.with_:
            problems.append(
                Problem(
                    f"job '{job.id}' does not pass required input '{spec.name}'",
                    at,
                    f"add it under 'with' ({spec.type})",
                )
            )
    if isinstance(job.secrets, Mapping):
        secrets = {spec.name for spec in trigger.secrets}
        for name in job.secrets:
            if name not in secrets:
                problems.append(
                    Problem(
                        f"job '{job.id}' passes secret '{name}' that '{job.uses}' does not declare",
                        doc.key_location(path + ("secrets", name)),
                        _suggest(name, secrets) if secrets else "it declares no secrets",
                    )
                )
    if job.secrets != "inherit":
        given = job.secrets if isinstance(job.secrets, Mapping) else {}
        for secret in trigger.secrets:
            if secret.required and secret.name not in given:
                problems.append(
                    Problem(
                        f"job '{job.id}' does not pass required secret '{secret.name}'",
                        at,
                        "add it under 'secrets', or use 'secrets: inherit'",
                    )
                )
    return problems


def _input_fits(kind: str, value: Any) -> bool:
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return not isinstance(value, (dict, list))
