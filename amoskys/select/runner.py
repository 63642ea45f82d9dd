"""``amoskys test``'s pytest runs: full and recorded, or only the tests a change affects.

A full run (``--select all``, or ``affected`` without a usable map) records which code each
test ran and stores the map for the checked-out commit. ``--select affected`` finds the map of
the newest ancestor commit, asks git what changed since (:mod:`amoskys.select.changes`),
selects (:mod:`amoskys.select.selection`) and runs only those tests plus new ones; when nothing
changed and no test is failing no pytest starts at all (a test that failed last time runs
again: nothing changed, so it still fails). pytest then collects only the files that hold a
kept test, a changed file or a file the map has never seen (the plugin's
``pytest_ignore_collect``): on a large suite, collecting every module to deselect nearly all
of it cost more than the run.
Recent failures run first; ``-n`` splits the tests over several pytest processes in shards
balanced by recorded durations.

Everything runs through the pytest probe (JUnit XML, coverage) and the select plugin
(:mod:`amoskys.select.recorder_plugin`), both copied into a temporary folder on PYTHONPATH.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from amoskys.errors import AmoskysError
from amoskys.run.process import ProcessResult, output_of, run_process
from amoskys.select.testmap import TestMap

PLUGIN_MODULE = "amoskys_select_plugin"
CHILD_MODULE = "amoskys_select_child"
PROBE_MODULE = "amoskys_pytest_probe"
FAILURES_FILE = "select-failures.json"
#: The recorder plugin's ``interpreter_id()``, printed by the interpreter that runs the tests.
_INTERPRETER = (
    "import os, sys; print('%d.%d.%d' % sys.version_info[:3],"
    " os.path.realpath(getattr(sys, '_base_executable', '') or sys.executable))"
)
#: pytest's exit code when every test was deselected or none was collected.
NO_TESTS = 5


@dataclass(frozen=True)
class SelectOptions:
    """How ``amoskys test`` runs pytest."""

    select: str = "all"  # "all" | "affected"
    fail_fast: bool = False
    workers: int = 1
    why: bool = False
    explain: tuple[str, ...] = ()
    record: bool = True


@dataclass(frozen=True)
class Plan:
    """What to run: ``keep`` None = every collected test; otherwise these, in this order."""

    full: bool
    keep: tuple[str, ...] | None
    known: frozenset[str]
    failures: tuple[str, ...]
    durations: Mapping[str, float]
    summary: str
    reasons: Mapping[str, str] = field(default_factory=dict)
    nothing: bool = False  # nothing changed: no pytest at all
    changed: tuple[str, ...] = ()
    """Files changed since the map (relative to the root): a selection collects these and
    the files of kept tests only (new tests live in changed or unknown files)."""


@dataclass(frozen=True)
class PytestOutcome:
    """What the pytest processes left: their report folder's findings are read by the caller."""

    reports: Path
    exit_codes: tuple[int | None, ...]
    ran: bool
    partial: bool  # a selection ran (coverage of a subset means nothing)
    coverage: bool  # coverage was measured (one process, full run)
    notes: tuple[str, ...]


INTERPRETER_FILE = "select-interpreter.json"


def _interpreter_key(python: str) -> list[object] | None:
    """What identifies the interpreter behind ``python`` without starting it: the path, the
    link and the binary it resolves to (size, mtime), and a venv's ``pyvenv.cfg``; None when
    something cannot be read or ``python`` is a script (then it is asked every time)."""
    try:
        path = Path(python)
        real = path.resolve()
        with real.open("rb") as binary:
            if binary.read(2) == b"#!":
                return None  # a launcher script (a pyenv shim): it may pick another Python
        key: list[object] = [python, str(real)]
        for item in (
            path,
            real,
            real.parent.parent / "pyvenv.cfg",
            path.parent.parent / "pyvenv.cfg",
        ):
            try:
                found = item.lstat()
            except FileNotFoundError:
                key.append(None)
                continue
            key.append([found.st_size, found.st_mtime_ns, found.st_ino])
        return key
    except OSError:
        return None


def interpreter_of(
    python: str,
    root: Path,
    env: Mapping[str, str] | None = None,
    state_dir: Path | None = None,
) -> str:
    """``"3.12.4 /path/python3.12"`` of the interpreter that will run the tests: its version
    and base interpreter (a venv counts as its base), as the plugin records it. ``env``: the
    environment it will run in (default ours).

    With ``state_dir`` the answer is kept there, keyed by the interpreter's files: starting
    the project's Python only to ask its version cost a twentieth of a second per run."""
    key = _interpreter_key(python) if state_dir is not None else None
    path = state_dir / INTERPRETER_FILE if state_dir is not None else None
    if key is not None and path is not None:
        try:
            kept = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(kept, dict) and kept.get("key") == key and kept.get("value"):
                return str(kept["value"])
        except (OSError, ValueError):
            pass
    value = output_of([python, "-c", _INTERPRETER], cwd=root, env=env).strip()
    if key is not None and path is not None:
        try:
            temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            temp.write_text(json.dumps({"key": key, "value": value}), encoding="utf-8")
            temp.replace(path)
        except OSError:
            pass  # only a cache
    return value


def install_plugins(folder: Path) -> Path:
    """The probe and the select plugin, importable from ``folder/probe`` (where
    ``amoskys.run.local_run.install_probe`` puts the probe; not imported from there, because
    the run engine's modules cost a tenth of a second to import)."""
    where = folder / "probe"
    where.mkdir(parents=True, exist_ok=True)
    package = Path(__file__).resolve().parents[1]
    shutil.copyfile(package / "collect" / "pytest_probe.py", where / f"{PROBE_MODULE}.py")
    shutil.copyfile(package / "select" / "recorder_plugin.py", where / f"{PLUGIN_MODULE}.py")
    install_child_recorder(where)
    return where


def install_child_recorder(where: Path) -> None:
    """Beside the select plugin: what lets a test's child Python processes record themselves
    (:mod:`amoskys.select.child_recorder`, loaded by our ``sitecustomize``)."""
    package = Path(__file__).resolve().parent
    shutil.copyfile(package / "child_recorder.py", where / f"{CHILD_MODULE}.py")
    shutil.copyfile(package / "site_hook.py", where / "sitecustomize.py")


def shard(tests: Sequence[str], durations: Mapping[str, float], count: int) -> list[list[str]]:
    """Split ``tests`` into ``count`` shards of about equal recorded duration (longest first
    into the lightest shard); each shard keeps the tests' given order."""
    count = max(1, min(count, len(tests)))
    position = {nodeid: n for n, nodeid in enumerate(tests)}
    loads = [0.0] * count
    shards: list[list[str]] = [[] for _ in range(count)]
    for nodeid in sorted(tests, key=lambda t: -durations.get(t, 0.0)):
        lightest = min(range(count), key=lambda i: (loads[i], i))
        shards[lightest].append(nodeid)
        loads[lightest] += max(durations.get(nodeid, 0.0), 0.001)
    for part in shards:
        part.sort(key=position.__getitem__)
    return [part for part in shards if part] or [[]]


def read_failures(state_dir: Path | None) -> list[str]:
    """Tests that failed the last time they ran under ``amoskys test`` (newest first).

    The file is Amoskys's own cache: when it is unreadable or malformed (edited by hand,
    truncated), what cannot be read is ignored; it only orders tests, never selects fewer."""
    if state_dir is None:
        return []
    try:
        data = json.loads((state_dir / FAILURES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, dict):
        return []
    when: dict[str, float] = {}
    for nodeid, stamp in data.items():
        if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
            when[nodeid] = float(stamp)
    return sorted(when, key=lambda nodeid: -when[nodeid])


def write_failures(state_dir: Path, ran: Sequence[str], failed: Sequence[str]) -> None:
    """Forget the failures of tests that ran and passed, add the new ones."""
    path = state_dir / FAILURES_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    for nodeid in ran:
        data.pop(nodeid, None)
    now = time.time()
    for nodeid in failed:
        data[nodeid] = now
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(data), encoding="utf-8")
    temp.replace(path)


def _full_plan(m: TestMap | None, failures: Sequence[str], summary: str) -> Plan:
    if m is None:
        return Plan(True, None, frozenset(), tuple(failures), {}, summary)
    first = [n for n in dict.fromkeys(failures) if n in m.tests]
    seen = set(first)
    keep = tuple(first + [n for n in m.tests if n not in seen])
    durations = {n: r.duration for n, r in m.tests.items()}
    return Plan(True, keep, frozenset(m.tests), tuple(first), durations, summary)


def make_plan(
    root: Path,
    m: TestMap | None,
    *,
    options: SelectOptions,
    interpreter: str,
    failures: Sequence[str],
    show: Callable[[str], None],
    run_all_globs: Sequence[str] = (),
    run_all: str | None = None,
    installed: str = "",
) -> Plan:
    """Decide what runs: everything (recording), a selection, or nothing.

    ``run_all_globs``: more files whose change runs everything (``amoskys run`` adds its
    workflow files); ``run_all``: a reason the caller already has to run everything.
    """
    from amoskys.select.changes import changes_since
    from amoskys.select.selection import select_tests
    from amoskys.select.settings import load_select_config

    if options.select != "affected":
        return _full_plan(m, failures, "all tests (--select all); recording the test map")
    if m is None:
        return _full_plan(
            None, failures, "no test map for this commit or its ancestors: running all tests"
        )
    if run_all is not None:
        return _full_plan(m, failures, f"all {len(m.tests):,} tests: {run_all}")
    changes = changes_since(root, m.commit, m.dirty)
    settings = load_select_config(root).settings
    if run_all_globs:
        extra = (*settings.extra_run_all_globs, *run_all_globs)
        settings = dataclasses.replace(settings, extra_run_all_globs=extra)
    selection = select_tests(m, changes, settings, interpreter, failures, installed)
    for nodeid in options.explain:
        show(f"amoskys: {selection.explain(nodeid)}")
    if selection.run_all is not None:
        return _full_plan(m, failures, f"all {len(m.tests):,} tests: {selection.run_all}")
    durations = {n: r.duration for n, r in m.tests.items()}
    if not changes and not selection.tests:  # a test that failed last time runs again
        return Plan(
            False,
            (),
            selection.known,
            (),
            durations,
            f"nothing changed since the test map of {m.commit[:12]} "
            f"({len(m.tests):,} tests): no test needs to run",
            nothing=True,
        )
    wanted = set(selection.tests)
    first = tuple(n for n in dict.fromkeys(failures) if n in wanted)
    return Plan(
        False,
        selection.tests,
        selection.known,
        first,
        durations,
        selection.summary,
        dict(selection.reasons),
        changed=tuple(change.path for change in changes),
    )


def run_pytest(
    root: Path,
    *,
    python: str,
    test_paths: Sequence[str],
    pytest_args: Sequence[str],
    plan: Plan,
    options: SelectOptions,
    folder: Path,
    record_to: Path | None,
    show: Callable[[str], None],
    extra_env: Mapping[str, str] | None = None,
) -> PytestOutcome:
    """Run pytest as ``plan`` says (one process or shards); reports land in ``folder``.

    ``extra_env`` (the probe's re-run and quarantine settings) is added to every process.
    """
    plugins = install_plugins(folder)
    reports = folder / "reports"
    env = {**os.environ, **(extra_env or {})}
    for name in ("COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG"):
        env.pop(name, None)  # we measure coverage ourselves (see checks.commands.run_tests)
    # first: our sitecustomize (which loads the one it shadows) must be the one children find
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(plugins), env.get("PYTHONPATH")) if p)
    addopts = env.get("PYTEST_ADDOPTS", "")
    env["PYTEST_ADDOPTS"] = f"{addopts} -p {PROBE_MODULE} -p {PLUGIN_MODULE}".strip()
    env["AMOSKYS_REPORT_DIR"] = str(reports)
    env.pop("AMOSKYS_SELECT_RECORD", None)
    env.pop("AMOSKYS_SELECT_FILE", None)
    if record_to is not None:
        env["AMOSKYS_SELECT_RECORD"] = str(record_to)
    shards: list[list[str]] | None = None
    if plan.keep is not None:
        shards = shard(plan.keep, plan.durations, options.workers)
    notes: list[str] = []
    many = shards is not None and len(shards) > 1
    if options.workers > 1 and not many:
        notes.append("tests ran in one process: -n needs a test map (recorded durations)")
    coverage = plan.full and not many
    if coverage:
        env["AMOSKYS_COVERAGE"] = "1"
    else:
        env.pop("AMOSKYS_COVERAGE", None)
        if plan.full and many:
            notes.append("coverage is not measured when the tests are split over processes")
    argv = [python, "-m", "pytest", *test_paths, *pytest_args]
    if options.fail_fast:
        argv.append("-x")
    environments: list[dict[str, str]] = []
    parts: list[list[str] | None] = list(shards) if shards is not None else [None]
    for number, part in enumerate(parts):
        shard_env = dict(env)
        if part is not None:
            chosen = folder / f"select-{number}.json"
            chosen.write_text(
                json.dumps(
                    {
                        "known": sorted(plan.known),
                        "keep": part,
                        "failures": list(plan.failures),
                        "new": number == 0,
                        "result": str(folder / f"selected-{number}.json"),
                        "files": not plan.full,
                        "changed": [str(root / path) for path in plan.changed],
                    }
                ),
                encoding="utf-8",
            )
            shard_env["AMOSKYS_SELECT_FILE"] = str(chosen)
        environments.append(shard_env)
    with _terminate_as_interrupt():
        results = _run_all(argv, root, environments, options.fail_fast, show)
    codes = tuple(r.exit_code for r in results)
    return PytestOutcome(reports, codes, True, not plan.full, coverage, tuple(notes))


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM while pytest runs acts like Ctrl-C: :func:`run_process` then stops pytest's
    process group. By default SIGTERM ended Amoskys at once and left pytest (its own process
    group) running, e.g. a test looping forever after a harness timed the command out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_all(
    argv: Sequence[str],
    root: Path,
    environments: Sequence[Mapping[str, str]],
    fail_fast: bool,
    show: Callable[[str], None],
) -> list[ProcessResult]:
    """One pytest per environment, at once; with ``fail_fast`` a failing one stops the rest."""
    if len(environments) == 1:
        return [run_process(argv, cwd=root, env=environments[0], on_line=show)]
    cancel = threading.Event()
    lock = threading.Lock()
    done: list[ProcessResult | None] = [None] * len(environments)
    errors: list[BaseException] = []

    def one(number: int) -> None:
        def line(text: str) -> None:
            with lock:
                show(f"[{number + 1}] {text}")

        try:
            result = run_process(
                argv, cwd=root, env=environments[number], on_line=line, cancel=cancel
            )
        except BaseException as error:  # handed to the caller's thread below
            errors.append(error)
            cancel.set()
            return
        done[number] = result
        if fail_fast and result.exit_code not in (0, NO_TESTS):
            cancel.set()

    threads = [threading.Thread(target=one, args=(n,)) for n in range(len(environments))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [r for r in done if r is not None]


@dataclass(frozen=True)
class Selected:
    """What the plugin reported over all shards: tests kept, new ones, ran, failed."""

    kept: int = 0
    new: tuple[str, ...] = ()
    ran: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()


def selected_results(folder: Path) -> Selected | None:
    """The plugin's selection reports in ``folder``; None when no selection ran."""
    paths = sorted(folder.glob("selected-*.json"))
    if not paths:
        return None
    kept = 0
    new: list[str] = []
    ran: list[str] = []
    failed: list[str] = []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        kept += int(data.get("selected", 0))
        new.extend(data.get("new", ()))
        ran.extend(data.get("ran", ()))
        failed.extend(data.get("failed", ()))
    return _unique_selected(kept, new, ran, failed)


def _unique_selected(kept: int, new: list[str], ran: list[str], failed: list[str]) -> Selected:
    """Each pytest-xdist worker collects and selects the same tests: count each test once."""
    if ran:
        kept = len(set(ran))
    unique = dict.fromkeys
    return Selected(kept, tuple(unique(new)), tuple(unique(ran)), tuple(unique(failed)))


def record_map(
    store: object,
    raw_folder: Path,
    *,
    commit: str,
    interpreter: str,
    dirty: Mapping[str, str],
    installed: str = "",
) -> TestMap | None:
    """Merge the plugin's files into one map and store it; None when nothing was recorded.
    A damaged raw file stores no map at all (AmoskysError, which the caller shows as a note):
    a map missing some tests would run them as "new" on every later selection."""
    from amoskys.select.mapstore import merge_raw, read_raw, save_map
    from amoskys.select.testmap import MapFormatError
    from amoskys.store.db import Store

    raws = read_raw(raw_folder)
    if not raws or not isinstance(store, Store):
        return None
    try:
        m = merge_raw(
            raws, commit=commit, interpreter=interpreter, created=time.time(), dirty=dirty
        )
    except MapFormatError as error:
        raise AmoskysError(
            f"the test map was not recorded: {error}",
            hint="the recorder plugin's output was damaged; the next full run records it again",
        ) from None
    if not m.tests:
        return None
    m = dataclasses.replace(m, installed=installed)
    save_map(store, m)
    return m


def check_workers(value: str) -> int:
    """``-n auto`` (the machine's cores) or a positive number."""
    if value == "auto":
        return max(1, os.cpu_count() or 1)
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise AmoskysError(f"-n {value}: not a number of processes", hint="give -n auto or -n 4")
