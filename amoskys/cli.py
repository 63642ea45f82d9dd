"""The command line: ``amoskys validate``, ``plan``, ``eval`` (and more as they land).

Imports beyond click are made where they are used: ``amoskys test --select affected`` with
nothing to run must cost little more than starting Python, and the workflow front end, the
planner and rich took about a third of a second before any command ran.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import click

from amoskys import __version__
from amoskys.crash import run_guarded
from amoskys.errors import AmoskysError, Location

if TYPE_CHECKING:
    from rich.console import Console

    from amoskys.contexts import RepoFacts
    from amoskys.model import Workflow
    from amoskys.plan import Plan
    from amoskys.workflow.events import Event

EVENT_NAMES = ("push", "pull_request", "pull_request_target", "schedule", "workflow_dispatch")


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _project_root() -> Path:
    """The git work tree we are in, else the current folder."""
    from amoskys.run.workspace import repo_root

    try:
        return repo_root(Path.cwd())
    except AmoskysError:
        return Path.cwd()


def _parse_pairs(pairs: Sequence[str], option: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise AmoskysError(
                f"{option} {pair!r} is not KEY=VALUE", hint=f"write {option} name=value"
            )
        result[key] = value
    return result


def _load(root: Path, files: Sequence[str]) -> list[Workflow]:
    from amoskys.workflow.parse import load_workflows

    paths = [Path(f).resolve() for f in files] if files else None
    return load_workflows(root, paths)


#: Commands that live in their own modules, imported only when used: the history commands
#: pull in SQLAlchemy and Alembic, which every other command can start without.
LAZY_COMMANDS = {
    "runs": "amoskys.history_cli:runs_group",
    "logs": "amoskys.history_cli:logs_command",
    "report": "amoskys.history_cli:report_command",
    "stats": "amoskys.history_cli:stats_command",
    "gc": "amoskys.history_cli:gc_command",
    "lint": "amoskys.checks.cli:lint_command",
    "security-scan": "amoskys.checks.cli:security_scan_command",
    "test": "amoskys.checks.cli:test_command",
    "vulndb": "amoskys.checks.cli:vulndb_group",
    "init": "amoskys.init:init_command",
}


class LazyGroup(click.Group):
    """A click group whose listed commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            import importlib

            module, _, attr = LAZY_COMMANDS[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attr)
            if not isinstance(command, click.Command):  # pragma: no cover - a wiring bug
                raise TypeError(f"{LAZY_COMMANDS[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="amoskys")
def cli() -> None:
    """Amoskys runs your GitHub Actions pipeline on this machine, without Docker."""


@cli.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
def validate(files: tuple[str, ...]) -> int:
    """Check workflow files (default: all of .github/workflows) and report every problem."""
    root = _project_root()
    workflows = _load(root, files)
    jobs = sum(len(w.jobs) for w in workflows)
    _console().print(f"{len(workflows)} workflow(s), {jobs} job(s): no problems found")
    return 0


def _facts(root: Path) -> tuple[RepoFacts, str, tuple[str, ...]]:
    """Repository facts, the current ref, and the paths git says changed."""
    from amoskys.contexts import RepoFacts
    from amoskys.run.workspace import git_facts

    try:
        facts = git_facts(root)
    except AmoskysError:
        return RepoFacts(workspace=str(root)), "refs/heads/main", ()
    return (
        RepoFacts(sha=facts.sha, actor=facts.actor, workspace=str(root)),
        facts.ref,
        tuple(facts.changed),
    )


def build_event(
    root: Path,
    event_name: str,
    ref: str | None,
    base: str | None,
    changed: Sequence[str],
    inputs: dict[str, str],
) -> tuple[Event, RepoFacts]:
    """The event a command acts on, from its options and what git says."""
    from amoskys.workflow.events import Event, normalise_ref

    facts, current_ref, git_changed = _facts(root)
    full_ref = normalise_ref(ref) if ref else current_ref
    changed_paths: tuple[str, ...] | None
    if changed:
        changed_paths = tuple(changed)
    elif base is not None:
        from amoskys.run.workspace import changed_paths as git_changed_since

        try:
            changed_paths = git_changed_since(root, base) or None
        except AmoskysError:
            changed_paths = None  # the base is not here (not fetched): filters can't judge
    else:
        changed_paths = git_changed or None
    base_ref = normalise_ref(base) if base else None
    if event_name in ("pull_request", "pull_request_target") and base_ref is None:
        base_ref = "refs/heads/main"
    event = Event(
        name=event_name,
        ref=full_ref,
        base_ref=base_ref,
        changed_paths=changed_paths,
        inputs=inputs,
    )
    return event, facts


def make_plan(
    root: Path,
    files: Sequence[str],
    event: Event,
    facts: RepoFacts,
    platforms: Sequence[str] = (),
) -> Plan:
    """Load the workflows and plan them for ``event`` on this machine."""
    from amoskys.config import load_config
    from amoskys.plan import plan
    from amoskys.platforms import LocalRunner
    from amoskys.workflow.parse import load_reusable

    config = load_config(root)
    labels = list(config.runner_labels)
    for item in platforms:
        label, sep, target = item.partition("=")
        if not sep or target != "local" or not label:
            raise AmoskysError(
                f"--platform {item!r} is not LABEL=local", hint="write --platform self-hosted=local"
            )
        labels.append(label)
    workflows = _load(root, files)

    def loader(uses: str, at: Location) -> Workflow:
        return load_reusable(root, uses, at)

    return plan(
        workflows,
        event,
        runner=LocalRunner.here(labels),
        facts=facts,
        load_reusable=loader,
    )


def _print_plan(result: Plan) -> None:
    out = _console()
    ev = result.event
    changed = (
        "changed paths unknown"
        if ev.changed_paths is None
        else f"{len(ev.changed_paths)} changed path(s)"
    )
    base = f" into {ev.base_ref}" if ev.base_ref else ""
    out.print(f"[bold]{ev.name}[/bold] {ev.ref}{base} ({changed})")
    for decision in result.decisions:
        mark = "[green]triggered[/green]" if decision.decision.triggered else "[dim]not triggered"
        out.print(f"  {decision.workflow.path}: {mark} - {decision.decision.reason}")
    if not result.instances:
        out.print("No job instances to run.")
        return
    rows = [
        (
            str(number),
            inst.name,
            ", ".join(inst.needs),
            ", ".join(inst.runs_on),
            "runnable" if inst.runnable else f"not run: {inst.reason}",
        )
        for number, inst in enumerate(result.instances, 1)
    ]
    header = ("#", "job instance", "needs", "runs-on", "here")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
        out.print(line, markup=False, style="bold" if row is header else None)
    runnable = sum(1 for i in result.instances if i.runnable)
    out.print(f"{len(result.instances)} job instance(s), {runnable} runnable here")


@cli.command(name="plan")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--event", "event_name", default="push", show_default=True, help="Event name.")
@click.option("--ref", default=None, help="Full ref (refs/heads/x, refs/tags/v1) or branch.")
@click.option("--base", default=None, help="Base branch of a pull request / diff base.")
@click.option("--changed", multiple=True, help="A changed path (repeatable; default: git).")
@click.option("--input", "inputs", multiple=True, help="workflow_dispatch input K=V.")
@click.option("--platform", "platforms", multiple=True, help="Map a runs-on label: LABEL=local.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan_command(
    files: tuple[str, ...],
    event_name: str,
    ref: str | None,
    base: str | None,
    changed: tuple[str, ...],
    inputs: tuple[str, ...],
    platforms: tuple[str, ...],
    as_json: bool,
) -> int:
    """Show which job instances an event runs, in order, and whether this machine can."""
    root = _project_root()
    event, facts = build_event(
        root, event_name, ref, base, changed, _parse_pairs(inputs, "--input")
    )
    result = make_plan(root, files, event, facts, platforms)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=False))
    else:
        _print_plan(result)
    return 0


@cli.command(name="eval")
@click.argument("expression")
@click.option(
    "--context",
    "context_file",
    type=click.Path(dir_okay=False),
    help="JSON object whose top-level keys are contexts (github, env, matrix, ...).",
)
@click.option(
    "--status",
    type=click.Choice(["success", "failure", "cancelled"]),
    default="success",
    show_default=True,
    help="What the status functions see.",
)
def eval_command(expression: str, context_file: str | None, status: str) -> int:
    """Evaluate one expression (with or without ${{ }}) and print its value as JSON."""
    from amoskys.errors import ExpressionError
    from amoskys.workflow.expressions import EvalContext, StatusState, evaluate

    contexts: dict[str, Any] = {}
    if context_file:
        path = Path(context_file)
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise AmoskysError(f"cannot read {context_file}: {err.strerror}") from None
        except json.JSONDecodeError as err:
            raise AmoskysError(
                f"not valid JSON: {err.msg}",
                location=Location(context_file, err.lineno, err.colno),
                hint="the context file is one JSON object",
            ) from None
        if not isinstance(loaded, dict):
            raise AmoskysError(
                "the context file must hold a JSON object",
                location=Location(context_file, 1, 1),
                hint='write {"github": {...}, "matrix": {...}}',
            )
        contexts = {str(k).lower(): v for k, v in loaded.items()}
    text = expression.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    state = StatusState(failed=status == "failure", cancelled=status == "cancelled")
    try:
        value = evaluate(text, EvalContext(contexts=contexts, status=state))
    except ExpressionError as err:
        caret = " " * err.offset + "^"
        raise AmoskysError(
            f"{err.message}\n  {text}\n  {caret}",
            location=Location("<expression>", 1, err.offset + 1),
            hint=err.hint,
        ) from None
    click.echo(json.dumps(value, indent=2))
    return 0


@cli.command(name="run")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option(
    "--job", "jobs", multiple=True, help="Run this job (all its instances) and its needs."
)
@click.option("--event", "event_name", default="push", show_default=True, help="Event name.")
@click.option("--ref", default=None, help="Full ref or branch name (default: current branch).")
@click.option("--base", default=None, help="Base branch of a pull request / diff base.")
@click.option("--changed", multiple=True, help="A changed path (repeatable; default: git).")
@click.option("--input", "inputs", multiple=True, help="workflow_dispatch input K=V.")
@click.option("--secret", "secrets", multiple=True, help="A secret NAME=VALUE.")
@click.option("--secrets-file", type=click.Path(dir_okay=False), help="Secrets, dotenv format.")
@click.option("--env-file", type=click.Path(dir_okay=False), help="Extra step env, dotenv format.")
@click.option("--platform", "platforms", multiple=True, help="Map a runs-on label: LABEL=local.")
@click.option("-j", "--jobs-limit", "max_jobs", type=int, default=0, help="Jobs at once.")
@click.option("--keep", is_flag=True, help="Keep the job workspaces under .amoskys/.")
@click.option("--no-live", is_flag=True, help="Print prefixed log lines instead of a live view.")
@click.option("--strict-platforms", is_flag=True, help="Jobs no runner here can take fail.")
@click.option("--skip-unsupported", is_flag=True, help="Skip steps using remote actions.")
@click.option("--no-cache", is_flag=True, help="Run every job, even those with unchanged inputs.")
@click.option(
    "--select/--no-select",
    "select",
    default=None,
    help="pytest in steps runs only the tests a change affects (default: "
    "[tool.amoskys.select] enabled).",
)
def run_command(
    files: tuple[str, ...],
    jobs: tuple[str, ...],
    event_name: str,
    ref: str | None,
    base: str | None,
    changed: tuple[str, ...],
    inputs: tuple[str, ...],
    secrets: tuple[str, ...],
    secrets_file: str | None,
    env_file: str | None,
    platforms: tuple[str, ...],
    max_jobs: int,
    keep: bool,
    no_live: bool,
    strict_platforms: bool,
    skip_unsupported: bool,
    no_cache: bool,
    select: bool | None,
) -> int:
    """Run the pipeline here: jobs in parallel, with GitHub's semantics and a live view."""
    from amoskys.config import load_config
    from amoskys.run.local_run import RunOptions, execute
    from amoskys.run.workspace import repo_root

    root = repo_root(Path.cwd())
    event, facts = build_event(
        root, event_name, ref, base, changed, _parse_pairs(inputs, "--input")
    )
    result = make_plan(root, files, event, facts, platforms)
    if not result.instances:
        out = _console()
        out.print(f"Nothing to run: no job is triggered by {event.name} {event.ref}.")
        for decision in result.decisions:
            out.print(f"  {decision.workflow.path}: {decision.decision.reason}", markup=False)
        if jobs:
            raise AmoskysError(
                f"--job {jobs[0]!r}: no workflow is triggered by this event",
                hint="choose the event with --event/--ref (see `amoskys plan`)",
            )
        return 0
    if max_jobs < 0:
        raise AmoskysError(f"-j must be at least 1, got {max_jobs}")
    options = RunOptions(
        jobs=jobs,
        max_jobs=max_jobs,
        secrets=_parse_pairs(secrets, "--secret"),
        secrets_file=Path(secrets_file) if secrets_file else None,
        env_file=Path(env_file) if env_file else None,
        keep=keep,
        live=not no_live,
        strict_platforms=strict_platforms,
        skip_unsupported=skip_unsupported,
        no_cache=no_cache,
        select=select,
    )
    outcome = execute(root, result, facts, load_config(root), options, _console())
    return outcome.exit_code


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``amoskys`` console script."""

    def call() -> int:
        try:
            code = cli.main(
                args=list(argv) if argv is not None else None,
                prog_name="amoskys",
                standalone_mode=False,
            )
        except click.exceptions.Abort:
            raise KeyboardInterrupt from None
        except click.exceptions.Exit as done:
            return int(done.exit_code)
        except click.ClickException as err:
            err.show()
            return err.exit_code
        return int(code) if isinstance(code, int) else 0

    sys.exit(run_guarded(call))
