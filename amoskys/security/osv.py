"""Offline vulnerability matching of Python packages against OSV advisories.

Three layers, I/O only at the edges:

* **Loading** - :func:`load_records` reads OSV records (JSON or YAML files in a folder tree, or a
  ``.zip`` of them such as OSV's own ``PyPI/all.zip``), keeps only the ``PyPI`` entries of
  ``affected``, skips withdrawn records and records with no PyPI package, and turns every bad
  record into a :class:`~amoskys.errors.Problem` instead of an exception.
* **Matching** - pure functions that follow the OSV specification's evaluation algorithm:
  a version is affected when it is listed in ``affected[].versions`` (PEP 440 ``==``: a
  local version ``1.0+x`` matches a listed ``1.0``) or lies in an ``ECOSYSTEM`` range, whose
  events are sorted by version (stable for equal versions) and replayed: ``introduced`` ("0" is
  below everything) opens, ``fixed`` closes at that version, ``last_affected`` closes above it,
  and a version must be below one of the ``limit`` events when there are any ("*" is infinity).
  Versions compare with PEP 440 ordering (:class:`packaging.version.Version`: dev < pre <
  final < post, local above its public version). ``SEMVER`` ranges are compared the same way
  (a PyPI package's versions are PEP 440 versions; SemVer strings parse as such); ``GIT``
  ranges need the repository and are ignored, as are ranges whose events do not parse.
* **The index** - :class:`VulnDb` stores the PyPI part of a database once, pre-digested
  (events pre-sorted, listed versions canonicalised, severities computed) in one SQLite file
  keyed by the PEP 503 normalised package name, so a match reads only the rows of the packages
  asked about.

A finding per package version and vulnerability: records that alias each other (``PYSEC-x``
lists ``GHSA-y``, which lists ``CVE-z``; aliases are symmetric and transitive) are merged into
one :class:`~amoskys.findings.model.Finding` whose ``rule`` is the preferred id - a ``GHSA-``
id if any, else ``PYSEC-``, else ``CVE-``, else the smallest id - and whose ``aliases`` are all
the others. Its severity is the highest over the merged records of: the CVSS v4 base score if
the record has a ``CVSS_V4`` vector, else the CVSS v3 one (``affected[].severity`` before the
top-level ``severity``), else the ``database_specific.severity`` label (GitHub's ``LOW``,
``MODERATE``, ``HIGH``, ``CRITICAL``), else ``UNKNOWN``.
"""

from __future__ import annotations

import functools
import http.client
import importlib
import json
import os
import sqlite3
import ssl
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from packaging.utils import canonicalize_name, canonicalize_version
from packaging.version import InvalidVersion, Version

from amoskys.errors import AmoskysError, Location, Problem
from amoskys.findings.model import Category, Finding, Severity, fingerprint
from amoskys.security.cvss import CvssError, CvssScore, score_vector
from amoskys.security.dependencies import Package

ECOSYSTEM = "PyPI"
DEFAULT_URL = "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"
"""OSV's export of every PyPI advisory: a zip with one JSON record per file."""
INDEX_NAME = "pypi.sqlite3"
"""The index file inside the folder given to :meth:`VulnDb.update` and :meth:`VulnDb.open`."""
INDEX_FORMAT = "2"
DOWNLOAD_TIMEOUT_SECONDS = 60.0
SUMMARY_LIMIT = 120
TOOL = "osv"

_RECORD_SUFFIXES = (".json", ".yaml", ".yml")
_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
_COMPARABLE_RANGES = ("ECOSYSTEM", "SEMVER")
_LABELS = {
    "CRITICAL": Severity.CRITICAL,
    "HIGH": Severity.HIGH,
    "MODERATE": Severity.MEDIUM,
    "MEDIUM": Severity.MEDIUM,
    "LOW": Severity.LOW,
}
_UPDATE_HINT = "run `amoskys vulndb update` (offline: `amoskys vulndb update --from DIR|ZIP`)"


# =============================================================================== the model


class Event(NamedTuple):
    """One range event. (Named tuples for the values a match builds by the thousand: they
    are immutable like the frozen dataclasses and several times cheaper to create.)"""

    kind: str  # "introduced", "fixed", "last_affected" or "limit"
    version: str


@dataclass(frozen=True)
class VersionRange:
    type: str  # "ECOSYSTEM", "SEMVER" or "GIT"
    events: tuple[Event, ...]


@dataclass(frozen=True)
class SeverityEntry:
    type: str  # "CVSS_V3", "CVSS_V4", ...
    score: str  # for CVSS: the vector string


@dataclass(frozen=True)
class Affected:
    """One ``affected[]`` entry of the PyPI ecosystem."""

    name: str  # as written in the record
    ranges: tuple[VersionRange, ...] = ()
    versions: tuple[str, ...] = ()
    severity: tuple[SeverityEntry, ...] = ()

    @property
    def key(self) -> str:
        return canonicalize_name(self.name)


@dataclass(frozen=True)
class OsvRecord:
    """An OSV record, reduced to what matching and reporting need (PyPI entries only)."""

    id: str
    modified: str = ""
    aliases: tuple[str, ...] = ()
    summary: str = ""
    details: str = ""
    severity: tuple[SeverityEntry, ...] = ()
    affected: tuple[Affected, ...] = ()
    label: str | None = None  # database_specific.severity, e.g. GitHub's "MODERATE"
    published: str = ""
    withdrawn: str | None = None


class RecordError(ValueError):
    """A record that does not follow the OSV schema where it matters."""


# =============================================================================== parsing


def _text(value: object, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # a YAML loader that typed an unquoted version
    raise RecordError(f"{what} must be a string, got {type(value).__name__}")


def _optional_text(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    return "" if value is None else _text(value, key)


def _list(value: object, what: str) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError(f"{what} must be a list")
    return value


def _mapping(value: object, what: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise RecordError(f"{what} must be an object")
    return value


def _severities(value: object, what: str) -> tuple[SeverityEntry, ...]:
    entries = []
    for item in _list(value, what):
        entry = _mapping(item, what)
        entries.append(
            SeverityEntry(_text(entry.get("type"), f"{what}.type"), _optional_text(entry, "score"))
        )
    return tuple(entries)


def _range(value: object) -> VersionRange:
    data = _mapping(value, "affected[].ranges[]")
    kind = _text(data.get("type"), "ranges[].type")
    events = []
    for item in _list(data.get("events"), "ranges[].events"):
        event = _mapping(item, "ranges[].events[]")
        keys = [key for key in _EVENT_KINDS if key in event]
        if len(keys) != 1:
            raise RecordError(f"an event must have exactly one of {', '.join(_EVENT_KINDS)}")
        events.append(Event(keys[0], _text(event[keys[0]], f"events[].{keys[0]}")))
    return VersionRange(kind, tuple(events))


def parse_record(data: object) -> OsvRecord:
    """An :class:`OsvRecord` from decoded JSON/YAML, with only its PyPI ``affected`` entries.

    Raises :class:`RecordError` for a record that is not an OSV record.
    """
    record = _mapping(data, "a record")
    if "id" not in record:
        raise RecordError("a record needs an id")
    affected = []
    for item in _list(record.get("affected"), "affected"):
        entry = _mapping(item, "affected[]")
        package = entry.get("package")
        if package is None:
            continue  # an entry without a package (a GIT-only range): not ours
        package = _mapping(package, "affected[].package")
        if package.get("ecosystem") != ECOSYSTEM:
            continue
        affected.append(
            Affected(
                name=_text(package.get("name"), "affected[].package.name"),
                ranges=tuple(_range(r) for r in _list(entry.get("ranges"), "ranges")),
                versions=tuple(
                    _text(v, "affected[].versions[]")
                    for v in _list(entry.get("versions"), "versions")
                ),
                severity=_severities(entry.get("severity"), "affected[].severity"),
            )
        )
    specific = record.get("database_specific")
    label = specific.get("severity") if isinstance(specific, dict) else None
    withdrawn = record.get("withdrawn")
    return OsvRecord(
        id=_text(record["id"], "id"),
        modified=_optional_text(record, "modified"),
        aliases=tuple(_text(a, "aliases[]") for a in _list(record.get("aliases"), "aliases")),
        summary=_optional_text(record, "summary"),
        details=_optional_text(record, "details"),
        severity=_severities(record.get("severity"), "severity"),
        affected=tuple(affected),
        label=label if isinstance(label, str) else None,
        published=_optional_text(record, "published"),
        withdrawn=None if withdrawn in (None, "") else _text(withdrawn, "withdrawn"),
    )


# =============================================================================== loading


def _yaml_loader() -> Callable[[str], object]:
    """A YAML loader that keeps every scalar a string (``1.10`` must not become 1.1).

    libyaml through PyYAML's ``CBaseLoader`` when it is installed (about 12x faster), else
    ruamel.yaml's pure-Python base loader.
    """
    try:
        pyyaml = importlib.import_module("yaml")
        c_loader = getattr(pyyaml, "CBaseLoader")
        load = getattr(pyyaml, "load")
    except (ImportError, AttributeError):
        from ruamel.yaml import YAML

        parser = YAML(typ="base", pure=True)
        return lambda text: parser.load(text)
    return lambda text: load(text, Loader=c_loader)


def _decode(name: str, raw: bytes, load_yaml: Callable[[str], object]) -> list[object]:
    text = raw.decode("utf-8-sig")
    data = json.loads(text) if name.lower().endswith(".json") else load_yaml(text)
    return data if isinstance(data, list) else [data]  # an export may hold a list of records


def _raw_files(source: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.suffix.lower() in _RECORD_SUFFIXES and path.is_file():
                yield path.as_posix(), path.read_bytes
        return
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            for info in sorted(archive.infolist(), key=lambda i: i.filename):
                name = info.filename
                if not info.is_dir() and name.lower().endswith(_RECORD_SUFFIXES):
                    yield f"{source.as_posix()}!{name}", functools.partial(archive.read, info)
        return
    if source.is_file() and source.suffix.lower() in _RECORD_SUFFIXES:
        yield source.as_posix(), source.read_bytes
        return
    raise AmoskysError(
        f"{source} is not a folder of OSV records or a .zip of them",
        hint="give a folder of .json/.yaml OSV files, or OSV's PyPI all.zip",
    )


@dataclass
class LoadStats:
    """What :func:`load_records` saw, filled in while it iterates."""

    files: int = 0
    records: int = 0
    withdrawn: int = 0
    other_ecosystems: int = 0


def load_records(
    source: Path,
    problems: list[Problem] | None = None,
    stats: LoadStats | None = None,
) -> Iterator[OsvRecord]:
    """The PyPI records of a folder tree of ``.json``/``.yaml``/``.yml`` OSV files, a ``.zip``
    of them, or a single file. Withdrawn records and records without a PyPI package are
    skipped (and counted in ``stats``); a file or record that cannot be read or is not OSV is
    reported in ``problems`` and skipped."""
    sink: list[Problem] = [] if problems is None else problems
    seen = LoadStats() if stats is None else stats
    load_yaml = _yaml_loader()
    for name, read in _raw_files(source):
        seen.files += 1
        try:
            documents = _decode(name, read(), load_yaml)
        except Exception as exc:  # any parser error of any loader: the file is skipped
            sink.append(Problem(f"cannot parse: {_first_line(exc)}", Location(name)))
            continue
        for document in documents:
            try:
                record = parse_record(document)
            except RecordError as exc:
                sink.append(Problem(f"not an OSV record: {exc}", Location(name)))
                continue
            if record.withdrawn:
                seen.withdrawn += 1
            elif not record.affected:
                seen.other_ecosystems += 1
            else:
                seen.records += 1
                yield record


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


# =============================================================================== matching


@functools.lru_cache(maxsize=1 << 16)
def parse_version(text: str) -> Version | None:
    """``text`` as a PEP 440 version, or ``None`` when it is not one (cached: advisories repeat
    the same boundaries over and over)."""
    try:
        return Version(text)
    except InvalidVersion:
        return None


_ZERO = Version("0")


def _sort_key(event: Event) -> tuple[int, Version]:
    if event.kind == "introduced" and event.version == "0":
        return (0, _ZERO)
    if event.kind == "limit" and "*" in event.version:
        return (2, _ZERO)
    version = parse_version(event.version)
    if version is None:
        raise RecordError(f"{event.kind} version {event.version!r} is not a PEP 440 version")
    return (1, version)


def sorted_events(events: Iterable[Event]) -> tuple[Event, ...]:
    """``events`` in version order ("0" first, a "*" limit last; equal versions keep their
    order). Raises :class:`RecordError` for a version that is not PEP 440."""
    return tuple(sorted(events, key=_sort_key))


@functools.lru_cache(maxsize=1 << 16)
def _bound(text: str) -> Version:
    """An event's version; events reach evaluation only through :func:`sorted_events`, which
    rejects the ones that do not parse."""
    version = parse_version(text)
    if version is None:
        raise RecordError(f"{text!r} is not a PEP 440 version")
    return version


def in_range(version: Version, events: Iterable[Sequence[str]]) -> bool:
    """The specification's ``IncludedInRanges`` for one range whose events are already sorted
    (:func:`sorted_events`): the events replayed in order, and below one of the ``limit``
    events when there are any (none means an implicit "*")."""
    vulnerable = False
    limited = False
    below_a_limit = False
    for kind, text in events:
        if kind == "introduced":
            if text == "0" or version >= _bound(text):
                vulnerable = True
        elif kind == "fixed":
            if version >= _bound(text):
                vulnerable = False
        elif kind == "last_affected":
            if version > _bound(text):
                vulnerable = False
        elif kind == "limit":
            limited = True
            if "*" in text or version < _bound(text):
                below_a_limit = True
    return vulnerable and (below_a_limit or not limited)


@functools.lru_cache(maxsize=1 << 16)
def canonical_version(text: str) -> str:
    """The form listed versions are compared in: ``2.0`` and ``2.0.0`` both give ``2``."""
    version = parse_version(text)
    return canonicalize_version(version) if version is not None else text.strip()


def _listed(version: Version, text: str, listed: Collection[str]) -> bool:
    if canonical_version(text) in listed:
        return True
    # PEP 440 "==": a public listed version matches every local version of it
    return version.local is not None and canonicalize_version(version.public) in listed


def hits(
    version: Version,
    text: str,
    ranges: Iterable[Sequence[Sequence[str]]],
    listed: Collection[str],
) -> bool:
    """``version`` (spelled ``text``) is listed or inside one of the sorted ``ranges``."""
    return _listed(version, text, listed) or any(in_range(version, r) for r in ranges)


def fixes_above(version: Version, events: Iterable[Sequence[str]]) -> list[str]:
    """The ``fixed`` versions of a sorted range above ``version``, lowest first."""
    return [text for kind, text in events if kind == "fixed" and _bound(text) > version]


def is_affected(version: str, affected: Affected) -> bool:
    """The specification's evaluation for one ``affected`` entry, straight from the record
    (no index): listed in ``versions`` or inside one of its ``ECOSYSTEM``/``SEMVER`` ranges.
    A range whose events do not parse as PEP 440 versions is ignored."""
    parsed = parse_version(version)
    if parsed is None:
        return False
    listed = {canonical_version(v) for v in affected.versions}
    if _listed(parsed, version, listed):
        return True
    for candidate in affected.ranges:
        if candidate.type not in _COMPARABLE_RANGES:
            continue
        try:
            events = sorted_events(candidate.events)
        except RecordError:
            continue
        if in_range(parsed, events):
            return True
    return False


# =============================================================================== severity


class Rating(NamedTuple):
    """How severe one record is for one package, and from what."""

    severity: Severity
    score: float | None = None
    vector: str | None = None

    @property
    def order(self) -> tuple[int, float]:
        known = self.severity is not Severity.UNKNOWN
        return (self.severity.rank if known else -1, self.score or 0.0)


def rate(
    record: OsvRecord, affected: Affected | None = None, problems: list[Problem] | None = None
) -> Rating:
    """CVSS v4, else CVSS v3 (computed from the vectors; per-package entries first), else the
    database's label, else ``UNKNOWN``."""
    entries = (affected.severity if affected is not None else ()) + record.severity
    for wanted in ("CVSS_V4", "CVSS_V3"):
        for entry in entries:
            if entry.type != wanted:
                continue
            try:
                scored: CvssScore = score_vector(entry.score)
            except CvssError as exc:
                if problems is not None:
                    problems.append(Problem(f"{record.id}: {exc}", hint="the vector is ignored"))
                continue
            return Rating(scored.severity, scored.score, scored.vector)
    if record.label is not None:
        label = _LABELS.get(record.label.strip().upper())
        if label is not None:
            return Rating(label)
    return Rating(Severity.UNKNOWN)


# =============================================================================== the index


class Entry(NamedTuple):
    """One record's view of one package, as stored in the index: ready to evaluate."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    rating: Rating
    ranges: tuple[tuple[Event, ...], ...]  # comparable ranges, events sorted
    listed: frozenset[str]  # canonical forms of affected[].versions
    modified: str = ""

    def matches(self, version: Version, text: str) -> bool:
        return hits(version, text, self.ranges, self.listed)

    def fix_for(self, version: Version) -> str | None:
        """The lowest fixed version that leaves every range holding ``version``, if any."""
        needed: list[str] = []
        for events in self.ranges:
            if in_range(version, events):
                above = fixes_above(version, events)
                if above:
                    needed.append(above[0])
        return max(needed, key=_bound) if needed else None

    def last_affected(self, version: Version) -> str | None:
        for events in self.ranges:
            if in_range(version, events):
                for kind, text in events:
                    if kind == "last_affected" and _bound(text) >= version:
                        return text
        return None

    def to_row(self) -> tuple[str, str, str]:
        """The index row: the id, then what matching reads - a JSON array of the ranges and
        the listed versions - and what only a hit needs: a JSON array of aliases, summary,
        severity, score, vector and modified."""
        match = json.dumps([self.ranges, sorted(self.listed)], separators=(",", ":"))
        rating = self.rating
        about = [self.aliases, self.summary, rating.severity.value, rating.score, rating.vector]
        return self.id, match, json.dumps([*about, self.modified], separators=(",", ":"))

    @staticmethod
    def from_row(ident: str, match: Sequence[Any], about: str) -> Entry:
        """The entry of an index row (``match`` already decoded)."""
        ranges, listed = match
        aliases, summary, severity, score, vector, modified = json.loads(about)
        return Entry(
            ident,
            tuple(aliases),
            summary,
            Rating(_SEVERITIES[severity], score, vector),
            tuple(tuple(Event(kind, version) for kind, version in events) for events in ranges),
            frozenset(listed),
            modified,
        )


_SEVERITIES = {severity.value: severity for severity in Severity}


def summary_of(record: OsvRecord) -> str:
    """The record's summary, else the first line of its details, at most 120 characters."""
    text = record.summary.strip() or record.details.strip()
    text = " ".join(text.splitlines()[0].split()) if text else record.id
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1].rstrip() + "…"


def _not_covered(listed: Iterable[str], ranges: Sequence[Sequence[Event]]) -> list[str]:
    """The listed versions a range does not already match, for a compact index.

    Exact: a listed ``X`` is dropped only when ``X`` is inside a range and no event of any range
    is ``X`` with or without a local label (then every ``X+local``, which ``==X`` also
    matches, is inside that range as well).
    """
    publics = set()
    for events in ranges:
        for event in events:
            bound = parse_version(event.version)
            if bound is not None:
                publics.add(Version(bound.public))
    kept = []
    for text in listed:
        version = parse_version(text)
        if (
            version is None
            or version.local is not None
            or version in publics  # not local here, so it is its own public part
            or not any(in_range(version, events) for events in ranges)
        ):
            kept.append(text)
    return kept


def entries_of(record: OsvRecord, problems: list[Problem] | None = None) -> list[tuple[str, Entry]]:
    """(normalised package name, :class:`Entry`) for each package the record affects; ranges
    that cannot be compared are left out (and reported)."""
    sink: list[Problem] = [] if problems is None else problems
    by_name: dict[str, list[Affected]] = {}
    for affected in record.affected:
        by_name.setdefault(affected.key, []).append(affected)
    result = []
    for name, entries in by_name.items():
        ranges: list[tuple[Event, ...]] = []
        listed: set[str] = set()
        for affected in entries:
            listed.update(canonical_version(v) for v in affected.versions)
            for candidate in affected.ranges:
                if candidate.type not in _COMPARABLE_RANGES:
                    continue
                if not any(e.kind == "introduced" for e in candidate.events):
                    sink.append(
                        Problem(
                            f"{record.id}: a {candidate.type} range without an "
                            "introduced event is ignored"
                        )
                    )
                    continue
                try:
                    ranges.append(sorted_events(candidate.events))
                except RecordError as exc:
                    sink.append(Problem(f"{record.id}: {exc}", hint="that range is ignored"))
        rating = max((rate(record, a, sink) for a in entries), key=lambda r: r.order)
        entry = Entry(
            id=record.id,
            aliases=tuple(a for a in record.aliases if a != record.id),
            summary=summary_of(record),
            rating=rating,
            ranges=tuple(ranges),
            listed=frozenset(_not_covered(listed, ranges)),
            modified=record.modified,
        )
        result.append((name, entry))
    return result


@dataclass(frozen=True)
class UpdateResult:
    path: Path  # the index file
    source: str
    records: int  # PyPI records indexed (after de-duplication by id)
    packages: int  # distinct normalised package names
    withdrawn: int
    other_ecosystems: int
    problems: tuple[Problem, ...]
    seconds: float
    size_bytes: int


@dataclass(frozen=True)
class MatchResult:
    findings: list[Finding]
    problems: list[Problem] = field(default_factory=list)


_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE advisories (
    name TEXT NOT NULL,  -- PEP 503 normalised
    id TEXT NOT NULL,
    match TEXT NOT NULL,  -- [ranges (sorted events), listed versions not covered by them]
    about TEXT NOT NULL  -- [aliases, summary, severity, score, vector, modified]
);
"""


def _download(url: str, folder: Path, timeout: float) -> Path:
    """``url`` saved into a new file in ``folder``; network failures become an
    :class:`AmoskysError` that says how to update offline."""
    if not url.startswith("https://"):
        raise AmoskysError(f"refusing to download {url!r}", hint="only https:// URLs are used")
    descriptor, name = tempfile.mkstemp(prefix=".download-", suffix=".zip", dir=folder)
    target = Path(name)
    offline = (
        "download PyPI/all.zip from OSV on a connected machine, then run "
        "`amoskys vulndb update --from DIR|ZIP` with that zip or an unpacked folder"
    )
    request = urllib.request.Request(url, headers={"User-Agent": "amoskys-vulndb"})
    try:
        with (
            os.fdopen(descriptor, "wb") as out,
            urllib.request.urlopen(  # nosec B310 - https only, checked above
                request, timeout=timeout
            ) as response,
        ):
            while chunk := response.read(1 << 20):
                out.write(chunk)
    except urllib.error.HTTPError as exc:
        target.unlink(missing_ok=True)
        raise AmoskysError(
            f"cannot download {url}: HTTP {exc.code} {exc.reason}", hint=offline
        ) from None
    except (
        urllib.error.URLError,
        http.client.HTTPException,
        ssl.SSLError,
        TimeoutError,
        ConnectionError,
    ) as exc:
        target.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise AmoskysError(
            f"cannot download {url}: the network is unreachable ({reason})", hint=offline
        ) from None
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


Row = tuple[str, Any, str]
"""An index row as :meth:`VulnDb.rows` gives it: id, decoded match data, the ``about`` JSON."""


def _row_hit(row: Row, version: Version, text: str) -> Entry | None:
    ident, match, about = row
    ranges, listed = match
    return Entry.from_row(ident, match, about) if hits(version, text, ranges, listed) else None


class VulnDb:
    """A local, read-only index of the PyPI advisories of an OSV database.

    Build it with :meth:`update` (from a folder, a zip or an ``https://`` URL), open it with
    :meth:`open`, then :meth:`match` packages. One SQLite file, ``<folder>/pypi.sqlite3``.
    """

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection
        self._cache: dict[str, tuple[Row, ...]] = {}
        self.meta: dict[str, str] = dict(connection.execute("SELECT key, value FROM meta"))

    # ---------------------------------------------------------------- building

    @staticmethod
    def update(
        source: Path | str,
        dest: Path,
        *,
        timeout: float = DOWNLOAD_TIMEOUT_SECONDS,
    ) -> UpdateResult:
        """(Re)build ``dest/pypi.sqlite3`` from ``source``: a folder of OSV files, a ``.zip``
        of them, or an ``https://`` URL of such a zip (default: OSV's PyPI export). The new
        index replaces the old one atomically; a failed update leaves the old one in place."""
        started = time.perf_counter()
        dest.mkdir(parents=True, exist_ok=True)
        downloaded: Path | None = None
        if isinstance(source, str) and "://" in source:
            downloaded = local = _download(source, dest, timeout)
        else:
            local = Path(source)
            if not local.exists():
                raise AmoskysError(f"{local} does not exist", hint=_UPDATE_HINT)
        problems: list[Problem] = []
        stats = LoadStats()
        newest: dict[str, OsvRecord] = {}
        try:
            for record in load_records(local, problems, stats):
                known = newest.get(record.id)
                # the specification: of two entries with one id, the later modified one wins
                if known is None or record.modified >= known.modified:
                    newest[record.id] = record
        finally:
            if downloaded is not None:
                downloaded.unlink(missing_ok=True)
        if not newest:
            first = f"; first problem: {problems[0]}" if problems else ""
            raise AmoskysError(
                f"no PyPI advisories in {source} ({stats.files} files read{first})",
                hint="the index was left as it was; give a folder or zip of OSV records",
            )
        rows = []
        for record in newest.values():
            for name, entry in entries_of(record, problems):
                rows.append((name, *entry.to_row()))
        rows.sort()
        target = dest / INDEX_NAME
        descriptor, temporary = tempfile.mkstemp(prefix=".pypi-", suffix=".part", dir=dest)
        os.close(descriptor)
        part = Path(temporary)
        try:
            part.unlink()
            with sqlite3.connect(part) as db:
                db.executescript(_SCHEMA)
                db.executemany("INSERT INTO advisories VALUES (?, ?, ?, ?)", rows)
                db.execute("CREATE INDEX advisories_name ON advisories (name)")
                built = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                db.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [
                        ("format", INDEX_FORMAT),
                        ("source", str(source)),
                        ("built", built),
                        ("records", str(len(newest))),
                    ],
                )
            db.close()
            os.replace(part, target)
        finally:
            part.unlink(missing_ok=True)
        return UpdateResult(
            path=target,
            source=str(source),
            records=len(newest),
            packages=len({row[0] for row in rows}),
            withdrawn=stats.withdrawn,
            other_ecosystems=stats.other_ecosystems,
            problems=tuple(problems),
            seconds=time.perf_counter() - started,
            size_bytes=target.stat().st_size,
        )

    # ---------------------------------------------------------------- reading

    @classmethod
    def open(cls, folder: Path) -> VulnDb:
        """The index in ``folder``; :class:`AmoskysError` with a hint when there is none."""
        path = folder / INDEX_NAME
        if not path.is_file():
            raise AmoskysError(f"no vulnerability database in {folder}", hint=_UPDATE_HINT)
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            db = cls(path, connection)
        except sqlite3.Error as exc:
            connection.close()
            raise AmoskysError(
                f"{path} is not a vulnerability database ({exc})", hint=_UPDATE_HINT
            ) from None
        if db.meta.get("format") != INDEX_FORMAT:
            connection.close()
            raise AmoskysError(f"{path} was built by another version", hint=_UPDATE_HINT)
        return db

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> VulnDb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def rows(self, names: Iterable[str]) -> dict[str, tuple[Row, ...]]:
        """The index rows of ``names`` (normalised here), their match data decoded; cached per
        name, so a second match of the same packages reads nothing."""
        keys = [canonicalize_name(n) for n in names]
        wanted = sorted(set(keys) - self._cache.keys())
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            found: dict[str, list[Row]] = {name: [] for name in chunk}
            marks = ",".join("?" * len(chunk))
            query = (
                "SELECT name, id, match, about FROM advisories "  # nosec B608 - only "?" marks
                f"WHERE name IN ({marks})"
            )
            fetched = self._db.execute(query, chunk).fetchall()
            # one decode for all the match arrays instead of one per row
            matches = json.loads("[" + ",".join(row[2] for row in fetched) + "]")
            for (name, ident, _, about), match in zip(fetched, matches):
                found[name].append((ident, match, about))
            for name, rows in found.items():
                self._cache[name] = tuple(rows)
        return {key: self._cache[key] for key in keys}

    def entries(self, name: str) -> list[Entry]:
        """Every entry of package ``name`` (for inspection; matching builds only the hits)."""
        return [Entry.from_row(*row) for row in self.rows([name])[canonicalize_name(name)]]

    def scan(self, packages: Iterable[Package]) -> MatchResult:
        """Findings for ``packages`` plus the problems met (unparseable versions)."""
        unique = list(dict.fromkeys(packages))
        table = self.rows(p.name for p in unique)
        return _match(unique, lambda key: table.get(key, ()), _row_hit)

    def match(self, packages: Iterable[Package]) -> list[Finding]:
        """One finding per vulnerable package version and vulnerability (aliases merged)."""
        return self.scan(packages).findings


# =============================================================================== findings


def _preference(identifier: str) -> tuple[int, str]:
    for rank, prefix in enumerate(("GHSA-", "PYSEC-", "CVE-")):
        if identifier.startswith(prefix):
            return (rank, identifier)
    return (3, identifier)


def group_aliases(entries: Sequence[Entry]) -> list[list[Entry]]:
    """``entries`` split into groups of records that alias each other (transitively)."""
    parent = list(range(len(entries)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for index, entry in enumerate(entries):
        for identifier in (entry.id, *entry.aliases):
            if identifier in owner:
                parent[root(index)] = root(owner[identifier])
            else:
                owner[identifier] = index
    groups: dict[int, list[Entry]] = {}
    for index, entry in enumerate(entries):
        groups.setdefault(root(index), []).append(entry)
    return list(groups.values())


def _finding(package: Package, version: Version, group: Sequence[Entry]) -> Finding:
    identifiers = sorted({i for e in group for i in (e.id, *e.aliases)}, key=_preference)
    rule, aliases = identifiers[0], tuple(identifiers[1:])
    lead = next((e for e in group if e.id == rule), min(group, key=lambda e: _preference(e.id)))
    rating = max((e.rating for e in group), key=lambda r: r.order)
    fixes = [fix for fix in (e.fix_for(version) for e in group) if fix is not None]
    if fixes:
        fixed_in: str | None = max(fixes, key=_bound)
        fix = f"upgrade {package.name} to >= {fixed_in}"
    else:
        fixed_in = None
        last = next((v for v in (e.last_affected(version) for e in group) if v), None)
        fix = (
            f"no fixed release known; {package.name} {last} is the last affected version"
            if last
            else f"no fixed release of {package.name} is known"
        )
    key = canonicalize_name(package.name)
    return Finding(
        tool=TOOL,
        rule=rule,
        severity=rating.severity,
        category=Category.VULNERABILITY,
        message=f"{package.name} {package.version}: {lead.summary}",
        file=package.source_file,
        line=package.line,
        fingerprint=fingerprint(TOOL, rule, package.source_file, f"{key}=={package.version}"),
        aliases=aliases,
        fix=fix,
        extra={
            "package": key,
            "version": package.version,
            "fixed_in": fixed_in,
            "score": rating.score,
            "vector": rating.vector,
            "records": sorted(e.id for e in group),
        },
    )


_T = TypeVar("_T")


def _match(
    packages: Iterable[Package],
    candidates: Callable[[str], Sequence[_T]],
    hit: Callable[[_T, Version, str], Entry | None],
) -> MatchResult:
    findings: list[Finding] = []
    problems: list[Problem] = []
    for package in packages:
        found = candidates(canonicalize_name(package.name))
        if not found:
            continue
        version = parse_version(package.version)
        if version is None:
            where = (
                Location(package.source_file, package.line or 0) if package.source_file else None
            )
            problems.append(
                Problem(
                    f"{package.name} {package.version!r} is not a PEP 440 version",
                    where,
                    hint="it was not checked for vulnerabilities",
                )
            )
            continue
        matched = [e for e in (hit(c, version, package.version) for c in found) if e is not None]
        for group in group_aliases(matched):
            findings.append(_finding(package, version, group))
    findings.sort(key=lambda f: (f.file or "", f.line or 0, str(f.extra["package"]), f.rule))
    return MatchResult(findings, problems)


def _entry_hit(entry: Entry, version: Version, text: str) -> Entry | None:
    return entry if entry.matches(version, text) else None


def match_entries(packages: Iterable[Package], index: Mapping[str, Sequence[Entry]]) -> MatchResult:
    """The pure core of :meth:`VulnDb.match`: ``index`` maps normalised names to entries."""
    return _match(list(dict.fromkeys(packages)), lambda key: index.get(key, ()), _entry_hit)


def match_records(packages: Iterable[Package], records: Iterable[OsvRecord]) -> MatchResult:
    """Match straight from records, without an index (small inputs, tests)."""
    index: dict[str, list[Entry]] = {}
    for record in records:
        for name, entry in entries_of(record):
            index.setdefault(name, []).append(entry)
    return match_entries(list(dict.fromkeys(packages)), index)
