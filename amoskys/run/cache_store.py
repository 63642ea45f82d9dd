"""A local, content-addressed store behind ``actions/cache`` (and its restore/save halves).

Layout under the store's root::

    objects/ab/cdef...     one blob per distinct file content, named by its SHA-256
    entries/<id>.json      one manifest per (key, version): what to write where
    tmp/                   temporary files; a crash leaves litter here, never a half entry
    lock                   shared by savers and restorers, exclusive for :meth:`prune`

GitHub's rules, as documented for ``actions/cache``:

* ``restore`` looks for an exact match of ``key`` (``hit``), then for keys that start with
  ``key``, then for each restore key in order (an exact match first, then the newest entry
  whose key starts with it). Only entries of the same *version* count; the version is a hash of
  the ``path`` input and of the OS, so different paths never restore each other's files.
* Entries are immutable: saving a key that exists is a no-op reported as ``"exists"``.
* Keys are at most 512 characters and contain no commas.
* ``path`` is newline-separated; globs, ``~`` and ``!`` exclusions are allowed; relative paths
  are taken from the workspace, absolute ones as they are.

The module also holds the path-pattern engine (``@actions/glob``'s documented syntax) that the
artifact store shares: :func:`parse_path_patterns` and :func:`find_paths`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import stat
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from amoskys.errors import AmoskysError

if sys.platform != "win32":
    import fcntl

MAX_KEY_LENGTH = 512
"""GitHub rejects longer cache keys."""
FORMAT = 1
"""Version of the manifest format; part of every cache version, so a change invalidates all."""
SMALL_FILE = 4 * 1024 * 1024
"""Files up to this size are read once into memory to hash them before deciding to store."""
CHUNK = 1024 * 1024
STALE_TEMP_SECONDS = 3600.0
""":meth:`CacheStore.prune` removes temporary files older than this (litter from crashes)."""
WORKERS = min(8, os.cpu_count() or 1)

Anchor = Literal["workspace", "home", "root"]
Kind = Literal["file", "dir", "symlink"]

_GLOB_CHARS = re.compile(r"[*?]|\[.*\]")
_ENTRY_NAME = re.compile(r"^[0-9a-f]{64}\.json$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


# --------------------------------------------------------------------------- path patterns


@dataclass(frozen=True)
class PathPattern:
    """One line of a ``path`` input, made absolute: ``*``, ``?``, ``[...]``, ``**``, ``!``.

    A pattern that matches a directory also matches everything below it (as ``@actions/glob``
    does by default); a trailing ``/`` makes it match directories only.
    """

    text: str
    negate: bool
    absolute: str
    dir_only: bool
    search_path: Path
    regex: re.Pattern[str] = field(compare=False, repr=False)
    prefix_regex: re.Pattern[str] = field(compare=False, repr=False)

    def matches(self, path: str, is_dir: bool) -> bool:
        """Whether ``path`` (absolute, ``/``-separated) is matched or is below a match."""
        m = self.regex.match(path)
        if m is None:
            return False
        if m.group("below") is not None:
            return True
        return is_dir or not self.dir_only

    def may_contain(self, directory: str) -> bool:
        """Whether something at or below ``directory`` could match this pattern."""
        return self.prefix_regex.match(directory) is not None or self.matches(directory, True)


def _is_glob_segment(segment: str) -> bool:
    return _GLOB_CHARS.search(segment) is not None


def _segment_regex(segment: str) -> str:
    """Translate one path segment (no ``/``) into a regular expression."""
    out: list[str] = []
    i, n = 0, len(segment)
    while i < n:
        c = segment[i]
        if c == "*":
            while i + 1 < n and segment[i + 1] == "*":
                i += 1
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i + 1
            if j < n and segment[j] in "!^":
                j += 1
            if j < n and segment[j] == "]":
                j += 1
            while j < n and segment[j] != "]":
                j += 1
            if j >= n:
                out.append(re.escape(c))
            else:
                body = segment[i + 1 : j]
                negated = body[:1] in ("!", "^")
                if negated:
                    body = body[1:]
                body = "".join("\\" + ch if ch in "\\[]^&~|" else ch for ch in body)
                out.append(f"[{'^/' if negated else ''}{body}]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _posix(path: Path | str) -> str:
    return Path(path).as_posix()


def _compile(absolute: str) -> tuple[re.Pattern[str], re.Pattern[str], Path]:
    """Full regex, directory-prefix regex and search path of an absolute pattern."""
    parts = absolute.split("/")
    root, segments = parts[0], [s for s in parts[1:] if s]
    pieces: list[str] = []
    literal: list[str] = []
    globbing = False
    for seg in segments:
        if seg == "**":
            pieces.append("(?:/[^/]+)*")
            globbing = True
            continue
        if _is_glob_segment(seg):
            globbing = True
            pieces.append("/" + _segment_regex(seg))
        else:
            pieces.append("/" + re.escape(seg))
            if not globbing:
                literal.append(seg)
    body = re.escape(root) + "".join(pieces)
    full = re.compile(f"^{body}(?P<below>/.*)?$", re.DOTALL)
    nested = ""
    for piece in reversed(pieces):
        nested = f"(?:{piece}{nested})?"
    prefix = re.compile(f"^{re.escape(root)}{nested}$", re.DOTALL)
    search = (root or "/") + ("/" if root else "") + "/".join(literal)
    return full, prefix, Path(os.path.normpath(search) if search else "/")


def _expand_home(text: str, home: Path) -> str:
    if text == "~" or text.startswith("~/") or text.startswith("~" + os.sep):
        return str(home) + text[1:]
    return text


def split_lines(value: str | Iterable[str]) -> list[str]:
    """A newline-separated input (or a list) as stripped, non-empty lines."""
    lines = value.splitlines() if isinstance(value, str) else list(value)
    return [line.strip() for line in lines if line.strip()]


def parse_path_patterns(
    value: str | Iterable[str], workspace: Path, *, home: Path | None = None
) -> list[PathPattern]:
    """Parse a ``path`` input: one pattern a line; ``#`` lines are comments.

    Relative patterns are rooted at ``workspace``; ``~`` is ``home`` (default: the user's).
    """
    base = Path(os.path.abspath(workspace))
    home_dir = Path(os.path.abspath(home if home is not None else Path.home()))
    patterns: list[PathPattern] = []
    for line in split_lines(value):
        if line.startswith("#"):
            continue
        text, negate = line, False
        while text.startswith("!"):
            text, negate = text[1:].lstrip(), not negate
        if not text:
            raise AmoskysError(
                f"path pattern {line!r} has nothing after '!'",
                hint="write the path to exclude after the '!'",
            )
        expanded = _expand_home(text, home_dir)
        dir_only = expanded.endswith("/") or expanded.endswith(os.sep)
        joined = expanded if os.path.isabs(expanded) else os.path.join(base, expanded)
        absolute = _posix(os.path.normpath(joined))
        full, prefix, search = _compile(absolute)
        patterns.append(PathPattern(line, negate, absolute, dir_only, search, full, prefix))
    return patterns


@dataclass(frozen=True)
class FoundPath:
    """A path selected by the patterns, with what :func:`os.lstat` (or ``stat``) said."""

    path: Path
    kind: Kind
    search_root: Path
    mode: int
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class FindResult:
    """What :func:`find_paths` selected, the include patterns' search paths and any warnings."""

    found: tuple[FoundPath, ...]
    search_paths: tuple[Path, ...]
    warnings: tuple[str, ...] = ()

    @property
    def files(self) -> tuple[FoundPath, ...]:
        return tuple(f for f in self.found if f.kind == "file")


def _under(path: str, ancestor: str) -> bool:
    return path == ancestor or path.startswith(ancestor.rstrip("/") + "/")


class _Walker:
    def __init__(
        self,
        patterns: Sequence[PathPattern],
        follow_symlinks: bool,
        include_hidden: bool,
        skip: Sequence[str],
    ) -> None:
        self.patterns = patterns
        self.includes = [p for p in patterns if not p.negate]
        self.last_include = max(i for i, p in enumerate(patterns) if not p.negate)
        self.follow = follow_symlinks
        self.hidden = include_hidden
        self.skip = skip
        self.found: list[FoundPath] = []
        self.seen: set[str] = set()
        self.warnings: list[str] = []

    def evaluate(self, path: str, is_dir: bool) -> tuple[bool, bool]:
        """(selected, everything below is excluded too)."""
        selected, final = False, False
        for index, pattern in enumerate(self.patterns):
            if pattern.negate:
                if pattern.matches(path, is_dir):
                    selected = False
                    final = final or index > self.last_include
            elif not selected and pattern.matches(path, is_dir):
                selected = True
        return selected, final and not selected

    def emit(self, path: Path, kind: Kind, root: Path, st: os.stat_result) -> None:
        text = str(path)
        if text in self.seen:
            return
        self.seen.add(text)
        size = st.st_size if kind == "file" else 0
        self.found.append(
            FoundPath(path, kind, root, stat.S_IMODE(st.st_mode), size, st.st_mtime_ns)
        )

    def visit(self, path: Path, lst: os.stat_result, root: Path, stack: frozenset[Any]) -> bool:
        """Select ``path`` and what is below it; True when anything was emitted."""
        if not self.hidden and path.name.startswith("."):
            return False
        text = _posix(path)
        if any(_under(text, s) for s in self.skip):
            return False
        st = lst
        if stat.S_ISLNK(lst.st_mode):
            if not self.follow:
                if self.evaluate(text, False)[0]:
                    self.emit(path, "symlink", root, lst)
                    return True
                return False
            try:
                st = os.stat(path)
            except OSError:
                self.warnings.append(f"skipped broken symbolic link {path}")
                return False
        if stat.S_ISREG(st.st_mode):
            if self.evaluate(text, False)[0]:
                self.emit(path, "file", root, st)
                return True
            return False
        if not stat.S_ISDIR(st.st_mode):
            return False
        selected, excluded_below = self.evaluate(text, True)
        if excluded_below:
            return False
        if not selected and not any(p.may_contain(text) for p in self.includes):
            return False
        ident = (st.st_dev, st.st_ino)
        if ident in stack:
            self.warnings.append(f"skipped {path}: a symbolic link loops back to a parent")
            return False
        emitted = False
        try:
            with os.scandir(path) as scan:
                children = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            self.warnings.append(f"could not read {path}: {exc.strerror or exc}")
            children = []
        for child in children:
            try:
                child_lst = child.stat(follow_symlinks=False)
            except OSError:
                continue
            emitted |= self.visit(Path(child.path), child_lst, root, stack | {ident})
        if selected and not emitted:
            self.emit(path, "dir", root, st)
            return True
        return emitted


def find_paths(
    patterns: Sequence[PathPattern],
    *,
    follow_symlinks: bool = False,
    include_hidden: bool = True,
    skip: Iterable[Path] = (),
) -> FindResult:
    """Select files, symlinks and otherwise-empty directories matched by ``patterns``.

    Patterns apply in order: an include selects, a later ``!`` pattern deselects. Walks start
    at each include pattern's search path (its part before the first wildcard). Without
    ``follow_symlinks`` a symbolic link is selected as a link; with it, its target is used.
    Without ``include_hidden``, names starting with ``.`` (and all below them) are left out,
    counted from the search path down. Paths at or below ``skip`` are never selected.
    """
    includes = [p for p in patterns if not p.negate]
    if not includes:
        return FindResult((), ())
    search: list[Path] = []
    for p in includes:
        if p.search_path not in search:
            search.append(p.search_path)
    roots = [s for s in search if not any(o != s and _under(_posix(s), _posix(o)) for o in search)]
    walker = _Walker(
        patterns, follow_symlinks, include_hidden, [_posix(os.path.abspath(s)) for s in skip]
    )
    for root in sorted(roots, key=_posix):
        try:
            lst = os.lstat(root)
        except OSError:
            continue
        walker.visit(root, lst, root, frozenset())
    return FindResult(tuple(walker.found), tuple(search), tuple(walker.warnings))


# --------------------------------------------------------------------------- the cache store


@dataclass(frozen=True)
class SaveResult:
    """What :meth:`CacheStore.save` did: ``saved``, ``exists`` (no-op) or ``empty``."""

    key: str
    version: str
    status: Literal["saved", "exists", "empty"]
    files: int = 0
    size: int = 0
    new_bytes: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def saved(self) -> bool:
        return self.status == "saved"

    @property
    def message(self) -> str:
        if self.status == "exists":
            return f"Cache entry {self.key!r} already exists; entries are immutable, not saved."
        if self.status == "empty":
            return "Path(s) specified for caching do not exist, hence no cache is being saved."
        return f"Cache saved with key: {self.key} ({self.files} files, {self.size} bytes)"


@dataclass(frozen=True)
class RestoreResult:
    """``hit`` is an exact match of the primary key; ``matched_key`` what was restored."""

    hit: bool
    matched_key: str | None
    files: int = 0
    size: int = 0
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class CacheEntry:
    """One stored entry, as :meth:`CacheStore.entries` lists it."""

    id: str
    key: str
    version: str
    created: float
    last_used: float
    size: int
    files: int


@dataclass(frozen=True)
class PruneResult:
    """What :meth:`CacheStore.prune` removed and what the store holds afterwards."""

    removed: tuple[str, ...]
    removed_blobs: int
    freed_bytes: int
    remaining_bytes: int


def validate_key(key: str, *, what: str = "key") -> None:
    """GitHub's key rules: not empty, at most 512 characters, no commas."""
    if not key:
        raise AmoskysError(f"cache {what} is empty", hint="give actions/cache a non-empty key")
    if len(key) > MAX_KEY_LENGTH:
        raise AmoskysError(
            f"cache {what} is {len(key)} characters long; at most {MAX_KEY_LENGTH} are allowed",
            hint="shorten it, e.g. hash long parts with hashFiles()",
        )
    if "," in key:
        raise AmoskysError(
            f"cache {what} {key!r} contains a comma, which is not allowed",
            hint="use another separator such as '-'",
        )


def current_os() -> str:
    """The OS name that goes into cache versions (``linux``, ``darwin``, ``windows``)."""
    return platform.system().lower() or sys.platform


def cache_version(paths: str | Iterable[str], os_name: str | None = None) -> str:
    """The version of an entry: a hash of the sorted ``path`` lines, the OS and our format."""
    lines = sorted(split_lines(paths))
    if not lines:
        raise AmoskysError(
            "actions/cache needs at least one path", hint="set 'path:' to what should be cached"
        )
    text = "\n".join([*lines, f"os={os_name or current_os()}", f"amoskys-cache-{FORMAT}"])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _entry_id(key: str, version: str) -> str:
    return hashlib.sha256(f"{version}\n{key}".encode()).hexdigest()


def _safe_rel(rel: str) -> bool:
    parts = rel.split("/")
    return bool(rel) and not rel.startswith("/") and all(p not in ("", ".", "..") for p in parts)


@dataclass(frozen=True)
class _Record:
    anchor: Anchor
    path: str
    kind: Kind
    mode: int
    size: int = 0
    sha256: str | None = None
    target: str | None = None
    mtime_ns: int = 0

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "anchor": self.anchor,
            "path": self.path,
            "type": self.kind,
            "mode": self.mode,
        }
        if self.kind == "file":
            data.update(size=self.size, sha256=self.sha256, mtime_ns=self.mtime_ns)
        elif self.kind == "symlink":
            data["target"] = self.target
        return data

    @staticmethod
    def from_json(data: dict[str, Any]) -> _Record:
        anchor, kind, rel = data["anchor"], data["type"], data["path"]
        if anchor not in ("workspace", "home", "root") or kind not in ("file", "dir", "symlink"):
            raise ValueError(f"bad record {data!r}")
        if not isinstance(rel, str) or not _safe_rel(rel):
            raise ValueError(f"unsafe path {rel!r}")
        sha = data.get("sha256")
        if kind == "file" and not (isinstance(sha, str) and _HEX64.match(sha)):
            raise ValueError(f"bad sha256 for {rel!r}")
        return _Record(
            anchor=anchor,
            path=rel,
            kind=kind,
            mode=int(data.get("mode", 0o644)) & 0o7777,
            size=int(data.get("size", 0)),
            sha256=sha,
            target=data.get("target"),
            mtime_ns=int(data.get("mtime_ns", 0)),
        )


@dataclass(frozen=True)
class _Manifest:
    id: str
    key: str
    version: str
    created: float
    last_used: float
    records: tuple[_Record, ...]

    @property
    def size(self) -> int:
        return sum(r.size for r in self.records)

    def blobs(self) -> dict[str, int]:
        return {r.sha256: r.size for r in self.records if r.sha256 is not None}

    def entry(self) -> CacheEntry:
        files = sum(1 for r in self.records if r.kind == "file")
        return CacheEntry(
            self.id, self.key, self.version, self.created, self.last_used, self.size, files
        )


def project_store(project: Path) -> CacheStore:
    """The one cache store of a project, ``.amoskys/cache/actions``.

    It holds ``actions/cache`` entries, and beside them pip's download cache (``cache: pip``
    of ``actions/setup-python``, :attr:`CacheStore.pip_cache`) and the job environments of
    :mod:`amoskys.run.env_cache` (:attr:`CacheStore.envs`).
    """
    return CacheStore(Path(project) / ".amoskys" / "cache" / "actions")


class CacheStore:
    """A content-addressed cache at ``root`` (the engine uses :func:`project_store`)."""

    def __init__(self, root: Path, *, os_name: str | None = None) -> None:
        self.root = Path(os.path.abspath(root))
        self.os_name = os_name or current_os()

    # -- layout

    @property
    def objects(self) -> Path:
        return self.root / "objects"

    @property
    def entries_dir(self) -> Path:
        return self.root / "entries"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def pip_cache(self) -> Path:
        """pip's download and wheel cache, shared by every job that asks for ``cache: pip``."""
        return self.root / "pip"

    @property
    def envs(self) -> Path:
        """Cached job environments (:class:`amoskys.run.env_cache.EnvCache`)."""
        return self.root / "envs"

    def blob_path(self, sha256: str) -> Path:
        """Where the blob with this digest lives."""
        return self.objects / sha256[:2] / sha256[2:]

    def version(self, paths: str | Iterable[str]) -> str:
        """The version an entry saved with these ``paths`` on this store's OS gets."""
        return cache_version(paths, self.os_name)

    def _prepare(self) -> None:
        for folder in (self.objects, self.entries_dir, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        self._prepare()
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if sys.platform != "win32":
                fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def _temp(self, suffix: str = ".part") -> Path:
        return self.tmp / f"{uuid.uuid4().hex}{suffix}"

    # -- reading manifests

    def _load(self, path: Path) -> _Manifest | None:
        try:
            with open(path, "rb") as fh:
                mtime = os.fstat(fh.fileno()).st_mtime
                data = json.loads(fh.read())
            if data.get("format") != FORMAT:
                return None
            records = tuple(_Record.from_json(r) for r in data["files"])
            key, version, created = str(data["key"]), str(data["version"]), float(data["created"])
            return _Manifest(path.stem, key, version, created, mtime, records)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _manifests(self) -> list[_Manifest]:
        try:
            names = [n for n in os.listdir(self.entries_dir) if _ENTRY_NAME.match(n)]
        except FileNotFoundError:
            return []
        loaded = (self._load(self.entries_dir / n) for n in names)
        return [m for m in loaded if m is not None]

    def entries(self) -> list[CacheEntry]:
        """All complete entries, newest first."""
        return [m.entry() for m in sorted(self._manifests(), key=lambda m: -m.created)]

    # -- save

    def _ingest(self, path: Path) -> tuple[str, int, int]:
        """Store ``path``'s content as a blob; (sha256, size, bytes newly written)."""
        with open(path, "rb") as src:
            size = os.fstat(src.fileno()).st_size
            if size <= SMALL_FILE:
                data = src.read()
                digest = hashlib.sha256(data).hexdigest()
                target = self.blob_path(digest)
                if target.exists():
                    return digest, len(data), 0
                temp = self._temp()
                with open(temp, "wb") as out:
                    out.write(data)
                return digest, len(data), self._commit_blob(temp, target)
            hasher = hashlib.sha256()
            temp = self._temp()
            total = 0
            with open(temp, "wb") as out:
                while chunk := src.read(CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
                    total += len(chunk)
        digest = hasher.hexdigest()
        target = self.blob_path(digest)
        if target.exists():
            temp.unlink()
            return digest, total, 0
        return digest, total, self._commit_blob(temp, target)

    def _commit_blob(self, temp: Path, target: Path) -> int:
        """Move a finished blob into place; bytes added (0 if another saver was first)."""
        os.chmod(temp, 0o444)
        target.parent.mkdir(exist_ok=True)
        size = temp.stat().st_size
        try:
            os.link(temp, target)
        except FileExistsError:
            size = 0
        except OSError:  # no hard links on this file system
            os.replace(temp, target)
            return size
        temp.unlink()
        return size

    @staticmethod
    def _anchor(path: Path, workspace: str, home: str) -> tuple[Anchor, str]:
        """Where a saved path is kept: under the workspace, under home, or absolute."""
        text = _posix(path)
        bases: list[tuple[Anchor, str]] = [("workspace", workspace), ("home", home)]
        for anchor, base in sorted(bases, key=lambda a: -len(a[1])):
            if text != base and _under(text, base):
                return anchor, text[len(base.rstrip("/")) + 1 :]
        return "root", text.lstrip("/")

    def save(
        self,
        key: str,
        paths: str | Iterable[str],
        base: Path,
        *,
        home: Path | None = None,
    ) -> SaveResult:
        """Save what ``paths`` select under ``key``; a no-op if the entry already exists."""
        validate_key(key)
        lines = split_lines(paths)
        version = self.version(lines)
        entry_id = _entry_id(key, version)
        final = self.entries_dir / f"{entry_id}.json"
        if final.exists() and self._load(final) is not None:
            return SaveResult(key, version, "exists")
        home_dir = Path(os.path.abspath(home if home is not None else Path.home()))
        patterns = parse_path_patterns(lines, base, home=home_dir)
        result = find_paths(patterns, follow_symlinks=False, skip=[self.root])
        if not result.found:
            return SaveResult(key, version, "empty", warnings=result.warnings)
        workspace = _posix(os.path.abspath(base))
        home_text = _posix(home_dir)
        with self._locked(exclusive=False):
            files = [f for f in result.found if f.kind == "file"]
            with ThreadPoolExecutor(max_workers=WORKERS) as pool:
                stored = list(pool.map(lambda f: self._ingest(f.path), files))
            digests = {str(f.path): s for f, s in zip(files, stored)}
            records: list[_Record] = []
            for item in result.found:
                anchor, rel = self._anchor(item.path, workspace, home_text)
                if item.kind == "file":
                    sha, size, _ = digests[str(item.path)]
                    records.append(
                        _Record(anchor, rel, "file", item.mode, size, sha, None, item.mtime_ns)
                    )
                elif item.kind == "symlink":
                    target = os.readlink(item.path)
                    records.append(_Record(anchor, rel, "symlink", item.mode, target=target))
                else:
                    records.append(_Record(anchor, rel, "dir", item.mode))
            records.sort(key=lambda r: (r.anchor, r.path))
            manifest = {
                "format": FORMAT,
                "key": key,
                "version": version,
                "os": self.os_name,
                "paths": lines,
                "created": time.time(),
                "files": [r.to_json() for r in records],
            }
            temp = self._temp(".json")
            temp.write_bytes(json.dumps(manifest, separators=(",", ":")).encode("utf-8"))
            created = self._publish(temp, final)
        size = sum(r.size for r in records)
        if not created:
            return SaveResult(key, version, "exists", warnings=result.warnings)
        return SaveResult(
            key, version, "saved", len(files), size, sum(s[2] for s in stored), result.warnings
        )

    def _publish(self, temp: Path, final: Path) -> bool:
        """Move a finished manifest into place unless one exists (first saver wins)."""
        try:
            os.link(temp, final)
        except FileExistsError:
            if self._load(final) is not None:
                temp.unlink()
                return False
            os.replace(temp, final)  # an unreadable leftover: replace it
            return True
        except OSError:  # no hard links here: check, then replace (a tiny race window)
            if final.exists() and self._load(final) is not None:
                temp.unlink()
                return False
            os.replace(temp, final)
            return True
        temp.unlink()
        return True

    # -- restore

    def _find(self, key: str, restore_keys: Sequence[str], version: str) -> Iterator[_Manifest]:
        """Candidates in GitHub's order: exact key, key as prefix, then each restore key."""
        exact = self._load(self.entries_dir / f"{_entry_id(key, version)}.json")
        if exact is not None and exact.key == key and exact.version == version:
            yield exact
        same = [m for m in self._manifests() if m.version == version]
        same.sort(key=lambda m: (-m.created, m.key))
        seen = {exact.id} if exact is not None else set()
        for n, prefix in enumerate([key, *restore_keys]):
            exact_first = [m for m in same if m.key == prefix] if n > 0 else []
            prefixed = [m for m in same if m.key.startswith(prefix) and m.key != prefix]
            for m in exact_first + prefixed:
                if m.id not in seen:
                    seen.add(m.id)
                    yield m

    def _complete(self, manifest: _Manifest) -> bool:
        return all(self.blob_path(sha).is_file() for sha in manifest.blobs())

    def restore(
        self,
        key: str,
        restore_keys: str | Sequence[str],
        paths: str | Iterable[str],
        dest_base: Path,
        *,
        home: Path | None = None,
        lookup_only: bool = False,
    ) -> RestoreResult:
        """Find the entry for ``key`` (or a restore key) and write its files back."""
        validate_key(key)
        fallbacks = split_lines(restore_keys)
        for fallback in fallbacks:
            validate_key(fallback, what="restore key")
        version = self.version(paths)
        if not self.entries_dir.is_dir():
            return RestoreResult(False, None)
        home_dir = Path(os.path.abspath(home if home is not None else Path.home()))
        warnings: list[str] = []
        with self._locked(exclusive=False):
            for manifest in self._find(key, fallbacks, version):
                if not self._complete(manifest):
                    warnings.append(f"cache entry {manifest.key!r} is missing blobs; skipped")
                    continue
                hit = manifest.key == key
                if lookup_only:
                    return RestoreResult(hit, manifest.key, warnings=tuple(warnings))
                written = self._write_out(manifest, Path(dest_base), home_dir, warnings)
                with contextlib.suppress(OSError):
                    os.utime(self.entries_dir / f"{manifest.id}.json")
                return RestoreResult(hit, manifest.key, written, manifest.size, tuple(warnings))
        return RestoreResult(False, None, warnings=tuple(warnings))

    def _destination(self, record: _Record, workspace: Path, home: Path) -> Path:
        if record.anchor == "workspace":
            return Path(os.path.abspath(workspace)) / record.path
        if record.anchor == "home":
            return home / record.path
        return Path("/") / record.path

    def _write_file(self, record: _Record, dest: Path) -> None:
        if record.sha256 is None:  # cannot happen: _Record.from_json checks file records
            raise ValueError(f"file record {record.path!r} has no sha256")
        temp = dest.parent / f".amoskys-{uuid.uuid4().hex}.part"
        try:
            shutil.copyfile(self.blob_path(record.sha256), temp)
            os.chmod(temp, record.mode)
            if record.mtime_ns:
                os.utime(temp, ns=(record.mtime_ns, record.mtime_ns))
            os.replace(temp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise

    def _write_out(
        self, manifest: _Manifest, workspace: Path, home: Path, warnings: list[str]
    ) -> int:
        """Write a manifest's records: directories, files, then symlinks (never followed)."""
        plan = [(r, self._destination(r, workspace, home)) for r in manifest.records]
        dirs = [(r, d) for r, d in plan if r.kind == "dir"]
        files = [(r, d) for r, d in plan if r.kind == "file"]
        links = [(r, d) for r, d in plan if r.kind == "symlink"]
        problems: list[str] = []
        for _, dest in dirs:
            try:
                if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
                    dest.unlink()
                dest.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                problems.append(f"not restored {dest}: {exc.strerror or exc}")
        for parent in sorted({d.parent for _, d in files}):
            with contextlib.suppress(OSError):  # reported per file below
                parent.mkdir(parents=True, exist_ok=True)

        def write(item: tuple[_Record, Path]) -> str | None:
            record, dest = item
            try:
                if dest.is_dir() and not dest.is_symlink():
                    return f"not restored {dest}: a directory is in the way"
                self._write_file(record, dest)
            except OSError as exc:
                return f"not restored {dest}: {exc.strerror or exc}"
            return None

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            failed = [p for p in pool.map(write, files) if p is not None]
        written = len(files) - len(failed)
        problems.extend(failed)
        for record, dest in links:
            try:
                if dest.is_symlink() or dest.is_file():
                    dest.unlink()
                elif dest.exists():
                    problems.append(f"not restored {dest}: a directory is in the way")
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(record.target or "", dest)
            except OSError as exc:
                problems.append(f"not restored {dest}: {exc.strerror or exc}")
        for record, dest in dirs:
            with contextlib.suppress(OSError):
                os.chmod(dest, record.mode)
        warnings.extend(problems)
        return written

    # -- maintenance

    def delete(self, key: str) -> int:
        """Remove every entry (of any version) with exactly this key; blobs go at prune."""
        removed = 0
        with self._locked(exclusive=True):
            for manifest in self._manifests():
                if manifest.key == key:
                    with contextlib.suppress(FileNotFoundError):
                        (self.entries_dir / f"{manifest.id}.json").unlink()
                        removed += 1
        return removed

    def prune(self, max_bytes: int) -> PruneResult:
        """Drop least-recently-used entries until blobs total at most ``max_bytes``.

        Unreferenced blobs and stale temporary files are removed too.
        """
        if max_bytes < 0:
            raise AmoskysError("cache size limit must not be negative")
        with self._locked(exclusive=True):
            manifests = sorted(self._manifests(), key=lambda m: (m.last_used, m.created))
            refs: dict[str, int] = {}
            sizes: dict[str, int] = {}
            for m in manifests:
                for sha, size in m.blobs().items():
                    refs[sha] = refs.get(sha, 0) + 1
                    sizes[sha] = size
            total = sum(sizes.values())
            removed: list[str] = []
            for m in manifests:
                if total <= max_bytes:
                    break
                with contextlib.suppress(FileNotFoundError):
                    (self.entries_dir / f"{m.id}.json").unlink()
                removed.append(m.key)
                for sha in m.blobs():
                    refs[sha] -= 1
                    if refs[sha] == 0:
                        total -= sizes[sha]
            live = {sha for sha, count in refs.items() if count > 0}
            blobs, freed = self._collect_garbage(live)
            self._clean_temp()
        remaining = sum(sizes[s] for s in live)
        return PruneResult(tuple(removed), blobs, freed, remaining)

    def _collect_garbage(self, live: set[str]) -> tuple[int, int]:
        count = freed = 0
        for shard in list(self.objects.iterdir()):
            if not shard.is_dir():
                continue
            for blob in list(shard.iterdir()):
                if shard.name + blob.name in live:
                    continue
                with contextlib.suppress(OSError):
                    size = blob.stat().st_size
                    os.chmod(blob, 0o644)
                    blob.unlink()
                    count += 1
                    freed += size
            with contextlib.suppress(OSError):
                shard.rmdir()
        return count, freed

    def _clean_temp(self) -> None:
        cutoff = time.time() - STALE_TEMP_SECONDS
        for temp in self.tmp.iterdir():
            with contextlib.suppress(OSError):
                if temp.stat().st_mtime < cutoff:
                    os.chmod(temp, 0o644)
                    temp.unlink()

    def size(self) -> int:
        """Bytes of blobs on disk."""
        if not self.objects.is_dir():
            return 0
        return sum(b.stat().st_size for s in self.objects.iterdir() for b in s.iterdir())
