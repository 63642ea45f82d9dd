"""The result cache on real projects: a cold ``amoskys run`` against a warm re-run.

Subjects are PyPI projects nobody here wrote, whose source distributions ship their tests:
click, packaging and more-itertools at pinned versions. Each sdist is downloaded once with
``pip download --no-deps --no-binary :all:`` into ``--cache`` (default: a folder under the
system's temporary folder, kept between runs), unpacked into a temporary folder, made a git
repository, and given a workflow (in place of any it ships): checkout, setup-python 3.11,
``pip install pytest==8.3.3`` plus the project's test dependencies, ``pip install -e .``,
``python -m pytest -q``.

For each subject ``amoskys run --no-live`` runs twice as a subprocess (``python -P -m amoskys``
with PYTHONPATH at this checkout): cold (no ``.amoskys/``: every step runs, pip downloads
into a pip cache that starts empty), then warm with nothing changed. It prints both wall
and CPU times (the command and all its children) and the ratios; the issue's target is warm
wall <= 5 % of cold wall. A third run after adding a test to one test file must run the job
again (the cache must not hide work that has to be done).

HOME and pip's cache point into the temporary folder, which is removed at the end.
Run: ``python bench/bench_result_cache.py [--cache DIR] [--only click] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess  # nosec B404
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import NamedTuple, Sequence

from bench_common import GIT_IDENTITY

REPO = Path(__file__).resolve().parents[1]
AMOSKYS = (sys.executable, "-P", "-m", "amoskys", "run", "--no-live")
TARGET = 0.05


class Subject(NamedTuple):
    name: str
    pin: str  # requirement passed to pip download
    test_deps: str  # what the tests need besides pytest
    tests: str  # a test file to edit for the third run


SUBJECTS = (
    Subject("click", "click==8.1.7", "", "tests/test_basic.py"),
    Subject("packaging", "packaging==24.1", "pretend", "tests/test_version.py"),
    Subject("more-itertools", "more-itertools==10.5.0", "", "tests/test_recipes.py"),
)

WORKFLOW = """\
name: tests
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: python -m pip install -q pytest==8.3.3 {deps}
      - run: python -m pip install -q -e .
      - run: python -m pytest -q -p no:cacheprovider
"""


class BenchError(Exception):
    """A command failed: the numbers would mean nothing."""


def environment(home: Path) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE would recompile every edited module on every start: an
    # installed Amoskys has its bytecode, so the warm run measured here does too.
    dropped = ("PYTHONPATH", "AMOSKYS_RUN_ID", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    real_pyenv = Path.home() / ".pyenv"
    if "PYENV_ROOT" not in env and real_pyenv.is_dir():
        env["PYENV_ROOT"] = str(real_pyenv)  # still found once HOME has moved
    env["HOME"] = str(home)
    env["PIP_CACHE_DIR"] = str(home / ".cache" / "pip")
    env.update(GIT_IDENTITY)
    return env


class Timing(NamedTuple):
    wall: float  # seconds
    cpu: float  # user + system seconds of the command and every process under it


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd: Sequence[str], cwd: Path, env: dict[str, str], log: Path | None = None) -> Timing:
    """Wall and CPU seconds of ``cmd``; :class:`BenchError` with its output's tail if it
    fails. CPU time grows much less than wall time with the other sessions' load."""
    cpu = children_cpu()
    start = time.perf_counter()
    done = subprocess.run(  # nosec B603
        list(cmd), cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    cpu = children_cpu() - cpu
    if log is not None:
        log.write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise BenchError(f"`{' '.join(cmd)}` in {cwd} exited {done.returncode}:\n{tail}")
    return Timing(wall, cpu)


def sdist(subject: Subject, cache: Path, env: dict[str, str]) -> Path:
    """The subject's sdist in ``cache``, downloaded once."""
    stem = subject.pin.replace("==", "-")
    for candidate in cache.glob("*.tar.gz"):
        name = candidate.name.lower().replace("_", "-")
        if name.startswith(stem.lower() + ".tar"):
            return candidate
    cache.mkdir(parents=True, exist_ok=True)
    run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
        + ["--dest", str(cache), subject.pin],
        cache,
        env,
    )
    return sdist(subject, cache, env)


def unpack(archive: Path, into: Path, env: dict[str, str], subject: Subject) -> Path:
    """The sdist's tree as a committed git repository with the bench workflow."""
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")  # nosec B202 - Python's safe data filter
    (top,) = [p for p in into.iterdir() if p.is_dir()]
    shutil.rmtree(top / ".github" / "workflows", ignore_errors=True)  # only ours runs
    workflow = top / ".github" / "workflows" / "tests.yml"
    workflow.parent.mkdir(parents=True, exist_ok=True)
    workflow.write_text(WORKFLOW.format(deps=subject.test_deps).replace(" \n", "\n"))
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-q", "-m", "sdist")):
        run(["git", *args], top, env)
    return top


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def measure(subject: Subject, cache: Path, work: Path, env: dict[str, str]) -> dict[str, Timing]:
    archive = sdist(subject, cache, env)
    folder = work / subject.name
    folder.mkdir()
    root = unpack(archive, folder, env, subject)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    amoskys_env = {**env, "PYTHONPATH": str(REPO)}
    cold = run(AMOSKYS, root, amoskys_env, logs / f"{subject.name}-cold.log")
    warm = run(AMOSKYS, root, amoskys_env, logs / f"{subject.name}-warm.log")
    if "] cached (run 1)" not in (logs / f"{subject.name}-warm.log").read_text():
        raise BenchError(f"{subject.name}: the warm run was not served from the cache")
    test_file = root / subject.tests
    test_file.write_text(test_file.read_text() + "\n\ndef test_bench_added():\n    pass\n")
    edited = run(AMOSKYS, root, amoskys_env, logs / f"{subject.name}-edited.log")
    if "] cached" in (logs / f"{subject.name}-edited.log").read_text():
        raise BenchError(f"{subject.name}: the run after an edit was served from the cache")
    return {"cold": cold, "warm": warm, "edited": edited}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "amoskys-bench-sdists",
        help="where the sdists are downloaded (kept)",
    )
    parser.add_argument("--only", action="append", help="a subject's name (repeatable)")
    parser.add_argument("--keep", type=Path, help="work here and keep it (logs, repositories)")
    args = parser.parse_args(argv)
    subjects = [s for s in SUBJECTS if not args.only or s.name in args.only]
    work = args.keep or Path(tempfile.mkdtemp(prefix="amoskys-bench-rc-"))
    work.mkdir(parents=True, exist_ok=True)
    home = work / "home"
    home.mkdir(exist_ok=True)
    env = environment(home)
    print(f"load before: {load()}  (2-core machine shared with other work)")
    print(
        f"{'subject':<16}{'cold wall':>10}{'warm wall':>10}{'ratio':>7}"
        f"{'cold cpu':>10}{'warm cpu':>10}{'ratio':>7}{'edited':>9}"
    )
    results: list[tuple[Subject, dict[str, Timing]]] = []
    try:
        for subject in subjects:
            t = measure(subject, args.cache, work, env)
            results.append((subject, t))
            print(
                f"{subject.name:<16}{t['cold'].wall:9.1f}s{t['warm'].wall:9.2f}s"
                f"{t['warm'].wall / t['cold'].wall:7.1%}{t['cold'].cpu:9.1f}s"
                f"{t['warm'].cpu:9.2f}s{t['warm'].cpu / t['cold'].cpu:7.1%}"
                f"{t['edited'].wall:8.1f}s",
                flush=True,
            )
    except BenchError as err:
        print(f"failed: {err}", file=sys.stderr)
        return 1
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"load after: {load()}")
    worst = max(n["warm"].wall / n["cold"].wall for _, n in results)
    total = sum(n["warm"].wall for _, n in results) / sum(n["cold"].wall for _, n in results)
    verdict = "met" if worst <= TARGET else "NOT met"
    print(
        f"warm/cold wall: worst {worst:.1%}, overall {total:.1%}; target <= {TARGET:.0%}: {verdict}"
    )
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
