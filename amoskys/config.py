"""``[tool.amoskys]`` in pyproject.toml: the project's settings for Amoskys.

Read once at the edge; everything downstream gets the frozen :class:`Config`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from amoskys.config_section import PYPROJECT, read_tool_table
from amoskys.errors import ConfigError, Location


@dataclass(frozen=True)
class Config:
    """The settings that exist so far; unknown sections are left for later stages."""

    runner_labels: tuple[str, ...] = ()  # [tool.amoskys.runners] labels = [...]
    pass_env: tuple[str, ...] = ()  # [tool.amoskys] pass-env = [...]
    pytest_probe: bool = True  # [tool.amoskys] pytest-probe = false leaves pytest alone
    raw: dict[str, Any] | None = None
    job_inputs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """``[tool.amoskys.jobs.<id>] inputs = [globs]``: the files a job reads (result cache)."""
    matrix_coverage: str = "first"
    """``[tool.amoskys] matrix-coverage``: which instances of a matrix job the pytest probe
    measures coverage in: ``"first"`` (the first instance runnable here) or ``"all"``."""


MATRIX_COVERAGE = ("first", "all")


def _string_list(value: Any, where: Location, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"{key} must be a list of strings, got {value!r}",
            location=where,
            hint=f'write {key} = ["..."]',
        )
    return tuple(value)


def load_config(root: Path) -> Config:
    """Read ``[tool.amoskys]`` from ``root/pyproject.toml``; defaults when absent."""
    if not (root / PYPROJECT).is_file():
        return Config()
    where = Location(PYPROJECT)
    section = read_tool_table(root)
    labels: tuple[str, ...] = ()
    runners = section.get("runners", {})
    if isinstance(runners, dict):
        labels = _string_list(runners.get("labels", []), where, "tool.amoskys.runners.labels")
    elif isinstance(runners, list):
        labels = _string_list(runners, where, "tool.amoskys.runners")
    else:
        raise ConfigError(
            "tool.amoskys.runners must be a table with labels = [...]",
            location=where,
            hint='write [tool.amoskys.runners] labels = ["self-hosted"]',
        )
    pass_env = _string_list(section.get("pass-env", []), where, "tool.amoskys.pass-env")
    probe = section.get("pytest-probe", True)
    if not isinstance(probe, bool):
        raise ConfigError(
            f"tool.amoskys.pytest-probe must be true or false, got {probe!r}", location=where
        )
    matrix_coverage = section.get("matrix-coverage", "first")
    if matrix_coverage not in MATRIX_COVERAGE:
        raise ConfigError(
            f'tool.amoskys.matrix-coverage must be "first" or "all", got {matrix_coverage!r}',
            location=where,
            hint='write matrix-coverage = "first" (one instance of each matrix job measures'
            ' coverage) or "all" (every instance does)',
        )
    return Config(
        runner_labels=labels,
        pass_env=pass_env,
        pytest_probe=probe,
        raw=section,
        job_inputs=_job_inputs(section.get("jobs", {}), where),
        matrix_coverage=matrix_coverage,
    )


def _job_inputs(jobs: Any, where: Location) -> dict[str, tuple[str, ...]]:
    """``[tool.amoskys.jobs.<id>] inputs``: GitHub path filter patterns, validated."""
    from amoskys.workflow.filters import pattern_problem

    example = '[tool.amoskys.jobs.test] inputs = ["src/**", "tests/**", "pyproject.toml"]'
    if not isinstance(jobs, dict):
        raise ConfigError(
            "tool.amoskys.jobs must be a table of job ids", location=where, hint=f"write {example}"
        )
    found: dict[str, tuple[str, ...]] = {}
    for job_id, settings in jobs.items():
        key = f"tool.amoskys.jobs.{job_id}"
        if not isinstance(settings, dict):
            raise ConfigError(f"{key} must be a table", location=where, hint=f"write {example}")
        if "inputs" not in settings:
            continue
        patterns = _string_list(settings["inputs"], where, f"{key}.inputs")
        if not patterns:
            raise ConfigError(
                f"{key}.inputs is empty: the job would read no file at all",
                location=where,
                hint=f"list the files it reads, e.g. {example}, or remove the key",
            )
        for pattern in patterns:
            problem = pattern_problem(pattern)
            if problem is not None:
                raise ConfigError(
                    f"{key}.inputs: {problem}",
                    location=where,
                    hint="patterns are GitHub path filters: *, **, ?, [a-z], ! to exclude",
                )
        found[str(job_id)] = patterns
    return found
