"""Matching against the real PyPA Advisory Database snapshot in ``shared/data`` (2024-10-10).

The expected advisories were looked up in the snapshot's YAML files by hand; the index is built
once for the module in a temporary folder.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Iterator

import pytest
from amoskys_testing import SHARED

from amoskys.findings.model import Category, Finding, Severity
from amoskys.security.dependencies import Package, project_dependencies
from amoskys.security.osv import VulnDb, load_records

SNAPSHOT = SHARED / "data" / "pypa-advisory-db"

pytestmark = pytest.mark.skipif(
    not (SNAPSHOT / "vulns").is_dir(), reason=f"the PyPA advisory snapshot is not at {SNAPSHOT}"
)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VulnDb]:
    folder = tmp_path_factory.mktemp("vulndb")
    result = VulnDb.update(SNAPSHOT, folder)
    # 2,661 files: 10 withdrawn, 2,651 PyPI records over 660 packages
    assert (result.records, result.withdrawn, result.packages) == (2651, 10, 660)
    # two records have a "fixed" boundary that is no PEP 440 version: reported, not fatal
    assert sorted(p.message.split(":")[0] for p in result.problems) == [
        "PYSEC-2019-125",
        "PYSEC-2021-371",
    ]
    with VulnDb.open(folder) as opened:
        yield opened


def by_rule(findings: list[Finding]) -> dict[str, Finding]:
    return {f.rule: f for f in findings}


def test_old_jinja2_pin(db: VulnDb) -> None:
    found = by_rule(db.match([Package("Jinja2", "2.10", "requirements.txt", 3)]))
    assert set(found) == {"GHSA-462w-v97r-4m45", "GHSA-g3rq-g295-4j3m"}
    sandbox = found["GHSA-462w-v97r-4m45"]  # PYSEC-2019-217, CVE-2019-10906
    assert sandbox.aliases == ("PYSEC-2019-217", "CVE-2019-10906")
    assert sandbox.message.startswith("Jinja2 2.10: In Pallets Jinja before 2.10.1")
    assert sandbox.fix == "upgrade Jinja2 to >= 2.10.1"
    assert (sandbox.file, sandbox.line, sandbox.category) == (
        "requirements.txt",
        3,
        Category.VULNERABILITY,
    )
    assert sandbox.severity is Severity.UNKNOWN  # the PyPA record carries no rating
    redos = found["GHSA-g3rq-g295-4j3m"]  # PYSEC-2021-66
    assert set(redos.aliases) == {"PYSEC-2021-66", "CVE-2020-28493", "SNYK-PYTHON-JINJA2-1012994"}
    assert redos.fix == "upgrade Jinja2 to >= 2.11.3"


def test_very_old_jinja2_collects_every_advisory(db: VulnDb) -> None:
    found = by_rule(db.match([Package("jinja2", "2.7.1")]))
    # PYSEC-2014-8 (fixed 2.7.2), -82 (2.7.3), 2019-217, 2019-220, 2021-66
    assert len(found) == 5
    assert found["GHSA-8r7q-cvjq-x353"].fix == "upgrade jinja2 to >= 2.7.2"
    assert found["PYSEC-2014-82"].aliases == ("CVE-2014-0012",)


def test_requests_proxy_authorization_leak(db: VulnDb) -> None:
    found = by_rule(db.match([Package("requests", "2.25.0")]))
    assert set(found) == {"GHSA-j8r2-6x86-q33q"}  # PYSEC-2023-74: introduced 2.3.0
    assert found["GHSA-j8r2-6x86-q33q"].aliases == ("PYSEC-2023-74", "CVE-2023-32681")
    assert found["GHSA-j8r2-6x86-q33q"].fix == "upgrade requests to >= 2.31.0"


def test_urllib3_with_cvss_rating_and_unsorted_events(db: VulnDb) -> None:
    found = by_rule(db.match([Package("urllib3", "1.26.4")]))
    assert {"GHSA-q2q7-5pp4-w6pg", "GHSA-v845-jxx5-vc9f", "GHSA-g4mx-q9vg-27p4"} <= set(found)
    cookie = found["GHSA-v845-jxx5-vc9f"]  # PYSEC-2023-192, CVSS:3.1/...C:H/I:H/A:N = 8.1
    assert (cookie.severity, cookie.extra["score"]) == (Severity.HIGH, 8.1)
    assert cookie.fix == "upgrade urllib3 to >= 1.26.17"
    # the record lists the 2.x pair before the "0" pair: sorted, 2.0.5 is affected too
    later = by_rule(db.match([Package("urllib3", "2.0.5")]))
    assert later["GHSA-v845-jxx5-vc9f"].fix == "upgrade urllib3 to >= 2.0.6"
    assert "GHSA-v845-jxx5-vc9f" not in by_rule(db.match([Package("urllib3", "1.26.17")]))


def test_django_multi_branch_ranges(db: VulnDb) -> None:
    found = by_rule(db.match([Package("Django", "3.2.0")]))
    # PYSEC-2021-7 (CVE-2021-31542): 2.2 < 2.2.21, 3.1 < 3.1.9, 3.2 < 3.2.1
    assert found["GHSA-rxjp-mfm9-w4wr"].fix == "upgrade Django to >= 3.2.1"
    assert len(found) == 25
    on_31 = by_rule(db.match([Package("django", "3.1.8")]))
    assert on_31["GHSA-rxjp-mfm9-w4wr"].fix == "upgrade django to >= 3.1.9"
    assert "GHSA-rxjp-mfm9-w4wr" not in by_rule(db.match([Package("django", "3.0.14")]))


def test_last_affected_without_a_fix(db: VulnDb) -> None:
    [finding] = db.match([Package("py", "1.11.0")])  # PYSEC-2022-42969
    assert finding.rule == "GHSA-w596-4wvx-j9j6"
    assert finding.fix == "no fixed release known; py 1.11.0 is the last affected version"


def test_withdrawn_advisory_is_not_reported(db: VulnDb) -> None:
    # PYSEC-2023-73 (redis, every version) was withdrawn on 2023-06-06
    ids = {i for f in db.match([Package("redis", "4.5.4")]) for i in f.ids}
    assert "PYSEC-2023-73" not in ids


@pytest.mark.parametrize(
    "name, version",
    [
        ("requests", "2.32.3"),
        ("jinja2", "3.1.4"),
        ("urllib3", "2.2.3"),
        ("flask", "3.0.3"),
        ("not-a-known-package", "1.0"),
    ],
)
def test_known_clean_pins(db: VulnDb, name: str, version: str) -> None:
    assert db.match([Package(name, version)]) == []


def test_a_zip_of_the_yaml_gives_the_same_answers(tmp_path: Path, db: VulnDb) -> None:
    archive = tmp_path / "jinja2.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted((SNAPSHOT / "vulns" / "jinja2").glob("*.yaml")):
            out.write(path, f"vulns/jinja2/{path.name}")
    assert len(list(load_records(archive))) == 5
    VulnDb.update(archive, tmp_path / "db")
    pins = [Package("jinja2", "2.10"), Package("jinja2", "2.7.1")]
    with VulnDb.open(tmp_path / "db") as small:
        assert small.match(pins) == db.match(pins)


def test_a_pin_with_another_bound_and_a_pdm_lock_are_matched(db: VulnDb, tmp_path: Path) -> None:
    """``==2.30.0,<3`` installs exactly 2.30.0 (pip, uv), as a pdm.lock entry does: each was
    left out as 'not a pin', and security-scan passed a project pinned to a vulnerable
    requests."""
    (tmp_path / "requirements.txt").write_text("requests==2.30.0,<3\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "0"\ndependencies = ["Jinja2 >=2, ==2.10"]\n',
        encoding="utf-8",
    )
    (tmp_path / "pdm.lock").write_text(
        '[metadata]\ngroups = ["default"]\n\n[[package]]\nname = "urllib3"\n'
        'version = "1.26.4"\nsummary = "HTTP"\n\n[[package]]\nname = "p"\nversion = "0"\n'
        'path = "."\n',
        encoding="utf-8",
    )
    packages = project_dependencies(tmp_path)
    assert {(p.name, p.version, p.source_file) for p in packages} == {
        ("requests", "2.30.0", "requirements.txt"),
        ("Jinja2", "2.10", "pyproject.toml"),
        ("urllib3", "1.26.4", "pdm.lock"),
    }
    hit = {(f.rule, f.file) for f in db.match(packages)}
    assert ("GHSA-j8r2-6x86-q33q", "requirements.txt") in hit  # PYSEC-2023-74
    assert {path for _, path in hit} == {"requirements.txt", "pyproject.toml", "pdm.lock"}
