"""Parse + plan speed: the seed workflow, and generated workflows of 50..400 jobs.

Prints the median of repeated in-process runs (no interpreter start-up), the per-job cost
and, as the plain baseline, the time ruamel.yaml alone takes to load the same text.
Run: ``python bench/bench_plan.py``.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

from ruamel.yaml import YAML

from amoskys.plan import plan
from amoskys.platforms import LocalRunner
from amoskys.workflow.events import Event
from amoskys.workflow.parse import parse_workflow_text

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / ".github" / "workflows" / "ci-cd.yml"


def generated_workflow(jobs: int) -> str:
    """A workflow of ``jobs`` jobs: matrices every fifth job, needs chains, expressions."""
    out = io.StringIO()
    out.write("name: generated\non:\n  push:\n    branches: [main, 'release/**']\n")
    out.write("    paths-ignore: ['docs/**']\n  pull_request:\n    branches: [main]\n")
    out.write("env:\n  GLOBAL: '1'\njobs:\n")
    for n in range(jobs):
        out.write(f"  job-{n}:\n    name: Job {n}\n")
        if n % 5 == 0:
            out.write("    runs-on: ${{ matrix.os }}\n    strategy:\n      matrix:\n")
            out.write("        os: [ubuntu-latest, windows-latest]\n")
            out.write("        py: ['3.11', '3.12']\n        exclude:\n")
            out.write("          - os: windows-latest\n            py: '3.11'\n")
        else:
            out.write("    runs-on: ubuntu-latest\n")
        if n:
            out.write(f"    needs: [job-{n - 1}]\n")
        out.write("    if: ${{ github.event_name == 'push' && !cancelled() }}\n")
        out.write("    steps:\n      - uses: actions/checkout@v4\n")
        out.write(f"      - name: step {n}\n        run: echo ${{{{ matrix.py || 'none' }}}} {n}\n")
        out.write("        env:\n          X: ${{ format('{0}-{1}', github.ref, env.GLOBAL) }}\n")
    return out.getvalue()


def median_ms(func: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def parse_and_plan(text: str, path: str) -> int:
    workflow = parse_workflow_text(text, path)
    result = plan([workflow], Event("push", ref="refs/heads/main"), runner=LocalRunner("linux"))
    return len(result.instances)


def main() -> None:
    yaml = YAML(typ="rt")
    seed = SEED.read_text(encoding="utf-8")
    instances = parse_and_plan(seed, "ci-cd.yml")
    seed_ms = median_ms(lambda: parse_and_plan(seed, "ci-cd.yml"), 50)
    seed_yaml_ms = median_ms(lambda: yaml.load(seed), 50)
    print(
        f"seed workflow: {instances} instances, parse+plan {seed_ms:.2f} ms median "
        f"(ruamel.yaml load alone {seed_yaml_ms:.2f} ms, ratio {seed_ms / seed_yaml_ms:.2f}x)"
    )
    print(f"{'jobs':>6} {'instances':>10} {'parse+plan ms':>14} {'ms/job':>8} {'yaml-only ms':>13}")
    for jobs in (50, 100, 200, 400):
        text = generated_workflow(jobs)
        count = parse_and_plan(text, "generated.yml")
        total = median_ms(lambda: parse_and_plan(text, "generated.yml"), 7)
        alone = median_ms(lambda: yaml.load(text), 7)
        print(f"{jobs:>6} {count:>10} {total:>14.1f} {total / jobs:>8.3f} {alone:>13.1f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
