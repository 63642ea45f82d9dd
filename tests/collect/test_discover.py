"""Finding reports in a workspace (names, content sniffing, skips, bounds) and in the probe's
report folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from amoskys.collect import discover
from amoskys.collect.discover import find_probe_reports, find_reports, sniff_junit

SUITE = '<?xml version="1.0"?>\n<!-- made by a tool -->\n<testsuites><testsuite/></testsuites>'


def make(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def names(root: Path, found: list[Path]) -> list[str]:
    return [path.relative_to(root).as_posix() for path in found]


def test_finds_reports_by_name_and_content(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "junit.xml": "<x/>",
            "reports/junit-py311.xml": "<x/>",
            "reports/TEST-com.example.FooTest.xml": "<x/>",
            "reports/unit-Test-Results.xml": "<x/>",
            "build/custom.xml": SUITE,
            "build/single.xml": "<testsuite name='x'/>",
            "build/pom.xml": "<project/>",
            "build/test-data.xml": "<testsuite/>",  # by content, not by name
            "coverage.xml": "<coverage/>",
            "coverage.json": "{}",
            ".coverage": "",
            "sub/coverage.json": "{}",
            "notes.txt": "junit",
            "test-results.json": "{}",
        },
    )
    assert names(tmp_path, find_reports(tmp_path)) == [
        ".coverage",
        "coverage.json",
        "coverage.xml",
        "junit.xml",
        "build/custom.xml",
        "build/single.xml",
        "build/test-data.xml",
        "reports/TEST-com.example.FooTest.xml",
        "reports/junit-py311.xml",
        "reports/unit-Test-Results.xml",
        "sub/coverage.json",
    ]


def test_skips_tool_folders_and_virtualenvs(tmp_path: Path) -> None:
    skipped = [
        ".git",
        ".venv",
        "venv",
        "node_modules",
        ".tox",
        ".nox",
        "lib/site-packages",
        "__pycache__",
        ".amoskys",
    ]
    make(tmp_path, {f"{folder}/junit.xml": "<testsuite/>" for folder in skipped})
    make(tmp_path, {"env311/pyvenv.cfg": "home = /usr", "env311/junit.xml": "<testsuite/>"})
    make(tmp_path, {"kept/junit.xml": "<testsuite/>"})
    assert names(tmp_path, find_reports(tmp_path)) == ["kept/junit.xml"]


def test_depth_is_bounded(tmp_path: Path) -> None:
    deep = tmp_path
    for level in range(1, 9):
        deep = deep / f"d{level}"
        make(deep, {"junit.xml": "<testsuite/>"})
    found = names(tmp_path, find_reports(tmp_path))
    assert len(found) == discover.MAX_DEPTH  # d1 .. d6 hold reachable files
    assert found[-1].count("/") == discover.MAX_DEPTH


def test_entries_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discover, "MAX_ENTRIES", 25)
    make(tmp_path, {f"a/file{i:03d}.txt": "" for i in range(100)})
    make(tmp_path, {"z/junit.xml": "<testsuite/>", "junit.xml": "<testsuite/>"})
    assert names(tmp_path, find_reports(tmp_path)) == ["junit.xml"]  # z/ is never reached


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    make(tmp_path, {"real/junit.xml": "<testsuite/>"})
    (tmp_path / "real" / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "link.xml").symlink_to(tmp_path / "real" / "junit.xml")
    assert names(tmp_path, find_reports(tmp_path)) == ["real/junit.xml"]


def test_missing_or_unreadable_workspace(tmp_path: Path) -> None:
    assert find_reports(tmp_path / "nope") == []


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"<testsuites>", True),
        (b"\xef\xbb\xbf<?xml version='1.0'?><testsuite name='a'>", True),
        (b"<!-- <project> --><ns:testsuite xmlns:ns='u'>", True),
        (b"<!DOCTYPE testsuite><testsuite>", True),
        (b"<project><testsuite>", False),
        (b"<testsuitex/>", False),
        (b"plain text", False),
        (b"<?xml version='1.0'?>" + b" " * 600 + b"<testsuite/>", False),  # past 512 bytes
    ],
)
def test_sniff(tmp_path: Path, head: bytes, expected: bool) -> None:
    path = tmp_path / "r.xml"
    path.write_bytes(head)
    assert sniff_junit(path) is expected


def test_probe_reports(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    theirs = tmp_path / "theirs.xml"
    theirs.write_text("<testsuite/>")
    make(
        reports,
        {
            "junit-100-1.xml": "<testsuite/>",
            "coverage-100.json": "{}",
            "junitxml-101-1.json": json.dumps({"junitxml": str(theirs)}),
            "junitxml-102-1.json": json.dumps({"junitxml": str(tmp_path / "gone.xml")}),
            "junitxml-103-1.json": "not json",
            "probe-warnings-100.txt": "pytest probe: one\n\npytest probe: two\n",
            ".coverage-amoskys-100": "",
            "other.txt": "",
        },
    )
    found, warnings = find_probe_reports(reports)
    assert found == [reports / "coverage-100.json", reports / "junit-100-1.xml", theirs]
    assert [(w.path.name, w.message.split(":")[0]) for w in warnings] == [
        ("junitxml-102-1.json", "the JUnit file pytest was asked for is missing"),
        ("junitxml-103-1.json", "unreadable sidecar"),
        ("probe-warnings-100.txt", "pytest probe"),
        ("probe-warnings-100.txt", "pytest probe"),
    ]
    assert find_probe_reports(tmp_path / "missing") == ([], [])
