"""How flaky a test is, from its history: a score from 0 (never seen flaky) to 1.

A run of a test is evidence of flakiness when

* its outcome was ``flaky`` (it failed, then passed on a re-run in the same session), or
* it *flipped*: it passed where the previous run of the same inputs (commit and workflow) failed,
  or the other way round. Nothing changed, yet the verdict did: an order-dependent test, or one
  that fails too rarely to be caught by an immediate re-run, shows up this way.

The score is the share of runs that are evidence, weighted to recent runs (a run ``HALF_LIFE``
runs older counts half). A test that always passes or always fails scores 0, whatever the
number of runs; so does a test that failed on one commit and passed after the next one.
Skipped runs are not counted. Pure functions: the history in, the scores out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from amoskys.config_section import section
from amoskys.errors import Location

HALF_LIFE = 10.0
"""A run this many runs older than the newest counts half."""

_FAILED = frozenset({"failed", "error"})
_PASSED = frozenset({"passed"})


@dataclass(frozen=True)
class Attempt:
    """One run of one test, oldest first in a history."""

    run_id: int
    inputs: str  # what the code was: commit and workflow; equal inputs should give equal results
    outcome: str  # passed | failed | error | skipped | flaky


@dataclass(frozen=True)
class Flakiness:
    """A test's flakiness and the evidence for it."""

    test_id: str
    score: float  # 0..1
    runs: int  # runs counted (not skipped)
    flaky_runs: int  # runs whose outcome was "flaky"
    flips: int  # pass <-> fail changes between runs of the same inputs
    last_run: int | None  # the newest run that was evidence

    @property
    def flagged(self) -> bool:
        return self.score > 0


def score(test_id: str, history: Sequence[Attempt], *, half_life: float = HALF_LIFE) -> Flakiness:
    """The flakiness of one test from its history (oldest run first)."""
    counted = [a for a in history if a.outcome != "skipped"]
    last_state: dict[str, bool] = {}  # inputs -> passed in its latest run
    evidence: list[bool] = []
    flaky_runs = flips = 0
    last_run: int | None = None
    for attempt in counted:
        is_evidence = False
        if attempt.outcome == "flaky":
            flaky_runs += 1
            is_evidence = True
            state: bool | None = True
        elif attempt.outcome in _PASSED:
            state = True
        elif attempt.outcome in _FAILED:
            state = False
        else:
            state = None
        if state is not None and attempt.outcome != "flaky":
            before = last_state.get(attempt.inputs)
            if before is not None and before != state:
                flips += 1
                is_evidence = True
        if state is not None:
            last_state[attempt.inputs] = state
        if is_evidence:
            last_run = attempt.run_id
        evidence.append(is_evidence)
    total = weighted = 0.0
    newest = len(evidence) - 1
    for position, is_evidence in enumerate(evidence):
        weight = 0.5 ** ((newest - position) / half_life)
        total += weight
        weighted += weight if is_evidence else 0.0
    value = round(weighted / total, 4) if total else 0.0
    return Flakiness(test_id, value, len(counted), flaky_runs, flips, last_run)


def scores(
    histories: Mapping[str, Sequence[Attempt]], *, half_life: float = HALF_LIFE
) -> list[Flakiness]:
    """Every test's flakiness, flaky ones first (highest score first), then by test id."""
    found = [score(test_id, rows, half_life=half_life) for test_id, rows in histories.items()]
    found.sort(key=lambda f: (-f.score, f.test_id))
    return found


def flagged(found: Iterable[Flakiness], threshold: float = 0.0) -> list[Flakiness]:
    """The tests whose score is above ``threshold``."""
    return [f for f in found if f.score > threshold]


# -- [tool.amoskys.flaky] ---------------------------------------------------------------------


@dataclass(frozen=True)
class FlakyConfig:
    """``[tool.amoskys.flaky]``: re-runs of failed tests, and the quarantine."""

    reruns: int = 2  # a failed test is re-run up to this many times, right after it failed
    quarantine: bool = False  # flagged tests run, but their failures do not fail the gate
    threshold: float = 0.0  # a test whose score is above this is flagged
    history: int = 50  # runs of history the score is computed from
    #: re-runs stop once this many tests failed in one pytest process (0: no limit): a
    #: breakage failing thousands of tests must not run each of them ``reruns`` more times
    rerun_limit: int = 10


FLAKY_KEYS = ("reruns", "quarantine", "threshold", "history", "rerun-limit")
MAX_RERUNS = 10  # the probe's own bound too


def parse_flaky(value: Any, where: Location) -> FlakyConfig:
    """``[tool.amoskys.flaky]`` into a :class:`FlakyConfig`; a bad value is a ConfigError."""
    table = section(
        value,
        "flaky",
        where,
        keys=FLAKY_KEYS,
        hint="write [tool.amoskys.flaky] with reruns = 2, quarantine = false",
    )
    defaults = FlakyConfig()
    return FlakyConfig(
        reruns=table.whole(
            "reruns",
            defaults.reruns,
            valid=lambda n: 0 <= n <= MAX_RERUNS,
            what=f"a whole number from 0 to {MAX_RERUNS}",
            hint="e.g. reruns = 2 (0 turns re-runs off)",
        ),
        quarantine=table.flag("quarantine", defaults.quarantine),
        threshold=table.number(
            "threshold",
            defaults.threshold,
            valid=lambda x: 0 <= x < 1,
            what="a score from 0 to below 1",
            hint="a test whose flakiness score is above it is flagged; 0 flags any evidence",
        ),
        history=table.whole(
            "history",
            defaults.history,
            valid=lambda n: 2 <= n <= 10_000,
            what="a number of runs from 2 to 10000",
        ),
        rerun_limit=table.whole(
            "rerun-limit",
            defaults.rerun_limit,
            valid=lambda n: n >= 0,
            what="a whole number >= 0",
            hint="e.g. rerun-limit = 10: re-runs stop once 10 tests failed (0: no limit)",
        ),
    )
