"""``amoskys run`` against the plain shell way of doing the same work.

(a) Engine overhead (always): a workflow of 20 jobs x 25 trivial steps in a temporary git
    repository, run by the CLI (``python -P -m amoskys run --no-live -j 1`` and ``-j 2``, a
    subprocess in the repository), against a shell script running the same 500 commands one
    after another, each in its own ``bash --noprofile --norc -eo pipefail script`` as GitHub's
    runner does, and against one bash running all 500. Medians of ``--repeat`` rounds.

(b) The seed's Linux jobs on this project (``--seed``, minutes): a local clone of this
    checkout's HEAD (``--rev``: another commit; ``--worktree``: plus the uncommitted files)
    run with ``amoskys run --no-live --job code-quality --job test-matrix -j 2`` (``-j``:
    ``--seed-jobs``), against the same commands typed one after another in one shell, one venv
    per Python 3.11/3.12/3.13. pip's cache is filled first by an untimed install of the same
    packages. Amoskys runs three times (fresh ``.amoskys/``, again with ``--no-cache``, again
    with nothing changed), the plain shell after the first, in a second clone of the commit.

Everything happens under a temporary folder that is removed at the end; HOME and pip's cache
point into it, so neither $HOME nor this checkout's ``.amoskys/`` is written. ``-P`` keeps the
current folder off ``sys.path`` so the Amoskys measured is this checkout's, never a copy's.
Run: ``python bench/bench_engine.py [--repeat N] [--seed [--rev REV | --worktree] [--logs DIR]]``.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shlex
import shutil
import statistics
import subprocess  # nosec B404
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

from bench_common import GIT_IDENTITY

REPO = Path(__file__).resolve().parents[1]
JOBS = 20
STEPS = 25
TOTAL = JOBS * STEPS
OVERHEAD_TARGET_MS = 15.0
SEED_TARGET = 0.6
SEED_VERSIONS = ("3.11", "3.12", "3.13")
CODE_QUALITY_VERSION = "3.12"
GITHUB_BASH = ("bash", "--noprofile", "--norc", "-eo", "pipefail")
AMOSKYS = (sys.executable, "-P", "-m", "amoskys")


class BenchError(Exception):
    """A command the benchmark runs failed: the numbers would mean nothing."""


# -- helpers ----------------------------------------------------------------------------------


def plain_env(home: Path) -> dict[str, str]:
    """The caller's environment with HOME and pip's cache moved into the temporary folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AMOSKYS_RUN_ID")}
    real_pyenv = Path.home() / ".pyenv"
    if "PYENV_ROOT" not in env and real_pyenv.is_dir():
        env["PYENV_ROOT"] = str(real_pyenv)  # still found once HOME has moved
    env["HOME"] = str(home)
    env["PIP_CACHE_DIR"] = str(home / ".cache" / "pip")
    env.update(GIT_IDENTITY)
    return env


def amoskys_env(home: Path) -> dict[str, str]:
    """:func:`plain_env` plus PYTHONPATH pointing at this checkout.

    Bytecode is cached under ``home`` (``PYTHONPYCACHEPREFIX``), even when the caller set
    ``PYTHONDONTWRITEBYTECODE``: an installed Amoskys has its modules compiled at install, so
    compiling them again in every timed run would measure the compiler, not Amoskys. The
    cache is warmed by untimed runs before the first round.
    """
    env = plain_env(home)
    extra = os.environ.get("PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), extra] if extra else [str(REPO)])
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(home / ".cache" / "pycache")
    return env


def git(cwd: Path, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run(  # nosec B603 B607
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"git {' '.join(args)} failed in {cwd}: {done.stderr.strip()}")
    return done.stdout


def make_repo(path: Path, files: dict[str, str], env: dict[str, str]) -> Path:
    """A git repository at ``path`` with ``files`` committed on ``main``."""
    for name, text in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    git(path, "init", "-q", "-b", "main", env=env)
    git(path, "add", "-A", env=env)
    git(path, "commit", "-q", "-m", "bench", env=env)
    return path


class Timing(NamedTuple):
    wall: float  # seconds
    cpu: float  # user + system seconds of the command and every process under it


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: Sequence[str], cwd: Path, env: dict[str, str], log: Path) -> Timing:
    """Wall and CPU time of ``cmd`` (output to ``log``); :class:`BenchError` if it fails.

    CPU time tells the work done apart from waiting: on a machine others use, wall time
    grows with their load, CPU time much less.
    """
    with log.open("w", encoding="utf-8") as out:
        cpu = children_cpu()
        start = time.perf_counter()
        done = subprocess.run(  # nosec B603
            list(cmd), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False
        )
        wall = time.perf_counter() - start
        cpu = children_cpu() - cpu
    if done.returncode != 0:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        tail = "\n".join(f"    {line}" for line in lines[-40:])
        raise BenchError(f"`{shlex.join(cmd)}` (in {cwd}) exited {done.returncode}:\n{tail}")
    return Timing(wall, cpu)


def load_text() -> str:
    """The load average now, so a reader can tell a busy machine's numbers apart."""
    try:
        return "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "load average unknown"


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


# -- (a) engine overhead ----------------------------------------------------------------------


def step_command(job: int, step: int) -> str:
    number = job * STEPS + step
    return f"echo step {number}" if step % 2 == 0 else "true"


def overhead_workflow(jobs: int, steps: int) -> str:
    lines = ["name: overhead", "on: push", "jobs:"]
    for job in range(jobs):
        lines += [f"  job-{job}:", "    runs-on: ubuntu-latest", "    steps:"]
        lines += [f"      - run: {step_command(job, step)}" for step in range(steps)]
    return "\n".join(lines) + "\n"


def write_scripts(folder: Path) -> tuple[Path, Path]:
    """The per-step driver (one bash per step, GitHub's way) and the single-bash script."""
    folder.mkdir()
    commands = [step_command(job, step) for job in range(JOBS) for step in range(STEPS)]
    driver = ["set -e"]
    for number, command in enumerate(commands):
        script = folder / f"step-{number:03d}.sh"
        script.write_text(command + "\n", encoding="utf-8")
        driver.append(shlex.join([*GITHUB_BASH, str(script)]))
    per_step = folder / "per-step.sh"
    per_step.write_text("\n".join(driver) + "\n", encoding="utf-8")
    single = folder / "single.sh"
    single.write_text("\n".join(commands) + "\n", encoding="utf-8")
    return per_step, single


def engine_overhead(repeat: int) -> dict[str, Timing]:
    with tempfile.TemporaryDirectory(prefix="amoskys-bench-") as tmp:
        base = Path(tmp)
        home = base / "home"
        home.mkdir()
        p_env, a_env = plain_env(home), amoskys_env(home)
        workflow = ".github/workflows/overhead.yml"
        repo = make_repo(base / "repo", {workflow: overhead_workflow(JOBS, STEPS)}, p_env)
        tiny = make_repo(base / "tiny", {workflow: overhead_workflow(1, 1)}, p_env)
        per_step, single = write_scripts(base / "scripts")
        log = base / "out.log"
        # --no-cache: every round must run every step; the result cache would serve the
        # unchanged jobs from the second run on.
        run = [*AMOSKYS, "run", "--no-live", "--no-cache"]
        commands = {
            "script": (["bash", "--noprofile", "--norc", str(per_step)], repo, p_env),
            "single": ([*GITHUB_BASH, str(single)], repo, p_env),
            "j1": ([*run, "-j", "1"], repo, a_env),
            "j2": ([*run, "-j", "2"], repo, a_env),
            "tiny": ([*run, "-j", "1"], tiny, a_env),
            "version": ([*AMOSKYS, "--version"], repo, a_env),
        }
        samples: dict[str, list[Timing]] = {name: [] for name in commands}
        for name in ("version", "tiny"):  # untimed: fills the bytecode cache
            cmd, cwd, env = commands[name]
            timed(cmd, cwd, env, log)
        for _ in range(repeat):
            for name, (cmd, cwd, env) in commands.items():
                samples[name].append(timed(cmd, cwd, env, log))
        return {
            name: Timing(
                statistics.median(t.wall for t in values), statistics.median(t.cpu for t in values)
            )
            for name, values in samples.items()
        }


def report_overhead(t: dict[str, Timing], repeat: int) -> None:
    m = {name: timing.wall for name, timing in t.items()}
    print(
        f"(a) engine overhead: {JOBS} jobs x {STEPS} trivial steps = {TOTAL} steps, "
        f"median of {repeat} rounds, {os.cpu_count()} CPUs, {load_text()}"
    )
    rows = [
        ("plain: one bash per step (GitHub's way)", "script", TOTAL),
        ("plain: one bash for all 500 commands", "single", TOTAL),
        ("amoskys run -j 1", "j1", TOTAL),
        ("amoskys run -j 2", "j2", TOTAL),
        ("amoskys run -j 1, 1 job x 1 step", "tiny", 0),
        ("python -P -m amoskys --version", "version", 0),
    ]
    print(f"  {'':44} {'wall s':>8} {'ms/step':>8} {'CPU s':>8} {'CPU ms/step':>12}")
    for label, key, steps in rows:
        wall, cpu = t[key]
        per = f"{wall * 1000 / steps:8.2f}" if steps else f"{'':8}"
        cpu_per = f"{cpu * 1000 / steps:12.2f}" if steps else f"{'':12}"
        print(f"  {label:44} {wall:8.3f} {per} {cpu:8.3f} {cpu_per}")
    overhead = (m["j1"] - m["script"]) * 1000 / TOTAL
    marginal = (m["j1"] - m["tiny"]) * 1000 / (TOTAL - 1)
    ratio = m["j2"] / m["script"]
    print(
        f"  overhead per step = (amoskys -j 1 - per-step script) / {TOTAL} = {overhead:.2f} ms"
        f"  [target <= {OVERHEAD_TARGET_MS:g} ms: {verdict(overhead <= OVERHEAD_TARGET_MS)}]"
    )
    cpu_overhead = (t["j1"].cpu - t["script"].cpu) * 1000 / TOTAL
    print(f"  (cost of one more step in amoskys, fixed start-up taken out: {marginal:.2f} ms;")
    print(f"   the same overhead counted in CPU time: {cpu_overhead:.2f} ms a step)")
    print(
        f"  -j 2 wall vs per-step script: {m['j2']:.3f} s vs {m['script']:.3f} s = {ratio:.2f}x"
        f"  [target below the script's: {verdict(m['j2'] < m['script'])}]"
    )


def step_costs(rounds: int = 200) -> dict[str, tuple[float, float]]:
    """What a trivial step's parts cost, each timed alone in this process: (wall, CPU) ms.

    CPU is this process's only (the children's is not counted), so for the spawns it is
    the parent's share of starting and reaping bash, for the rest nearly all of it.
    """
    sys.path.insert(0, str(REPO))
    from amoskys.run.masking import Masker
    from amoskys.run.process import run_process
    from amoskys.run.shells import write_script
    from amoskys.store.db import StepEnd, Store, open_store
    from amoskys.store.logs import LogWriter

    def measure(action: Callable[[int], object]) -> tuple[float, float]:
        walls, cpus = [], []
        for number in range(rounds):
            wall, cpu = time.perf_counter(), time.process_time()
            action(number)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        return statistics.median(walls) * 1000, statistics.median(cpus) * 1000

    with tempfile.TemporaryDirectory(prefix="amoskys-bench-") as tmp:
        base = Path(tmp)
        script = base / "step.sh"
        script.write_text("echo step 1\n", encoding="utf-8")
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(base)}
        argv = [*GITHUB_BASH, str(script)]
        masker = Masker()
        lines: list[str] = []
        store: Store = open_store(base / "state", url=f"sqlite:///{base / 'history.db'}")
        run_id = store.create_run(
            workflow="w",
            trigger="cli",
            event="push",
            ref="r",
            branch="b",
            sha="s",
            actor="a",
            workflow_sha256="x",
            started=time.time(),
            run_dir="runs/x",
        )
        job = store.start_job(
            run_id,
            key="k",
            name="k",
            job_id="k",
            matrix={},
            runner="local",
            started=time.time(),
        )
        ended = StepEnd("success", "success", 0, time.time(), 1, 10)

        def record_step(number: int) -> None:
            store.write_many(
                [
                    lambda s: s.start_step(
                        job,
                        index=number,
                        name="n",
                        step_id=None,
                        started=time.time(),
                        log_path=f"logs/{number}.log",
                        ended=ended,
                    )
                ]
            )

        def log_step(number: int) -> None:
            with LogWriter(base / f"{number}.log", sync_on_close=False) as writer:  # as job.py
                writer.write_line("step 1")

        def script_step(_: int) -> None:
            write_script("echo step 1", None, base / "scripts").unlink()

        costs = {
            "bash (subprocess.run, output to a pipe)": measure(
                lambda _: subprocess.run(argv, env=env, capture_output=True, check=False)
            ),
            "bash through run_process (poll, masking)": measure(
                lambda _: run_process(argv, cwd=base, env=env, on_line=lines.append, masker=masker)
            ),
            "step script written and removed": measure(script_step),
            "step log opened, one line, closed": measure(log_step),
            "step row recorded (1 insert, own commit)": measure(record_step),
        }
        store.close()
    return costs


def report_step_costs(costs: dict[str, tuple[float, float]]) -> None:
    print("  where a trivial step's time goes, each part timed alone (medians):")
    print(f"    {'':46} {'wall ms':>8} {'CPU ms':>8}")
    for label, (wall, cpu) in costs.items():
        print(f"    {label:46} {wall:8.2f} {cpu:8.2f}")


# -- (b) the seed's Linux jobs ----------------------------------------------------------------


def python_version(path: Path) -> str | None:
    try:
        done = subprocess.run(  # nosec B603
            [str(path), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def find_pythons() -> dict[str, Path]:
    """One interpreter per seed version: pyenv's newest patch release first, then PATH."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found: dict[str, Path] = {}
    for version in SEED_VERSIONS:
        pattern = re.compile(rf"{re.escape(version)}\.(\d+)")
        installs = sorted(
            (int(match.group(1)), folder)
            for folder in root.glob(f"{version}.*")
            if (match := pattern.fullmatch(folder.name))
        )
        candidates = [folder / "bin" / "python" for _, folder in reversed(installs)]
        on_path = shutil.which(f"python{version}")
        if on_path:
            candidates.append(Path(on_path))
        for candidate in candidates:
            if candidate.exists() and python_version(candidate) == version:
                found[version] = candidate
                break
        else:
            raise BenchError(f"--seed needs Python {version} (pyenv or PATH); none found")
    return found


def snapshot(dest: Path, env: dict[str, str], rev: str, worktree: bool) -> None:
    """A local clone of this checkout at ``rev`` on a branch ``main`` (the seed's push trigger).

    With ``worktree``, the uncommitted files (modified and untracked, not ignored) are copied
    in and committed in the clone, so both runs see the same files; others' half-written work
    then comes along.
    """
    git(REPO.parent, "clone", "-q", "--local", "--no-checkout", str(REPO), str(dest), env=env)
    git(dest, "checkout", "-q", "-B", "main", rev, env=env)
    if not worktree:
        return
    listed = git(REPO, "ls-files", "-z", "-m", "-o", "-d", "--exclude-standard", env=env)
    for name in sorted({n for n in listed.split("\0") if n}):
        source, target = REPO / name, dest / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        elif target.is_file() or target.is_symlink():
            target.unlink()
    git(dest, "add", "-A", env=env)
    git(dest, "commit", "-q", "--allow-empty", "-m", "bench: working tree snapshot", env=env)


MARK = "::bench::"
PYTEST_SUMMARY = re.compile(r"=+ (\d+ (?:passed|failed)[^=]*?) in ([\d.]+)s\b")
JOB_DONE = re.compile(r"^\[([^\]/]+)\] (passed|failed|cancelled)\b.* in ([\d.]+)s$")


def plain_seed_script(project: Path, venvs: Path, pythons: dict[str, Path]) -> str:
    """The seed's Linux commands, typed one after another in one shell (one venv a version).

    Each command is preceded by a ``::bench:: <time> <phase>`` line, so the report can say
    where the time went; the marks cost an ``echo`` each.
    """
    lines = ["set -eo pipefail", f"cd {shlex.quote(str(project))}"]
    order = [CODE_QUALITY_VERSION, *(v for v in SEED_VERSIONS if v != CODE_QUALITY_VERSION)]

    def phase(name: str, *commands: str) -> None:
        lines.append(f'echo "{MARK} $EPOCHREALTIME {name}"')
        lines.extend(commands)

    for version in order:
        venv = shlex.quote(str(venvs / version))
        phase(
            f"{version} venv + pip install",
            f"{shlex.quote(str(pythons[version]))} -m venv {venv}",
            f". {venv}/bin/activate",
            "python -m pip install --upgrade pip",
            "pip install -r requirements.txt",
        )
        if version == CODE_QUALITY_VERSION:
            phase(
                f"{version} lint tools: install, black, isort, flake8, mypy",
                "pip install black isort flake8 mypy",
                "black --check amoskys/ tests/",
                "isort --check-only amoskys/ tests/",
                "flake8 amoskys/ tests/",
                "mypy amoskys/",
            )
        phase(f"{version} pytest", "python -m pytest tests/ -v --tb=short", "deactivate")
    lines.append(f'echo "{MARK} $EPOCHREALTIME end"')
    return "\n".join(lines) + "\n"


def pip_warmup_script(project: Path, venvs: Path, pythons: dict[str, Path]) -> str:
    """The seed's installs alone, into throwaway venvs: run untimed first, so that pip's
    cache holds every wheel before either side is timed (otherwise whichever runs first pays
    the downloads for both)."""
    lines = ["set -eo pipefail", f"cd {shlex.quote(str(project))}"]
    for version in SEED_VERSIONS:
        venv = shlex.quote(str(venvs / version))
        lines += [
            f"{shlex.quote(str(pythons[version]))} -m venv {venv}",
            f"{venv}/bin/python -m pip install -q --upgrade pip",
            f"{venv}/bin/python -m pip install -q -r requirements.txt",
        ]
        if version == CODE_QUALITY_VERSION:
            lines.append(f"{venv}/bin/python -m pip install -q black isort flake8 mypy")
    lines.append(f"rm -rf {shlex.quote(str(venvs))}")
    return "\n".join(lines) + "\n"


def plain_phases(log: str) -> list[tuple[str, float]]:
    marks = []
    for line in log.splitlines():
        if line.startswith(MARK):
            _, stamp, name = line.split(" ", 2)
            marks.append((name, float(stamp)))
    return [(name, nxt - at) for (name, at), (_, nxt) in zip(marks, marks[1:])]


def amoskys_jobs(log: str) -> list[tuple[str, str, float]]:
    found = []
    for line in log.splitlines():
        match = JOB_DONE.match(line.strip())
        if match:
            found.append((match.group(1), match.group(2), float(match.group(3))))
    return found


def pytest_summaries(log: str) -> list[str]:
    return [f"{m.group(1)} in {m.group(2)}s" for m in PYTEST_SUMMARY.finditer(log)]


def seed_jobs(logs: Path | None, rev: str, worktree: bool, jobs: int) -> dict[str, Timing]:
    pythons = find_pythons()
    for version, path in pythons.items():
        print(f"  Python {version}: {path}")
    with tempfile.TemporaryDirectory(prefix="amoskys-bench-seed-") as tmp:
        base = Path(tmp)
        home = base / "home"
        home.mkdir()
        p_env, a_env = plain_env(home), amoskys_env(home)
        # The suite skips its tests that run the seed on the project when this is set (as it
        # is inside amoskys): the plain run runs the same tests.
        p_env["AMOSKYS_RUN_ID"] = "bench-plain"
        # Two clones of the same commit, so neither run sees the other's leftovers (the plain
        # run's caches, amoskys' .amoskys/ with its venv templates).
        project, plain_project = base / "project", base / "plain-project"
        snapshot(project, p_env, rev, worktree)
        print(f"  project: {git(project, 'log', '-1', '--format=%h %s', env=p_env).strip()}")
        git(base, "clone", "-q", "--local", str(project), str(plain_project), env=p_env)
        script = base / "plain-seed.sh"
        script.write_text(
            plain_seed_script(plain_project, base / "venvs", pythons), encoding="utf-8"
        )
        run = [*AMOSKYS, "run", "--no-live", "--job", "code-quality", "--job", "test-matrix"]
        run += ["-j", str(jobs)]
        plain_cmd = ["bash", "--noprofile", "--norc", str(script)]
        warmup = base / "pip-warmup.sh"
        warmup.write_text(
            pip_warmup_script(plain_project, base / "warmup-venvs", pythons), encoding="utf-8"
        )
        print("  filling pip's cache (untimed) ...")
        timed(["bash", "--noprofile", "--norc", str(warmup)], plain_project, p_env, base / "w.log")
        print("  running amoskys (fresh .amoskys/), the plain shell, amoskys twice again ...")
        timings: dict[str, Timing] = {}
        texts: dict[str, str] = {}
        try:
            for key, cmd, cwd, env in (
                ("first", run, project, a_env),
                ("plain", plain_cmd, plain_project, p_env),
                # Every job runs again (the result cache bypassed), from the cached venvs: what
                # a developer's re-run after an edit costs.
                ("second", [*run, "--no-cache"], project, a_env),
                # Nothing changed: the result cache serves every job.
                ("third", run, project, a_env),
            ):
                log = base / f"{key}.log"
                try:
                    timings[key] = timed(cmd, cwd, env, log)
                finally:
                    texts[key] = log.read_text(encoding="utf-8", errors="replace")
        finally:
            if logs is not None:
                logs.mkdir(parents=True, exist_ok=True)
                for key, text in texts.items():
                    (logs / f"seed-{key}.log").write_text(text, encoding="utf-8")
                shutil.copy2(script, logs / "plain-seed.sh")
        report_seed_details(texts)
        return timings


def report_seed_details(texts: dict[str, str]) -> None:
    print("  where the plain shell's time went:")
    for name, seconds in plain_phases(texts["plain"]):
        print(f"    {name:56} {seconds:7.1f} s")
    for key, label in (
        ("first", "fresh .amoskys/"),
        ("second", "second run, --no-cache"),
        ("third", "third run, result cache"),
    ):
        print(f"  amoskys jobs, {label}:")
        for name, status, seconds in amoskys_jobs(texts[key]):
            print(f"    {name:46} {status:>9} {seconds:7.1f} s")
    for key, label in (
        ("plain", "plain"),
        ("first", "amoskys 1"),
        ("second", "amoskys 2"),
        ("third", "amoskys 3"),
    ):
        for summary in pytest_summaries(texts[key]):
            print(f"  pytest, {label:9}: {summary}")


def report_seed(t: dict[str, Timing], jobs: int) -> None:
    m = {name: timing.wall for name, timing in t.items()}
    rows = [
        ("plain: the commands one after another", "plain"),
        (f"amoskys run -j {jobs}, fresh .amoskys/", "first"),
        (f"amoskys run -j {jobs}, second run, --no-cache", "second"),
        (f"amoskys run -j {jobs}, third run (nothing changed)", "third"),
    ]
    print(f"  {load_text()} at the end")
    print(f"  {'':44} {'wall s':>8} {'ratio':>7} {'CPU s':>8} {'ratio':>7}")
    for label, key in rows:
        wall, cpu = t[key]
        print(
            f"  {label:44} {wall:8.1f} {wall / m['plain']:6.2f}x"
            f" {cpu:8.1f} {cpu / t['plain'].cpu:6.2f}x"
        )
    for label, key in (("fresh", "first"), ("second run", "second"), ("third run", "third")):
        ratio = m[key] / m["plain"]
        met = verdict(ratio <= SEED_TARGET)
        print(f"  {label}: {ratio:.2f}x  [target <= {SEED_TARGET:g}x: {met}]")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds for (a), median printed")
    parser.add_argument("--seed", action="store_true", help="also (b): the seed (minutes)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--rev", default="HEAD", help="with --seed: the project at this commit (default HEAD)"
    )
    source.add_argument(
        "--worktree",
        action="store_true",
        help="with --seed: the project as in the working tree, not HEAD",
    )
    parser.add_argument(
        "--seed-jobs",
        type=int,
        default=2,
        help="with --seed: amoskys run -j N (default 2, the CPU count of the reference machine)",
    )
    parser.add_argument(
        "--logs", type=Path, default=None, help="with --seed: save the runs' output in LOGS"
    )
    args = parser.parse_args(argv)
    try:
        report_overhead(engine_overhead(max(1, args.repeat)), max(1, args.repeat))
        report_step_costs(step_costs())
        if args.seed:
            print("\n(b) the seed's Linux jobs: code-quality + test-matrix on 3.11/3.12/3.13")
            report_seed(
                seed_jobs(args.logs, args.rev, args.worktree, max(1, args.seed_jobs)),
                max(1, args.seed_jobs),
            )
    except BenchError as err:
        print(f"bench_engine: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
