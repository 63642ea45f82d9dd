"""Flakiness scores read from the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

from amoskys_testing import stored_run

from amoskys.store.db import Store
from amoskys.store.records import TestCaseResult


def add_run(
    store: Store, sha: str, outcomes: dict[str, str], key: str = "test", reason: str = ""
) -> None:
    now = time.time()
    run_id = stored_run(store, sha=sha, started=now, actor="me", workflow_sha256="w")
    job = store.record_job(
        run_id,
        key=key,
        name=key,
        job_id="test",
        matrix={},
        runner="local",
        status="success",
        conclusion="success",
        reason=reason,
        started=now,
        finished=now,
    )
    store.add_test_results(
        job, [TestCaseResult(t, None, t, "", outcome, 0.01) for t, outcome in outcomes.items()]
    )


def test_scores_from_the_newest_runs(store: Store) -> None:
    add_run(store, "a", {"stable": "passed", "flip": "passed", "broken": "failed"})
    add_run(store, "a", {"stable": "passed", "flip": "failed", "broken": "failed"})
    add_run(store, "a", {"stable": "passed", "flip": "passed", "broken": "failed", "f": "flaky"})
    found = {f.test_id: f for f in store.flakiness()}
    assert set(found) == {"flip", "broken", "f"}  # never-failing tests are not even read
    assert found["flip"].flips == 2 and found["flip"].flagged
    assert found["f"].flaky_runs == 1 and found["f"].flagged
    assert found["broken"].score == 0
    assert [f.test_id for f in store.flakiness()][:2] == ["f", "flip"]  # highest first
    assert {f.test_id for f in store.flakiness(last_runs=1)} == {"broken", "f"}
    assert [f.test_id for f in store.flakiness(test_ids=["stable"])] == ["stable"]


def test_matrix_instances_and_commits_are_not_compared(store: Store) -> None:
    add_run(store, "a", {"t": "passed"}, key="test (3.11)")
    add_run(store, "a", {"t": "failed"}, key="test (3.12)")
    add_run(store, "b", {"t": "failed"}, key="test (3.11)")
    (found,) = store.flakiness()
    assert found.flips == 0 and found.score == 0


def test_a_job_served_from_the_result_cache_is_no_new_evidence(store: Store) -> None:
    add_run(store, "a", {"f": "flaky"})
    for _ in range(3):  # the same results, copied into runs that ran nothing
        add_run(store, "a", {"f": "flaky"}, reason="cached (run 1)")
    (found,) = store.flakiness()
    assert found.flaky_runs == 1
