"""``amoskys run``: plan, check what the plan needs, execute it here, and summarise.

This is the edge where the run's I/O lives: the state folder, the event file, secrets,
signals and the terminal. Scheduling is :mod:`amoskys.run.engine`; a job is
:mod:`amoskys.run.job`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

from rich.console import Console

from amoskys.collect.flakiness import parse_flaky
from amoskys.config import Config
from amoskys.contexts import RepoFacts, event_payload, github_context, ref_name
from amoskys.errors import AmoskysError, Location, Problem, ProblemsError
from amoskys.model import JobRun, Status, Workflow
from amoskys.plan import JobInstance, Plan
from amoskys.run.engine import Scheduler
from amoskys.run.environment import clean_environment, parse_dotenv
from amoskys.run.flaky_env import probe_environment, quarantined
from amoskys.run.job import LocalJobExecutor, RunSettings
from amoskys.run.live import LiveReporter, PlainReporter, summary_table
from amoskys.run.masking import Masker
from amoskys.run.matrix_coverage import instances_measuring_coverage
from amoskys.run.recording import RunRecorder, not_recorded
from amoskys.run.result_cache import CacheSettings, CachingExecutor, setup_python_specs
from amoskys.run.transient import parse_retry
from amoskys.run.workspace import STATE_DIR_NAME, ensure_state_dir, list_workspace_files
from amoskys.store.db import Store, open_store

if TYPE_CHECKING:
    from amoskys.select.in_run import RunSelection

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
SECRET_PREFIX = "AMOSKYS_SECRET_"  # a variable prefix, not a secret  # nosec B105


@dataclass(frozen=True)
class RunOptions:
    jobs: tuple[str, ...] = ()
    max_jobs: int = 0  # 0: the CPU count
    secrets: Mapping[str, str] = field(default_factory=dict)
    secrets_file: Path | None = None
    env_file: Path | None = None
    keep: bool = False
    live: bool = True
    strict_platforms: bool = False
    skip_unsupported: bool = False
    no_cache: bool = False  # run every job, even those the result cache could serve
    select: bool | None = None  # pytest steps select tests; None: [tool.amoskys.select] says


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    run_dir: Path
    results: Mapping[str, JobRun]
    exit_code: int


def select_jobs(instances: Sequence[JobInstance], job_ids: Sequence[str]) -> list[JobInstance]:
    """The instances of the named jobs (all their matrix instances) plus what they need."""
    if not job_ids:
        return list(instances)
    known = {i.job_id for i in instances} | {i.job_id.split("/", 1)[0] for i in instances}
    unknown = [j for j in job_ids if j not in known]
    if unknown:
        raise AmoskysError(
            f"--job {unknown[0]!r} is not a job of the triggered workflows",
            hint="jobs here: " + ", ".join(sorted({i.job_id for i in instances})),
        )
    by_key = {i.key: i for i in instances}
    wanted: set[str] = set()
    stack = [
        i.key for i in instances if i.job_id in job_ids or i.job_id.split("/", 1)[0] in job_ids
    ]
    while stack:
        key = stack.pop()
        if key in wanted:
            continue
        wanted.add(key)
        stack.extend(by_key[key].needs_keys)
    return [i for i in instances if i.key in wanted]


def load_secrets(options: RunOptions, environ: Mapping[str, str]) -> dict[str, str]:
    """``AMOSKYS_SECRET_*`` < ``--secrets-file`` < ``--secret``."""
    secrets = {
        name[len(SECRET_PREFIX) :]: value
        for name, value in environ.items()
        if name.startswith(SECRET_PREFIX) and len(name) > len(SECRET_PREFIX)
    }
    if options.secrets_file is not None:
        secrets.update(_read_dotenv(options.secrets_file))
    secrets.update(options.secrets)
    secrets.setdefault("GITHUB_TOKEN", "")
    return secrets


def _read_dotenv(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise AmoskysError(f"cannot read {path}: {err.strerror}") from None
    return parse_dotenv(text, str(path))


def preflight_interpreters(instances: Sequence[JobInstance], root: Path) -> None:
    """Every interpreter that a runnable instance's setup-python asks for exists here.

    Checked before anything runs, so a missing Python is an input error (exit 2) that names
    the job and how to install it, instead of a failure half-way through the run.
    """
    from amoskys.run.actions import action_name
    from amoskys.run.interpreters import find_interpreter, keep_answers_in

    state = root / STATE_DIR_NAME
    # Only where a run made the state folder before: a wrong input must leave no trace.
    keep_answers_in(state / "cache" / "interpreters.json" if state.is_dir() else None)

    problems: list[Problem] = []
    seen: set[str] = set()
    for inst in instances:
        if not inst.runnable:
            continue
        for step in inst.job.steps:
            if step.uses is None or action_name(step.uses) != "actions/setup-python":
                continue
            one = replace(inst, job=replace(inst.job, steps=(step,)))
            for spec in setup_python_specs(one, root) or ():
                if spec in seen:
                    continue
                try:
                    find_interpreter(spec, search_env=os.environ)
                    seen.add(spec)
                except AmoskysError as err:
                    problems.append(Problem(f"{inst.name}: {err.message}", step.location, err.hint))
                    seen.add(spec)
    if problems:
        raise ProblemsError(problems)


class _Signals:
    """SIGINT/SIGTERM cancel the run: the first signal cancels, running groups are killed."""

    def __init__(self, cancel: threading.Event) -> None:
        self.cancel = cancel
        self.received = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = True
        self.cancel.set()

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def execute(
    root: Path,
    the_plan: Plan,
    facts: RepoFacts,
    config: Config,
    options: RunOptions,
    console: Console,
    environ: Mapping[str, str] | None = None,
) -> RunOutcome:
    """Run ``the_plan``'s instances (narrowed by ``--job``) on this machine."""
    environ = os.environ if environ is None else environ
    instances = select_jobs(the_plan.instances, options.jobs)
    preflight_interpreters(instances, root)
    selecting = select_tests_in_steps(root, options, config)  # its errors: before the run
    secrets = load_secrets(options, environ)
    extra_env = _read_dotenv(options.env_file) if options.env_file else {}
    state_dir = ensure_state_dir(root)
    store = open_store(state_dir)
    try:
        store.mark_interrupted()
        return _execute_recorded(
            root,
            the_plan,
            facts,
            config,
            options,
            console,
            instances,
            secrets,
            extra_env,
            state_dir,
            store,
            selecting,
        )
    finally:
        store.close()


def select_tests_in_steps(root: Path, options: RunOptions, config: Config) -> bool:
    """Whether the run's pytest steps select tests: ``--select``/``--no-select``, else
    ``[tool.amoskys.select] enabled`` (read, and so validated, in any case)."""
    from amoskys.select.settings import load_select_config

    enabled = load_select_config(root).enabled
    wanted = enabled if options.select is None else options.select
    if wanted and not config.pytest_probe:
        raise AmoskysError(
            "test selection in workflow steps needs the pytest probe, which is off",
            location=Location("pyproject.toml"),
            hint="remove pytest-probe = false from [tool.amoskys], or run with --no-select",
        )
    return wanted


def _execute_recorded(
    root: Path,
    the_plan: Plan,
    facts: RepoFacts,
    config: Config,
    options: RunOptions,
    console: Console,
    instances: list[JobInstance],
    secrets: dict[str, str],
    extra_env: dict[str, str],
    state_dir: Path,
    store: Store,
    selecting: bool = False,
) -> RunOutcome:
    workflows = {d.workflow.path: d.workflow for d in the_plan.decisions if d.decision.triggered}
    pyproject = Location("pyproject.toml")
    flaky = parse_flaky((config.raw or {}).get("flaky"), pyproject)  # checked before the run
    retry = parse_retry((config.raw or {}).get("retry"), pyproject)  # is recorded
    started = time.time()
    folder_name = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    run_dir = state_dir / "runs" / folder_name
    run_number = store.create_run(
        workflow=", ".join(sorted({i.workflow for i in instances})) or ", ".join(workflows),
        trigger="cli",
        event=the_plan.event.name,
        ref=the_plan.event.ref,
        branch=ref_name(the_plan.event.ref) if the_plan.event.ref.startswith("refs/heads/") else "",
        sha=facts.sha,
        actor=facts.actor,
        workflow_sha256=",".join(sorted(w.text_sha256 for w in workflows.values())),
        started=started,
        run_dir=run_dir.relative_to(state_dir).as_posix(),
    )
    run_id = str(run_number)
    run_dir.mkdir(parents=True, exist_ok=True)
    event_path = run_dir / "event.json"
    event_path.write_text(json.dumps(event_payload(the_plan.event, facts), indent=2))
    quarantine = quarantined(store, flaky)
    # the jobs of a called reusable workflow get its env and defaults (GitHub's rule)
    workflows = {**workflows, **called_workflows(root, the_plan, instances, workflows)}
    selection = None
    if selecting:
        selection = run_selection(root, store, state_dir, console, workflows, options.env_file)
    probe_dir = install_probe(run_dir) if config.pytest_probe else None
    if selection is not None and probe_dir is not None:
        from amoskys.select.in_run import install_select_plugin

        install_select_plugin(probe_dir)
    settings = RunSettings(
        root=root,
        run_id=run_id,
        run_dir=run_dir,
        workspace_files=tuple(list_workspace_files(root)),
        base_env=clean_environment(os.environ, config.pass_env),
        github=github_context(the_plan.event, facts),
        event_path=event_path,
        workflows=workflows,
        secrets=secrets,
        extra_env=extra_env,
        skip_unsupported=options.skip_unsupported,
        keep=options.keep,
        probe_dir=probe_dir,
        probe_env=probe_environment(flaky, quarantine, run_dir / "probe"),
        retry=retry,
        selection=selection,
        coverage_keys=instances_measuring_coverage(instances, config.matrix_coverage),
    )
    masker = Masker()
    view: LiveReporter | PlainReporter
    if options.live and console.is_terminal:
        view = LiveReporter(console, instances)
    else:
        view = PlainReporter(sys.stdout)
    recorder = RunRecorder(store, run_number, state_dir, view)
    executor = CachingExecutor(
        CacheSettings(
            root=root,
            state_dir=state_dir,
            run_number=run_number,
            run_dir=run_dir,
            workspace_files=settings.workspace_files,
            environment={**settings.base_env, **settings.extra_env},
            github=settings.github,
            workflows=workflows,
            job_inputs=config.job_inputs,
            vars=settings.vars,
            # What reaches pytest and the steps without being a file or a variable of theirs:
            # a test leaving the quarantine, or other re-run or retry settings, run it again.
            extra={
                "pytest_probe": config.pytest_probe,
                "quarantine": sorted(quarantine),
                "flaky": repr(flaky),
                "retry": repr(retry),
                # a remote action skipped is a pass only with the flag: without it the job
                # fails, so a success with the flag is never served to a run without it
                **({"skip_unsupported": True} if options.skip_unsupported else {}),
            },
            serve=not options.no_cache,
            # a job whose pytest selected is served only to runs that select too; a job
            # whose pytest did not (lint, or a full run) keeps the key of runs that do not
            selecting=selection is not None,
            no_coverage=frozenset(
                i.key for i in instances if i.key not in (settings.coverage_keys or ())
            ),
        ),
        LocalJobExecutor(settings, recorder, masker),
        store.find_job,
        recorder.copy_job_results,
        warn=lambda inst, text: recorder.step_line(inst, "cache", f"warning: {text}"),
    )
    cancel = threading.Event()
    max_jobs = options.max_jobs or os.cpu_count() or 2
    scheduler = Scheduler(
        instances,
        executor,
        max_jobs=max_jobs,
        contexts={"github": settings.github, "vars": {}, "inputs": {}},
        observer=recorder,
        # the longest chain of work starts first when more jobs are ready than -j allows
        expected=store.recent_job_durations([i.key for i in instances if i.runnable]),
    )
    with _Signals(cancel) as signals:
        try:
            results = scheduler.run(cancel)
        finally:
            recorder.close()  # never raises: a failed write is recorder.error
    code = exit_code(results.values(), strict_platforms=options.strict_platforms)
    if signals.received:
        code = EXIT_INTERRUPTED
    lost = recorder.error  # if set, the run stays unfinished: the next start interrupts it
    if lost is None:
        try:
            store.finish_run(run_number, status=RUN_STATUS[code], finished=time.time())
        except AmoskysError as err:  # the database refused it, or stayed locked too long
            lost = err
    console.print(summary_table(instances, results))
    for line in selection.lines if selection is not None else ():
        console.print(f"test selection: {line}", markup=False, highlight=False)
    console.print(f"run {run_id}: logs in {settings.logs_dir}; `amoskys runs show {run_id}`")
    if lost is not None:
        raise not_recorded(lost, run_number, code)
    return RunOutcome(run_id=run_id, run_dir=run_dir, results=results, exit_code=code)


def called_workflows(
    root: Path, the_plan: Plan, instances: Sequence[JobInstance], known: Mapping[str, Workflow]
) -> dict[str, Workflow]:
    """The reusable workflows the jobs of ``instances`` come from, beyond those ``known`` (the
    triggered ones): their own ``env`` and ``defaults`` reach their jobs (the caller's do
    not), so the engine and the result cache must see them."""
    from amoskys.workflow.parse import load_reusable

    planned = {d.workflow.path: d.workflow for d in the_plan.decisions}
    found: dict[str, Workflow] = {}
    for inst in instances:
        path = inst.workflow
        if path in known or path in found:
            continue
        found[path] = planned.get(path) or load_reusable(root, f"./{path}", Location(path))
    return found


def run_selection(
    root: Path,
    store: Store,
    state_dir: Path,
    console: Console,
    workflow_paths: Iterable[str] = (),
    env_file: Path | None = None,
) -> RunSelection | None:
    """The run's test selection; None (said on the console) outside a git commit. A change
    of the workflows, local actions or ``env_file`` runs every test (see ``run_all_inputs``)."""
    from amoskys.select.in_run import RunSelection, run_all_inputs
    from amoskys.select.mapstore import head_commit

    commit = head_commit(root)
    if commit is None:
        console.print("test selection is off: not a git repository with a commit")
        return None
    globs, reason = run_all_inputs(root, workflow_paths, env_file)
    return RunSelection(root, store, state_dir, commit, globs, reason)


RUN_STATUS = {0: "success", EXIT_FAILED: "failure", EXIT_INTERRUPTED: "cancelled"}


def install_probe(run_dir: Path) -> Path:
    """Copy the pytest probe where the run's steps import it from (their PYTHONPATH)."""
    folder = run_dir / "probe"
    folder.mkdir(parents=True, exist_ok=True)
    source = Path(__file__).resolve().parents[1] / "collect" / "pytest_probe.py"
    shutil.copyfile(source, folder / "amoskys_pytest_probe.py")
    return folder


def exit_code(results: Iterator[JobRun] | Any, *, strict_platforms: bool) -> int:
    """0 when every job that ran passed; 1 when one failed, timed out or was cancelled."""
    failed = False
    for result in results:
        if result.conclusion.is_failure or result.conclusion is Status.CANCELLED:
            failed = True
        if strict_platforms and result.status is Status.NOT_RUN:
            failed = True
    return EXIT_FAILED if failed else 0
