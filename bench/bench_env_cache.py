"""Dependency cache (issue 6, item 1): the seed's install step with a cold and a warm cache.

A ``git clone --local`` of this checkout gets one extra workflow with one job, the seed's
dependency steps as they stand in its ``test-matrix`` job::

    - uses: actions/setup-python@v4   (python-version 3.12)
    - run: python -m pip install --upgrade pip     ("Upgrade pip")
    - run: pip install -r requirements.txt         ("Install requirements": -e .[dev])

(the seed runs both commands in one step, "Install dependencies"; they are split here to say
where the time goes). ``amoskys run --job deps`` is timed in a temporary HOME with an empty pip
cache, in this order:

1. cold: a fresh ``.amoskys/``, empty pip cache: everything is downloaded and installed;
2. warm: the job's venv comes from the environment cache;
3. warm again (the steady state);
4. env cache off (``AMOSKYS_ENV_CACHE=0``), pip's cache warm: what a warm run costs without
   the environment cache (a fresh venv, every wheel installed from pip's cache).

Printed: wall time of each run, of its job and of its steps, and warm/cold ratios. The
"Install requirements" step stays above a second even when everything is installed: pip
always re-installs editable requirements (it builds the editable wheel of ``-e .[dev]`` in an
isolated build environment each time).

Run: ``python bench/bench_env_cache.py [--logs DIR]`` (about 2 minutes; needs the network
for the cold run unless pip's configured indexes have every package).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from bench_engine import (
    AMOSKYS,
    BenchError,
    Timing,
    amoskys_env,
    git,
    load_text,
    snapshot,
    timed,
)

WORKFLOW = """name: env-cache-bench
on: push
jobs:
  deps:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: Set up Python
        uses: actions/setup-python@v4
        with:
          python-version: '3.12'
      - name: Upgrade pip
        run: python -m pip install --upgrade pip
      - name: Install requirements
        run: pip install -r requirements.txt
"""
STEP_DONE = re.compile(r"^\[deps/([^\]]+)\] (success|failure)\b.* in ([\d.]+)s$")
JOB_DONE = re.compile(r"^\[deps\] (passed|failed)\b.* in ([\d.]+)s$")
RUNS = (
    ("cold", "cold: fresh .amoskys/, empty pip cache", {}),
    ("warm", "warm: venv from the environment cache", {}),
    ("warm2", "warm again", {}),
    ("off", "env cache off, pip cache warm", {"AMOSKYS_ENV_CACHE": "0"}),
)


def phases(log: str) -> tuple[float | None, dict[str, float]]:
    """The job's time and each step's time, from ``--no-live`` output."""
    job: float | None = None
    steps: dict[str, float] = {}
    for line in log.splitlines():
        line = line.strip()
        if found := STEP_DONE.match(line):
            steps[found.group(1)] = float(found.group(3))
        elif found := JOB_DONE.match(line):
            job = float(found.group(2))
    return job, steps


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logs", type=Path, default=None, help="keep the runs' output here")
    args = parser.parse_args(argv)
    print(f"{load_text()} at the start")
    with tempfile.TemporaryDirectory(prefix="amoskys-bench-envcache-") as tmp:
        base = Path(tmp)
        home = base / "home"
        home.mkdir()
        env = amoskys_env(home)
        project = base / "project"
        snapshot(project, env, "HEAD", worktree=False)
        (project / ".github" / "workflows" / "env-cache-bench.yml").write_text(WORKFLOW)
        git(project, "add", "-A", env=env)
        git(project, "commit", "-q", "-m", "bench: env cache workflow", env=env)
        print(f"project: {git(project, 'log', '-1', '--format=%h %s', env=env).strip()}")
        cmd = [
            *AMOSKYS,
            "run",
            "--no-live",
            "--no-cache",  # the job must run each time: the result cache would serve it
            "--job",
            "deps",
            ".github/workflows/env-cache-bench.yml",
        ]
        results: dict[str, tuple[Timing, float | None, dict[str, float]]] = {}
        for key, _, extra in RUNS:
            log = base / f"{key}.log"
            try:
                timing = timed(cmd, project, {**env, **extra}, log)
            finally:
                if args.logs is not None:
                    args.logs.mkdir(parents=True, exist_ok=True)
                    (args.logs / f"env-cache-{key}.log").write_text(log.read_text())
            text = log.read_text(encoding="utf-8", errors="replace")
            results[key] = (timing, *phases(text))
            if key == "warm" and "restored from the environment cache" not in text:
                raise BenchError("the warm run did not restore the job's venv from the cache")
    names = ["Set up Python", "Upgrade pip", "Install requirements"]
    print(f"{load_text()} at the end")
    header = f"{'':40} {'run s':>7} {'job s':>7}" + "".join(f" {n[:20]:>20}" for n in names)
    print(header)
    for key, label, _ in RUNS:
        timing, job, steps = results[key]
        cells = "".join(f" {steps.get(n, float('nan')):20.2f}" for n in names)
        print(f"{label:40} {timing.wall:7.2f} {job or float('nan'):7.2f}{cells}")
    cold_timing, cold_job, cold_steps = results["cold"]
    print("warm / cold ratios (lower is better):")
    for key in ("warm", "warm2", "off"):
        timing, job, steps = results[key]
        install = steps.get("Upgrade pip", 0) + steps.get("Install requirements", 0)
        cold_install = cold_steps.get("Upgrade pip", 0) + cold_steps.get("Install requirements", 0)
        print(
            f"  {key:6} whole run {timing.wall / cold_timing.wall:5.2f}x"
            f"  job {(job or 0) / (cold_job or 1):5.2f}x"
            f"  seed's install step (pip upgrade + -r requirements.txt)"
            f" {install:6.2f} s vs {cold_install:6.2f} s = {install / (cold_install or 1):5.2f}x"
        )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as err:
        print(f"bench failed: {err}", file=sys.stderr)
        sys.exit(1)
