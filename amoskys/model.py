"""The workflow model: frozen dataclasses read from GitHub Actions workflow files.

Values that GitHub evaluates later (anything that may hold ``${{ }}``) are kept as written,
as ``str`` or JSON-like values; the planner and the engine evaluate them when the contexts
they need exist. Every element keeps the :class:`Location` it was read from so that later
stages can still point at the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Mapping

from amoskys.errors import Location

#: A JSON-like value as YAML gave it (str, int, float, bool, None, list, dict).
Value = Any

NOWHERE = Location("<unknown>")


@dataclass(frozen=True)
class InputSpec:
    """One input of ``workflow_dispatch`` or ``workflow_call``."""

    name: str
    type: str = "string"  # string, boolean, number, choice, environment
    description: str | None = None
    required: bool = False
    default: Value = None
    options: tuple[str, ...] = ()
    location: Location = NOWHERE


@dataclass(frozen=True)
class OutputSpec:
    """One output of ``workflow_call``: its value is an expression over ``jobs``."""

    name: str
    value: str
    description: str | None = None
    location: Location = NOWHERE


@dataclass(frozen=True)
class SecretSpec:
    """One secret a reusable workflow declares under ``workflow_call.secrets``."""

    name: str
    required: bool = False
    description: str | None = None
    location: Location = NOWHERE


@dataclass(frozen=True)
class Trigger:
    """One event under ``on:``, with the filters GitHub applies to it.

    A filter that was not written is ``None`` (no restriction); an empty tuple is a written
    but empty list. ``crons`` is only used by ``schedule``; ``inputs`` by ``workflow_dispatch``
    and ``workflow_call``; ``outputs`` and ``secrets`` by ``workflow_call``.
    """

    event: str
    branches: tuple[str, ...] | None = None
    branches_ignore: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    tags_ignore: tuple[str, ...] | None = None
    paths: tuple[str, ...] | None = None
    paths_ignore: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None
    workflows: tuple[str, ...] | None = None  # workflow_run
    crons: tuple[str, ...] = ()
    inputs: tuple[InputSpec, ...] = ()
    outputs: tuple[OutputSpec, ...] = ()
    secrets: tuple[SecretSpec, ...] = ()
    location: Location = NOWHERE


@dataclass(frozen=True)
class RunDefaults:
    """``defaults.run`` at workflow or job level."""

    shell: str | None = None
    working_directory: str | None = None


@dataclass(frozen=True)
class Concurrency:
    group: str
    cancel_in_progress: bool | str = False


@dataclass(frozen=True)
class Environment:
    """``environment:`` of a job (a deployment target)."""

    name: str
    url: str | None = None


@dataclass(frozen=True)
class RunsOn:
    """``runs-on``: labels (each may hold an expression), a runner group, or one expression.

    ``expression`` is set when the whole value is a single ``${{ }}`` that may evaluate to a
    string or a list; then ``labels`` is empty until the planner evaluates it.
    """

    labels: tuple[str, ...] = ()
    group: str | None = None
    expression: str | None = None


@dataclass(frozen=True)
class Matrix:
    """``strategy.matrix``. Each field may instead be one expression (a ``str``).

    ``axes`` keeps the order the keys were written in, which decides instance names.
    """

    axes: tuple[tuple[str, Value], ...] = ()  # (key, list of values | "${{ expr }}")
    include: tuple[Mapping[str, Value], ...] | str = ()
    exclude: tuple[Mapping[str, Value], ...] | str = ()
    expression: str | None = None  # the whole matrix is "${{ fromJSON(...) }}"


@dataclass(frozen=True)
class Strategy:
    matrix: Matrix | None = None
    fail_fast: bool | str = True
    max_parallel: int | str | None = None


@dataclass(frozen=True)
class Step:
    """One step of a job or of a composite action."""

    index: int
    id: str | None = None
    name: str | None = None
    if_: str | None = None
    uses: str | None = None
    with_: Mapping[str, Value] = field(default_factory=dict)
    run: str | None = None
    shell: str | None = None
    env: Mapping[str, Value] = field(default_factory=dict)
    working_directory: str | None = None
    timeout_minutes: float | str | None = None
    continue_on_error: bool | str = False
    location: Location = NOWHERE

    @property
    def display_name(self) -> str:
        """The name GitHub shows: ``name``, else ``Run <first line>``, else ``Run <uses>``."""
        if self.name:
            return self.name
        if self.run is not None:
            first = self.run.strip().splitlines()[0] if self.run.strip() else ""
            return f"Run {first}"
        return f"Run {self.uses}"


@dataclass(frozen=True)
class Job:
    """One job under ``jobs:``; either steps or a reusable workflow call (``uses``)."""

    id: str
    name: str | None = None
    runs_on: RunsOn | None = None
    needs: tuple[str, ...] = ()
    if_: str | None = None
    strategy: Strategy | None = None
    env: Mapping[str, Value] = field(default_factory=dict)
    defaults: RunDefaults = RunDefaults()
    timeout_minutes: float | str = 360
    continue_on_error: bool | str = False
    outputs: Mapping[str, str] = field(default_factory=dict)
    environment: Environment | str | None = None
    services: Mapping[str, Value] = field(default_factory=dict)
    container: Value = None
    concurrency: Concurrency | None = None
    permissions: Value = None
    uses: str | None = None
    with_: Mapping[str, Value] = field(default_factory=dict)
    secrets: Mapping[str, Value] | str | None = None  # "inherit" or a mapping
    steps: tuple[Step, ...] = ()
    location: Location = NOWHERE

    @property
    def is_reusable_call(self) -> bool:
        return self.uses is not None


@dataclass(frozen=True)
class Workflow:
    """A whole workflow file."""

    path: str
    name: str | None = None
    run_name: str | None = None
    triggers: tuple[Trigger, ...] = ()
    env: Mapping[str, Value] = field(default_factory=dict)
    defaults: RunDefaults = RunDefaults()
    concurrency: Concurrency | None = None
    permissions: Value = None
    jobs: tuple[Job, ...] = ()
    text_sha256: str = ""
    location: Location = NOWHERE

    @property
    def display_name(self) -> str:
        """GitHub shows the file path when a workflow has no ``name``."""
        return self.name or self.path

    def trigger(self, event: str) -> Trigger | None:
        for trig in self.triggers:
            if trig.event == event:
                return trig
        return None

    def job(self, job_id: str) -> Job | None:
        for job in self.jobs:
            if job.id == job_id:
                return job
        return None


@dataclass(frozen=True)
class ActionInput:
    name: str
    description: str | None = None
    required: bool = False
    default: str | None = None


@dataclass(frozen=True)
class CompositeAction:
    """A local composite action (``action.yml`` with ``runs.using: composite``)."""

    path: str
    name: str | None = None
    description: str | None = None
    inputs: tuple[ActionInput, ...] = ()
    outputs: Mapping[str, str] = field(default_factory=dict)
    steps: tuple[Step, ...] = ()
    location: Location = NOWHERE


# --------------------------------------------------------------------------- results


class Status(StrEnum):
    """How a job or step ended. ``NOT_RUN`` is a job no runner here could take."""

    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    TIMED_OUT = "timed_out"
    NOT_RUN = "not_run"

    @property
    def as_result(self) -> str:
        """The value GitHub shows in ``needs.<job>.result`` and ``steps.<id>.outcome``."""
        if self is Status.TIMED_OUT:
            return "failure"
        if self is Status.NOT_RUN:
            return "skipped"
        return self.value

    @property
    def is_failure(self) -> bool:
        return self in (Status.FAILURE, Status.TIMED_OUT)


@dataclass(frozen=True)
class StepRun:
    """A finished step: ``outcome`` before ``continue-on-error``, ``conclusion`` after."""

    index: int
    name: str
    id: str | None
    outcome: Status
    conclusion: Status
    exit_code: int | None = None
    started: float = 0.0
    finished: float = 0.0
    outputs: Mapping[str, str] = field(default_factory=dict)
    message: str = ""

    @property
    def duration(self) -> float:
        return max(0.0, self.finished - self.started)


@dataclass(frozen=True)
class JobRun:
    """A finished job instance."""

    key: str
    name: str
    job_id: str
    status: Status  # what happened (outcome)
    conclusion: Status  # after continue-on-error
    reason: str = ""
    matrix: Mapping[str, Value] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)
    steps: tuple[StepRun, ...] = ()
    started: float = 0.0
    finished: float = 0.0
    runner: str = ""

    @property
    def duration(self) -> float:
        return max(0.0, self.finished - self.started)
