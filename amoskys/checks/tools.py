"""Running the checkers: each tool is a process whose output a collector turns into findings.

Tools run in parallel (threads, each waiting on its own process through
:mod:`amoskys.run.process`). A tool that is not installed, or that crashes (an exit code
that does not mean "ran and found things"), is reported as such: never as clean.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

from amoskys.errors import AmoskysError
from amoskys.findings.common import Collected, LineCache
from amoskys.findings.model import Finding, FindingsProblem
from amoskys.run.process import run_process

TOOL_TIMEOUT = 1800.0

Collector = Callable[..., Collected]


@dataclass(frozen=True)
class ToolSpec:
    """How to run one checker and read what it says."""

    name: str  # "black"
    gate: str  # the gate its findings count against: "format"
    module: str  # for ``python -m``: "black"
    args: tuple[str, ...]  # "{report}" is replaced by a temporary report file's path
    collect: Collector
    ok_codes: tuple[int, ...] = (0, 1)  # exit codes that mean "it ran"
    reads_report: bool = False  # the findings are in {report}, not in the output
    install: str = ""  # what to pip install when missing


@dataclass(frozen=True)
class ToolRun:
    """What happened when one tool ran."""

    spec: ToolSpec
    ran: bool
    exit_code: int | None = None
    findings: tuple[Finding, ...] = ()
    problems: tuple[FindingsProblem, ...] = ()
    why: str = ""  # when it did not run: missing, crashed, timed out
    seconds: float = 0.0
    output_tail: tuple[str, ...] = field(default_factory=tuple)


def find_tool(module: str, env: Mapping[str, str]) -> list[str] | None:
    """The argv prefix that runs ``module``: its script on PATH, else ``python -m``."""
    script = shutil.which(module, path=env.get("PATH", ""))
    if script is not None:
        return [script]
    try:
        import importlib.util

        if importlib.util.find_spec(module) is not None:
            return [sys.executable, "-m", module]
    except (ImportError, ValueError):
        pass
    return None


def run_tool(spec: ToolSpec, root: Path, env: Mapping[str, str], lines: LineCache) -> ToolRun:
    """Run one tool in ``root``; never raises for the tool's own failures."""
    prefix = find_tool(spec.module, env)
    if prefix is None:
        hint = spec.install or spec.module
        return ToolRun(spec, ran=False, why=f"{spec.name} is not installed (pip install {hint})")
    with tempfile.TemporaryDirectory(prefix=f"amoskys-{spec.name}-") as temp:
        report = Path(temp) / "report"
        argv = prefix + [a.replace("{report}", str(report)) for a in spec.args]
        output: list[str] = []
        started = time.monotonic()
        try:
            result = run_process(
                argv, cwd=root, env=dict(env), timeout=TOOL_TIMEOUT, on_line=output.append
            )
        except AmoskysError as err:
            return ToolRun(spec, ran=False, why=f"{spec.name} could not start: {err.message}")
        seconds = time.monotonic() - started
        tail = tuple(output[-20:])
        if result.timed_out:
            return ToolRun(spec, False, None, why=f"{spec.name} timed out", seconds=seconds)
        if result.exit_code not in spec.ok_codes:
            last = next((line for line in reversed(output) if line.strip()), "")
            why = f"{spec.name} crashed (exit code {result.exit_code}): {last[:200]}"
            return ToolRun(
                spec, False, result.exit_code, why=why, seconds=seconds, output_tail=tail
            )
        text = "\n".join(output)
        if spec.reads_report:
            text = report.read_text(encoding="utf-8") if report.exists() else ""
        collected = spec.collect(text, root, lines=lines)
    if result.exit_code != 0 and not collected.findings and not collected.problems:
        return ToolRun(
            spec,
            False,
            result.exit_code,
            why=f"{spec.name} failed (exit code {result.exit_code}) but reported nothing readable",
            seconds=seconds,
            output_tail=tail,
        )
    return ToolRun(
        spec,
        ran=True,
        exit_code=result.exit_code,
        findings=tuple(collected.findings),
        problems=tuple(collected.problems),
        seconds=seconds,
        output_tail=tail,
    )


def run_tools(
    specs: Sequence[ToolSpec], root: Path, env: Mapping[str, str] | None = None
) -> list[ToolRun]:
    """Run every tool at once; results in the order of ``specs``."""
    environ = dict(os.environ if env is None else env)
    lines = LineCache(root)
    if not specs:
        return []
    with ThreadPoolExecutor(max_workers=len(specs), thread_name_prefix="tool") as pool:
        return list(pool.map(lambda spec: run_tool(spec, root, environ, lines), specs))
