"""Test selection inside ``amoskys run`` on real projects: a workflow's own pytest step.

Subjects: more-itertools and click at pinned versions (their sdists ship the test suites),
downloaded once with ``pip download --no-deps --no-binary :all:`` into ``--cache`` (the same
folder ``bench_result_cache.py`` uses). Each is unpacked into a temporary folder, made a git
repository with ``[tool.amoskys.select] enabled = true`` appended to its pyproject.toml and one
workflow whose only step is ``python -m pytest -q -p no:cacheprovider <tests>`` (the
``python`` on PATH, no setup-python: the numbers are about the selection, not about venvs).

Four ``amoskys run --no-live --no-cache`` runs per subject (``python -P -m amoskys`` with
PYTHONPATH at this checkout), each timed (wall) and counted (tests pytest reported):

1. cold: no map, every test runs and the map is recorded;
2. nothing changed: pytest starts, collects, deselects everything;
3. one function edited (uncommitted): only the tests that ran it, plus new ones;
4. the same edit with ``--no-select``: every test (the plain way).

The ratio that matters is run 3 against run 4 (the same workflow with and without selection).
HOME points into the temporary folder, which is removed at the end.
Run: ``python bench/bench_wfselect.py [--cache DIR] [--only click] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess  # nosec B404
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from bench_common import GIT_IDENTITY

REPO = Path(__file__).resolve().parents[1]
AMOSKYS = (sys.executable, "-P", "-m", "amoskys", "run", "--no-live", "--no-cache")


class Subject(NamedTuple):
    name: str
    pin: str
    source: str  # what goes on PYTHONPATH for the tests
    tests: str
    path: str  # the file edited for run 3
    old: str  # a line inside one function ...
    new: str  # ... and what it becomes (same behaviour)


SUBJECTS = (
    Subject(
        "more-itertools",
        "more-itertools==10.5.0",
        ".",
        "tests",
        "more_itertools/more.py",
        "        return reversed(iterable)\n",
        "        it = iterable\n        return reversed(it)\n",
    ),
    Subject(
        "click",
        "click==8.1.7",
        "src",
        "tests",
        "src/click/utils.py",
        '            return value.decode("utf-8", "replace")\n',
        '            return value.decode("utf-8", errors="replace")\n',
    ),
)

WORKFLOW = """\
name: ci
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    env:
      PYTHONPATH: {source}
    steps:
      - run: python -m pytest -q -p no:cacheprovider {tests}
"""


def sdist(subject: Subject, cache: Path) -> Path:
    name, version = subject.pin.split("==")
    found = sorted(cache.glob(f"{name}-{version}.tar.gz")) + sorted(
        cache.glob(f"{name.replace('-', '_')}-{version}.tar.gz")
    )
    if found:
        return found[0]
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(  # nosec B603
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
        + ["-d", str(cache), subject.pin],
        check=True,
    )
    return sdist(subject, cache)


def git(root: Path, *args: str) -> None:
    env = {**os.environ, **GIT_IDENTITY}
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)  # nosec


def prepare(subject: Subject, cache: Path, into: Path) -> Path:
    with tarfile.open(sdist(subject, cache)) as archive:
        archive.extractall(into, filter="data")  # nosec B202 - a pinned sdist
    root = next(p for p in into.iterdir() if p.is_dir())
    for leftover in (".pytest_cache", ".coverage", ".github"):
        shutil.rmtree(root / leftover, ignore_errors=True)
    with (root / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write("\n[tool.amoskys.select]\nenabled = true\n")
    workflow = root / ".github" / "workflows" / "ci.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(WORKFLOW.format(source=subject.source, tests=subject.tests))
    (root / ".gitignore").write_text("__pycache__/\n.amoskys/\n*.egg-info/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "subject")
    return root


class Round(NamedTuple):
    wall: float
    code: int
    tests: int
    summary: str


def run(root: Path, home: Path, *args: str) -> Round:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(home)}
    for name in ("AMOSKYS_RUN_ID", "AMOSKYS_DATABASE_URL", "PYTEST_ADDOPTS", "AMOSKYS_RESULTS"):
        env.pop(name, None)
    started = time.perf_counter()
    done = subprocess.run(  # nosec B603
        [*AMOSKYS, *args], cwd=root, env=env, capture_output=True, text=True, timeout=1800
    )
    wall = time.perf_counter() - started
    out = done.stdout + done.stderr
    counts = re.findall(r"(\d+) (passed|failed|error|errors|xfailed|xpassed)\b", out)
    tests = sum(int(n) for n, _ in counts)
    summary = next((line for line in out.splitlines() if line.startswith("test selection")), "")
    return Round(wall, done.returncode, tests, summary)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "amoskys-bench-sdists"
    )
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--keep", type=Path, default=None)
    options = parser.parse_args()
    print(f"load: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} on {os.cpu_count()} cores")
    work = Path(tempfile.mkdtemp(prefix="amoskys-wfselect-"))
    try:
        for subject in SUBJECTS:
            if options.only and subject.name not in options.only:
                continue
            home = work / f"home-{subject.name}"
            home.mkdir()
            root = prepare(subject, options.cache, work / subject.name)
            cold = run(root, home)
            same = run(root, home)
            target = root / subject.path
            text = target.read_text()
            assert text.count(subject.old) == 1, f"{subject.path}: the edit is not unique"
            target.write_text(text.replace(subject.old, subject.new))
            chosen = run(root, home)
            plain = run(root, home, "--no-select")
            print(f"\n{subject.pin}")
            for label, r in (
                ("cold, records the map", cold),
                ("nothing changed", same),
                ("one function edited", chosen),
                ("same edit, --no-select", plain),
            ):
                print(f"  {label:<24} {r.wall:7.2f} s  exit {r.code}  {r.tests:>5} tests")
            print(f"  {chosen.summary}")
            print(
                f"  edited: {chosen.tests}/{plain.tests} tests, wall "
                f"{chosen.wall / plain.wall:.0%} of --no-select; nothing changed: "
                f"{same.wall / plain.wall:.0%}"
            )
            if options.keep is not None:
                shutil.copytree(root, options.keep / subject.name, symlinks=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
