"""Running the checkers: each tool is a process whose output a collector turns into findings.

Tools run in parallel (threads, each waiting on its own process through
:mod:`amoskys.run.process`). A tool that is not installed, or that crashes (an exit code
that does not mean "ran and found things"), is reported as such: never as clean.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from amoskys.checks.file_cache import FileResults, amoskys_stamp, digest, key_of, tool_stamp
from amoskys.checks.targets import config_text, tool_files, under
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
    targets: tuple[str, ...] = ()  # the paths it checks, after the options
    per_file: bool = False  # a file's findings depend on that file only: cacheable per file


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
    checked_files: int | None = None  # per-file tools: how many files the tool was given
    cached_files: int = 0  # per-file tools: files whose findings came from the cache


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
        argv += list(spec.targets)
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
    if result.exit_code != 0 and not collected.findings:
        # A failure exit without one finding: what it printed was an error (a config flake8
        # stops on exits 1 with a traceback), and output Amoskys could not read is no pass.
        unread = f": {collected.problems[0].message[:200]}" if collected.problems else ""
        return ToolRun(
            spec,
            False,
            result.exit_code,
            why=(
                f"{spec.name} failed (exit code {result.exit_code}) but reported nothing "
                f"readable{unread}"
            ),
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


@dataclass(frozen=True)
class FileCacheSetup:
    """How per-file tools use the result cache in this run."""

    folder: Path  # .amoskys/cache/lint
    files: tuple[str, ...]  # the candidates: the files git would push
    read: bool = True  # False (--no-cache): check every file, still store the results


def hash_files(root: Path, files: Iterable[str]) -> dict[str, str]:
    """Content hash of each readable file (unreadable ones are left out: always checked)."""
    hashes: dict[str, str] = {}
    for rel in files:
        try:
            hashes[rel] = digest((root / rel).read_bytes())
        except OSError:
            continue
    return hashes


@functools.lru_cache(maxsize=32)
def _stamps(prefix: tuple[str, ...]) -> str:
    return key_of(tool_stamp(prefix), amoskys_stamp())


def run_per_file(
    spec: ToolSpec, root: Path, env: Mapping[str, str], lines: LineCache, setup: FileCacheSetup
) -> ToolRun:
    """Run ``spec`` on the files whose cached findings are missing or stale, merge.

    The key is the tool's version stamp, its configuration and its options; a file's entry is
    its content hash. The tool is not started when every file is cached. Results are stored
    only from a run that went through (not missing, not crashed, every line of its output
    read) whose findings are all in the files it was given, for files unchanged meanwhile.
    """
    prefix = find_tool(spec.module, env)
    inside = under(setup.files, spec.targets)
    if prefix is None or inside is None:
        return run_tool(spec, root, env, lines)
    files = tool_files(spec.name, root, inside)
    key = key_of(spec.name, _stamps(tuple(prefix)), config_text(spec.name, root), *spec.args)
    store = FileResults(setup.folder, spec.name, key, read=setup.read)
    before = hash_files(root, files)
    cached: dict[str, list[Finding]] = {}
    misses: list[str] = []
    for rel in files:
        content = before.get(rel)
        found = store.get(rel, content) if content is not None else None
        if found is None:
            misses.append(rel)
        else:
            cached[rel] = found
    if not misses:
        merged = [f for rel in files for f in cached[rel]]
        return ToolRun(spec, True, findings=tuple(merged), checked_files=0, cached_files=len(files))
    run = run_tool(replace(spec, targets=tuple(misses)), root, env, lines)
    if not run.ran:
        return run
    fresh: dict[str | None, list[Finding]] = {}
    for finding in run.findings:
        fresh.setdefault(finding.file, []).append(finding)
    if not run.problems and set(fresh) <= set(misses):
        after = hash_files(root, misses)
        for rel in misses:
            if before.get(rel) is not None and after.get(rel) == before.get(rel):
                store.put(rel, before[rel], fresh.get(rel, []))
        store.save(root)
    merged = [f for rel in files for f in cached.get(rel, fresh.get(rel, []))]
    known = set(files)
    merged += [f for name, found in fresh.items() if name not in known for f in found]
    return replace(run, findings=tuple(merged), checked_files=len(misses), cached_files=len(cached))


def run_tools(
    specs: Sequence[ToolSpec],
    root: Path,
    env: Mapping[str, str] | None = None,
    *,
    cache: FileCacheSetup | None = None,
) -> list[ToolRun]:
    """Run every tool at once; results in the order of ``specs``.

    With ``cache``, tools marked ``per_file`` check only the files whose cached findings are
    stale (see :func:`run_per_file`).
    """
    environ = dict(os.environ if env is None else env)
    lines = LineCache(root)
    if not specs:
        return []

    def one(spec: ToolSpec) -> ToolRun:
        if cache is not None and spec.per_file:
            return run_per_file(spec, root, environ, lines, cache)
        return run_tool(spec, root, environ, lines)

    with ThreadPoolExecutor(max_workers=len(specs), thread_name_prefix="tool") as pool:
        return list(pool.map(one, specs))
