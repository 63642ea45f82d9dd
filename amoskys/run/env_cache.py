"""Job virtual environments kept between runs, so a warm ``pip install -r ...`` is a no-op.

``actions/setup-python`` asks this module for the job's venv before making a fresh one. An
entry is keyed by the interpreter (implementation, version, real path and build), the platform,
the job instance (its workflow, id and matrix values: jobs that install different extras never
share), the ``run:`` lines of the job that install something, and the SHA-256 of the files that
define the dependencies in the job's workspace (:data:`DEPENDENCY_GLOBS`; in
``pyproject.toml`` the tables of linters and test runners are left out, so editing
``[tool.black]`` does not throw the environment away).

Layout, under the cache store's root (``.amoskys/cache/actions/envs``)::

    <key digest>/<stamp>-<uuid>/meta.json   what the entry is, where it was made, what to rewrite
    <key digest>/<stamp>-<uuid>/venv/...    the environment's files
    .tmp/                                   entries being built; a crash leaves litter only here
    .trash/                                 entries being deleted
    lock                                    shared while a venv is materialised, exclusive
                                            while entries are published or deleted

Materialising an entry hard-links every file into the job's new venv, except the few text
files that embed the old absolute paths (``bin/`` script shebangs, ``pyvenv.cfg``,
``activate`` scripts, and the ``.pth``, ``direct_url.json`` and ``__editable__`` finder files
that point at the old workspace): those are written as rewritten copies, so the cached tree is
never modified. Tools that change a venv (pip, uv, importlib's byte-code writer) replace
files instead of writing into them, so the shared inodes stay as they were. Saving goes the
other way: the finished job's venv is hard-linked into ``.tmp/`` and renamed into place, so
readers only ever see complete entries; concurrent savers of one key each publish their own
entry and the newest wins. At most :data:`KEEP_PER_JOB` keys are kept per job instance and
interpreter (the newest), one entry per key, and an entry not restored for two weeks goes.

Delete ``.amoskys/cache/actions/envs`` at any time to drop every entry (a job that was
materialising one falls back to a fresh venv); ``AMOSKYS_ENV_CACHE=0`` turns the cache off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import stat
import sys
import time
import tomllib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amoskys.run.interpreters import Interpreter, repoint_script

if sys.platform != "win32":
    import fcntl

FORMAT = 1
KEEP_PER_JOB = 2
"""Keys kept per job instance and interpreter: the current one and the one before it."""
MAX_IDLE_SECONDS = 14 * 86400.0
"""An entry not restored for this long goes at the next save (an old interpreter, a renamed
job: keys whose job and interpreter never save again)."""
DISABLE_VARIABLE = "AMOSKYS_ENV_CACHE"
STALE_SECONDS = 3600.0

DEPENDENCY_GLOBS = (
    "requirements*.txt",
    "requirements/*.txt",
    "requirements*.in",
    "requirements/*.in",
    "*.in",
    "constraints*.txt",
    "pyproject.toml",
    "setup.cfg",
    "setup.py",
    "poetry.lock",
    "uv.lock",
    "Pipfile",
    "Pipfile.lock",
    "pdm.lock",
)
"""Files of the workspace (top level, and ``requirements/``) that define what gets installed."""

MAKEFILES = ("GNUmakefile", "makefile", "Makefile")
"""Hashed when an install line runs ``make`` (``make deps``)."""

INERT_TOOL_TABLES = frozenset(
    {
        "amoskys",
        "bandit",
        "black",
        "codespell",
        "coverage",
        "flake8",
        "isort",
        "mypy",
        "pylint",
        "pyright",
        "pytest",
        "ruff",
    }
)
"""``[tool.X]`` tables of ``pyproject.toml`` that never change what an install does."""

_SMALL_TEXT = 256 * 1024
_WINDOWS = sys.platform == "win32"


@dataclass(frozen=True)
class EnvKey:
    """The identity of a cached environment."""

    digest: str
    """sha256 of every part: the entry's folder name."""
    scope: str
    """sha256 of the parts that name the job and interpreter: what :data:`KEEP_PER_JOB` counts."""
    parts: Mapping[str, Any]


@dataclass(frozen=True)
class InstallScript:
    """A job's ``run:`` script and what decides whether and where it runs.

    An install step turned off by its ``if:``, pointed at another folder or moved after the
    step that uses what it installs does something else while its lines stay the same: these,
    and its place among the job's ``run:`` steps, are part of the key.
    """

    text: str
    folder: str = ""
    """``working-directory`` as written (relative to the workspace), '' for the workspace."""
    condition: str = ""
    """The step's ``if:`` as written."""
    env: Mapping[str, str] = field(default_factory=dict)
    """The step's ``env:`` as written (``PIP_CONSTRAINT``, an index URL...)."""


@dataclass(frozen=True)
class Restored:
    """A venv made from a cache entry."""

    entry: Path
    fingerprint: str
    files: int
    rewritten: int
    seconds: float


@dataclass(frozen=True)
class Saved:
    """What :meth:`EnvCache.save` did: ``saved``, ``unchanged`` (nothing to do) or ``empty``."""

    status: str
    files: int = 0
    seconds: float = 0.0

    @property
    def message(self) -> str:
        if self.status == "saved":
            return (
                f"job venv saved to the environment cache ({self.files} files, "
                f"{self.seconds:.2f} s)"
            )
        if self.status == "unchanged":
            return "job venv unchanged since it was restored from the environment cache"
        return "job venv not saved: it is missing or empty"


def enabled(env: Mapping[str, str]) -> bool:
    """Whether the environment cache is on (it is unless ``AMOSKYS_ENV_CACHE`` is 0/off/false)."""
    value = env.get(DISABLE_VARIABLE, "").strip().lower()
    return not _WINDOWS and value not in ("0", "off", "false", "no")


# -- the key ------------------------------------------------------------------------------


def dependency_files(
    workspace: Path, lines: Sequence[str] = (), folders: Sequence[str] = ()
) -> list[Path]:
    """The files of ``workspace`` that define dependencies, sorted, each once.

    Besides :data:`DEPENDENCY_GLOBS`: the files the install ``lines`` name (``-r
    ci/requirements.txt``, ``-c``, a wheel, a script) and, transitively, the ``-r``/``-c`` files
    of requirement files. Without them a requirement removed from ``ci/requirements.txt``
    kept the key, and the restored venv still held it where a fresh one would not. The
    ``folders`` (install steps' working directories, relative to ``workspace``) are searched
    like the workspace.
    """
    workspace = Path(workspace)
    bases = [workspace] + [workspace / f for f in folders if (workspace / f).is_dir()]
    found = {p for base in bases for pattern in DEPENDENCY_GLOBS for p in base.glob(pattern)}
    if any(_runs_make(line) for line in lines):
        found.update(base / name for base in bases for name in MAKEFILES)
    found = {p for p in found if p.is_file()}
    for line in lines:
        for token in line.split():
            name = token.split("=", 1)[1] if token.startswith("--") and "=" in token else token
            for base in bases:
                with contextlib.suppress(OSError, ValueError):
                    path = base / name
                    if not name.startswith("-") and path.is_file():
                        found.add(path)
    pending = sorted(found)
    while pending:
        for included in _included_files(pending.pop()):
            if included not in found:
                found.add(included)
                pending.append(included)
    return sorted(found)


_INCLUDE_OPTIONS = ("-r", "-c", "--requirement", "--constraint")


def _included_files(path: Path) -> list[Path]:
    """The existing files a requirements file includes with ``-r``/``-c`` (relative to it),
    and the local wheels and sdists it lists: pip keeps an installed distribution of the same
    version, so a rebuilt ``vendor/x-1.0-py3-none-any.whl`` must change the key."""
    if path.suffix not in (".txt", ".in"):
        return []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found: list[Path] = []
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].replace("=", " ", 1).split()
        if len(words) >= 2 and words[0] in _INCLUDE_OPTIONS:
            with contextlib.suppress(OSError, ValueError):
                included = path.parent / words[1]
                if included.is_file():
                    found.append(Path(os.path.normpath(included)))
        elif words and words[0].endswith((".whl", ".tar.gz", ".zip")):
            with contextlib.suppress(OSError, ValueError):
                archive = path.parent / raw.split("#", 1)[0].split()[0]
                if archive.is_file():
                    found.append(Path(os.path.normpath(archive)))
    return found


def _pyproject_digest(data: bytes) -> str:
    """sha256 of ``pyproject.toml`` without its linters' and test runners' tables."""
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return hashlib.sha256(data).hexdigest()
    tool = doc.get("tool")
    if isinstance(tool, dict):
        doc["tool"] = {k: v for k, v in tool.items() if k not in INERT_TOOL_TABLES}
    text = json.dumps(doc, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def file_digests(
    workspace: Path, lines: Sequence[str] = (), folders: Sequence[str] = ()
) -> dict[str, str]:
    """``{path: sha256}`` of the dependency files of ``workspace`` (relative where inside it)."""
    digests: dict[str, str] = {}
    for path in dependency_files(workspace, lines, folders):
        data = path.read_bytes()
        try:
            rel = path.relative_to(workspace).as_posix()
        except ValueError:
            rel = path.as_posix()
        if path.name == "pyproject.toml":
            digests[rel] = _pyproject_digest(data)
        else:
            digests[rel] = hashlib.sha256(data).hexdigest()
    return digests


def install_lines(scripts: Sequence[str]) -> list[str]:
    """The lines of ``run:`` scripts that install something (a changed one misses the cache).

    ``install`` and ``sync`` (``pip-sync``, ``uv sync``, ``pdm sync``) lines, and ``make``
    lines (whose Makefile :func:`dependency_files` hashes): a removed ``make deps`` or ``uv
    sync`` step must change the key, or the restored venv keeps what it installed.
    """
    return [
        " ".join(line.split())
        for script in scripts
        for line in script.splitlines()
        if not line.lstrip().startswith("#")
        and ("install" in line or "sync" in line or _runs_make(line))
    ]


def installs_after_use(scripts: Sequence[str]) -> bool:
    """Whether a ``run:`` step that installs comes after one that does not (runs something).

    A cache entry is the job's venv at its end, restored before its first step: what a later
    step installs would be there for the steps before it, which on GitHub run without it.
    """
    used = False
    for script in scripts:
        if install_lines([script]):
            if used:
                return True
        elif any(
            line.strip() and not line.lstrip().startswith("#") for line in script.splitlines()
        ):
            used = True
    return False


def _runs_make(line: str) -> bool:
    words = line.split()
    return bool(words) and words[0] in ("make", "gmake")


def interpreter_identity(interp: Interpreter) -> dict[str, Any]:
    """The interpreter as the key sees it: a rebuilt or moved Python is another one."""
    real = os.path.realpath(interp.path)
    info = os.stat(real)
    return {
        "implementation": interp.implementation,
        "version": interp.version_text,
        "path": real,
        "build": [info.st_size, info.st_mtime_ns],
    }


def make_key(
    interp: Interpreter,
    *,
    job: str,
    matrix: Mapping[str, Any],
    workspace: Path,
    scripts: Sequence[str | InstallScript] = (),
) -> EnvKey:
    """The key of ``job``'s environment made from ``interp`` for the files in ``workspace``."""
    items = [s if isinstance(s, InstallScript) else InstallScript(s) for s in scripts]
    installing = [(i, s) for i, s in enumerate(items) if install_lines([s.text])]
    folders = sorted({s.folder for _, s in installing if s.folder and "${{" not in s.folder})
    # Where each install step stands among the run steps: moved after a step that uses what
    # it installs, it must miss (the restored venv already holds it).
    steps = [[i, s.condition, s.folder, dict(s.env)] for i, s in installing]
    scope = {
        "format": FORMAT,
        "platform": sys.platform,
        "machine": platform.machine(),
        "interpreter": interpreter_identity(interp),
        "job": job,
        "matrix": dict(matrix),
    }
    lines = install_lines([s.text for s in items])
    parts = {**scope, "install": lines, "files": file_digests(workspace, lines, folders)}
    parts["steps"] = steps
    return EnvKey(_digest(parts), _digest(scope), parts)


def _digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


# -- venv contents ------------------------------------------------------------------------


def _walk(root: Path) -> Iterator[tuple[str, str]]:
    """``(relative path, kind)`` below ``root``, parents first; kinds: dir, file, symlink."""
    stack = [""]
    while stack:
        rel = stack.pop()
        with os.scandir(f"{root}/{rel}" if rel else root) as entries:
            for entry in entries:
                sub = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_symlink():
                    yield sub, "symlink"
                elif entry.is_dir(follow_symlinks=False):
                    yield sub, "dir"
                    stack.append(sub)
                elif entry.is_file(follow_symlinks=False):
                    yield sub, "file"


def _may_embed_paths(rel: str) -> bool:
    """Whether a venv file is one of those that can hold absolute paths of the venv/workspace."""
    parts = rel.split("/")
    name = parts[-1]
    if len(parts) == 1:
        return name == "pyvenv.cfg"
    if parts[0] in ("bin", "Scripts") and len(parts) == 2:
        return True
    if "site-packages" not in parts:
        return False
    below = parts[parts.index("site-packages") + 1 :]
    if len(below) == 1:  # *.pth, *.egg-link, __editable__ finders, top-level modules
        return True
    return len(below) == 2 and (
        name == "direct_url.json" or below[0].startswith("__editable__") or name == "RECORD"
    )


def _embedding(venv: Path, old: Sequence[bytes]) -> list[str]:
    """The files of ``venv`` that contain any of the ``old`` absolute paths."""
    found: list[str] = []
    for rel, kind in _walk(venv):
        if kind != "file" or not _may_embed_paths(rel):
            continue
        path = venv / rel
        with contextlib.suppress(OSError):
            if path.stat().st_size <= _SMALL_TEXT:
                data = path.read_bytes()
                if any(o in data for o in old if o):
                    found.append(rel)
    return sorted(found)


def fingerprint(venv: Path) -> str:
    """What is installed in ``venv``: its distributions (name and version) and its scripts.

    A re-install of the same versions (pip always re-installs editable requirements) keeps
    the fingerprint; an added, removed or upgraded distribution changes it.
    """
    names: list[str] = []
    for folder in sorted(Path(venv).glob("lib*/*/site-packages")) + [
        Path(venv) / "Lib" / "site-packages"
    ]:
        if folder.is_dir() and not folder.is_symlink():
            names.extend(
                e.name
                for e in os.scandir(folder)
                if e.name.endswith((".dist-info", ".egg-info", ".egg-link"))
            )
    bin_dir = Path(venv) / ("Scripts" if _WINDOWS else "bin")
    if bin_dir.is_dir():
        names.extend(f"bin/{e.name}" for e in os.scandir(bin_dir))
    return hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()


def _link(src: str, dst: str) -> None:
    """A hard link, or a copy where the file system has none (or another device)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _replace_all(data: bytes, pairs: Sequence[tuple[bytes, bytes]]) -> bytes:
    for old, new in pairs:
        if old and old != new:
            data = data.replace(old, new)
    return data


# -- the store ----------------------------------------------------------------------------


class EnvCache:
    """Cached job environments under ``root`` (the store's ``envs`` folder)."""

    def __init__(self, root: Path, *, keep: int = KEEP_PER_JOB) -> None:
        self.root = Path(os.path.abspath(root))
        self.keep = max(1, keep)

    @property
    def _tmp(self) -> Path:
        return self.root / ".tmp"

    @property
    def _trash(self) -> Path:
        return self.root / ".trash"

    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if not _WINDOWS:
                fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def entries(self, key: EnvKey) -> list[Path]:
        """The complete entries of ``key``, newest first."""
        folder = self.root / key.digest
        if not folder.is_dir():
            return []
        found = [p for p in folder.iterdir() if (p / "meta.json").is_file()]
        return sorted(found, key=lambda p: p.name, reverse=True)

    @staticmethod
    def _meta(entry: Path) -> dict[str, Any] | None:
        try:
            data = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("format") == FORMAT else None

    # -- restore

    def restore(self, key: EnvKey, dest: Path, workspace: Path) -> Restored | None:
        """Make the venv ``dest`` from the newest entry of ``key``; None on a miss.

        ``dest`` must not exist. On any error the half-made ``dest`` is removed and None is
        returned, so the caller makes a fresh venv instead.
        """
        started = time.perf_counter()
        dest = Path(os.path.abspath(dest))
        with self._locked(exclusive=False):
            for entry in self.entries(key):
                meta = self._meta(entry)
                old_venv, old_workspace = (meta or {}).get("venv"), (meta or {}).get("workspace")
                if meta is None or not isinstance(old_venv, str):
                    continue
                if not isinstance(old_workspace, str):
                    continue
                pairs = sorted(
                    [
                        (os.fsencode(old_venv), os.fsencode(dest)),
                        (os.fsencode(old_workspace), os.fsencode(os.path.abspath(workspace))),
                    ],
                    key=lambda p: -len(p[0]),
                )
                try:
                    files = self._materialise(
                        entry / "venv", dest, set(meta.get("rewrite", [])), pairs
                    )
                except OSError:
                    shutil.rmtree(dest, ignore_errors=True)
                    continue
                with contextlib.suppress(OSError):
                    os.utime(entry / "meta.json")  # last used
                return Restored(
                    entry,
                    str(meta.get("fingerprint", "")),
                    files,
                    len(meta.get("rewrite", [])),
                    time.perf_counter() - started,
                )
        return None

    @staticmethod
    def _materialise(
        source: Path, dest: Path, rewrite: set[str], pairs: Sequence[tuple[bytes, bytes]]
    ) -> int:
        """Hard-link ``source`` into ``dest``, rewriting the files named in ``rewrite``."""
        src_root, dst_root = os.fspath(source), os.fspath(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.mkdir(dst_root)
        items = list(_walk(source))  # strings, not Paths: about twice as fast
        for rel, kind in items:  # folders first (default mode, as in a fresh venv): faster
            if kind == "dir":
                os.mkdir(f"{dst_root}/{rel}")
        files = 0
        for rel, kind in items:
            src, dst = f"{src_root}/{rel}", f"{dst_root}/{rel}"
            if kind == "symlink":
                target = os.fsencode(os.readlink(src))
                os.symlink(os.fsdecode(_replace_all(target, pairs)), dst)
            elif kind == "file":
                files += 1
                if rel not in rewrite:
                    _link(src, dst)
                    continue
                with open(src, "rb") as old:
                    data = old.read()
                new = _replace_all(data, pairs)
                if new.startswith(b"#!"):
                    new = repoint_script(new)
                with open(dst, "wb") as out:
                    out.write(new)
                os.chmod(dst, stat.S_IMODE(os.stat(src).st_mode))
        return files

    # -- save

    def save(
        self, key: EnvKey, venv: Path, workspace: Path, *, restored: Restored | None = None
    ) -> Saved:
        """Keep ``venv`` (made for ``key`` in ``workspace``) as the newest entry of ``key``.

        Nothing is written when the venv came from an entry of this key and its installed
        distributions did not change.
        """
        started = time.perf_counter()
        venv = Path(os.path.abspath(venv))
        if not (venv / "pyvenv.cfg").is_file():
            return Saved("empty")
        current = fingerprint(venv)
        if (
            restored is not None
            and restored.fingerprint == current
            and restored.entry.parent.name == key.digest
            and (restored.entry / "meta.json").is_file()
        ):
            return Saved("unchanged")
        self._tmp.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"
        building = self._tmp / name
        try:
            files = self._link_tree(venv, building / "venv")
            old = [os.fspath(venv).encode(), os.fspath(Path(workspace).absolute()).encode()]
            meta = {
                "format": FORMAT,
                "key": key.digest,
                "scope": key.scope,
                "parts": key.parts,
                "venv": os.fspath(venv),
                "workspace": os.fspath(Path(workspace).absolute()),
                "rewrite": _embedding(venv, old),
                "fingerprint": current,
                "created": time.time(),
            }
            (building / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
            with self._locked(exclusive=True):
                (self.root / key.digest).mkdir(exist_ok=True)
                os.rename(building, self.root / key.digest / name)
                doomed = self._evictable(key)
                for entry in doomed:
                    self._discard(entry)
        finally:
            shutil.rmtree(building, ignore_errors=True)
        self._empty_trash()
        return Saved("saved", files, time.perf_counter() - started)

    @staticmethod
    def _link_tree(source: Path, dest: Path) -> int:
        src_root, dst_root = os.fspath(source), os.fspath(dest)
        os.makedirs(dst_root)
        files = 0
        for rel, kind in _walk(source):
            src, dst = f"{src_root}/{rel}", f"{dst_root}/{rel}"
            if kind == "dir":
                os.mkdir(dst)
            elif kind == "symlink":
                os.symlink(os.readlink(src), dst)
            else:
                _link(src, dst)
                files += 1
        return files

    def _evictable(self, key: EnvKey) -> list[Path]:
        """Older entries of ``key``, the keys of the same scope beyond :attr:`keep`, and keys
        idle for more than :data:`MAX_IDLE_SECONDS`."""
        doomed = self.entries(key)[1:]
        newest: list[tuple[str, Path]] = []  # (newest entry name, key folder) of this scope
        for folder in self.root.iterdir():
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            entries = sorted(
                (p for p in folder.iterdir() if (p / "meta.json").is_file()),
                key=lambda p: p.name,
                reverse=True,
            )
            if not entries:
                continue
            with contextlib.suppress(OSError):
                idle = time.time() - (entries[0] / "meta.json").stat().st_mtime
                if idle > MAX_IDLE_SECONDS and folder.name != key.digest:
                    doomed.append(folder)
                    continue
            meta = self._meta(entries[0])
            if meta is not None and meta.get("scope") == key.scope:
                newest.append((entries[0].name, folder))
        newest.sort(reverse=True)
        for _, folder in newest[self.keep :]:
            doomed.append(folder)
        return doomed

    def _discard(self, path: Path) -> None:
        """Move ``path`` out of sight (under the lock); :meth:`_empty_trash` deletes it."""
        self._trash.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            os.rename(path, self._trash / f"{path.name}-{uuid.uuid4().hex[:8]}")

    def _empty_trash(self) -> None:
        for folder in (self._trash, self._tmp):
            if not folder.is_dir():
                continue
            for item in folder.iterdir():
                if folder == self._tmp:
                    with contextlib.suppress(OSError):
                        if time.time() - item.stat().st_mtime < STALE_SECONDS:
                            continue  # another saver may be building it
                shutil.rmtree(item, ignore_errors=True)

    def clear(self) -> int:
        """Drop every entry; the number of keys dropped."""
        if not self.root.is_dir():
            return 0
        with self._locked(exclusive=True):
            folders = [f for f in self.root.iterdir() if f.is_dir() and not f.name.startswith(".")]
            for folder in folders:
                self._discard(folder)
        self._empty_trash()
        return len(folders)
