"""Expected job durations read from the store (the scheduler's priorities), on SQLite and
PostgreSQL."""

from __future__ import annotations

from amoskys_testing import stored_run

from amoskys.store.db import Store


def add_job(
    store: Store, key: str, seconds: float, status: str = "success", reason: str = ""
) -> None:
    run_id = stored_run(store)
    store.record_job(
        run_id,
        key=key,
        name=key,
        job_id=key,
        matrix={},
        runner="local",
        status=status,
        conclusion=status,
        reason=reason,
        started=1000.0,
        finished=1000.0 + seconds,
    )


def test_the_median_of_the_newest_five_runs_that_ran_the_job(store: Store) -> None:
    for seconds in (100.0, 9.0, 10.0, 30.0, 11.0, 12.0):  # 100 s is older than the newest 5
        add_job(store, "ci.yml#tests", seconds)
    add_job(store, "ci.yml#tests", 0.1, reason="cached (run 3)")  # ran nothing
    add_job(store, "ci.yml#tests", 0.0, status="skipped")
    add_job(store, "ci.yml#tests", 2.0, status="cancelled")
    add_job(store, "ci.yml#lint", 4.0, status="failure")
    add_job(store, "ci.yml#slow", 60.0, status="timed_out")
    add_job(store, "other.yml#x", 5.0)
    found = store.recent_job_durations(["ci.yml#tests", "ci.yml#lint", "ci.yml#slow", "nope"])
    assert found == {"ci.yml#tests": 11.0, "ci.yml#lint": 4.0, "ci.yml#slow": 60.0}
    assert store.recent_job_durations([]) == {}


def test_only_the_newest_runs_are_read(store: Store) -> None:
    add_job(store, "ci.yml#old", 7.0)
    for _ in range(20):
        add_job(store, "ci.yml#new", 1.0)
    assert store.recent_job_durations(["ci.yml#old", "ci.yml#new"]) == {"ci.yml#new": 1.0}
