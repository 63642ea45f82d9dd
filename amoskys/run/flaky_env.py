"""What a run tells the pytest probe about flaky tests: how often to re-run a failed test, and
which tests are quarantined (their failures alone do not fail the step).

The quarantine list comes from the history store: with ``[tool.amoskys.flaky] quarantine =
true``, every test whose flakiness score is above the threshold. It is written to a file the
probe reads (``AMOSKYS_QUARANTINE``), because a list of node ids can outgrow an environment
variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from amoskys.collect.flakiness import FlakyConfig, flagged

if TYPE_CHECKING:  # SQLAlchemy is not needed to tell the probe what to do
    from amoskys.store.db import Store
    from amoskys.store.records import TestCaseResult

ENV_RERUNS = "AMOSKYS_RERUNS"
ENV_RERUN_LIMIT = "AMOSKYS_RERUN_LIMIT"
ENV_QUARANTINE = "AMOSKYS_QUARANTINE"


def quarantined(store: Store | None, config: FlakyConfig) -> list[str]:
    """The test ids the quarantine holds now (none when it is off or there is no history)."""
    if not config.quarantine or store is None:
        return []
    found = store.flakiness(last_runs=config.history)
    return [f.test_id for f in flagged(found, config.threshold)]


def probe_environment(config: FlakyConfig, quarantine: list[str], folder: Path) -> dict[str, str]:
    """``AMOSKYS_RERUNS``, ``AMOSKYS_RERUN_LIMIT`` and, when some test is quarantined,
    ``AMOSKYS_QUARANTINE`` (the list is written to ``folder/quarantine.txt``)."""
    env = {ENV_RERUNS: str(config.reruns), ENV_RERUN_LIMIT: str(config.rerun_limit)}
    if quarantine:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "quarantine.txt"
        path.write_text("".join(f"{test_id}\n" for test_id in quarantine), encoding="utf-8")
        env[ENV_QUARANTINE] = str(path)
    return env


def quarantine_of_project(root: Path, config: FlakyConfig) -> list[str]:
    """:func:`quarantined` from the project's own history, when it has one (``amoskys test``
    reads it and never creates it)."""
    if not config.quarantine:
        return []
    from amoskys.store.db import DATABASE_FILE, URL_VARIABLE, open_store

    state = root / ".amoskys"
    if not os.environ.get(URL_VARIABLE) and not (state / DATABASE_FILE).is_file():
        return []
    store = open_store(state)
    try:
        return quarantined(store, config)
    finally:
        store.close()


def flaky_summary(
    results: Sequence[TestCaseResult], quarantine: Sequence[str], quarantine_on: bool
) -> dict[str, Any]:
    """The flaky and quarantined parts of a :class:`~amoskys.gates.TestSummary`: the tests
    flaky in this run, and the quarantined ones that ran (with quarantine on, the tests flaky
    in this run are quarantined too)."""
    held = set(quarantine)
    flaky = tuple(sorted({r.test_id for r in results if r.outcome == "flaky"}))
    if quarantine_on:
        held.update(flaky)
    quarantined = tuple(sorted({(r.test_id, r.outcome) for r in results if r.test_id in held}))
    return {"flaky": flaky, "quarantined": quarantined}
