"""How a check's outcome leaves Amoskys: the human report, JSON, and ``$AMOSKYS_RESULTS``.

The human report groups findings by file with counts, lists suppressed ones separately (they
stay visible), then the verdict: every gate with pass or fail, the evidence and what to do.
``$AMOSKYS_RESULTS`` gets one JSON object per line (``type`` = finding, gate or metric),
appended the way steps append to ``$GITHUB_OUTPUT``; ``amoskys run`` stores them with the run.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from amoskys.checks.commands import CheckOutcome
from amoskys.findings.model import Finding
from amoskys.suppress import Judged

RESULTS_VARIABLE = "AMOSKYS_RESULTS"
TOP_PER_GATE = 5


def _where(finding: Finding) -> str:
    if finding.line is None:
        return ""
    if finding.column is None:
        return f"{finding.line}"
    return f"{finding.line}:{finding.column}"


def _line(judged: Judged) -> str:
    f = judged.finding
    where = _where(f)
    head = f"  {where:>8}  " if where else "  " + " " * 8 + "  "
    text = f"{head}{f.tool} {f.rule} [{f.severity.value}] {f.message}"
    if f.fix:
        text += f"  (fix: {f.fix})"
    if judged.suppression is not None:
        text += f"  [suppressed: {judged.suppression.reason}]"
    return text


def render_text(outcome: CheckOutcome) -> str:
    """The combined, readable report."""
    out: list[str] = [f"amoskys {outcome.command}"]
    for run in outcome.runs:
        state = f"{len(run.findings)} finding(s)" if run.ran else f"did not run: {run.why}"
        timing = f"{run.seconds:.1f}s"
        if run.ran and run.checked_files is not None:
            total = run.checked_files + run.cached_files
            timing += f", {run.cached_files} of {total} files from the cache"
        out.append(f"  {run.spec.name:<10} {state} ({timing})")
    by_file: dict[str, list[Judged]] = defaultdict(list)
    for judged in outcome.judged:
        by_file[judged.finding.file or "(project)"].append(judged)
    if by_file:
        out.append("")
    for file in sorted(by_file):
        items = sorted(by_file[file], key=lambda j: (j.finding.line or 0, j.finding.rule))
        live = sum(1 for j in items if not j.suppressed)
        out.append(
            f"{file}: {live} finding(s)"
            + (f", {len(items) - live} suppressed" if live < len(items) else "")
        )
        out.extend(_line(j) for j in items)
    if outcome.tests is not None:
        t = outcome.tests
        cover = "not measured" if t.coverage is None else f"{t.coverage:.1f}%"
        out.append("")
        out.append(
            f"tests: {t.passed} passed, {t.failed} failed, {t.errors} errors, "
            f"{t.skipped} skipped; coverage {cover}"
        )
        for test_id in t.flaky:
            out.append(f"  flaky: {test_id} (failed, then passed on a re-run)")
        for test_id, result in t.quarantined:
            out.append(f"  quarantined: {test_id} ({result}; not counted by the tests gate)")
    for note in outcome.notes:
        out.append(f"note: {note}")
    for problem in outcome.problems:
        out.append(f"warning: {problem}")
    out.append("")
    out.append("verdict: " + ("PASSED" if outcome.passed else "FAILED"))
    for gate in outcome.verdict.gates:
        mark = "pass" if gate.passed else "FAIL"
        out.append(f"  [{mark}] {gate.name:<16} {gate.evidence}")
        if not gate.passed:
            for finding in gate.counted[:TOP_PER_GATE]:
                place = f"{finding.file}:{_where(finding)}" if finding.file else "(project)"
                out.append(f"           {place} {finding.rule}: {finding.message[:120]}")
            if gate.hint:
                out.append(f"           how: {gate.hint}")
    return "\n".join(out)


def finding_json(judged: Judged) -> dict[str, Any]:
    f = judged.finding
    return {
        "tool": f.tool,
        "rule": f.rule,
        "severity": f.severity.value,
        "category": f.category.value,
        "message": f.message,
        "file": f.file,
        "line": f.line,
        "column": f.column,
        "fingerprint": f.fingerprint,
        "aliases": list(f.aliases),
        "fix": f.fix,
        "suppressed": judged.suppressed,
        "suppress_reason": judged.suppression.reason if judged.suppression else None,
    }


def outcome_json(outcome: CheckOutcome) -> dict[str, Any]:
    return {
        "schema": "amoskys.check/1",
        "command": outcome.command,
        "passed": outcome.passed,
        "tools": [
            {"name": r.spec.name, "ran": r.ran, "why": r.why, "findings": len(r.findings)}
            for r in outcome.runs
        ],
        "findings": [finding_json(j) for j in outcome.judged],
        "gates": [
            {"name": g.name, "passed": g.passed, "evidence": g.evidence, "hint": g.hint}
            for g in outcome.verdict.gates
        ],
        "tests": (
            None
            if outcome.tests is None
            else {
                "total": outcome.tests.total,
                "passed": outcome.tests.passed,
                "failed": outcome.tests.failed,
                "errors": outcome.tests.errors,
                "skipped": outcome.tests.skipped,
                "coverage": outcome.tests.coverage,
                "flaky": list(outcome.tests.flaky),
                "quarantined": [
                    {"test_id": test_id, "outcome": result}
                    for test_id, result in outcome.tests.quarantined
                ],
            }
        ),
        "notes": list(outcome.notes),
    }


def append_results(outcome: CheckOutcome, path: Path | None = None) -> Path | None:
    """Append the outcome to ``$AMOSKYS_RESULTS`` (JSON lines); nothing when it is unset."""
    target = path or (
        Path(os.environ[RESULTS_VARIABLE]) if os.environ.get(RESULTS_VARIABLE) else None
    )
    if target is None:
        return None
    lines = [
        json.dumps({"type": "finding", "command": outcome.command, **finding_json(j)})
        for j in outcome.judged
    ]
    lines += [
        json.dumps(
            {
                "type": "gate",
                "command": outcome.command,
                "name": g.name,
                "passed": g.passed,
                "evidence": g.evidence,
            }
        )
        for g in outcome.verdict.gates
    ]
    if outcome.tests is not None and outcome.tests.coverage is not None:
        lines.append(
            json.dumps(
                {
                    "type": "metric",
                    "name": "coverage.line",
                    "value": outcome.tests.coverage,
                    "unit": "%",
                }
            )
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in lines))
    return target
