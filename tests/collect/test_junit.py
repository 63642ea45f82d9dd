"""JUnit XML parsing: pytest's output and common variants, node ids, unsafe and broken files;
and the test metrics summed from the results."""

from __future__ import annotations

from pathlib import Path

import pytest

from amoskys.collect import CollectWarning
from amoskys.collect import tests as collect_tests
from amoskys.collect.junit import MAX_MESSAGE_CHARS, derive_test_id, parse_junit
from amoskys.store import records
from amoskys.store.records import Metric

PYTEST_XUNIT2 = """<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests">
  <testsuite name="pytest" errors="1" failures="1" skipped="2" tests="7" time="0.50"
             timestamp="2024-05-01T10:00:00" hostname="box">
    <testcase classname="tests.test_x" name="test_ok" time="0.010" />
    <testcase classname="tests.test_x.TestA" name="test_b[1-2]" time="0.020" />
    <testcase classname="tests.test_x.TestA.TestInner" name="test_c" time="0.001" />
    <testcase classname="tests.test_x" name="test_bad" time="0.100">
      <failure message="AssertionError: assert 1 == 2&#10;second line">def test_bad():
&gt;       assert 1 == 2
E       assert 1 == 2</failure>
    </testcase>
    <testcase classname="tests.test_x" name="test_fixture" time="0.003">
      <error message="failed on setup with &quot;RuntimeError: boom&quot;"
        >RuntimeError: boom</error>
    </testcase>
    <testcase classname="tests.test_x" name="test_later" time="0.000">
      <skipped type="pytest.skip" message="not today">tests/test_x.py:30: not today</skipped>
    </testcase>
    <testcase classname="tests.test_x" name="test_xfail" time="0.002">
      <skipped type="pytest.xfail" message="known bug" />
    </testcase>
    <testcase classname="tests.test_x" name="test_both" time="0.004">
      <failure message="assert False">call failed</failure>
      <error message="teardown boom">teardown failed</error>
    </testcase>
  </testsuite>
</testsuites>
"""


def write(tmp_path: Path, text: str | bytes, name: str = "junit.xml") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def by_id(results: list[records.TestCaseResult]) -> dict[str, records.TestCaseResult]:
    return {result.test_id: result for result in results}


def test_pytest_xunit2_report(tmp_path: Path) -> None:
    results, warnings = parse_junit(write(tmp_path, PYTEST_XUNIT2))
    assert warnings == []
    got = by_id(results)
    assert list(got) == [
        "tests/test_x.py::test_ok",
        "tests/test_x.py::TestA::test_b[1-2]",
        "tests/test_x.py::TestA::TestInner::test_c",
        "tests/test_x.py::test_bad",
        "tests/test_x.py::test_fixture",
        "tests/test_x.py::test_later",
        "tests/test_x.py::test_xfail",
        "tests/test_x.py::test_both",
    ]
    assert {r.file for r in results} == {"tests/test_x.py"}
    assert [r.outcome for r in results] == [
        "passed",
        "passed",
        "passed",
        "failed",
        "error",
        "skipped",
        "skipped",
        "failed",
    ]
    ok = got["tests/test_x.py::TestA::test_b[1-2]"]
    assert (ok.name, ok.classname, ok.duration, ok.message) == (
        "test_b[1-2]",
        "tests.test_x.TestA",
        0.02,
        "",
    )
    bad = got["tests/test_x.py::test_bad"]
    assert bad.message.splitlines()[0] == "AssertionError: assert 1 == 2"
    assert "E       assert 1 == 2" in bad.message
    assert "second line" not in bad.message.splitlines()[0]
    assert got["tests/test_x.py::test_fixture"].message.startswith("failed on setup with")
    assert got["tests/test_x.py::test_later"].message == (
        "not today\ntests/test_x.py:30: not today"
    )
    assert got["tests/test_x.py::test_xfail"].message == "known bug"
    both = got["tests/test_x.py::test_both"].message
    assert "call failed" in both and "teardown failed" in both


def test_testsuite_root_with_file_and_line_attributes(tmp_path: Path) -> None:
    text = """<testsuite name="pytest" tests="2">
      <testcase classname="tests.sub.test_y.TestK" name="test_a" file="tests/sub/test_y.py"
                line="12" time="1.5"/>
      <testcase classname="prefix.tests.sub.test_y" name="test_b" file=".\\tests\\sub\\test_y.py"
                line="20" time="0"/>
    </testsuite>"""
    results, warnings = parse_junit(write(tmp_path, text))
    assert warnings == []
    assert [(r.test_id, r.file, r.duration) for r in results] == [
        ("tests/sub/test_y.py::TestK::test_a", "tests/sub/test_y.py", 1.5),
        ("tests/sub/test_y.py::test_b", "tests/sub/test_y.py", 0.0),
    ]


def test_nested_suites_non_python_and_suite_file(tmp_path: Path) -> None:
    text = """<testsuites>
      <testsuite name="outer">
        <testsuite name="com.example.FooTest">
          <testcase classname="com.example.FooTest" name="adds" time="0.25"/>
          <testcase name="bare" time="oops"/>
        </testsuite>
        <testsuite name="ui" file="src/app.test.js">
          <testcase classname="App renders" name="shows title" time="1,250.5"/>
        </testsuite>
      </testsuite>
    </testsuites>"""
    results, warnings = parse_junit(write(tmp_path, text))
    assert warnings == []
    assert [(r.test_id, r.file, r.duration) for r in results] == [
        ("com.example.FooTest::adds", None, 0.25),
        ("bare", None, 0.0),
        ("src/app.test.js::App renders::shows title", "src/app.test.js", 1250.5),
    ]


def test_pytest_collection_error_maps_to_the_module(tmp_path: Path) -> None:
    text = """<testsuites><testsuite name="pytest">
      <testcase classname="" name="tests.test_broken" time="0.000">
        <error message="collection failure">ImportError: no module named nope</error>
      </testcase></testsuite></testsuites>"""
    results, _ = parse_junit(write(tmp_path, text))
    assert [(r.test_id, r.file, r.outcome) for r in results] == [
        ("tests/test_broken.py", "tests/test_broken.py", "error")
    ]


@pytest.mark.parametrize(
    ("classname", "name", "expected"),
    [
        ("tests.test_x.TestA", "test_b", ("tests/test_x.py", "tests/test_x.py::TestA::test_b")),
        ("test_x", "test_b[a.b-c]", ("test_x.py", "test_x.py::test_b[a.b-c]")),
        (
            "pkg.checks_test.Test",
            "test_b",
            ("pkg/checks_test.py", "pkg/checks_test.py::Test::test_b"),
        ),
        ("Tests.Unit.test_x", "test_b", ("Tests/Unit/test_x.py", "Tests/Unit/test_x.py::test_b")),
        ("conftest", "test_b", ("conftest.py", "conftest.py::test_b")),
        ("amoskys.plan", "amoskys.plan.plan_jobs", (None, "amoskys.plan::amoskys.plan.plan_jobs")),
        ("com.example.FooTest", "adds", (None, "com.example.FooTest::adds")),
        ("", "lonely", (None, "lonely")),
    ],
)
def test_derive_without_root(classname: str, name: str, expected: tuple[str | None, str]) -> None:
    assert derive_test_id(classname, name, None) == expected


def test_derive_with_root_checks_real_files(tmp_path: Path) -> None:
    (tmp_path / "amoskys").mkdir()
    (tmp_path / "amoskys" / "plan.py").write_text("")
    (tmp_path / "Checks").mkdir()
    (tmp_path / "Checks" / "Smoke.py").write_text("")
    assert derive_test_id("amoskys.plan", "amoskys.plan.plan_jobs", None, tmp_path) == (
        "amoskys/plan.py",
        "amoskys/plan.py::amoskys.plan.plan_jobs",
    )
    assert derive_test_id("Checks.Smoke.TestA", "test_b", None, tmp_path) == (
        "Checks/Smoke.py",
        "Checks/Smoke.py::TestA::test_b",
    )
    # pytest ran in a subfolder of root: the heuristic still gives the node id
    assert derive_test_id("tests.test_x", "test_b", None, tmp_path) == (
        "tests/test_x.py",
        "tests/test_x.py::test_b",
    )


def test_results_from_the_report_use_root(tmp_path: Path) -> None:
    (tmp_path / "amoskys").mkdir()
    (tmp_path / "amoskys" / "plan.py").write_text("")
    text = """<testsuite name="pytest">
      <testcase classname="amoskys.plan" name="amoskys.plan.plan_jobs" time="0.1"/></testsuite>"""
    results, _ = parse_junit(write(tmp_path, text), root=tmp_path)
    assert results[0].test_id == "amoskys/plan.py::amoskys.plan.plan_jobs"


def test_mask_and_cut_messages(tmp_path: Path) -> None:
    long = "x" * (MAX_MESSAGE_CHARS * 2)
    text = f"""<testsuite><testcase classname="tests.test_s" name="test_t">
      <failure message="token hunter2 leaked">{long}</failure></testcase></testsuite>"""
    results, _ = parse_junit(write(tmp_path, text), mask=lambda s: s.replace("hunter2", "***"))
    message = results[0].message
    assert message.startswith("token *** leaked\n")
    assert "hunter2" not in message
    assert len(message) < MAX_MESSAGE_CHARS + 100
    assert message.endswith("(cut)")


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<testsuite><testcase classname="t" name="&lol3;"/></testsuite>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE testsuite [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<testsuite><testcase classname="t" name="&secret;"/></testsuite>
"""


@pytest.mark.parametrize("text", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_dtds_and_entities_are_refused(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    results, warnings = parse_junit(path)
    assert results == []
    assert len(warnings) == 1
    assert warnings[0].path == path
    assert "refused" in warnings[0].message


def test_undeclared_entity_is_an_error_not_a_lookup(tmp_path: Path) -> None:
    results, warnings = parse_junit(
        write(tmp_path, '<testsuite><testcase classname="t" name="&nope;"/></testsuite>')
    )
    assert results == [] and "not well-formed" in warnings[0].message


def test_external_doctype_without_subset_is_allowed(tmp_path: Path) -> None:
    text = """<?xml version="1.0"?>
<!DOCTYPE testsuite SYSTEM "http://example.invalid/junit.dtd">
<testsuite><testcase classname="tests.test_d" name="test_e"/></testsuite>"""
    results, warnings = parse_junit(write(tmp_path, text))
    assert warnings == [] and [r.test_id for r in results] == ["tests/test_d.py::test_e"]


def test_truncated_report_keeps_what_was_read(tmp_path: Path) -> None:
    cut = PYTEST_XUNIT2[: PYTEST_XUNIT2.index('name="test_fixture"')]
    results, warnings = parse_junit(write(tmp_path, cut))
    assert [r.name for r in results] == ["test_ok", "test_b[1-2]", "test_c", "test_bad"]
    assert len(warnings) == 1
    assert "not well-formed" in warnings[0].message and "kept the 4" in warnings[0].message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty file"),
        (b"\x00\x01\x02 garbage \xff", "not well-formed"),
        (b"<project><testcase name='x'/></project>", "not a JUnit report"),
        (b"<testsuite><testcase", "not well-formed"),
    ],
)
def test_broken_files_give_warnings(tmp_path: Path, content: bytes, expected: str) -> None:
    results, warnings = parse_junit(write(tmp_path, content))
    assert results == []
    assert len(warnings) == 1 and expected in warnings[0].message


def test_missing_file_gives_a_warning(tmp_path: Path) -> None:
    results, warnings = parse_junit(tmp_path / "nope.xml")
    assert results == [] and "cannot read" in warnings[0].message
    assert isinstance(warnings[0], CollectWarning)
    assert str(warnings[0]).startswith(str(tmp_path / "nope.xml"))


def test_utf16_and_namespaced_reports(tmp_path: Path) -> None:
    text = (
        '<?xml version="1.0" encoding="UTF-16"?>\n'
        '<j:testsuites xmlns:j="urn:x"><j:testsuite name="pytest">'
        '<j:testcase classname="tests.test_u" name="test_ü" time="2">'
        '<j:skipped message="später"/></j:testcase></j:testsuite></j:testsuites>'
    )
    results, warnings = parse_junit(write(tmp_path, text.encode("utf-16")))
    assert warnings == []
    assert [(r.test_id, r.outcome, r.message) for r in results] == [
        ("tests/test_u.py::test_ü", "skipped", "später")
    ]


def test_many_cases_stream(tmp_path: Path) -> None:
    cases = "".join(
        f'<testcase classname="tests.test_big" name="test_{i}" time="0.001"/>' for i in range(20000)
    )
    results, warnings = parse_junit(write(tmp_path, f"<testsuite>{cases}</testsuite>"))
    assert warnings == [] and len(results) == 20000


def test_test_metrics() -> None:
    results = [
        records.TestCaseResult("a", None, "a", "", "passed", 1.0),
        records.TestCaseResult("b", None, "b", "", "passed", 0.5),
        records.TestCaseResult("c", None, "c", "", "failed", 0.25),
        records.TestCaseResult("d", None, "d", "", "error", 0.0),
        records.TestCaseResult("e", None, "e", "", "skipped", 0.0),
        records.TestCaseResult("f", None, "f", "", "weird", 0.125),
    ]
    assert collect_tests.test_metrics(results) == [
        Metric("tests.total", 6.0, "count"),
        Metric("tests.passed", 2.0, "count"),
        Metric("tests.failed", 1.0, "count"),
        Metric("tests.error", 1.0, "count"),
        Metric("tests.skipped", 1.0, "count"),
        Metric("tests.duration", 1.875, "s"),
    ]
    assert collect_tests.test_metrics([])[0] == Metric("tests.total", 0.0, "count")


def test_metrics_from_a_parsed_report(tmp_path: Path) -> None:
    results, _ = parse_junit(write(tmp_path, PYTEST_XUNIT2))
    metrics = {m.name: m.value for m in collect_tests.test_metrics(results)}
    assert metrics == {
        "tests.total": 8,
        "tests.passed": 3,
        "tests.failed": 2,
        "tests.error": 1,
        "tests.skipped": 2,
        "tests.duration": pytest.approx(0.14),
    }
