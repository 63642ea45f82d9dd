"""The test map model and its compact JSON form."""

from __future__ import annotations

import json

import pytest

from amoskys.select.testmap import (
    MapFormatError,
    TestMap,
    TestRecord,
    Unit,
    map_from_json,
    map_to_json,
)


def _sample() -> TestMap:
    units = (
        Unit("src/pkg/core.py", "parse", 4, 9, frozenset({"split", "MAX"})),
        Unit("src/pkg/core.py", "Box.area", 15, 16, frozenset({"size"})),
        Unit("src/pkg/util.py", "outer.<locals>.inner", 3, 4, frozenset()),
    )
    tests = {
        "tests/test_a.py::test_one[1]": TestRecord(
            "tests/test_a.py::test_one[1]", "tests/test_a.py", frozenset({0, 1}), 0.25, "passed"
        ),
        "tests/test_a.py::test_one[2]": TestRecord(
            "tests/test_a.py::test_one[2]", "tests/test_a.py", frozenset({0, 1}), 0.5, "failed"
        ),
        "tests/test_b.py::TestX::test_two": TestRecord(
            "tests/test_b.py::TestX::test_two", "tests/test_b.py", frozenset({2}), 1.0, "skipped"
        ),
        "tests/test_b.py::test_odd": TestRecord(
            "tests/test_b.py::test_odd", "tests/test_b.py", frozenset(), 0.0, "xfailed", True
        ),
    }
    return TestMap(
        commit="a" * 40,
        interpreter="3.12.4 /usr/bin/python3.12",
        created=1_700_000_000.5,
        units=units,
        tests=tests,
        dirty={"src/pkg/core.py": "MAX = 5\n", "src/pkg/ünï.py": "X = 'ß'\n"},
        import_units=frozenset({2}),
        import_sites={2: frozenset({"tests/test_a.py", "src/pkg/conftest_like.py"})},
        module_names={"tests/test_a.py": frozenset({"MAX", "pytest"})},
        installed="5e1f" * 16,
    )


def test_round_trip_keeps_everything() -> None:
    m = _sample()
    back = map_from_json(map_to_json(m))
    assert back == m
    assert list(back.tests) == list(m.tests)  # the order of the run is kept
    assert back.tests["tests/test_b.py::test_odd"].outcome == "xfailed"
    assert back.dirty["src/pkg/ünï.py"] == "X = 'ß'\n"
    assert back.import_units == {2}
    assert back.import_sites == {2: {"tests/test_a.py", "src/pkg/conftest_like.py"}}
    assert back.module_names == {"tests/test_a.py": {"MAX", "pytest"}}
    assert back.installed == "5e1f" * 16
    assert back.tests["tests/test_b.py::test_odd"].spawned is True
    assert back.tests["tests/test_a.py::test_one[1]"].spawned is False


def test_records_are_real_frozen_dataclasses() -> None:
    record = map_from_json(map_to_json(_sample())).tests["tests/test_a.py::test_one[1]"]
    assert isinstance(record, TestRecord)
    assert record == _sample().tests["tests/test_a.py::test_one[1]"]
    with pytest.raises(AttributeError):
        record.duration = 2.0  # type: ignore[misc]
    assert hash(record.units) == hash(frozenset({0, 1}))


def test_layout_is_compact() -> None:
    doc = json.loads(map_to_json(_sample()))
    assert doc["paths"] == [
        "src/pkg/core.py",
        "src/pkg/util.py",
        "tests/test_a.py",
        "tests/test_b.py",
        "src/pkg/conftest_like.py",
    ]
    # the two parametrised variants share one unit set, stored once
    assert doc["sets"] == [[0, 1], [2], []]
    assert doc["format"] == 2
    # by column: one string of node ids, flat lists, outcome ids (a name when not standard)
    assert doc["nodeids"].split("\n") == list(_sample().tests)
    assert doc["test_sets"] == [0, 0, 1, 2] and doc["test_paths"] == [2, 2, 3, 3]
    assert doc["durations"] == [0.25, 0.5, 1.0, 0.0]
    assert doc["outcomes"] == [0, 1, 2, "xfailed"] and doc["spawned"] == [3]
    assert sorted(doc["names"]) == ["MAX", "pytest", "size", "split"]


def test_usual_outcomes_are_one_digit_each_and_odd_node_ids_survive() -> None:
    m = _sample()
    odd = "tests/test_b.py::test_odd"
    record = TestRecord("tests/test_c.py::t[a\nb]", "tests/test_c.py", frozenset(), 0.1)
    tests = {n: r for n, r in m.tests.items() if n != odd} | {record.nodeid: record}
    usual = TestMap(m.commit, m.interpreter, m.created, m.units, tests)
    doc = json.loads(map_to_json(usual))
    assert doc["outcomes"] == "0120"
    assert isinstance(doc["nodeids"], list)  # a newline inside an id: a list, not joined
    assert map_from_json(map_to_json(usual)) == usual


def test_maps_stored_in_format_1_are_still_read() -> None:
    """Maps already in a store (row per test) keep working until a full run replaces them."""
    m = _sample()
    doc = json.loads(map_to_json(m))
    rows = []
    for number, nodeid in enumerate(doc.pop("nodeids").split("\n")):
        outcome = doc["outcomes"][number]
        row = [nodeid, doc["test_paths"][number], doc["test_sets"][number]]
        row += [doc["durations"][number], outcome]
        rows.append(row + [1] if number in doc["spawned"] else row)
    for key in ("test_paths", "test_sets", "durations", "outcomes", "spawned"):
        del doc[key]
    old = json.dumps({**doc, "format": 1, "tests": rows})
    assert map_from_json(old) == m


def test_shared_unit_sets_are_shared_after_loading() -> None:
    back = map_from_json(map_to_json(_sample()))
    one = back.tests["tests/test_a.py::test_one[1]"].units
    two = back.tests["tests/test_a.py::test_one[2]"].units
    assert one is two


def test_empty_map() -> None:
    m = TestMap("b" * 40, "3.11.7 /usr/bin/python3", 0.0, (), {})
    assert map_from_json(map_to_json(m)) == m


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[]",
        b'{"format": 99}',
        b'{"format": 1, "paths": []}',
        b'{"format": 1, "commit": "a", "interpreter": "x", "created": 0, "paths": [],'
        b' "names": [], "units": [], "sets": [], "tests": [["t", 5, 0, 0, 0]]}',
        b'{"format": 2, "commit": "a", "interpreter": "x", "created": 0, "paths": ["p"],'
        b' "names": [], "units": [], "sets": [[]], "nodeids": "a\\nb", "test_paths": [0],'
        b' "test_sets": [0, 0], "durations": [0, 0], "outcomes": "00", "spawned": []}',
        b'{"format": 2, "commit": "a", "interpreter": "x", "created": 0, "paths": ["p"],'
        b' "names": [], "units": [], "sets": [[]], "nodeids": "a", "test_paths": [0],'
        b' "test_sets": [0], "durations": [0], "outcomes": "7", "spawned": []}',
    ],
)
def test_anything_else_is_a_format_error(data: bytes) -> None:
    with pytest.raises(MapFormatError):
        map_from_json(data)
