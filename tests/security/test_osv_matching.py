"""OSV matching against records written for the purpose: every rule of the specification's
evaluation, alias merging, severities (CVSS v3/v4 computed from the vectors), loading and the
index."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import zipfile
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from amoskys.errors import AmoskysError, Problem
from amoskys.findings.model import Category, Finding, Severity
from amoskys.security import cvss, osv
from amoskys.security.dependencies import Package
from amoskys.security.osv import LoadStats, VulnDb, load_records, match_records, parse_record


def record(
    ident: str,
    name: str = "demo",
    events: list[dict[str, str]] | None = None,
    *,
    versions: list[str] | None = None,
    range_type: str = "ECOSYSTEM",
    **fields: Any,
) -> dict[str, Any]:
    affected: dict[str, Any] = {"package": {"ecosystem": "PyPI", "name": name}}
    if events is not None:
        affected["ranges"] = [{"type": range_type, "events": events}]
    if versions is not None:
        affected["versions"] = versions
    return {"id": ident, "modified": "2024-01-01T00:00:00Z", "affected": [affected], **fields}


def check(records: list[dict[str, Any]], name: str, version: str) -> list[Finding]:
    return match_records([Package(name, version)], [parse_record(r) for r in records]).findings


def affected(records: list[dict[str, Any]], name: str, version: str) -> bool:
    return bool(check(records, name, version))


def spec_says(data: dict[str, Any], name: str, version: str) -> bool:
    """The plain evaluation (no index) must agree with the index everywhere."""
    return any(osv.is_affected(version, a) for a in parse_record(data).affected if a.key == name)


# ------------------------------------------------------------------------------- ranges


PAIRS = record(
    "PYSEC-1",
    events=[
        {"introduced": "1.0"},
        {"fixed": "1.2"},
        {"introduced": "2.0"},
        {"fixed": "2.3"},
    ],
)


@pytest.mark.parametrize(
    "version, expected",
    [
        ("0.9", False),
        ("1.0", True),
        ("1.1.5", True),
        ("1.2", False),
        ("1.5", False),
        ("2.0", True),
        ("2.2.9", True),
        ("2.3", False),
        ("3.0", False),
    ],
)
def test_several_introduced_fixed_pairs(version: str, expected: bool) -> None:
    assert affected([PAIRS], "demo", version) is expected
    assert spec_says(PAIRS, "demo", version) is expected


def test_fix_is_the_next_fixed_event_above_the_version() -> None:
    assert check([PAIRS], "demo", "1.1")[0].fix == "upgrade demo to >= 1.2"
    [finding] = check([PAIRS], "demo", "2.1")
    assert finding.fix == "upgrade demo to >= 2.3"
    assert finding.extra["fixed_in"] == "2.3"


def test_unsorted_events_are_sorted_by_version_first() -> None:
    shuffled = record(
        "PYSEC-2",
        events=[
            {"fixed": "2.3"},
            {"introduced": "2.0"},
            {"fixed": "1.2"},
            {"introduced": "1.0"},
        ],
    )
    for version in ("0.9", "1.0", "1.1.5", "1.2", "1.5", "2.0", "2.2.9", "2.3", "3.0"):
        assert affected([shuffled], "demo", version) is affected([PAIRS], "demo", version)
        assert spec_says(shuffled, "demo", version) is affected([PAIRS], "demo", version)


def test_unsorted_events_as_urllib3_publishes_them() -> None:
    # PYSEC-2023-192 lists the 2.x pair before the "0" pair
    data = record(
        "PYSEC-3",
        "urllib3",
        [{"introduced": "2.0.0"}, {"fixed": "2.0.6"}, {"introduced": "0"}, {"fixed": "1.26.17"}],
    )
    assert affected([data], "urllib3", "1.26.16")
    assert not affected([data], "urllib3", "1.26.17")
    assert not affected([data], "urllib3", "1.26.18")
    assert check([data], "urllib3", "2.0.5")[0].fix == "upgrade urllib3 to >= 2.0.6"
    assert not affected([data], "urllib3", "2.0.6")


LAST = record("PYSEC-4", events=[{"introduced": "0"}, {"last_affected": "1.4"}])


@pytest.mark.parametrize(
    "version, expected",
    [("0.1", True), ("1.3", True), ("1.4", True), ("1.4.post1", False), ("1.4.1", False)],
)
def test_last_affected_is_inclusive(version: str, expected: bool) -> None:
    assert affected([LAST], "demo", version) is expected
    assert spec_says(LAST, "demo", version) is expected


def test_last_affected_without_fix_says_so() -> None:
    [finding] = check([LAST], "demo", "1.0")
    assert finding.fix == "no fixed release known; demo 1.4 is the last affected version"
    assert finding.extra["fixed_in"] is None


@pytest.mark.parametrize(
    "events, version, expected",
    [
        ([{"introduced": "1.0"}, {"limit": "2.0"}], "1.5", True),
        ([{"introduced": "1.0"}, {"limit": "2.0"}], "2.0", False),
        ([{"introduced": "1.0"}, {"limit": "2.0"}], "2.5", False),
        ([{"introduced": "1.0"}, {"limit": "*"}], "99.0", True),
        # several limits: below any one of them is enough
        ([{"introduced": "0"}, {"limit": "1.0"}, {"limit": "3.0"}], "2.5", True),
        ([{"introduced": "0"}, {"limit": "1.0"}, {"limit": "3.0"}], "3.0", False),
        # a limit and a fix: both apply
        ([{"introduced": "0"}, {"fixed": "1.5"}, {"limit": "3.0"}], "1.4", True),
        ([{"introduced": "0"}, {"fixed": "1.5"}, {"limit": "3.0"}], "2.0", False),
    ],
)
def test_limit_events(events: list[dict[str, str]], version: str, expected: bool) -> None:
    data = record("PYSEC-5", events=events)
    assert affected([data], "demo", version) is expected
    assert spec_says(data, "demo", version) is expected


def test_introduced_zero_is_below_every_version() -> None:
    data = record("PYSEC-6", events=[{"introduced": "0"}])
    for version in ("0", "0.0.dev0", "0.1a1", "5.0", "2024.1.1"):
        assert affected([data], "demo", version)
    [finding] = check([data], "demo", "5.0")
    assert finding.fix == "no fixed release of demo is known"


# ------------------------------------------------------------------------------- versions


EXPLICIT = record("PYSEC-7", versions=["1.0", "1.1", "2.0rc1"])


@pytest.mark.parametrize(
    "version, expected",
    [
        ("1.0", True),
        ("1.0.0", True),  # PEP 440: 1.0 == 1.0.0
        ("1.0+ubuntu1", True),  # PEP 440 "==": a local version of a listed public one
        ("1.1", True),
        ("2.0rc1", True),
        ("2.0.0-rc.1", True),  # the same pre-release, spelled otherwise
        ("1.0.1", False),
        ("2.0", False),
        ("1.0.post1", False),
    ],
)
def test_explicit_versions_without_ranges(version: str, expected: bool) -> None:
    assert affected([EXPLICIT], "demo", version) is expected
    assert spec_says(EXPLICIT, "demo", version) is expected


def test_listed_version_outside_the_ranges_is_still_affected() -> None:
    data = record("PYSEC-8", events=[{"introduced": "2.0"}, {"fixed": "2.1"}], versions=["1.5"])
    assert affected([data], "demo", "1.5")
    assert affected([data], "demo", "2.0.3")
    assert not affected([data], "demo", "1.6")


def test_last_affected_boundary_keeps_local_versions_of_a_listed_version() -> None:
    # 1.4+local is above last_affected 1.4 for the range, but "== 1.4" (listed) matches it
    data = record(
        "PYSEC-9", events=[{"introduced": "0"}, {"last_affected": "1.4"}], versions=["1.4"]
    )
    assert affected([data], "demo", "1.4+local")
    assert not affected([LAST], "demo", "1.4+local")


# ------------------------------------------------------------------------------- PEP 440


@pytest.mark.parametrize(
    "version, expected",
    [
        ("1.9.post2", True),
        ("2.0.dev3", True),  # dev releases sort before the pre-releases of 2.0
        ("2.0a1", True),
        ("2.0rc1", True),
        ("2.0", False),
        ("2.0.post1", False),
        ("2.0+local", False),  # above 2.0
        ("1.99+local", True),
    ],
)
def test_pre_post_dev_and_local_releases_before_a_fix(version: str, expected: bool) -> None:
    data = record("PYSEC-10", events=[{"introduced": "0"}, {"fixed": "2.0"}])
    assert affected([data], "demo", version) is expected
    assert spec_says(data, "demo", version) is expected


@pytest.mark.parametrize(
    "version, expected",
    [
        ("2.0rc1", False),  # a pre-release of 2.0 is below introduced 2.0
        ("2.0.dev1", False),
        ("2.0", True),
        ("2.0.post1", True),
        ("2.0.5+ubuntu1", True),
        ("2.1.dev0", True),  # below fixed 2.1
        ("2.1rc2", True),
        ("2.1", False),
    ],
)
def test_pre_post_dev_and_local_releases_at_the_start(version: str, expected: bool) -> None:
    data = record("PYSEC-11", events=[{"introduced": "2.0"}, {"fixed": "2.1"}])
    assert affected([data], "demo", version) is expected
    assert spec_says(data, "demo", version) is expected


def test_unparseable_installed_version_is_a_problem_not_an_exception() -> None:
    records = [parse_record(record("PYSEC-12", events=[{"introduced": "0"}]))]
    result = match_records([Package("demo", "not a version", "requirements.txt", 4)], records)
    assert result.findings == []
    [problem] = result.problems
    assert "not a PEP 440 version" in problem.message
    assert str(problem.location) == "requirements.txt:4"


# ------------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "in_record, installed",
    [
        ("Jinja2", "jinja2"),
        ("jinja2", "Jinja2"),
        ("zope.interface", "zope-interface"),
        ("zope-interface", "Zope_Interface"),
        ("ruamel.yaml", "ruamel-yaml"),
    ],
)
def test_names_are_pep503_normalised_on_both_sides(in_record: str, installed: str) -> None:
    data = record("PYSEC-13", in_record, [{"introduced": "0"}, {"fixed": "9"}])
    assert affected([data], installed, "1.0")
    assert not affected([data], "jinja3", "1.0")


# ------------------------------------------------------------------------------- aliases


def test_aliases_merge_into_one_finding_with_all_ids() -> None:
    events = [{"introduced": "0"}, {"fixed": "1.5"}]
    records = [
        record("PYSEC-2020-1", events=events, aliases=["CVE-2020-1"]),
        # linked to the PYSEC record only through the CVE (aliases are transitive)
        record(
            "GHSA-aaaa-bbbb-cccc",
            events=[{"introduced": "0"}, {"fixed": "1.6"}],
            aliases=["CVE-2020-1"],
            database_specific={"severity": "HIGH"},
        ),
        record("CVE-2020-1", events=events, aliases=["GHSA-aaaa-bbbb-cccc"]),
        record("PYSEC-2020-2", events=events),  # another vulnerability
    ]
    findings = check(records, "demo", "1.0")
    assert [f.rule for f in findings] == ["GHSA-aaaa-bbbb-cccc", "PYSEC-2020-2"]
    merged = findings[0]
    assert merged.aliases == ("PYSEC-2020-1", "CVE-2020-1")
    assert merged.ids == ("GHSA-aaaa-bbbb-cccc", "PYSEC-2020-1", "CVE-2020-1")
    assert merged.severity is Severity.HIGH  # the most severe rating of the group
    assert merged.fix == "upgrade demo to >= 1.6"  # a version that leaves every record
    assert merged.extra["records"] == ["CVE-2020-1", "GHSA-aaaa-bbbb-cccc", "PYSEC-2020-1"]


def test_preferred_rule_is_pysec_then_cve_without_ghsa() -> None:
    events = [{"introduced": "0"}]
    [finding] = check([record("CVE-2021-9", events=events, aliases=["PYSEC-2021-9"])], "demo", "1")
    assert (finding.rule, finding.aliases) == ("PYSEC-2021-9", ("CVE-2021-9",))
    [finding] = check([record("OSV-2021-9", events=events, aliases=["CVE-2021-8"])], "demo", "1")
    assert (finding.rule, finding.aliases) == ("CVE-2021-8", ("OSV-2021-9",))


def test_aliases_only_merge_records_that_match() -> None:
    records = [
        record("PYSEC-1", events=[{"introduced": "0"}, {"fixed": "1.0"}], aliases=["CVE-1"]),
        record("GHSA-x", events=[{"introduced": "2.0"}], aliases=["CVE-1"]),
    ]
    [finding] = check(records, "demo", "2.5")
    assert finding.rule == "GHSA-x"
    assert finding.fix == "no fixed release of demo is known"


# ------------------------------------------------------------------------------- severity

# Scores published with the CVSS v3.1 specification's examples document (FIRST).
CVSS3_EXAMPLES = [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),  # CVE-2013-1937 phpMyAdmin XSS
    ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4),  # CVE-2013-0375 MySQL
    ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1),  # CVE-2014-3566 POODLE
    ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9),  # CVE-2012-1516 VMware
    ("CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L", 4.2),  # CVE-2009-0783 Tomcat
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5),  # CVE-2014-0160 Heartbleed
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),  # CVE-2014-6271 Shellshock
    ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N", 6.8),  # CVE-2008-1447 DNS
    ("CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 6.8),  # CVE-2014-2005 Sophos
    ("CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:H", 9.3),  # CVE-2013-6014 Juniper
    ("CVSS:3.0/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8),  # CVE-2015-1098 (v3.0)
    ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:N/A:N", 6.8),  # the OSV schema's example
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),  # no impact
]

# CVSS v4.0: vectors with the scores FIRST's reference calculator gives (log4shell and the
# nginx CVE-2022-41741 are in the v4.0 examples document; 5.1 is the OSV schema's example).
CVSS4_EXAMPLES = [
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", 10.0),  # log4shell
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3),
    ("CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 7.3),  # CVE-2022-41741
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N", 5.1),  # OSV's example
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N", 8.7),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N", 5.3),
    ("CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:N/VC:N/VI:L/VA:N/SC:H/SI:N/SA:H", 6.4),
    ("CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N", 1.0),
    ("CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N", 0.0),
]


@pytest.mark.parametrize("vector, score", CVSS3_EXAMPLES)
def test_cvss3_base_scores(vector: str, score: float) -> None:
    assert cvss.base_score_v3(vector) == score
    assert cvss.score_vector(vector).score == score


@pytest.mark.parametrize("vector, score", CVSS4_EXAMPLES)
def test_cvss4_base_scores(vector: str, score: float) -> None:
    assert cvss.base_score_v4(vector) == score


def test_cvss4_table_has_every_macrovector() -> None:
    assert len(cvss.MACROVECTOR_SCORES) == 270
    assert cvss.MACROVECTOR_SCORES["000000"] == 10.0
    assert cvss.MACROVECTOR_SCORES["212221"] == 0.1
    assert min(cvss.MACROVECTOR_SCORES.values()) == 0.1


def test_cvss4_base_score_ignores_threat_and_environmental_metrics() -> None:
    base = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
    assert cvss.base_score_v4(base + "/E:U/CR:L/MAV:P") == 9.3


@pytest.mark.parametrize(
    "vector",
    [
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",  # A missing
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:Q",
        "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P",
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N",
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/ZZ:1",
    ],
)
def test_invalid_vectors_are_rejected(vector: str) -> None:
    with pytest.raises(cvss.CvssError):
        cvss.score_vector(vector)


@pytest.mark.parametrize(
    "score, severity",
    [
        (0.0, Severity.LOW),
        (0.1, Severity.LOW),
        (3.9, Severity.LOW),
        (4.0, Severity.MEDIUM),
        (6.9, Severity.MEDIUM),
        (7.0, Severity.HIGH),
        (8.9, Severity.HIGH),
        (9.0, Severity.CRITICAL),
        (10.0, Severity.CRITICAL),
    ],
)
def test_qualitative_rating(score: float, severity: Severity) -> None:
    assert cvss.severity_of_score(score) is severity


def _rated(**fields: Any) -> Finding:
    [finding] = check([record("GHSA-sev", events=[{"introduced": "0"}], **fields)], "demo", "1")
    return finding


def test_severity_from_cvss_v3_vector() -> None:
    vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"
    finding = _rated(severity=[{"type": "CVSS_V3", "score": vector}])
    assert finding.severity is Severity.HIGH
    assert (finding.extra["score"], finding.extra["vector"]) == (7.5, vector)


def test_severity_prefers_cvss_v4_over_v3_and_the_label() -> None:
    finding = _rated(
        severity=[
            {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
            {
                "type": "CVSS_V4",
                "score": "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N",
            },
        ],
        database_specific={"severity": "CRITICAL"},
    )
    assert (finding.severity, finding.extra["score"]) == (Severity.LOW, 1.0)


def test_per_package_severity_comes_before_the_top_level_one() -> None:
    data = record("GHSA-pkg", events=[{"introduced": "0"}])
    data["affected"][0]["severity"] = [
        {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
    ]
    data["severity"] = [
        {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"}
    ]
    [finding] = check([data], "demo", "1")
    assert finding.extra["score"] == 9.8


@pytest.mark.parametrize(
    "label, severity",
    [
        ("LOW", Severity.LOW),
        ("MODERATE", Severity.MEDIUM),
        ("HIGH", Severity.HIGH),
        ("CRITICAL", Severity.CRITICAL),
    ],
)
def test_severity_falls_back_to_the_ghsa_label(label: str, severity: Severity) -> None:
    assert _rated(database_specific={"severity": label}).severity is severity


def test_unknown_severity() -> None:
    assert _rated().severity is Severity.UNKNOWN
    assert _rated(database_specific={"severity": "SEVERE?"}).severity is Severity.UNKNOWN
    assert _rated(severity=[{"type": "Ubuntu", "score": "high"}]).severity is Severity.UNKNOWN


def test_a_bad_vector_is_skipped_for_the_next_rating() -> None:
    finding = _rated(
        severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/nonsense"}],
        database_specific={"severity": "MODERATE"},
    )
    assert finding.severity is Severity.MEDIUM


# ------------------------------------------------------------------------------- findings


def test_the_finding_names_package_place_and_fix() -> None:
    data = record(
        "PYSEC-2019-217",
        "Jinja2",
        [{"introduced": "0"}, {"fixed": "2.10.1"}],
        aliases=["GHSA-462w-v97r-4m45", "CVE-2019-10906"],
        details="In Pallets Jinja before 2.10.1, str.format_map allows a sandbox escape.\n\nMore.",
    )
    package = Package("Jinja2", "2.10", "requirements/base.txt", 7)
    [finding] = match_records([package], [parse_record(data)]).findings
    assert finding.tool == "osv"
    assert finding.category is Category.VULNERABILITY
    assert finding.rule == "GHSA-462w-v97r-4m45"
    assert finding.aliases == ("PYSEC-2019-217", "CVE-2019-10906")
    assert finding.message == (
        "Jinja2 2.10: In Pallets Jinja before 2.10.1, str.format_map allows a sandbox escape."
    )
    assert (finding.file, finding.line) == ("requirements/base.txt", 7)
    assert finding.fix == "upgrade Jinja2 to >= 2.10.1"
    assert len(finding.fingerprint) == 32
    moved = match_records(
        [Package("jinja2", "2.10", "requirements/base.txt", 30)], [parse_record(data)]
    ).findings[0]
    assert moved.fingerprint == finding.fingerprint  # survives a line move


def test_summary_wins_over_details_and_is_shortened() -> None:
    long = "x" * 300
    [finding] = check([record("PYSEC-s", events=[{"introduced": "0"}], summary=long)], "demo", "1")
    assert finding.message.startswith("demo 1: xxx")
    assert len(finding.message) == len("demo 1: ") + osv.SUMMARY_LIMIT


# ------------------------------------------------------------------------------- loading


YAML_RECORD = """\
id: PYSEC-2099-1
modified: "2024-05-01T00:00:00Z"
details: A YAML record.
affected:
- package:
    name: Demo
    ecosystem: PyPI
  ranges:
  - type: ECOSYSTEM
    events:
    - introduced: "0"
    - fixed: 1.10
  versions:
  - 1.10
  - "1.2"
"""


def write_json(folder: Path, data: dict[str, Any]) -> Path:
    path = folder / f"{data['id']}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_load_yaml_keeps_unquoted_versions_as_text(tmp_path: Path) -> None:
    (tmp_path / "PYSEC-2099-1.yaml").write_text(YAML_RECORD, encoding="utf-8")
    [loaded] = load_records(tmp_path)
    assert loaded.affected[0].versions == ("1.10", "1.2")
    assert loaded.affected[0].ranges[0].events[1].version == "1.10"  # not the float 1.1
    result = match_records([Package("demo", "1.9")], [loaded])
    assert result.findings[0].fix == "upgrade demo to >= 1.10"


def test_load_skips_withdrawn_and_other_ecosystems_and_reports_bad_records(
    tmp_path: Path,
) -> None:
    events = [{"introduced": "0"}]
    write_json(tmp_path, record("PYSEC-ok", events=events))
    write_json(tmp_path, record("PYSEC-gone", events=events, withdrawn="2024-02-02T00:00:00Z"))
    npm = record("GHSA-npm", events=events)
    npm["affected"][0]["package"]["ecosystem"] = "npm"
    write_json(tmp_path, npm)
    mixed = record("GHSA-mixed", events=events)
    mixed["affected"].append({"package": {"ecosystem": "Go", "name": "x"}})
    write_json(tmp_path, mixed)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "broken.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    (tmp_path / "sub" / "noid.json").write_text('{"affected": []}', encoding="utf-8")
    (tmp_path / "sub" / "two-keys.json").write_text(
        json.dumps(record("PYSEC-bad", events=[{"introduced": "0", "fixed": "1"}])),
        encoding="utf-8",
    )
    (tmp_path / "notes.txt").write_text("not a record", encoding="utf-8")
    problems: list[Problem] = []
    stats = LoadStats()
    loaded = list(load_records(tmp_path, problems, stats))
    assert sorted(r.id for r in loaded) == ["GHSA-mixed", "PYSEC-ok"]
    assert [a.name for a in loaded[0].affected] == ["demo"]
    assert (stats.files, stats.records, stats.withdrawn, stats.other_ecosystems) == (7, 2, 1, 1)
    messages = sorted(f"{p.location}: {p.message}" for p in problems)
    assert len(messages) == 3
    assert any("broken.yaml: cannot parse" in m for m in messages)
    assert any("noid.json: not an OSV record: a record needs an id" in m for m in messages)
    assert any(
        "two-keys.json: not an OSV record: an event must have exactly one" in m for m in messages
    )


def test_load_from_a_zip_of_json(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("PYSEC-1.json", json.dumps(record("PYSEC-1", events=[{"introduced": "0"}])))
        out.writestr("GHSA-2.json", json.dumps(record("GHSA-2", versions=["1.0"])))
        out.writestr("README", "ignored")
    assert sorted(r.id for r in load_records(archive)) == ["GHSA-2", "PYSEC-1"]


def test_load_rejects_a_source_that_is_not_records(tmp_path: Path) -> None:
    other = tmp_path / "x.txt"
    other.write_text("hello", encoding="utf-8")
    with pytest.raises(AmoskysError, match="not a folder of OSV records"):
        list(load_records(other))


def test_ranges_that_cannot_be_compared_are_left_out_with_a_problem() -> None:
    data = record("PYSEC-git", events=[{"introduced": "0"}, {"fixed": "2019-09-12"}])
    data["affected"][0]["ranges"].append(
        {"type": "GIT", "repo": "https://example.invalid/r", "events": [{"introduced": "abc"}]}
    )
    problems: list[Problem] = []
    [(name, entry)] = osv.entries_of(parse_record(data), problems)
    assert (name, entry.ranges) == ("demo", ())
    assert "'2019-09-12' is not a PEP 440 version" in problems[0].message


def test_semver_ranges_compare_like_ecosystem_ones_and_git_ranges_are_ignored() -> None:
    semver = record(
        "GHSA-sv", events=[{"introduced": "1.0.0-rc.1"}, {"fixed": "1.2.0"}], range_type="SEMVER"
    )
    assert affected([semver], "demo", "1.0.0rc1")
    assert affected([semver], "demo", "1.1.9")
    assert not affected([semver], "demo", "1.2.0")
    git = record("GHSA-git", events=[{"introduced": "0"}], range_type="GIT")
    assert not affected([git], "demo", "1.0")


# ------------------------------------------------------------------------------- the index


def build(tmp_path: Path, records: list[dict[str, Any]]) -> VulnDb:
    source = tmp_path / "src"
    source.mkdir()
    for data in records:
        write_json(source, data)
    result = VulnDb.update(source, tmp_path / "vulndb")
    assert result.path == tmp_path / "vulndb" / osv.INDEX_NAME
    return VulnDb.open(tmp_path / "vulndb")


def test_index_round_trip_matches_like_the_records(tmp_path: Path) -> None:
    records = [
        PAIRS,
        LAST,
        EXPLICIT,
        record("PYSEC-z", "zope.interface", [{"introduced": "0"}, {"fixed": "5"}]),
        record(
            "GHSA-sev",
            events=[{"introduced": "0"}, {"fixed": "3.0"}],
            aliases=["PYSEC-1"],
            database_specific={"severity": "CRITICAL"},
        ),
    ]
    packages = [
        Package("demo", "1.1", "requirements.txt", 1),
        Package("Demo", "2.1"),
        Package("zope-interface", "4.0", "pyproject.toml", 9),
        Package("demo", "9.0"),
        Package("unknown-package", "1.0"),
    ]
    with build(tmp_path, records) as db:
        assert db.meta["records"] == "5"
        assert sorted(e.id for e in db.entries("Demo")) == [
            "GHSA-sev",
            "PYSEC-1",
            "PYSEC-4",
            "PYSEC-7",
        ]
        from_index = db.match(packages)
        again = db.match(packages)  # cached rows give the same answer
    direct = match_records(packages, [parse_record(r) for r in records]).findings
    assert from_index == direct == again
    assert {(f.extra["package"], f.rule) for f in from_index} >= {
        ("demo", "GHSA-sev"),
        ("zope-interface", "PYSEC-z"),
    }


def test_index_keeps_the_latest_modified_copy_of_an_id(tmp_path: Path) -> None:
    old = record("PYSEC-dup", events=[{"introduced": "0"}, {"fixed": "1.0"}])
    new = dict(record("PYSEC-dup", events=[{"introduced": "0"}, {"fixed": "2.0"}]))
    new["modified"] = "2025-01-01T00:00:00Z"
    source = tmp_path / "src"
    (source / "a").mkdir(parents=True)
    (source / "b").mkdir()
    write_json(source / "a", new)
    write_json(source / "b", old)
    result = VulnDb.update(source, tmp_path / "db")
    assert result.records == 1
    with VulnDb.open(tmp_path / "db") as db:
        [finding] = db.match([Package("demo", "1.5")])
    assert finding.fix == "upgrade demo to >= 2.0"


def test_update_result_counts(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    write_json(source, record("PYSEC-a", "a", [{"introduced": "0"}]))
    write_json(source, record("PYSEC-b", "B", [{"introduced": "0"}]))
    write_json(source, record("PYSEC-w", "a", [{"introduced": "0"}], withdrawn="2020-01-01Z"))
    result = VulnDb.update(str(source), tmp_path / "db")
    assert (result.records, result.packages, result.withdrawn) == (2, 2, 1)
    assert result.size_bytes > 0 and result.problems == ()


def test_open_without_an_index_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(AmoskysError) as caught:
        VulnDb.open(tmp_path)
    assert "amoskys vulndb update" in str(caught.value)


def test_open_rejects_a_file_that_is_not_an_index(tmp_path: Path) -> None:
    (tmp_path / osv.INDEX_NAME).write_text("garbage" * 100, encoding="utf-8")
    with pytest.raises(AmoskysError, match="amoskys vulndb update"):
        VulnDb.open(tmp_path)


def test_update_offline_says_the_network_is_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*args: object, **kwargs: object) -> object:
        raise urllib.error.URLError("[Errno 101] Network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    with pytest.raises(AmoskysError) as caught:
        VulnDb.update(osv.DEFAULT_URL, tmp_path / "db")
    text = str(caught.value)
    assert "network is unreachable" in text
    assert "--from DIR|ZIP" in text
    assert not (tmp_path / "db" / osv.INDEX_NAME).exists()
    assert list((tmp_path / "db").iterdir()) == []  # no partial download left behind


def test_update_downloads_a_zip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    payload = io.BytesIO()
    with zipfile.ZipFile(payload, "w") as out:
        out.writestr("GHSA-z.json", json.dumps(record("GHSA-z", events=[{"introduced": "0"}])))
    seen: dict[str, object] = {}

    def fake_urlopen(request: urllib.request.Request, timeout: float) -> io.BytesIO:
        seen.update(url=request.full_url, timeout=timeout)
        return io.BytesIO(payload.getvalue())

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    result = VulnDb.update(osv.DEFAULT_URL, tmp_path / "db", timeout=5)
    assert seen == {"url": osv.DEFAULT_URL, "timeout": 5}
    assert result.records == 1
    assert [p.name for p in (tmp_path / "db").iterdir()] == [osv.INDEX_NAME]


def test_update_reports_an_http_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def not_found(request: urllib.request.Request, timeout: float) -> object:
        raise urllib.error.HTTPError(request.full_url, 404, "Not Found", Message(), None)

    monkeypatch.setattr(urllib.request, "urlopen", not_found)
    with pytest.raises(AmoskysError, match="HTTP 404 Not Found"):
        VulnDb.update("https://example.invalid/all.zip", tmp_path / "db")
    assert list((tmp_path / "db").iterdir()) == []


def test_update_refuses_plain_http(tmp_path: Path) -> None:
    with pytest.raises(AmoskysError, match="only https"):
        VulnDb.update("http://example.invalid/all.zip", tmp_path / "db")


def test_update_without_any_pypi_record_keeps_the_old_index(tmp_path: Path) -> None:
    db = build(tmp_path, [PAIRS])
    db.close()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(AmoskysError, match=r"no PyPI advisories .*1 files read.*cannot parse"):
        VulnDb.update(empty, tmp_path / "vulndb")
    with VulnDb.open(tmp_path / "vulndb") as kept:
        assert kept.meta["records"] == "1"


def test_update_from_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(AmoskysError, match="does not exist"):
        VulnDb.update(tmp_path / "nowhere", tmp_path / "db")
