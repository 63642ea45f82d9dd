"""Test impact selection on real projects: mutants, full-suite kills, selection, APFD, overhead.

For each subject (click, packaging, more-itertools at pinned versions, see ``subjects.py``):

1. a plain full run of the subject's own pytest on the clean checkout (the reference time);
2. seeded single-line mutants (``select/mutants.py``); each is applied, the full suite is run
   (``pytest -x``: the first failure decides a kill and is the test we need for APFD when the
   selection misses) and the file is restored. Kills are cached per subject version, Python
   and mutant under ``--cache``, so a re-run only repeats the selection side;
3. ``amoskys test --select all`` once (records the map), then per mutant
   ``amoskys test --select affected``: tests selected, wall time, killed or not, the position
   of the first failing test in the run order (APFD with the unselected tests appended) and
   the time to the first failure;
4. recording overhead (pytest with the recorder vs plain, on 3.11 and 3.12), the cost of a
   selection run with nothing changed (vs ``pytest --collect-only``) and the time to decide a
   selection on packaging's real map and on that map grown to 64,000 tests.

A mutant's file is always restored from its original text, also on Ctrl-C or SIGTERM.
Run ``python bench/bench_select.py --help``; ``bench/README.md`` says how and what it found.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess  # nosec B404 - a benchmark drives pytest and amoskys
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PLUGIN_DIR = BENCH / "select"
sys.path[:0] = [str(BENCH), str(PLUGIN_DIR)]

import mutants as mutgen  # noqa: E402
import subjects as subj  # noqa: E402

# >= 200 mutants in all (the floor), most where a full run costs seconds: click's and
# more-itertools' suites take 3-12 s, packaging's 26,854 tests 45-110 s a run (bench/README.md
# has the time this costs).
DEFAULT_MUTANTS = {"click": 95, "more-itertools": 95, "packaging": 12}
TARGETS = {
    "kill": 1.0,
    "median_tests": 0.05,
    "mean_tests": 0.15,
    "time": 0.20,
    "apfd": 0.95,
    "first_failure": 0.05,
}
FAILED = ("failed", "error")


# ----------------------------------------------------------------------------- running pytest


@dataclass
class Run:
    """One pytest (or amoskys) process: wall time, exit code and the per-test timing lines."""

    wall: float
    code: int
    tests: list[dict[str, Any]]  # in finishing order: n (nodeid), o (outcome), t, f
    start: float
    timed_out: bool = False
    tail: str = ""
    head: str = ""
    pytest_start: float | None = None  # seconds from launch to pytest's session start

    @property
    def failures(self) -> list[str]:
        return [t["n"] for t in self.tests if t["o"] in FAILED]

    @property
    def killed(self) -> bool:
        return self.timed_out or bool(self.failures) or self.code not in (0, 5)

    def first_failure(self) -> tuple[int | None, float | None]:
        """1-based position of the first failing test in run order, seconds from the start."""
        for i, test in enumerate(self.tests, 1):
            if test["o"] in FAILED:
                return i, (test.get("f") or test["t"]) - self.start
        if self.killed:  # no test failed but the run did (timeout, crash before any test)
            return (len(self.tests) + 1, self.wall)
        return None, None


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM first, so that ``amoskys test`` stops its pytest (in a process group of its
    own: a SIGKILL of amoskys's group alone left a mutant's endless test spinning on, eating
    the CPU of every later measurement), then SIGKILL what is left."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_timed(
    argv: Sequence[str],
    cwd: Path,
    env: dict[str, str],
    timeout: float | None = None,
    timing: bool = True,
) -> Run:
    """Run ``argv`` niced in its own process group (with the timing plugin unless told not
    to: the overhead runs measure pytest alone); never raises on the command's failure."""
    with tempfile.TemporaryDirectory(prefix="bench-select-") as temp:
        env = dict(env)
        if timing:
            env["BENCH_TIMING_DIR"] = temp
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (env.get("PYTHONPATH"), str(PLUGIN_DIR)) if p
            )
            addopts = env.get("PYTEST_ADDOPTS", "")
            env["PYTEST_ADDOPTS"] = f"{addopts} -p bench_timing_plugin".strip()
        log = Path(temp) / "output.log"
        start = time.time()
        t0 = time.perf_counter()
        with log.open("wb") as out:
            proc = subprocess.Popen(  # nosec B603 - fixed argv
                ["nice", "-n", "10", *argv],
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            timed_out = False
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                code = proc.wait()
                timed_out = True
            except BaseException:
                _kill_group(proc)
                proc.wait()
                raise
        wall = time.perf_counter() - t0
        records: list[dict[str, Any]] = []
        for path in Path(temp).glob("timing-*.jsonl"):
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue  # a line cut by a kill
        text = log.read_text(encoding="utf-8", errors="replace")
        head, tail = text[:3000], text[-3000:]
    tests = sorted((r for r in records if "n" in r), key=lambda r: r["t"])
    starts = [r["start"] - start for r in records if "start" in r]
    return Run(wall, code, tests, start, timed_out, tail, head, min(starts) if starts else None)


def subject_env(p: subj.Prepared) -> dict[str, str]:
    """The environment a developer of the subject would have: its venv first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COVERAGE_"))}
    env.pop("PYTHONPATH", None)
    env["PATH"] = f"{p.bin}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(p.venv)
    env["PYTHONHASHSEED"] = "0"
    return env


def pytest_argv(p: subj.Prepared, *extra: str) -> list[str]:
    return [str(p.exe), "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, p.subject.tests]


def amoskys_argv(*args: str) -> list[str]:
    # -P: the subject's folder must not shadow anything; amoskys comes from PYTHONPATH.
    return [sys.executable, "-P", "-m", "amoskys", *args]


def amoskys_env(p: subj.Prepared) -> dict[str, str]:
    env = subject_env(p)
    env["PYTHONPATH"] = str(REPO)
    return env


# ----------------------------------------------------------------------------- mutants


_restoring: list[tuple[Path, bytes]] = []


def _drop_bytecode(path: Path) -> None:
    """Forget compiled copies: a same-size edit within one second would look unchanged."""
    for pyc in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
        pyc.unlink(missing_ok=True)


@contextmanager
def applied(repo: Path, mutant: mutgen.Mutant) -> Iterator[None]:
    """The mutant written into the checkout; the original text back afterwards, always."""
    path = repo / mutant.file
    original = path.read_bytes()
    mutated = mutant.apply(original.decode("utf-8")).encode("utf-8")
    _restoring.append((path, original))
    try:
        path.write_bytes(mutated)
        _drop_bytecode(path)
        yield
    finally:
        path.write_bytes(original)
        _drop_bytecode(path)
        _restoring.remove((path, original))


def _on_signal(signum: int, _frame: object) -> None:
    for path, original in list(_restoring):
        path.write_bytes(original)
        _drop_bytecode(path)
    raise KeyboardInterrupt(f"signal {signum}")


def ensure_clean(repo: Path) -> None:
    """A checkout left dirty by a killed harness is reset to its one commit."""
    status = subprocess.run(  # nosec B603 B607 - git on our own cache checkout
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if status.strip():
        print(f"  restoring {repo.name}: {status.strip()}")
        subprocess.run(["git", "checkout", "-q", "--", "."], cwd=repo, check=True)  # nosec


# ----------------------------------------------------------------------------- kill matrix


@dataclass
class FullResult:
    killed: bool
    first_failure: str | None  # nodeid of the first failing test (pytest -x)
    failures: list[str]
    wall: float
    timed_out: bool


class KillCache:
    """Full-suite results per subject version, Python, mode and mutant, in one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {}
        if path.exists():
            self.data = json.loads(path.read_text(encoding="utf-8"))

    def get(self, key: str) -> FullResult | None:
        raw = self.data.get(key)
        return FullResult(**raw) if raw else None

    def put(self, key: str, result: FullResult) -> None:
        self.data[key] = result.__dict__
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1), encoding="utf-8")
        tmp.replace(self.path)


def full_run(p: subj.Prepared, timeout: float, complete: bool) -> FullResult:
    run = run_timed(pytest_argv(p, *(() if complete else ("-x",))), p.repo, subject_env(p), timeout)
    failures = run.failures
    if run.killed and not failures:
        failures = ["<crash>" if not run.timed_out else "<timeout>"]
    return FullResult(
        run.killed, failures[0] if failures else None, failures, run.wall, run.timed_out
    )


# ----------------------------------------------------------------------------- selection


def selection_available() -> str | None:
    """None when ``amoskys test --select affected`` exists in this checkout, else why not."""
    try:
        import amoskys.select.runner  # noqa: F401
    except Exception as error:  # noqa: BLE001 - any import problem means "not available"
        return f"amoskys.select.runner does not import: {error}"
    done = subprocess.run(  # nosec B603
        amoskys_argv("test", "--help"),
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    if "--select" not in done.stdout:
        return "`amoskys test --help` has no --select"
    return None


def record_map(p: subj.Prepared, timeout: float) -> Run:
    shutil.rmtree(p.repo / ".amoskys", ignore_errors=True)
    return run_timed(amoskys_argv("test", "--select", "all"), p.repo, amoskys_env(p), timeout)


def selection_run(p: subj.Prepared, timeout: float) -> Run:
    # Each mutant is its own change from the recorded commit: the previous mutant's failures
    # are not "recent failures" of this one.
    (p.repo / ".amoskys" / "select-failures.json").unlink(missing_ok=True)
    return run_timed(amoskys_argv("test", "--select", "affected"), p.repo, amoskys_env(p), timeout)


def apfd(position: int, n: int) -> float:
    """Average percentage of faults detected for one fault first revealed at ``position``."""
    return 1 - position / n + 1 / (2 * n)


@dataclass
class MutantResult:
    mutant: mutgen.Mutant
    full: FullResult
    selected: int | None = None
    executed: int | None = None  # of the selected tests, those not skipped (their body ran)
    sel_wall: float | None = None
    sel_killed: bool | None = None
    position: int | None = None  # of the first failure, unselected tests appended
    first_failure_s: float | None = None
    error: str | None = None
    summary: str = ""
    pytest_start: float | None = None
    sel_timed_out: bool = False


def judge(result: MutantResult, run: Run, full_order: list[str]) -> None:
    """Fill in the selection side of one mutant from its ``--select affected`` run."""
    result.sel_wall = run.wall
    result.pytest_start = run.pytest_start
    ran = [t["n"] for t in run.tests if not t["n"].startswith("<collect>")]
    result.summary = _summary_line(run.head)
    said = re.match(r"amoskys: (?:all )?([\d,]+) (?:of [\d,]+ )?tests", result.summary)
    # What Amoskys chose; a run cut short by a crash ran fewer.
    result.selected = max(len(ran), int(said.group(1).replace(",", ""))) if said else len(ran)
    # Selected and not skipped by pytest: a run that fails at collection (a mutant that breaks
    # an import) reports no test, yet every selected test failed with it.
    skipped = sum(1 for t in run.tests if t["o"] == "skipped")
    result.executed = max(0, result.selected - skipped)
    result.sel_killed = run.killed
    result.sel_timed_out = run.timed_out
    if run.code not in (0, 1, 5) and not run.tests and not run.timed_out:
        result.error = f"amoskys exited {run.code}: {run.tail.strip().splitlines()[-1:]}"
    if not result.full.killed:
        return
    position, seconds = run.first_failure()
    if position is not None and run.killed:
        result.position = position
        result.first_failure_s = seconds
        return
    # Missed: the fault shows at the first failing unselected test, in full-suite order.
    chosen = set(ran)
    rest = [n for n in full_order if n not in chosen]
    first = result.full.first_failure
    result.position = len(ran) + (rest.index(first) + 1 if first in rest else len(rest))


def _summary_line(tail: str) -> str:
    """Amoskys's decision line ("amoskys: 14 of 611 tests: ...")."""
    for line in tail.splitlines():
        if line.startswith("amoskys:"):
            return line.strip()[:300]
    return ""


# ----------------------------------------------------------------------------- overhead etc.


def recorder_dir() -> Path:
    """A folder holding the recorder plugin under the module name pytest loads it by, with
    what lets the tests' child Pythons record themselves (as ``amoskys test`` installs it)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-select-recorder-"))
    source = REPO / "amoskys" / "select"
    shutil.copy(source / "recorder_plugin.py", folder / "amoskys_select_plugin.py")
    shutil.copy(source / "child_recorder.py", folder / "amoskys_select_child.py")
    shutil.copy(source / "site_hook.py", folder / "sitecustomize.py")
    return folder


def overhead(p: subj.Prepared, rounds: int, timeout: float) -> dict[str, float]:
    """Median wall of plain pytest vs pytest with the recorder plugin recording a map."""
    folder = recorder_dir()
    plain: list[float] = []
    recorded: list[float] = []
    try:
        for _ in range(rounds):
            plain.append(run_timed(pytest_argv(p), p.repo, subject_env(p), timeout, False).wall)
            with tempfile.TemporaryDirectory(prefix="bench-select-map-") as maps:
                env = subject_env(p)
                env["PYTHONPATH"] = str(folder)
                env["AMOSKYS_SELECT_RECORD"] = maps
                env["PYTEST_ADDOPTS"] = "-p amoskys_select_plugin"
                recorded.append(run_timed(pytest_argv(p), p.repo, env, timeout, False).wall)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"plain": statistics.median(plain), "recorded": statistics.median(recorded)}


def one_test_run(p: subj.Prepared, base: Run, rounds: int) -> float | None:
    """Median wall time of plain pytest running only the first test that passed in ``base``:
    interpreter and pytest start-up, one test file collected, one test. No selection that
    starts pytest reports a failure sooner or finishes faster, so it bounds the time and
    first-failure targets from below."""
    first = next((t["n"] for t in base.tests if t["o"] == "passed"), None)
    if first is None:
        return None
    argv = [str(p.exe), "-m", "pytest", "-q", "-p", "no:cacheprovider", first]
    walls = [run_timed(argv, p.repo, subject_env(p), None, False).wall for _ in range(rounds)]
    return statistics.median(walls)


def nothing_changed(p: subj.Prepared, timeout: float, rounds: int = 1) -> dict[str, float]:
    """``--select affected`` on the recorded, unchanged checkout vs pytest --collect-only
    (medians of ``rounds``)."""
    collect: list[float] = []
    select: list[float] = []
    ran = 0
    for _ in range(rounds):
        collect.append(
            run_timed(pytest_argv(p, "--collect-only"), p.repo, subject_env(p), timeout, False).wall
        )
        same = selection_run(p, timeout)
        select.append(same.wall)
        ran = max(ran, len(same.tests))
    return {
        "collect": statistics.median(collect),
        "select": statistics.median(select),
        "ran": float(ran),
    }


def decision_time(p: subj.Prepared, mutant: mutgen.Mutant | None) -> dict[str, Any]:
    """Seconds to load the stored map and decide a selection, real size and grown to 64,000.

    Timed in this process with Amoskys's own functions: decompress + parse the stored map,
    ask git what changed (one mutant applied), select. The grown map copies every test under
    a new node id (same units), which is what a suite of that size costs to load and scan.
    """
    import zlib

    from amoskys.select import changes as ch
    from amoskys.select import mapstore, runner
    from amoskys.select import selection as sel
    from amoskys.select import testmap as tm
    from amoskys.select.settings import load_select_config
    from amoskys.store.db import open_store

    store = open_store(p.repo / ".amoskys")
    interpreter = runner.interpreter_of(str(p.exe), p.repo)
    m = mapstore.latest_map(store, p.repo, interpreter)
    if m is None:
        return {"error": "no stored map found"}
    settings = load_select_config(p.repo).settings
    changes: list[Any] = []
    git_s = 0.0
    if mutant is not None:
        with applied(p.repo, mutant):
            t0 = time.perf_counter()
            changes = ch.changes_since(p.repo, m.commit, m.dirty)
            git_s = time.perf_counter() - t0
    out: dict[str, Any] = {"mutant": mutant.as_dict() if mutant else None}
    for label, the_map in (("real", m), ("64k", _grown(m, 64_000))):
        blob = zlib.compress(tm.map_to_json(the_map), 6)
        t0 = time.perf_counter()
        loaded = tm.map_from_json(zlib.decompress(blob))
        t1 = time.perf_counter()
        chosen = sel.select_tests(loaded, changes, settings, interpreter)
        t2 = time.perf_counter()
        out[label] = {
            "tests": len(loaded.tests),
            "stored_bytes": len(blob),
            "load_s": t1 - t0,
            "git_s": git_s,
            "select_s": t2 - t1,
            "selected": len(chosen.tests),
            "run_all": chosen.run_all,
        }
    return out


def _grown(m: Any, size: int) -> Any:
    """The map with its tests copied under new node ids until it holds ``size`` tests."""
    import dataclasses

    tests = dict(m.tests)
    base = list(m.tests.values())
    copy = 0
    while len(tests) < size and base:
        copy += 1
        for record in base:
            if len(tests) >= size:
                break
            nodeid = f"{record.nodeid}[copy{copy}]"
            tests[nodeid] = dataclasses.replace(record, nodeid=nodeid)
    return dataclasses.replace(m, tests=tests)


# ----------------------------------------------------------------------------- the run


@dataclass
class SubjectReport:
    name: str
    python: str
    total: int
    full_wall: float
    results: list[MutantResult] = field(default_factory=list)
    record_wall: float | None = None
    selection_note: str | None = None
    executed_total: int = 0  # tests the reference full run did not skip
    floor_wall: float | None = None  # plain pytest running one passing test (see one_test_run)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def summarize(report: SubjectReport) -> dict[str, Any]:
    rs = report.results
    killed = [r for r in rs if r.full.killed]
    done = [r for r in rs if r.selected is not None and r.error is None]
    killed_done = [r for r in killed if r in done]
    fractions = [r.selected / report.total for r in done if r.selected is not None]
    runs = max(1, report.executed_total)
    executed = [r.executed / runs for r in done if r.executed is not None]
    times = [r.sel_wall / report.full_wall for r in done if r.sel_wall is not None]
    apfds = [apfd(r.position, report.total) for r in killed_done if r.position]
    ttf = [
        r.first_failure_s / report.full_wall
        for r in killed_done
        if r.first_failure_s is not None and r.sel_killed
    ]
    starts = [r.pytest_start for r in done if r.pytest_start is not None]
    by_scope: dict[str, list[int]] = {}
    for r in rs:
        k = by_scope.setdefault(r.mutant.scope, [0, 0, 0])
        k[0] += 1
        k[1] += r.full.killed
        k[2] += bool(r.full.killed and r.sel_killed)
    return {
        "subject": report.name,
        "python": report.python,
        "tests": report.total,
        "full_wall_s": report.full_wall,
        "record_wall_s": report.record_wall,
        "floor_wall_s": report.floor_wall,
        "mutants": len(rs),
        "killed_full": len(killed),
        "selection_done": len(done),
        "killed_selection": sum(1 for r in killed_done if r.sel_killed),
        "missed": [r.mutant.as_dict() for r in killed_done if not r.sel_killed],
        "selection_timeouts": sum(1 for r in done if r.sel_timed_out),
        "errors": [(r.mutant.as_dict(), r.error) for r in rs if r.error],
        "tests_median": statistics.median(fractions) if fractions else None,
        "tests_mean": statistics.mean(fractions) if fractions else None,
        "executed_total": report.executed_total,
        "executed_median": statistics.median(executed) if executed else None,
        "executed_mean": statistics.mean(executed) if executed else None,
        "time_mean": statistics.mean(times) if times else None,
        "time_median": statistics.median(times) if times else None,
        "apfd_mean": statistics.mean(apfds) if apfds else None,
        "ttf_median": statistics.median(ttf) if ttf else None,
        "pytest_start_median_s": statistics.median(starts) if starts else None,
        "selection_wall_median_s": (
            statistics.median(r.sel_wall for r in done if r.sel_wall) if done else None
        ),
        "mutant_rows": [
            {
                **r.mutant.as_dict(),
                "full_killed": r.full.killed,
                "full_first_failure": r.full.first_failure,
                "full_wall": r.full.wall,
                "selected": r.selected,
                "executed": r.executed,
                "sel_wall": r.sel_wall,
                "sel_killed": r.sel_killed,
                "sel_timed_out": r.sel_timed_out,
                "position": r.position,
                "first_failure_s": r.first_failure_s,
                "summary": r.summary,
            }
            for r in rs
        ],
        "by_scope": by_scope,
        "selection_note": report.selection_note,
    }


def print_summary(s: dict[str, Any]) -> None:
    print(
        f"\n== {s['subject']} (py{s['python']}): {s['tests']:,} tests, "
        f"full run {s['full_wall_s']:.1f} s"
        + (f", recording run {s['record_wall_s']:.1f} s" if s["record_wall_s"] else "")
    )
    print(f"  mutants {s['mutants']}, killed by the full suite {s['killed_full']}")
    for scope, (n, k, ks) in sorted(s["by_scope"].items()):
        print(f"    {scope:9} {n:4} mutants, {k:4} killed by full, {ks:4} by selection")
    if s["selection_note"]:
        print(f"  selection: not available ({s['selection_note']})")
        return
    print(
        f"  killed by selection {s['killed_selection']} of {s['killed_full']} "
        f"({s['selection_done']} mutants measured, {s['selection_timeouts']} selection runs "
        "timed out and count as kills)"
    )
    print(
        f"  tests selected: median {_pct(s['tests_median'])}, mean {_pct(s['tests_mean'])}; "
        f"selection time {_pct(s['time_mean'])} of full (mean), {_pct(s['time_median'])} "
        "(median)"
    )
    if s["executed_median"] is not None:
        print(
            f"  tests run (selected and not skipped): median {_pct(s['executed_median'])}, "
            f"mean {_pct(s['executed_mean'])} of the {s['executed_total']:,} the full run runs"
        )
    if s["pytest_start_median_s"] is not None:
        print(
            f"  selection run: median {s['selection_wall_median_s']:.1f} s, of which "
            f"{s['pytest_start_median_s']:.1f} s before pytest's session started"
        )
    apfd_text = "n/a" if s["apfd_mean"] is None else f"{s['apfd_mean']:.3f}"
    print(
        f"  mean APFD {apfd_text}; median time to first failure "
        f"{_pct(s['ttf_median'])} of the full suite's time"
    )
    if s.get("floor_wall_s"):
        print(
            f"  floor: plain pytest running one passing test takes {s['floor_wall_s']:.2f} s, "
            f"{_pct(s['floor_wall_s'] / s['full_wall_s'])} of the full run (no selection that "
            "starts pytest can report a failure sooner or finish faster)"
        )
    for missed in s["missed"]:
        print(f"  MISSED {missed['file']}:{missed['line']} {missed['kind']}: {missed['after']}")
    for mutant, error in s["errors"][:5]:
        print(f"  ERROR {mutant['file']}:{mutant['line']}: {error}")


def verdict(summaries: list[dict[str, Any]]) -> list[str]:
    """One line per target: met / NOT met over all subjects, pooled as the issue asks."""
    measured = [s for s in summaries if not s["selection_note"] and s["selection_done"]]
    if not measured:
        return ["selection not measured: no verdict"]
    killed = sum(s["killed_full"] for s in measured)
    caught = sum(s["killed_selection"] for s in measured)

    def worst(key: str, high: bool) -> float | None:
        values = [s[key] for s in measured if s[key] is not None]
        return (max(values) if high else min(values)) if values else None

    rows = [
        (
            "every full-suite kill caught",
            caught / killed if killed else 1.0,
            TARGETS["kill"],
            False,
        ),
        ("median % of tests (worst subject)", worst("tests_median", True), 0.05, True),
        ("mean % of tests (worst subject)", worst("tests_mean", True), 0.15, True),
        ("mean % of full time (worst subject)", worst("time_mean", True), 0.20, True),
        ("mean APFD (worst subject)", worst("apfd_mean", False), 0.95, False),
        ("median first failure % of time (worst)", worst("ttf_median", True), 0.05, True),
    ]
    rows += pooled_rows(measured)
    out = []
    for label, value, target, at_most in rows:
        if value is None:
            out.append(f"  {label:46} n/a")
            continue
        ok = value <= target if at_most else value >= target
        shown = f"{value:.3f}" if "APFD" in label else _pct(value)
        bound = f"{'<=' if at_most else '>='} {target if 'APFD' in label else _pct(target)}"
        out.append(f"  {label:46} {shown:>8}  target {bound:9} {'met' if ok else 'NOT met'}")
    floors = [
        s["floor_wall_s"] / s["full_wall_s"]
        for s in measured
        if s.get("floor_wall_s")
        for row in s["mutant_rows"]
        if row["selected"] is not None
    ]
    if floors:
        out.append(
            f"  {'floor: one test in plain pytest (pooled)':46} {_pct(statistics.mean(floors)):>8}"
            f"  mean, {_pct(statistics.median(floors))} median, of the full run's time"
        )
    return out


def pooled_rows(measured: list[dict[str, Any]]) -> list[tuple[str, float | None, float, bool]]:
    """The targets over every mutant of every subject together, as the issue pools them."""
    shares: list[float] = []
    executed: list[float] = []
    times: list[float] = []
    apfds: list[float] = []
    first: list[float] = []
    for s in measured:
        for row in s["mutant_rows"]:
            if row["selected"] is None:
                continue
            shares.append(row["selected"] / s["tests"])
            if row.get("executed") is not None and s.get("executed_total"):
                executed.append(row["executed"] / s["executed_total"])
            if row["sel_wall"] is not None:
                times.append(row["sel_wall"] / s["full_wall_s"])
            if row["full_killed"] and row.get("position"):
                apfds.append(apfd(row["position"], s["tests"]))
            if row["full_killed"] and row["sel_killed"] and row["first_failure_s"] is not None:
                first.append(row["first_failure_s"] / s["full_wall_s"])

    def middle(values: list[float]) -> float | None:
        return statistics.median(values) if values else None

    def mean(values: list[float]) -> float | None:
        return statistics.mean(values) if values else None

    return [
        ("median % of tests selected (pooled)", middle(shares), 0.05, True),
        ("mean % of tests selected (pooled)", mean(shares), 0.15, True),
        ("median % of tests run, not skipped (pooled)", middle(executed), 0.05, True),
        ("mean % of tests run, not skipped (pooled)", mean(executed), 0.15, True),
        ("mean % of full time (pooled)", mean(times), 0.20, True),
        ("mean APFD over killed mutants (pooled)", mean(apfds), 0.95, False),
        ("median first failure % of time (pooled)", middle(first), 0.05, True),
    ]


def parse_counts(text: str, names: Sequence[str]) -> dict[str, int]:
    """``--mutants 10`` (each subject) or ``--mutants click=90,packaging=40``."""
    if "=" not in text:
        return {n: int(text) for n in names}
    counts = dict(DEFAULT_MUTANTS)
    for part in text.split(","):
        name, _, value = part.partition("=")
        counts[name.strip()] = int(value)
    return counts


def run_subject(
    p: subj.Prepared, count: int, args: argparse.Namespace, cache: KillCache, note: str | None
) -> SubjectReport:
    ensure_clean(p.repo)
    print(f"\n[{p.subject.key} py{p.python}] reference full run ...", flush=True)
    # One untimed run writes the bytecode (a first run once took 26.5 s against ~5 s after);
    # the reference is the median of --reference-rounds plain full runs after it.
    base = run_timed(pytest_argv(p), p.repo, subject_env(p), None)
    walls = sorted(
        run_timed(pytest_argv(p), p.repo, subject_env(p), None).wall
        for _ in range(max(1, args.reference_rounds))
    )
    base.wall = walls[len(walls) // 2]
    baseline_failures = set(base.failures)
    full_order = [t["n"] for t in base.tests]
    total = len(full_order)
    print(
        f"  {total:,} tests in {base.wall:.1f} s (median of {len(walls)}: "
        f"{', '.join(f'{w:.1f}' for w in walls)} s), {len(baseline_failures)} failing already"
    )
    floor = one_test_run(p, base, max(1, args.reference_rounds))
    timeout = args.timeout_factor * base.wall + 30
    candidates = mutgen.all_mutants(p.repo, p.subject.package)
    chosen = mutgen.choose(candidates, count, args.seed)
    print(f"  {len(chosen)} mutants of {len(candidates)} candidates (seed {args.seed})")
    report = SubjectReport(p.subject.name, p.python, total, base.wall)
    report.executed_total = sum(1 for t in base.tests if t["o"] != "skipped")
    report.floor_wall = floor
    mode = "complete" if args.full_complete else "x"
    for i, mutant in enumerate(chosen, 1):
        key = f"{p.subject.key}|py{p.python}|{mode}|{mutant.key}"
        result = cache.get(key)
        if result is None:
            with applied(p.repo, mutant):
                result = full_run(p, timeout, args.full_complete)
            result.failures = [f for f in result.failures if f not in baseline_failures]
            result.killed = bool(result.failures)
            result.first_failure = result.failures[0] if result.failures else None
            cache.put(key, result)
        report.results.append(MutantResult(mutant, result))
        mark = "killed" if result.killed else "lives "
        print(
            f"  full {i:3}/{len(chosen)} {mark} {result.wall:6.1f}s "
            f"{mutant.file}:{mutant.line} {mutant.kind}",
            flush=True,
        )
    if note or args.no_selection:
        report.selection_note = note or "--no-selection"
        return report
    print("  recording the map: amoskys test --select all ...", flush=True)
    recorded = record_map(p, timeout * 3)
    report.record_wall = recorded.wall
    if recorded.code not in (0, 1) or not recorded.tests:
        report.selection_note = f"recording run exited {recorded.code}: " + " | ".join(
            recorded.tail.strip().splitlines()[-3:]
        )
        return report
    for i, r in enumerate(report.results, 1):
        with applied(p.repo, r.mutant):
            run = selection_run(p, timeout)
        judge(r, run, full_order)
        fate = "timeout" if r.sel_timed_out else "killed" if r.sel_killed else "lives "
        print(
            f"  select {i:3}/{len(report.results)} {fate} {r.selected:6} tests "
            f"{r.sel_wall or 0:5.1f}s  full:{'killed' if r.full.killed else 'lives'}"
            f"  {r.summary[:70]}",
            flush=True,
        )
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example, a quick check: python bench/bench_select.py --subjects click "
        "--mutants 10 --no-extras.   Full run: python bench/bench_select.py",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=subj.DEFAULT_CACHE,
        help="sdists, checkouts, venvs, kill " "cache (default: %(default)s)",
    )
    parser.add_argument(
        "--subjects", default=",".join(subj.SUBJECTS), help="comma list (default: %(default)s)"
    )
    parser.add_argument(
        "--mutants",
        default=",".join(f"{k}={v}" for k, v in DEFAULT_MUTANTS.items()),
        help="per subject: N for each, or name=N,... (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=6, help="mutant sampling seed (default 6)")
    parser.add_argument("--python", default="3.12", help="Python of the mutant runs (3.12)")
    parser.add_argument(
        "--overhead-pythons", default="3.11,3.12", help="Pythons of the overhead runs"
    )
    parser.add_argument("--rounds", type=int, default=1, help="rounds of the overhead runs")
    parser.add_argument(
        "--reference-rounds",
        type=int,
        default=3,
        help="plain full runs whose median is the reference time (after one untimed run)",
    )
    parser.add_argument(
        "--full-complete",
        action="store_true",
        help="run the whole suite per mutant (every failing test) instead of pytest -x",
    )
    parser.add_argument(
        "--timeout-factor",
        type=float,
        default=3.0,
        help="a run may take this x the reference full run + 30 s, then it is killed and "
        "counts as a kill (default 3)",
    )
    parser.add_argument("--no-selection", action="store_true", help="kill matrix only")
    parser.add_argument(
        "--no-extras", action="store_true", help="skip overhead, nothing-changed, decision time"
    )
    parser.add_argument("--list-mutants", action="store_true", help="print the mutants, exit")
    parser.add_argument("--json", type=Path, help="write every number to this JSON file")
    args = parser.parse_args()

    names = [n.strip() for n in args.subjects.split(",") if n.strip()]
    counts = parse_counts(args.mutants, names)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; cache {args.cache}")
    prepared = subj.prepare(names, [args.python], args.cache)
    if args.list_mutants:
        for p in prepared:
            cands = mutgen.all_mutants(p.repo, p.subject.package)
            for m in mutgen.choose(cands, counts[p.subject.name], args.seed):
                print(json.dumps({"subject": p.subject.key, **m.as_dict()}))
        return 0
    note = None if args.no_selection else selection_available()
    if note:
        print(f"selection: not available ({note}); measuring the full-suite side only")
    cache = KillCache(args.cache / f"kills-seed{args.seed}.json")
    started = time.perf_counter()
    summaries = []
    output: dict[str, Any] = {"load_start": os.getloadavg()[0]}
    for p in prepared:
        report = run_subject(p, counts.get(p.subject.name, 0), args, cache, note)
        summaries.append(summarize(report))
    for s in summaries:
        print_summary(s)
    print("\nverdict (selection on the mutants):")
    for line in verdict(summaries):
        print(line)
    output["subjects"] = summaries
    if not args.no_extras:
        output["extras"] = extras(names, args, note)
    output["load_end"] = os.getloadavg()[0]
    output["seconds"] = time.perf_counter() - started
    print(f"\ntotal {output['seconds'] / 60:.1f} min, load average now {output['load_end']:.1f}")
    if args.json:
        args.json.write_text(json.dumps(output, indent=1, default=str), encoding="utf-8")
    return 0


def extras(names: list[str], args: argparse.Namespace, note: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"overhead": {}, "nothing_changed": {}, "decision": {}}
    pythons = [x.strip() for x in args.overhead_pythons.split(",") if x.strip()]
    print("\nrecording overhead (pytest + recorder plugin vs plain pytest, median wall):")
    for p in subj.prepare(names, pythons, args.cache):
        ensure_clean(p.repo)
        limit = 2.0 if p.subject.name == "packaging" else 1.3
        try:
            o = overhead(p, args.rounds, 1800)
        except Exception as error:  # noqa: BLE001 - report, go on
            print(f"  {p.subject.key} py{p.python}: not available ({error})")
            continue
        ratio = o["recorded"] / o["plain"]
        out["overhead"][f"{p.subject.key} py{p.python}"] = {**o, "ratio": ratio}
        print(
            f"  {p.subject.key:22} py{p.python}  plain {o['plain']:6.1f}s  recording "
            f"{o['recorded']:6.1f}s  {ratio:.2f}x  (target <= {limit}x: "
            f"{'met' if ratio <= limit else 'NOT met'})"
        )
    if note:
        print(f"\nnothing-changed cost and decision time: not available ({note})")
        return out
    print("\nnothing changed (select affected on the recorded commit vs pytest --collect-only):")
    for p in subj.prepare(names, [args.python], args.cache):
        ensure_clean(p.repo)
        if not (p.repo / ".amoskys").is_dir():
            record_map(p, 1800)
        n = nothing_changed(p, 600, args.rounds)
        out["nothing_changed"][p.subject.key] = n
        ok = n["select"] <= n["collect"] + 1
        print(
            f"  {p.subject.key:22} select {n['select']:5.2f}s ({int(n['ran'])} tests ran)  "
            f"collect-only {n['collect']:5.2f}s  (target <= collection + 1 s: "
            f"{'met' if ok else 'NOT met'})"
        )
    if "packaging" in names:
        p = subj.prepare(["packaging"], [args.python], args.cache)[0]
        cands = mutgen.all_mutants(p.repo, p.subject.package)
        one = mutgen.choose([m for m in cands if m.scope == "function"], 1, args.seed)
        try:
            d = decision_time(p, one[0] if one else None)
        except Exception as error:  # noqa: BLE001 - report, go on
            d = {"error": f"{type(error).__name__}: {error}"}
        out["decision"] = d
        print("\nselection decision on packaging's map (load + select_tests, in process):")
        if "error" in d:
            print(f"  not available ({d['error']})")
        for label in ("real", "64k"):
            if label in d:
                x = d[label]
                total = x["load_s"] + x["git_s"] + x["select_s"]
                print(
                    f"  {label:4} {x['tests']:6,} tests: load {x['load_s']:.3f}s + git "
                    f"{x['git_s']:.3f}s + select {x['select_s']:.3f}s = {total:.3f}s -> "
                    f"{x['selected']} selected "
                    f"(target <= 1 s: {'met' if total <= 1 else 'NOT met'})"
                )
    return out


def locked_main() -> int:
    """main() holding the cache's lock: two harnesses on one checkout would undo each other's
    mutants (and a clean-up of one would restore the other's mutant mid-run)."""
    import fcntl

    if {"-h", "--help", "--list-mutants"} & set(sys.argv[1:]):
        return main()
    cache = subj.DEFAULT_CACHE
    for i, arg in enumerate(sys.argv):
        if arg == "--cache" and i + 1 < len(sys.argv):
            cache = Path(sys.argv[i + 1])
        elif arg.startswith("--cache="):
            cache = Path(arg.split("=", 1)[1])
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            print(f"another bench_select.py is using {cache}; wait for it or pass --cache")
            return 2
        try:
            return main()
        except KeyboardInterrupt:
            print("\ninterrupted: every mutated file was restored")
            return 130


if __name__ == "__main__":
    sys.exit(locked_main())
