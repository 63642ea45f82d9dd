"""OSV matching at scale: the index against the plain way, on real and generated advisories.

1. Build the index (:meth:`VulnDb.update`) from the PyPA Advisory Database snapshot in
   ``shared/data/pypa-advisory-db`` (YAML files) and report the time and the file's size.
2. Match 200 pinned packages - a realistic lock file's mix of popular names at older and newer
   versions - against it: "cold" (a fresh :meth:`VulnDb.open` and empty version caches, as a new
   ``amoskys security-scan`` process sees it) and "warm" (same process, fresh ``VulnDb``),
   median of ``--repeat`` runs each.
3. The plain way for comparison: the parsed records in memory, and for every package a loop
   over every record evaluating each range (:func:`amoskys.security.osv.is_affected`). Both
   ways must find the same (package, record) pairs; the ratio is printed.
4. The same against ``--records`` (default 25,000) generated OSV records written as a zip of
   JSON (as OSV's own PyPI export is), with the 200 names among 2,500 packages, several
   introduced/fixed pairs, last_affected and limit events, version lists, aliases, CVSS v3/v4
   vectors and GHSA labels.
5. The storage alternative that was measured against SQLite: the same entries in one
   ``pypi.json.gz``, loaded whole before matching.

Target: <= 1 s per match run. Run: ``python bench/bench_osv.py [--records N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from packaging.utils import canonicalize_name  # noqa: E402

from amoskys.findings.model import Finding  # noqa: E402
from amoskys.security import osv  # noqa: E402
from amoskys.security.dependencies import Package  # noqa: E402
from amoskys.security.osv import Entry, OsvRecord, VulnDb, load_records  # noqa: E402

SHARED = Path(os.environ.get("AMOSKYS_SHARED", REPO.parent / "shared"))
SNAPSHOT = SHARED / "data" / "pypa-advisory-db"
TARGET_SECONDS = 1.0

PINS = """
django==3.2.0 jinja2==2.10 requests==2.25.0 urllib3==1.26.4 flask==1.1.2 werkzeug==2.0.1
pyyaml==5.3.1 pillow==8.1.0 numpy==1.21.0 pandas==1.3.0 scipy==1.7.0 sqlalchemy==1.4.20
psycopg2==2.9.1 celery==5.1.2 redis==3.5.3 boto3==1.18.0 botocore==1.21.0 s3transfer==0.5.0
awscli==1.20.0 certifi==2021.5.30 idna==2.10 chardet==4.0.0 charset-normalizer==2.0.4
cryptography==3.4.7 pyopenssl==20.0.1 paramiko==2.7.2 six==1.16.0 setuptools==57.0.0
wheel==0.36.2 pip==21.1.3 attrs==21.2.0 click==8.0.1 itsdangerous==2.0.1 markupsafe==2.0.1
gunicorn==20.1.0 uvicorn==0.14.0 fastapi==0.65.2 starlette==0.14.2 pydantic==1.8.2
aiohttp==3.7.4 yarl==1.6.3 multidict==5.1.0 async-timeout==3.0.1 httpx==0.18.2
httpcore==0.13.6 h11==0.12.0 websockets==9.1 tornado==6.1 twisted==21.2.0 lxml==4.6.3
beautifulsoup4==4.9.3 html5lib==1.1 bleach==3.3.0 markdown==3.3.4 pygments==2.9.0
docutils==0.17.1 sphinx==4.0.2 babel==2.9.1 pytz==2021.1 python-dateutil==2.8.1
tzdata==2021.1 arrow==1.1.1 pendulum==2.1.2 simplejson==3.17.2 ujson==4.0.2 orjson==3.5.4
msgpack==1.0.2 protobuf==3.17.3 grpcio==1.38.1 google-auth==1.32.1 google-api-core==1.30.0
googleapis-common-protos==1.53.0 rsa==4.7.2 pyasn1==0.4.8 oauthlib==3.1.1
requests-oauthlib==1.3.0 pyjwt==2.1.0 jwcrypto==0.9.1 passlib==1.7.4 bcrypt==3.2.0
argon2-cffi==20.1.0 cffi==1.14.5 pycparser==2.20 pycryptodome==3.10.1 nltk==3.6.2
scikit-learn==0.24.2 joblib==1.0.1 threadpoolctl==2.1.0 matplotlib==3.4.2 kiwisolver==1.3.1
cycler==0.10.0 pyparsing==2.4.7 packaging==21.0 tensorflow==2.5.0 keras==2.4.3 torch==1.9.0
torchvision==0.10.0 opencv-python==4.5.2.54 imageio==2.9.0 tqdm==4.61.1 rich==10.4.0
colorama==0.4.4 termcolor==1.1.0 tabulate==0.8.9 pyarrow==4.0.1 dask==2021.6.2
distributed==2021.6.2 cloudpickle==1.6.0 toolz==0.11.1 fsspec==2021.6.1 s3fs==2021.6.1
notebook==6.4.0 jupyter-server==1.8.0 jupyterlab==3.0.16 ipython==7.25.0 ipykernel==5.5.5
jupyter-core==4.7.1 nbconvert==6.1.0 nbformat==5.1.3 traitlets==5.0.5 prompt-toolkit==3.0.19
jedi==0.18.0 parso==0.8.2 mistune==0.8.4 jupyter-client==6.1.12 pyzmq==22.1.0
pytest==6.2.4 pytest-cov==2.12.1 coverage==5.5
mock==4.0.3 tox==3.23.1 virtualenv==20.4.7 filelock==3.0.12 platformdirs==2.0.2
black==21.6b0 flake8==3.9.2 pyflakes==2.3.1 pycodestyle==2.7.0 mccabe==0.6.1 isort==5.9.1
mypy==0.910 typing-extensions==3.10.0.0 bandit==1.7.0 stevedore==3.3.0 pbr==5.6.0
gitpython==3.1.18 gitdb==4.0.7 smmap==4.0.0 ansible==4.1.0 ansible-core==2.11.2
jmespath==0.10.0 docker==5.0.0 kubernetes==17.17.0 websocket-client==1.1.0
pyasn1-modules==0.2.8 cachetools==4.2.2 wrapt==1.12.1 deprecated==1.2.12 decorator==5.0.9
future==0.18.2 zipp==3.4.1 importlib-metadata==4.6.0 jsonschema==3.2.0 pyrsistent==0.17.3
requests-toolbelt==0.9.1 sentry-sdk==1.1.0 djangorestframework==3.12.4
django-cors-headers==3.7.0 whitenoise==5.2.0 channels==3.0.3 daphne==3.0.2 asgiref==3.4.0
sqlparse==0.4.1 pymysql==1.0.2 mysqlclient==2.0.3 pymongo==3.11.4 elasticsearch==7.13.2
kombu==5.1.0 vine==5.0.0 amqp==5.0.6 billiard==3.6.4.0 flask-cors==3.0.10
flask-login==0.5.0 Flask-WTF==0.15.1 WTForms==2.3.3 Flask-SQLAlchemy==2.5.1 alembic==1.6.5
Mako==1.1.4 zope.interface==5.4.0 zope.event==4.5.0 gevent==21.1.2 greenlet==1.1.0
eventlet==0.31.0 dnspython==2.1.0 Jinja2==3.1.4
requests==2.32.3 urllib3==2.2.3 Django==4.2.16 Pillow==10.4.0 cryptography==43.0.1
"""


def pins() -> list[Package]:
    found = []
    for line, text in enumerate(PINS.split(), start=1):
        name, version = text.split("==")
        found.append(Package(name, version, "requirements.txt", line))
    assert len(found) == 200, len(found)
    return found


# ------------------------------------------------------------------------------ timing


def clear_caches() -> None:
    osv.parse_version.cache_clear()
    osv.canonical_version.cache_clear()


def timed(action: Callable[[], object], repeat: int, before: Callable[[], None]) -> list[float]:
    times = []
    for _ in range(repeat):
        before()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def pairs_from_findings(findings: list[Finding]) -> set[tuple[str, str, str]]:
    pairs = set()
    for finding in findings:
        extra = finding.extra
        for record in extra["records"]:  # type: ignore[attr-defined]
            pairs.add((str(extra["package"]), str(extra["version"]), str(record)))
    return pairs


def plain_way(packages: list[Package], records: list[OsvRecord]) -> set[tuple[str, str, str]]:
    """Every package against every record, each range evaluated from the record."""
    pairs: set[tuple[str, str, str]] = set()
    for package in packages:
        key = canonicalize_name(package.name)
        for record in records:
            for affected in record.affected:
                if canonicalize_name(affected.name) == key and osv.is_affected(
                    package.version, affected
                ):
                    pairs.add((key, package.version, record.id))
    return pairs


def compare(label: str, source: Path, work: Path, packages: list[Package], repeat: int) -> None:
    folder = work / label
    result = VulnDb.update(source, folder)
    print(
        f"[{label}] index built in {result.seconds:.2f} s: {result.records:,} records, "
        f"{result.packages:,} packages, {result.size_bytes / 1e6:.2f} MB "
        f"({len(result.problems)} problems)"
    )

    def cold() -> list[Finding]:
        with VulnDb.open(folder) as db:
            return db.match(packages)

    cold_times = timed(cold, repeat, clear_caches)
    warm_times = timed(cold, repeat, lambda: None)
    with VulnDb.open(folder) as db:
        findings = db.match(packages)
    print(
        f"[{label}] match 200 pins: cold median {statistics.median(cold_times) * 1000:.1f} ms "
        f"(max {max(cold_times) * 1000:.1f}), warm median "
        f"{statistics.median(warm_times) * 1000:.1f} ms; {len(findings)} findings "
        f"({len({f.extra['package'] for f in findings})} vulnerable packages)"
    )
    started = time.perf_counter()
    records = list(load_records(source))
    load_seconds = time.perf_counter() - started
    clear_caches()
    started = time.perf_counter()
    plain = plain_way(packages, records)
    plain_seconds = time.perf_counter() - started
    indexed = pairs_from_findings(findings)
    assert plain == indexed, (sorted(plain - indexed)[:5], sorted(indexed - plain)[:5])
    cold_median = statistics.median(cold_times)
    print(
        f"[{label}] plain way: {plain_seconds * 1000:.1f} ms over records already in memory "
        f"(+{load_seconds:.2f} s to load them); same {len(plain)} (package, record) pairs; "
        f"index is {plain_seconds / cold_median:.0f}x faster cold"
    )
    verdict = "OK" if max(cold_times) <= TARGET_SECONDS else "OVER TARGET"
    print(f"[{label}] target <= {TARGET_SECONDS:.0f} s per match run: {verdict}")
    json_gz_alternative(label, folder / osv.INDEX_NAME, work, packages)


def json_gz_alternative(label: str, index: Path, work: Path, packages: list[Package]) -> None:
    """The same rows as one gzip JSON document, which must be read whole before a match."""
    import sqlite3

    with sqlite3.connect(index) as db:
        rows = db.execute("SELECT name, id, match, about FROM advisories").fetchall()
    document: dict[str, list[object]] = {}
    for name, ident, match, about in rows:
        document.setdefault(name, []).append([ident, json.loads(match), about])
    target = work / f"{label}.json.gz"
    with gzip.open(target, "wt", encoding="utf-8") as out:
        json.dump(document, out, separators=(",", ":"))
    clear_caches()
    started = time.perf_counter()
    with gzip.open(target, "rt", encoding="utf-8") as handle:
        loaded = json.load(handle)
    wanted = {p.key for p in packages}
    entries = {
        name: [Entry.from_row(*row) for row in rows]
        for name, rows in loaded.items()
        if name in wanted
    }
    osv.match_entries(packages, entries)
    seconds = time.perf_counter() - started
    print(
        f"[{label}] alternative pypi.json.gz: {target.stat().st_size / 1e6:.2f} MB, "
        f"load + match {seconds * 1000:.1f} ms (SQLite file: {index.stat().st_size / 1e6:.2f} MB)"
    )


# ------------------------------------------------------------------------------ synthetic

V3 = (
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
    "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
)
V4 = (
    "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N",
    "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N",
)
LABELS = ("LOW", "MODERATE", "HIGH", "CRITICAL")


def _version(rng: random.Random, major: int) -> str:
    text = f"{major}.{rng.randint(0, 12)}.{rng.randint(0, 20)}"
    roll = rng.random()
    if roll < 0.05:
        text += f"rc{rng.randint(1, 3)}"
    elif roll < 0.08:
        text += f".post{rng.randint(1, 2)}"
    elif roll < 0.1:
        text += f".dev{rng.randint(0, 5)}"
    return text


def synthetic_record(rng: random.Random, number: int, name: str) -> dict[str, object]:
    events: list[dict[str, str]] = []
    listed: list[str] = []
    majors = sorted(rng.sample(range(0, 8), rng.randint(1, 3)))
    for index, major in enumerate(majors):
        start = "0" if index == 0 and rng.random() < 0.4 else f"{major}.0"
        events.append({"introduced": start})
        roll = rng.random()
        if roll < 0.1:
            events.append({"last_affected": _version(rng, major)})
        elif roll < 0.15:
            events.append({"limit": f"{major + 1}.0"})
        elif roll < 0.95 or index < len(majors) - 1:
            events.append({"fixed": _version(rng, major)})
        listed.extend(f"{major}.{minor}.{patch}" for minor in range(3) for patch in range(4))
    rng.shuffle(events) if rng.random() < 0.1 else None  # some records list them unsorted
    ident = f"PYSEC-2099-{number}" if number % 3 else f"GHSA-syn{number:05d}-xxxx"
    data: dict[str, object] = {
        "id": ident,
        "modified": "2024-06-01T00:00:00Z",
        "summary": f"synthetic advisory {number} for {name}",
        "aliases": [f"CVE-2099-{number}"] if rng.random() < 0.7 else [],
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": name, "purl": f"pkg:pypi/{name}"},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
                "versions": listed,
            }
        ],
    }
    roll = rng.random()
    if roll < 0.4:
        data["severity"] = [{"type": "CVSS_V3", "score": rng.choice(V3)}]
    elif roll < 0.5:
        data["severity"] = [{"type": "CVSS_V4", "score": rng.choice(V4)}]
    elif roll < 0.8:
        data["database_specific"] = {"severity": rng.choice(LABELS)}
    if rng.random() < 0.03:
        data["withdrawn"] = "2024-07-01T00:00:00Z"
    return data


def write_synthetic(target: Path, count: int, names: list[str], seed: int = 7) -> None:
    rng = random.Random(seed)
    others = [f"synthetic-package-{i:04d}" for i in range(2500 - len(names))]
    everyone = names + others
    weights = [6.0] * len(names) + [1.0] * len(others)  # popular names have more advisories
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for number in range(1, count + 1):
            name = rng.choices(everyone, weights)[0]
            data = synthetic_record(rng, number, name)
            out.writestr(f"{data['id']}.json", json.dumps(data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=25_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder, keep it")
    args = parser.parse_args()
    packages = pins()
    with tempfile.TemporaryDirectory(prefix="bench-osv-") as temporary:
        work = args.keep or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        if (SNAPSHOT / "vulns").is_dir():
            compare("snapshot", SNAPSHOT, work, packages, args.repeat)
        else:
            print(f"[snapshot] skipped: no PyPA advisory snapshot at {SNAPSHOT}")
        archive = work / "synthetic.zip"
        started = time.perf_counter()
        names = sorted({p.name for p in packages})
        write_synthetic(archive, args.records, names)
        print(
            f"[synthetic] {args.records:,} records generated in "
            f"{time.perf_counter() - started:.2f} s ({archive.stat().st_size / 1e6:.1f} MB zip)"
        )
        compare("synthetic", archive, work, packages, args.repeat)


if __name__ == "__main__":
    main()
