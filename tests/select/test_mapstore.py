"""Test maps in the history store (SQLite and a real PostgreSQL), found along ``git rev-list``."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from amoskys_testing import git, stored_run

from amoskys.select.mapstore import (
    candidate_commits,
    dirty_texts,
    head_commit,
    latest_map,
    merge_raw,
    save_map,
)
from amoskys.select.testmap import TestMap, TestRecord, Unit
from amoskys.store.db import Store, open_store
from amoskys.store.records import TestCaseResult

_spec = importlib.util.spec_from_file_location(
    "amoskys_store_conftest", Path(__file__).resolve().parents[1] / "store" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_store_conftest = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _store_conftest  # dataclasses look their module up
_spec.loader.exec_module(_store_conftest)
postgres_server = _store_conftest.postgres_server
postgres_url = _store_conftest.postgres_url

PY = "3.11.7 /usr/bin/python"


@pytest.fixture(params=["sqlite", "postgres"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    monkeypatch.delenv("AMOSKYS_DATABASE_URL", raising=False)
    url = None if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))
    opened = open_store(tmp_path / "state", url)
    try:
        yield opened
    finally:
        opened.close()


def a_map(commit: str, interpreter: str = PY, tests: int = 2, **more: Any) -> TestMap:
    units = (Unit("pkg/mod.py", "add", 1, 2, frozenset({"MAX"})),)
    records = {
        f"tests/test_a.py::t{n}": TestRecord(
            f"tests/test_a.py::t{n}", "tests/test_a.py", frozenset({0})
        )
        for n in range(tests)
    }
    return TestMap(commit, interpreter, 1.0, units, records, **more)


def test_the_newest_commit_with_a_map_wins_and_a_new_map_replaces_the_old(store: Store) -> None:
    save_map(store, a_map("c1", tests=1))
    save_map(store, a_map("c3", tests=3))
    found = store.latest_test_map(["c4", "c3", "c2", "c1"], PY)
    assert found is not None and (found.commit, found.tests) == ("c3", 3)
    save_map(store, a_map("c3", tests=5, dirty={"pkg/mod.py": "x = 1\n"}))
    found = store.latest_test_map(["c3"], PY)
    assert found is not None and found.tests == 5
    assert store.latest_test_map(["c9"], PY) is None


def test_the_same_interpreter_is_preferred_then_any(store: Store) -> None:
    other = "3.12.1 /opt/python3.12"
    save_map(store, a_map("c2", other))
    save_map(store, a_map("c1", PY))
    found = store.latest_test_map(["c2", "c1"], PY)
    assert found is not None and found.commit == "c1"
    found = store.latest_test_map(["c2"], PY)  # none of ours: the other one tells "changed"
    assert found is not None and found.interpreter == other


def test_many_candidate_commits_are_asked_in_chunks(store: Store) -> None:
    commits = [f"c{n}" for n in range(1200)]
    save_map(store, a_map("c1100"))
    found = store.latest_test_map(commits, PY)
    assert found is not None and found.commit == "c1100"


def test_maps_follow_the_branch_that_is_checked_out(
    make_repo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AMOSKYS_DATABASE_URL", raising=False)
    root = make_repo({"pkg/mod.py": "X = 1\n"})
    first = head_commit(root)
    assert first is not None
    git(root, "checkout", "-q", "-b", "topic")
    (root / "pkg" / "mod.py").write_text("X = 2\n")
    git(root, "commit", "-qam", "topic")
    topic = head_commit(root)
    assert topic is not None and candidate_commits(root) == [topic, first]
    with open_store(tmp_path / "state") as store:
        save_map(store, a_map(first, dirty={"pkg/mod.py": "X = 0\n"}))
        save_map(store, a_map(topic, tests=4))
        found = latest_map(store, root, PY)
        assert found is not None and found.commit == topic and len(found.tests) == 4
        git(root, "checkout", "-q", "main")
        found = latest_map(store, root, PY)
        assert found is not None and found.commit == first
        assert found.dirty == {"pkg/mod.py": "X = 0\n"}
        assert found.units[0].names == frozenset({"MAX"})


def test_dirty_texts_are_what_differs_from_the_commit(make_repo: Any) -> None:
    root = make_repo({"pkg/mod.py": "X = 1\n", "keep.py": "Y = 1\n"})
    commit = head_commit(root)
    assert commit is not None
    (root / "pkg" / "mod.py").write_text("X = 2\n")
    (root / "new.py").write_text("Z = 1\n")
    assert dirty_texts(root, commit) == {"pkg/mod.py": "X = 2\n", "new.py": "Z = 1\n"}


def test_outside_git_there_is_no_commit(tmp_path: Path) -> None:
    assert head_commit(tmp_path) is None and candidate_commits(tmp_path) == []


def test_raw_files_of_several_processes_merge_into_one_map() -> None:
    first = {
        "units": [["pkg/a.py", "f", 1, 3, ["X"]], ["pkg/a.py", "g", 5, 6, []]],
        "tests": [["t.py::a", "t.py", [0], 0.5, "passed"]],
        "import_units": [1],
        "import_sites": [[1, ["pkg/a.py"]]],
    }
    second = {
        "units": [["pkg/a.py", "g", 5, 6, []], ["pkg/b.py", "h", 1, 2, []]],
        "tests": [["t.py::b", "t.py", [0, 1], 0.25, "failed", 1]],
        "import_units": [1],
        "import_sites": [[1, ["pkg/c.py"]]],
    }
    m = merge_raw([first, second], commit="c", interpreter=PY, created=2.0, dirty={"a": "b"})
    assert [(u.path, u.qualname) for u in m.units] == [
        ("pkg/a.py", "f"),
        ("pkg/a.py", "g"),
        ("pkg/b.py", "h"),
    ]
    assert m.tests["t.py::a"].units == frozenset({0})
    assert m.tests["t.py::b"].units == frozenset({1, 2}) and m.tests["t.py::b"].outcome == "failed"
    assert m.import_units == frozenset({1, 2}) and m.units[0].names == frozenset({"X"})
    assert m.import_sites == {1: frozenset({"pkg/a.py"}), 2: frozenset({"pkg/c.py"})}
    assert m.tests["t.py::b"].spawned and not m.tests["t.py::a"].spawned
    assert m.dirty == {"a": "b"} and m.commit == "c"


def test_recent_failures_come_from_stored_runs_newest_first(store: Store) -> None:
    """Those whose latest result failed: one that passed since is no longer failing."""

    def run_with(started: float, outcomes: dict[str, str]) -> None:
        run_id = stored_run(store, started=started)
        job = store.start_job(
            run_id, key="t", name="t", job_id="t", matrix={}, runner="local", started=started
        )
        store.add_test_results(
            job,
            [
                TestCaseResult(nodeid, "t.py", nodeid, "t", outcome, 0.1)
                for nodeid, outcome in outcomes.items()
            ],
        )

    now = time.time()
    run_with(now - 30 * 86_400, {"t.py::ancient": "failed"})
    run_with(now - 600, {"t.py::older": "failed", "t.py::fine": "passed", "t.py::fixed": "error"})
    run_with(now - 60, {"t.py::newer": "error", "t.py::fixed": "passed", "t.py::fine": "failed"})
    run_with(now - 30, {"t.py::fine": "passed"})  # passed since: no longer failing
    assert store.recent_test_failures(days=14) == ["t.py::newer", "t.py::older"]
    assert store.recent_test_failures(days=14, limit=1) == ["t.py::newer"]


def test_the_quick_reader_answers_as_the_store_does_on_a_current_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without SQLAlchemy (a third of a second of imports): same map, same failures."""
    import sqlite3

    from amoskys.store.quick import open_quick

    monkeypatch.delenv("AMOSKYS_DATABASE_URL", raising=False)
    state = tmp_path / "state"
    assert open_quick(state) is None  # no database yet: the store creates it
    store = open_store(state)
    other = "3.12.1 /opt/python3.12"
    save_map(store, a_map("c2", other, tests=2))
    save_map(store, a_map("c1", PY, tests=4))
    save_map(store, a_map("c0", PY, tests=1))
    run_id = stored_run(store, started=time.time() - 60)
    job = store.start_job(
        run_id, key="t", name="t", job_id="t", matrix={}, runner="local", started=time.time()
    )
    store.add_test_results(
        job,
        [
            TestCaseResult("t.py::bad", "t.py", "t.py::bad", "bad", "failed", 0.1),
            TestCaseResult("t.py::ok", "t.py", "t.py::ok", "ok", "passed", 0.1),
            TestCaseResult("t.py::fixed", "t.py", "t.py::fixed", "fixed", "error", 0.1),
        ],
    )
    later = stored_run(store, started=time.time() - 30)
    job = store.start_job(
        later, key="t", name="t", job_id="t", matrix={}, runner="local", started=time.time()
    )
    store.add_test_results(
        job, [TestCaseResult("t.py::fixed", "t.py", "t.py::fixed", "fixed", "passed", 0.1)]
    )
    commits = [f"x{n}" for n in range(700)] + ["c2", "c1", "c0"]
    reader = open_quick(state)
    assert reader is not None
    try:
        for interpreter in (PY, other, "3.13.0 /nowhere"):
            assert reader.latest_test_map(commits, interpreter) == store.latest_test_map(
                commits, interpreter
            )
        assert reader.latest_test_map(["x1"], PY) is None
        assert reader.recent_test_failures() == store.recent_test_failures() == ["t.py::bad"]
    finally:
        reader.close()
        store.close()

    with sqlite3.connect(state / "amoskys.db") as connection:  # another schema revision
        connection.execute("UPDATE alembic_version SET version_num = 'elsewhere'")
    connection.close()
    assert open_quick(state) is None
    monkeypatch.setenv("AMOSKYS_DATABASE_URL", "postgresql://nowhere/db")
    assert open_quick(state) is None


@pytest.mark.parametrize(
    "raw",
    [
        {"format": 1, "units": [["pkg/a.py", "f", 1]], "tests": []},  # a unit row cut short
        {"format": 1, "units": [], "tests": [["t.py::a", "t.py", [3], 0.1, "passed"]]},
        {"format": 1, "units": "not a list", "tests": []},
        {"format": 1, "units": [], "tests": [["t.py::a", "t.py", [], "slow", "passed"]]},
    ],
)
def test_a_damaged_raw_map_is_refused_not_a_traceback(
    raw: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from amoskys.errors import AmoskysError
    from amoskys.select.runner import record_map
    from amoskys.select.testmap import MapFormatError

    with pytest.raises(MapFormatError, match="raw map file is malformed"):
        merge_raw([raw], commit="c", interpreter=PY, created=1.0, dirty={})
    monkeypatch.delenv("AMOSKYS_DATABASE_URL", raising=False)
    folder = tmp_path / "raw"
    folder.mkdir()
    (folder / "map-1.json").write_text(json.dumps(raw))
    store = open_store(tmp_path / "state")
    try:
        with pytest.raises(AmoskysError, match="the test map was not recorded") as caught:
            record_map(store, folder, commit="c", interpreter=PY, dirty={})
        assert caught.value.hint and "next full run" in caught.value.hint
        assert store.latest_test_map(["c"], PY) is None
    finally:
        store.close()
