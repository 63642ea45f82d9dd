"""Test impact selection for the pytest runs inside ``amoskys run``'s steps.

With ``[tool.amoskys.select] enabled = true`` (and not ``amoskys run --no-select``), the
first ``run:`` step of a job decides, for the interpreter that ``python`` names on that
step's PATH (the job's, after ``setup-python``), what its pytest processes do - exactly as
``amoskys test --select affected`` would (:func:`amoskys.select.runner.make_plan`: the map
of the newest ancestor commit for that interpreter, the committed and uncommitted change
since, :mod:`amoskys.select.selection`):

* **everything**, recording: the select plugin writes per-test maps into the job's folder;
  after the job they are merged with those of the run's other jobs of the same interpreter
  and stored for the checked-out commit (every full run refreshes the map);
* **a selection**: the plugin keeps the selected tests plus new ones (not in the map) at
  collection; coverage is not measured (it would be the coverage of a subset; pytest-cov's
  ``fail-under`` is not applied either), and the job's
  metrics say ``select.partial = 1`` so the record shows its test results are a selection.

The user's command is never changed: the decision reaches pytest through the environment
(``AMOSKYS_SELECT_FILE`` / ``AMOSKYS_SELECT_RECORD`` and ``-p amoskys_select_plugin`` in
``PYTEST_ADDOPTS``), the same files ``amoskys test`` uses. A pytest started by another
interpreter than the one decided for runs every test (the plugin checks).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amoskys.errors import AmoskysError
from amoskys.run.process import output_of
from amoskys.select.runner import (
    PLUGIN_MODULE,
    Plan,
    SelectOptions,
    install_child_recorder,
    interpreter_of,
    make_plan,
    read_failures,
    selected_results,
)
from amoskys.store.db import Store
from amoskys.store.records import Metric

ENV_RECORD = "AMOSKYS_SELECT_RECORD"
ENV_SELECT = "AMOSKYS_SELECT_FILE"
SELECT_FILE = "select.json"
MAP_FOLDER = "map"
#: What a workflow run reads that no test map records: a change here runs every test.
WORKFLOW_GLOBS = (".github/workflows/**", ".github/actions/**")


def run_all_inputs(
    root: Path, workflow_paths: Iterable[str], env_file: Path | None
) -> tuple[tuple[str, ...], str | None]:
    """The run-all globs of a workflow run (its workflow files, local actions, the
    ``--env-file``), and a reason to run everything when the env file is one git does not
    show (ignored or outside the repository): its changes could not be seen.

    The steps' environment comes from these files; the map records code, not environment,
    so a test whose behaviour an ``env:`` changes would otherwise be skipped.
    """
    globs: list[str] = list(WORKFLOW_GLOBS)
    home = root.resolve()
    for path in workflow_paths:
        where = (root / path).resolve()
        if where.is_relative_to(home):
            globs.append(where.relative_to(home).as_posix())
    if env_file is None:
        return tuple(dict.fromkeys(globs)), None
    where = (root / env_file).resolve()
    if not where.is_relative_to(home):
        return tuple(dict.fromkeys(globs)), f"the env file {env_file} is outside the repository"
    relative = where.relative_to(home).as_posix()
    globs.append(relative)
    try:
        output_of(["git", "check-ignore", "-q", "--", relative], cwd=root)
    except AmoskysError:  # exit 1: not ignored, so git shows its changes
        return tuple(dict.fromkeys(globs)), None
    return tuple(dict.fromkeys(globs)), f"the env file {relative} is ignored by git"


@dataclass(frozen=True)
class JobSelection:
    """One job's decision for one interpreter, and the folder its plugin files live in."""

    interpreter: str
    plan: Plan
    folder: Path

    def environment(self) -> dict[str, str]:
        """What the step's processes get: record everything, or select."""
        if self.plan.full:
            return {ENV_RECORD: str(self.folder / MAP_FOLDER)}
        return {ENV_SELECT: str(self.folder / SELECT_FILE)}


def select_request(
    plan: Plan, interpreter: str, folder: Path, workspace: Path | None = None
) -> dict[str, Any]:
    """The plugin's ``AMOSKYS_SELECT_FILE`` for a selection (see the plugin's docstring).

    ``workspace``: the job's workspace; a pytest with another rootdir (one that a test
    starts, which inherits the environment) ignores the selection and runs every test. With
    it, pytest collects only the files that hold kept, changed or unknown tests."""
    request: dict[str, Any] = {
        "known": sorted(plan.known),
        "keep": list(plan.keep or ()),
        "failures": list(plan.failures),
        "new": True,
        "result": str(folder / "selected-{pid}.json"),
        "interpreter": interpreter,
        "empty_ok": True,
        "no_fail_under": True,
    }
    if workspace is not None:
        request["root"] = str(workspace)
        # Collect only the files of kept, changed and unknown tests (the plugin's "files").
        request["files"] = True
        request["changed"] = [str(workspace / path) for path in plan.changed]
    return request


def selection_metrics(plan: Plan, kept: int) -> list[Metric]:
    """How a job's test results are marked as a selection in the run record."""
    return [
        Metric("select.partial", 1.0, "flag"),
        Metric("select.selected", float(kept), "count"),
        Metric("select.known", float(len(plan.known)), "count"),
    ]


def usable_raws(
    raws: list[dict[str, Any]], interpreter: str, workspace: Path
) -> list[dict[str, Any]]:
    """The plugin's map files worth storing: written by ``interpreter`` at the end of a
    session that ran its tests (exit 0 or 1; an interrupted one may miss code a test runs),
    with the job's workspace as pytest's rootdir. Other roots are left out: a pytest that a
    test starts on a project of its own (it inherits the environment), or a sub-project whose
    paths are not the repository's."""
    home = os.path.normcase(os.path.realpath(workspace))
    return [
        raw
        for raw in raws
        if raw.get("interpreter") == interpreter
        and raw.get("exitstatus") in (0, 1)
        and os.path.normcase(os.path.realpath(str(raw.get("root", "")))) == home
    ]


@dataclass
class _Shared:
    """What the jobs of one interpreter share within a run."""

    plan: Plan | None = None
    raws: list[dict[str, Any]] = field(default_factory=list)


class RunSelection:
    """The selection decisions of one run's jobs, and the maps their full runs record.

    Thread-safe: jobs run in parallel. Jobs of the same interpreter share one decision.
    """

    def __init__(
        self,
        root: Path,
        store: Store,
        state_dir: Path,
        commit: str,
        run_all_globs: tuple[str, ...] = WORKFLOW_GLOBS,
        run_all: str | None = None,
    ) -> None:
        self.root = root
        self.run_all_globs = run_all_globs
        self.run_all = run_all
        self.store = store
        self.state_dir = state_dir
        self.commit = commit
        self._lock = threading.Lock()
        self._shared: dict[str, _Shared] = {}
        self._dirty: dict[str, str] | None = None
        self.lines: list[str] = []  # "job: summary" for the run's output

    def decide(
        self,
        folder: Path,
        env: Mapping[str, str],
        log: Callable[[str], None],
        workspace: Path | None = None,
    ) -> JobSelection | None:
        """The decision for a step whose processes get ``env`` (PATH names the job's
        ``python``); None when there is no ``python`` there."""
        from amoskys.select.mapstore import dirty_texts, latest_map

        python = shutil.which("python", path=env.get("PATH", ""))
        if python is None:
            return None
        try:
            interpreter = interpreter_of(python, self.root, env=env)
        except AmoskysError as err:
            log(f"amoskys: no test selection: {err.message}")
            return None
        with self._lock:
            shared = self._shared.setdefault(interpreter, _Shared())
            if shared.plan is None:
                failures = read_failures(self.state_dir) + self.store.recent_test_failures()
                m = latest_map(self.store, self.root, interpreter)
                shared.plan = make_plan(
                    self.root,
                    m,
                    options=SelectOptions(select="affected"),
                    interpreter=interpreter,
                    failures=failures,
                    show=log,
                    run_all_globs=self.run_all_globs,
                    run_all=self.run_all,
                )
                if shared.plan.full and self._dirty is None:
                    self._dirty = dirty_texts(self.root, self.commit)
            plan = shared.plan
        folder.mkdir(parents=True, exist_ok=True)
        if not plan.full:
            request = select_request(plan, interpreter, folder, workspace)
            (folder / SELECT_FILE).write_text(json.dumps(request), encoding="utf-8")
        log(f"amoskys: test selection: {plan.summary}")
        return JobSelection(interpreter, plan, folder)

    def edited_since_plan(self, workspace: Path) -> str | None:
        """A file the job's tests ran in another text than the map would say (an edit
        between the plan and the job's copy of the work tree); None when all agree.

        Checked are the files dirty when planned and those dirty now; a file edited and
        restored while the run went on is not seen."""
        from amoskys.select.changes import changes_since
        from amoskys.select.mapstore import MAX_DIRTY_BYTES

        now = [
            (c.path, c.old_text)
            for c in changes_since(self.root, self.commit, {})
            # as dirty_texts: deleted, binary and big files are not kept (nor copied here)
            if c.new_text is not None
            and len(c.new_text) <= MAX_DIRTY_BYTES
            and not c.path.startswith(".amoskys/")
        ]
        return workspace_differs(workspace, self._dirty or {}, now)

    def finish(
        self, job: str, selection: JobSelection, workspace: Path, ok: bool
    ) -> tuple[list[Metric], str]:
        """After the job: store what a full run recorded in ``workspace``, or mark a
        selection's results.

        Returns the job's extra metrics and one line for its log (empty: nothing to say).
        """
        from amoskys.select.mapstore import merge_raw, read_raw, save_map

        if not selection.plan.full:
            selected = selected_results(selection.folder)
            if selected is None:  # no pytest took the selection (or another interpreter)
                return [], ""
            line = (
                f"{selection.plan.summary}; {selected.kept} tests ran,"
                f" {len(selected.new)} of them new"
            )
            with self._lock:
                self.lines.append(f"{job}: {line}")
            return selection_metrics(selection.plan, selected.kept), f"amoskys: {line}"
        raws = read_raw(selection.folder / MAP_FOLDER)
        raws = usable_raws(raws, selection.interpreter, workspace)
        if not raws or not ok:
            return [], ""
        moved = self.edited_since_plan(workspace)
        if moved is not None:
            line = f"test map not stored: {moved} changed while the run went on"
            with self._lock:
                self.lines.append(f"{job}: {selection.plan.summary}; {line}")
            return [], f"amoskys: {line}"
        with self._lock:
            shared = self._shared[selection.interpreter]
            shared.raws.extend(raws)
            m = merge_raw(
                shared.raws,
                commit=self.commit,
                interpreter=selection.interpreter,
                created=time.time(),
                dirty=self._dirty or {},
            )
            if m.tests:
                save_map(self.store, m)
            line = f"test map recorded for {self.commit[:12]} ({len(m.tests):,} tests)"
            self.lines.append(f"{job}: {selection.plan.summary}; {line}")
        return [], f"amoskys: {line}"


def selection_folder(run_dir: Path, job_slug: str, number: int) -> Path:
    """Where the plugin files of a job's ``number``-th selection decision live."""
    return run_dir / "select" / job_slug / str(number)


def ran_selection(run_dir: Path, job_name: str) -> bool:
    """Whether a pytest of the job ``job_name`` took a selection (it wrote its report):
    its results are those of a subset, to be served from the result cache only to runs
    that select."""
    from amoskys.run.job import slug

    return any((run_dir / "select" / slug(job_name)).glob("*/selected-*.json"))


def workspace_differs(
    workspace: Path, planned: Mapping[str, str], now: Iterable[tuple[str, str | None]]
) -> str | None:
    """The first file whose copy in ``workspace`` is not the text the plan used: the
    ``planned`` (dirty) text, else the commit's (``now``: path and commit text of each file
    that differs from the commit in the live tree at the job's end)."""
    expected: dict[str, str | None] = dict(now)
    expected.update(planned)
    for path in sorted(expected):
        try:
            data = (workspace / path).read_bytes()
            text: str | None = data.decode("utf-8", errors="replace")  # as changes reads it
        except OSError:
            text = None
        if text != expected[path]:
            return path
    return None


def install_select_plugin(probe_dir: Path) -> None:
    """Put the select plugin next to the pytest probe, where every step imports it from."""
    source = Path(__file__).resolve().with_name("recorder_plugin.py")
    shutil.copyfile(source, probe_dir / f"{PLUGIN_MODULE}.py")
    install_child_recorder(probe_dir)
