"""What the user sees while a run goes: a live tree on a terminal, prefixed lines elsewhere.

Both reporters receive the same calls from the scheduler and the job executor. Every text
that reaches them is already masked.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import IO, Mapping, Sequence

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from amoskys.model import JobRun, Status, StepRun
from amoskys.plan import JobInstance
from amoskys.run.commands import Annotation

CACHED_RUNNER = "cache"  # JobRun.runner of a job the result cache served

_STYLE = {
    Status.SUCCESS: ("✓", "green"),
    Status.FAILURE: ("✗", "red"),
    Status.TIMED_OUT: ("⏱", "red"),
    Status.CANCELLED: ("⊘", "yellow"),
    Status.SKIPPED: ("-", "dim"),
    Status.NOT_RUN: ("·", "yellow"),
}


def describe(result: JobRun) -> str:
    """The status column of the summary: ``passed``, ``not run: no runner for ...``."""
    if result.status is Status.NOT_RUN:
        return f"not run: {result.reason}"
    if result.status is Status.SUCCESS and result.runner == CACHED_RUNNER:
        return result.reason  # "cached (run N)"
    if result.status is Status.SUCCESS:
        return "passed"
    if result.status.is_failure and result.conclusion is Status.SUCCESS:
        return "failed (continue-on-error)"
    return {
        Status.FAILURE: "failed",
        Status.TIMED_OUT: "timed out",
        Status.CANCELLED: "cancelled",
        Status.SKIPPED: "skipped",
    }.get(result.status, result.status.value)


class PlainReporter:
    """One line per event, prefixed ``[job (matrix)/step]``: for logs, pipes and CI."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def _write(self, text: str) -> None:
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def job_started(self, inst: JobInstance) -> None:
        self._write(f"[{inst.name}] started")

    def job_finished(self, inst: JobInstance, result: JobRun) -> None:
        shown = result.status is Status.NOT_RUN or result.runner == CACHED_RUNNER
        why = f" ({result.reason})" if result.reason and not shown else ""
        self._write(f"[{inst.name}] {describe(result)}{why} in {result.duration:.1f}s")

    def step_started(self, inst: JobInstance, index: int, name: str) -> None:
        self._write(f"[{inst.name}/{name}] ▶ step {index}")

    def step_line(self, inst: JobInstance, name: str, text: str) -> None:
        self._write(f"[{inst.name}/{name}] {text}")

    def step_finished(self, inst: JobInstance, step: StepRun) -> None:
        if step.outcome is Status.SKIPPED:
            return
        extra = " (continue-on-error)" if step.outcome != step.conclusion else ""
        self._write(
            f"[{inst.name}/{step.name}] {step.outcome.value}{extra} in {step.duration:.1f}s"
        )

    def annotation(self, inst: JobInstance, note: Annotation) -> None:
        where = ""
        if note.file:
            where = f" {note.file}" + (f":{note.line}" if note.line else "")
        self._write(f"[{inst.name}] {note.level}{where}: {note.message}")

    def close(self) -> None:
        pass


@dataclass
class _JobView:
    name: str
    state: str = "queued"
    started: float = 0.0
    finished: float = 0.0
    step: str = ""
    last_line: str = ""
    steps: list[tuple[str, str]] = field(default_factory=list)  # (name, symbol)


class LiveReporter:
    """A rich live tree: every job with its state, elapsed time, steps and last log line."""

    def __init__(self, console: Console, instances: Sequence[JobInstance]) -> None:
        self.console = console
        self._lock = threading.Lock()
        self._jobs: dict[str, _JobView] = {i.key: _JobView(i.name) for i in instances}
        self._notes: list[str] = []
        self._live = Live(self._render(), console=console, refresh_per_second=8, transient=False)
        self._live.start()

    def _render(self) -> RenderableType:
        tree = Tree("[bold]jobs")
        now = time.time()
        for view in self._jobs.values():
            end = view.finished or now
            elapsed = f" {end - view.started:5.1f}s" if view.started else ""
            label = Text(f"{view.name}  ")
            label.append(view.state, style=_state_style(view.state))
            label.append(elapsed, style="dim")
            branch = tree.add(label)
            if view.state == "running":
                for name, symbol in view.steps[-3:]:
                    branch.add(Text(f"{symbol} {name}"))
                if view.last_line:
                    branch.add(Text(view.last_line[:120], style="dim"))
        if self._notes:
            return Group(tree, Text("\n".join(self._notes[-5:])))
        return tree

    def _update(self) -> None:
        self._live.update(self._render())

    def job_started(self, inst: JobInstance) -> None:
        with self._lock:
            view = self._jobs[inst.key]
            view.state, view.started = "running", time.time()
            self._update()

    def job_finished(self, inst: JobInstance, result: JobRun) -> None:
        with self._lock:
            view = self._jobs[inst.key]
            view.state = describe(result)
            view.finished = time.time()
            if not view.started:
                view.started = view.finished
            self._update()

    def step_started(self, inst: JobInstance, index: int, name: str) -> None:
        with self._lock:
            self._jobs[inst.key].steps.append((name, "▶"))
            self._update()

    def step_line(self, inst: JobInstance, name: str, text: str) -> None:
        with self._lock:
            self._jobs[inst.key].last_line = text
            self._update()

    def step_finished(self, inst: JobInstance, step: StepRun) -> None:
        if step.outcome is Status.SKIPPED:
            return
        with self._lock:
            view = self._jobs[inst.key]
            symbol = _STYLE[step.outcome][0]
            view.steps = [(n, symbol if n == step.name and s == "▶" else s) for n, s in view.steps]
            self._update()

    def annotation(self, inst: JobInstance, note: Annotation) -> None:
        with self._lock:
            where = f" {note.file}:{note.line}" if note.file else ""
            self._notes.append(f"{inst.name}: {note.level}{where}: {note.message}")
            self._update()

    def close(self) -> None:
        self._live.stop()


def _state_style(state: str) -> str:
    if state == "passed" or state.startswith("cached"):
        return "green"
    if state.startswith(("failed", "timed")):
        return "red"
    if state == "running":
        return "cyan"
    if state.startswith(("not run", "cancelled")):
        return "yellow"
    return "dim"


def summary_table(instances: Sequence[JobInstance], results: Mapping[str, JobRun]) -> Table:
    """The table printed at the end: job instance, status, duration, reason."""
    table = Table(title="summary", show_edge=False)
    for column in ("job instance", "status", "duration", "reason"):
        table.add_column(column)
    for inst in instances:
        result = results[inst.key]
        symbol, style = _STYLE[result.status]
        shown = result.status is Status.NOT_RUN or result.runner == CACHED_RUNNER
        reason = "" if shown else result.reason
        table.add_row(
            inst.name,
            Text(f"{symbol} {describe(result)}", style=style),
            f"{result.duration:.1f}s" if result.started else "",
            reason,
        )
    return table
