"""Python interpreters on this machine, found the way ``actions/setup-python`` is asked for them.

Accepted ``python-version`` syntax (as setup-python documents it):

* ``3.12`` (latest 3.12.x), ``3.12.1`` (exact), ``3``, ``3.x``, ``3.12.x``, ``*``;
* node-semver ranges: ``>=3.11``, ``>=3.11 <3.13``, ``3.9 - 3.11``, ``~3.11``, ``^3.11``,
  alternatives with ``||``;
* pre-releases: ``3.14.0-alpha.1``, ``3.14.0rc1``, and ``3.14-dev`` (latest 3.14, pre-releases
  included); ``allow_prereleases`` lets ``3.14`` match a 3.14 pre-release too;
* free-threaded builds: ``3.13t``, ``3.13.1t``, ``3.14t-dev`` (or ``freethreaded=True``); a
  spec without ``t`` never picks a free-threaded build;
* PyPy: ``pypy3.10`` or ``pypy-3.10``, optionally ``-v7.3.x``/``-v7.3.17`` for PyPy's own
  version.

Not supported (an :class:`AmoskysError` says so): GraalPy (``graalpy-24.1``), PyPy nightly
builds, and PEP 440 operators such as ``~=3.11`` (setup-python rejects them too). The
``architecture`` input is not looked at: the machine's own interpreters are used.

Interpreters are looked for on ``PATH`` (``python3.X``, ``python3``, ``python``, ``pypy*``;
shim folders such as pyenv's are skipped), in pyenv (``$PYENV_ROOT`` or ``~/.pyenv``), among
uv-managed Pythons (``uv python dir`` when uv is on PATH, else uv's default folder) and in
``AMOSKYS_PYTHONS`` (paths separated by :data:`os.pathsep`). Each candidate is asked once for
its exact version with a short ``-c`` call; answers are cached in memory per file and mtime,
and on disk when :func:`keep_answers_in` names a file (:mod:`amoskys.run.interpreter_answers`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import sys
import threading
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from amoskys.errors import AmoskysError, Location
from amoskys.run.interpreter_answers import (
    Answer,
    AnswerKey,
    is_binary,
    read_answers,
    write_answers,
)
from amoskys.run.process import output_of

QUERY_TIMEOUT_SECONDS = 20.0
VENV_TIMEOUT_SECONDS = 300.0
_WINDOWS = sys.platform == "win32"

# Version keys: (major, minor, patch, pre-release rank, pre-release number). A final release
# ranks above its pre-releases; rank 0 is node-semver's "-0", below every pre-release.
_Key = tuple[int, int, int, int, int]
_FINAL = 9
_PRE_RANKS = {"a": 1, "alpha": 1, "b": 2, "beta": 2, "c": 3, "rc": 3, "candidate": 3}
_PRE_NAMES = {1: "a", 2: "b", 3: "rc"}

_MARKER = "amoskys-interpreter"
# Python 2 compatible: an old interpreter found on PATH must still answer, to be skipped.
_QUERY = f"""
import sys
try:
    import sysconfig
    gil_disabled = sysconfig.get_config_var("Py_GIL_DISABLED")
except Exception:
    gil_disabled = 0
impl = getattr(getattr(sys, "implementation", None), "name", None)
if not impl:
    import platform
    impl = platform.python_implementation().lower()
v = sys.version_info
pypy = getattr(sys, "pypy_version_info", None)
own = "%d.%d.%d" % (pypy[0], pypy[1], pypy[2]) if pypy else "-"
sys.stdout.write("{_MARKER} %s %d.%d.%d %s %d %d %s\\n" % (
    impl, v[0], v[1], v[2], v[3], v[4], 1 if gil_disabled else 0, own))
"""


@dataclass(frozen=True)
class Interpreter:
    """One Python interpreter on this machine."""

    path: Path
    version: tuple[int, int, int]
    implementation: str
    """``cpython``, ``pypy``... (``sys.implementation.name``)."""
    prerelease: str = ""
    """``""`` for a final release, else ``a1``, ``b2``, ``rc1``..."""
    freethreaded: bool = False
    implementation_version: tuple[int, int, int] | None = None
    """PyPy's own version (7.3.17...); None for CPython."""

    @property
    def version_text(self) -> str:
        """``3.12.1``, ``3.14.0rc1``, ``3.13.0t``: the form setup-python's output uses."""
        text = ".".join(str(n) for n in self.version) + self.prerelease
        return text + ("t" if self.freethreaded else "")

    @property
    def key(self) -> _Key:
        return _key(self.version, self.prerelease)


@dataclass(frozen=True)
class _Comparator:
    op: str  # one of < <= > >= =
    key: _Key
    prerelease: bool  # the version in the range has a pre-release tag

    def test(self, key: _Key) -> bool:
        if self.op == "<":
            return key < self.key
        if self.op == "<=":
            return key <= self.key
        if self.op == ">":
            return key > self.key
        if self.op == ">=":
            return key >= self.key
        return key == self.key


_Range = tuple[tuple[_Comparator, ...], ...]  # alternatives (||) of comparator sets (AND)


@dataclass(frozen=True)
class VersionSpec:
    """A parsed ``python-version`` value."""

    text: str
    implementation: str = "cpython"
    python: _Range = field(default=((),), repr=False)
    freethreaded: bool = False
    include_prereleases: bool = False
    implementation_range: _Range | None = field(default=None, repr=False)
    """For PyPy, the range its own version must be in (None: any)."""

    def matches(self, interp: Interpreter) -> bool:
        """Whether ``interp`` is an interpreter that setup-python could give for this spec."""
        if interp.implementation != self.implementation:
            return False
        if interp.freethreaded != self.freethreaded:
            return False
        if not _satisfies(self.python, interp.key, bool(interp.prerelease), self):
            return False
        if self.implementation_range is not None:
            own = interp.implementation_version
            if own is None or not _satisfies(self.implementation_range, _key(own, ""), False, self):
                return False
        return True

    @property
    def display(self) -> str:
        """``Python 3.12`` or ``pypy3.10``: how messages name what was asked for."""
        return f"Python {self.text}" if self.implementation == "cpython" else self.text


def _key(version: tuple[int, int, int], prerelease: str) -> _Key:
    if not prerelease:
        return (*version, _FINAL, 0)
    found = re.fullmatch(r"([a-z]+)\.?(\d*)", prerelease)
    if found is None:
        return (*version, 0, 0)
    rank = _PRE_RANKS.get(found.group(1), 0)
    return (*version, rank, int(found.group(2) or 0))


def _satisfies(rng: _Range, key: _Key, is_pre: bool, spec: VersionSpec) -> bool:
    for comparators in rng:
        if not all(c.test(key) for c in comparators):
            continue
        if is_pre and not spec.include_prereleases:
            # node-semver: a pre-release only matches a range that names a pre-release of
            # the same major.minor.patch.
            if not any(c.prerelease and c.key[:3] == key[:3] for c in comparators):
                continue
        return True
    return False


# -- parsing --------------------------------------------------------------------------------

_PART = r"(?:\d+|[xX*])"
_PARTIAL = re.compile(
    rf"v?(?P<major>{_PART})(?:\.(?P<minor>{_PART})(?:\.(?P<patch>{_PART})"
    r"(?:-?(?P<pre>alpha|beta|rc|a|b|c)\.?(?P<num>\d*)|-(?P<zero>0))?)?)?"
)
_OPERATOR = re.compile(r"(<=|>=|<|>|=|~>|~|\^)?(.*)")
_HYPHEN = re.compile(r"(\S+)\s+-\s+(\S+)")
_FREETHREADED = re.compile(r"(\d+(?:\.\d+){0,2}(?:(?:a|b|rc)\d+)?)t(-dev)?")
_DEV = re.compile(r"(\d+)\.(\d+)-dev")
_MAJOR_MINOR = re.compile(r"\d+\.\d+")
_PYPY = re.compile(r"pypy-?(?P<python>[^-]+)(?:-(?P<own>.+))?")


@dataclass(frozen=True)
class _Partial:
    major: int | None
    minor: int | None
    patch: int | None
    pre_rank: int = _FINAL
    pre_num: int = 0

    def key(self) -> _Key:
        return (self.major or 0, self.minor or 0, self.patch or 0, self.pre_rank, self.pre_num)

    @property
    def has_pre(self) -> bool:
        return self.pre_rank != _FINAL


def _bad_spec(spec: str, why: str = "") -> AmoskysError:
    message = f"python-version {spec!r} is not a version setup-python understands"
    return AmoskysError(
        f"{message}: {why}" if why else message,
        hint="use a version such as 3.12, 3.12.1, 3.x, >=3.11, 3.13t or pypy3.10",
    )


def _partial(text: str, spec: str) -> _Partial:
    found = _PARTIAL.fullmatch(text)
    if found is None:
        raise _bad_spec(spec, f"cannot read {text!r} as a version")

    def num(name: str) -> int | None:
        value = found.group(name)
        return None if value is None or value in "xX*" else int(value)

    major, minor, patch = num("major"), num("minor"), num("patch")
    if major is None:
        minor = patch = None
    elif minor is None:
        patch = None
    if found.group("zero"):
        return _Partial(major, minor, patch, 0, 0)
    if found.group("pre"):
        return _Partial(
            major, minor, patch, _PRE_RANKS[found.group("pre")], int(found.group("num") or 0)
        )
    return _Partial(major, minor, patch)


def _upper(major: int, minor: int | None) -> _Key:
    """The exclusive bound just above a partial version (3 -> 4.0.0-0, 3.12 -> 3.13.0-0)."""
    if minor is None:
        return (major + 1, 0, 0, 0, 0)
    return (major, minor + 1, 0, 0, 0)


def _comparators(op: str, p: _Partial) -> list[_Comparator]:
    pre = p.has_pre
    if p.major is None:  # *, x: anything (or nothing, for < and >)
        return [_Comparator("<", (0, 0, 0, 0, 0), False)] if op in ("<", ">") else []
    full = p.patch is not None
    upper = _upper(p.major, p.minor)
    if op in ("", "="):
        if full:
            return [_Comparator("=", p.key(), pre)]
        return [_Comparator(">=", p.key(), pre), _Comparator("<", upper, False)]
    if op == ">=":
        return [_Comparator(">=", p.key(), pre)]
    if op == ">":
        if full:
            return [_Comparator(">", p.key(), pre)]
        return [_Comparator(">=", (*upper[:3], _FINAL, 0), False)]
    if op == "<":
        return [_Comparator("<", p.key() if full else (*p.key()[:3], 0, 0), pre)]
    if op == "<=":
        if full:
            return [_Comparator("<=", p.key(), pre)]
        return [_Comparator("<", upper, False)]
    if op in ("~", "~>"):
        return [_Comparator(">=", p.key(), pre), _Comparator("<", upper, False)]
    # ^: the left-most non-zero part may not change
    if p.major > 0 or p.minor is None:
        top = (p.major + 1, 0, 0, 0, 0)
    elif p.minor > 0 or p.patch is None:
        top = (0, p.minor + 1, 0, 0, 0)
    else:
        top = (0, 0, p.patch + 1, 0, 0)
    return [_Comparator(">=", p.key(), pre), _Comparator("<", top, False)]


def _parse_range(text: str, spec: str) -> _Range:
    alternatives: list[tuple[_Comparator, ...]] = []
    for part in text.split("||"):
        part = part.strip()
        hyphen = _HYPHEN.fullmatch(part)
        comparators: list[_Comparator] = []
        if hyphen is not None:
            low, high = _partial(hyphen.group(1), spec), _partial(hyphen.group(2), spec)
            if low.major is not None:
                comparators.append(_Comparator(">=", low.key(), low.has_pre))
            if high.major is not None:
                comparators.extend(_comparators("<=", high))
        else:
            part = re.sub(r"(<=|>=|<|>|=|~>|~|\^)\s+", r"\1", part)
            tokens = part.split()
            if not tokens:
                raise _bad_spec(spec, "an alternative of '||' is empty")
            for token in tokens:
                found = _OPERATOR.fullmatch(token)
                if found is None:  # pragma: no cover - the pattern matches any text
                    raise _bad_spec(spec)
                comparators.extend(_comparators(found.group(1) or "", _partial(found[2], spec)))
        alternatives.append(tuple(comparators))
    return tuple(alternatives)


def parse_version_spec(
    spec: str, *, allow_prereleases: bool = False, freethreaded: bool = False
) -> VersionSpec:
    """Read one ``python-version`` value; :class:`AmoskysError` when it is not valid.

    ``allow_prereleases`` and ``freethreaded`` are setup-python's inputs of the same names.
    """
    text = spec.strip()
    if not text:
        raise _bad_spec(spec, "it is empty")
    low = text.lower()
    if low.startswith("graalpy"):
        raise AmoskysError(
            f"python-version {text!r}: GraalPy is not supported by Amoskys yet",
            hint="use a CPython or PyPy version for local runs",
        )
    if low.startswith("pypy"):
        return _parse_pypy(text)
    include_pre = False
    found = _FREETHREADED.fullmatch(text)
    if found is not None:
        freethreaded = True
        text = found.group(1) + (found.group(2) or "")
    dev = _DEV.fullmatch(text)
    if dev is not None:
        include_pre = True
        text = f"~{dev.group(1)}.{dev.group(2)}.0-0"
    elif allow_prereleases and _MAJOR_MINOR.fullmatch(text):
        include_pre = True
        text = f"~{text}.0-0"
    return VersionSpec(
        text=spec.strip(),
        python=_parse_range(text, spec),
        freethreaded=freethreaded,
        include_prereleases=include_pre,
    )


def _parse_pypy(spec: str) -> VersionSpec:
    found = _PYPY.fullmatch(spec.strip())
    if found is None or not _MAJOR_MINOR.fullmatch(found.group("python")):
        raise _bad_spec(spec, "PyPy versions look like pypy3.10 or pypy-3.10-v7.3.x")
    own = found.group("own")
    own_range: _Range | None = None
    if own is not None:
        if own.lower() == "nightly":
            raise AmoskysError(
                f"python-version {spec!r}: PyPy nightly builds are not supported locally",
                hint=f"use pypy{found.group('python')} for the latest PyPy release you have",
            )
        own_range = _parse_range(own[1:] if own.startswith("v") else own, spec)
    return VersionSpec(
        text=spec.strip(),
        implementation="pypy",
        python=_parse_range(found.group("python"), spec),
        implementation_range=own_range,
    )


# -- version files --------------------------------------------------------------------------


def read_version_file(path: Path) -> list[str]:
    """The versions a ``python-version-file`` asks for, as setup-python reads it.

    ``*.toml``: ``project.requires-python`` (else Poetry's ``tool.poetry.dependencies.python``),
    commas turned into spaces, kept only when it is a range setup-python accepts. ``Pipfile``:
    ``[requires] python_full_version`` or ``python_version``. ``.tool-versions``: the
    ``python`` line. Anything else (``.python-version``): one version a line, ``#`` comments
    and blank lines skipped, ``3.12/envs/name`` read as ``3.12``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AmoskysError(
            f"the python-version-file {path} does not exist",
            hint="name a file of the repository, e.g. .python-version or pyproject.toml",
        ) from None
    except OSError as err:
        raise AmoskysError(f"cannot read {path}: {err.strerror or err}") from None
    name = path.name
    if name.endswith(".toml"):
        return _from_pyproject(path, text)
    if name == "Pipfile":
        data = _toml(path, text)
        value = _dig(data, "requires", "python_full_version") or _dig(
            data, "requires", "python_version"
        )
        return [str(value)] if value else []
    if name == ".tool-versions":
        return _from_tool_versions(text)
    versions: list[str] = []
    for line in re.split(r"\r\n|\r|\n", text):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        versions.append(line.split("/", 1)[0].strip())
    return [v for v in versions if v]


def _toml(path: Path, text: str) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise AmoskysError(
            f"cannot read {path.name} as TOML: {err}", location=Location(str(path))
        ) from None


def _from_pyproject(path: Path, text: str) -> list[str]:
    data = _toml(path, text)
    value: object
    if "project" in data:
        project = data["project"]
        value = project.get("requires-python") if isinstance(project, dict) else None
    else:
        value = _dig(data, "tool", "poetry", "dependencies", "python")
    if not isinstance(value, str):
        return []
    candidate = " ".join(value.split(","))
    try:
        parse_version_spec(candidate)
    except AmoskysError:
        return []  # setup-python drops what is not a semver range (e.g. ~=3.11)
    return [candidate]


def _dig(data: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _from_tool_versions(text: str) -> list[str]:
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] == "python":
            return [w[1:] if re.match(r"v\d", w) else w for w in words[1:]]
    return []


# -- discovery ------------------------------------------------------------------------------

_PATH_NAME = re.compile(r"(python|pypy)(\d+(\.\d+)?t?)?(\.exe)?", re.IGNORECASE)
_cache_lock = threading.Lock()
_cache: dict[tuple[str, int, int], Interpreter | None] = {}
_answers_file: Path | None = None
_kept: dict[AnswerKey, Answer] = {}  # what the answers file should hold
_saved: dict[AnswerKey, Answer] = {}  # what it holds
_uv_dirs: dict[tuple[object, ...], Path | None] = {}


def _home(env: Mapping[str, str]) -> Path | None:
    home = env.get("HOME") or env.get("USERPROFILE")
    return Path(home) if home else None


def _path_candidates(env: Mapping[str, str]) -> Iterator[Path]:
    for folder in env.get("PATH", "").split(os.pathsep):
        if not folder or Path(folder).name == "shims":  # pyenv/asdf shims pick by cwd
            continue
        try:
            names = sorted(entry.name for entry in os.scandir(folder))
        except OSError:
            continue
        for name in names:
            if _PATH_NAME.fullmatch(name):
                yield Path(folder) / name


def _pyenv_candidates(env: Mapping[str, str]) -> Iterator[Path]:
    root = env.get("PYENV_ROOT")
    home = _home(env)
    base = Path(root) if root else (home / ".pyenv" if home else None)
    if base is None:
        return
    for version in _subfolders(base / "versions"):
        yield from _first_python(version)


def _first_python(install: Path) -> Iterator[Path]:
    """The interpreter of one installation folder (pyenv's or uv's), if it has one."""
    for rel in ("bin/python", "bin/python3", "python.exe"):
        if (install / rel).exists():
            yield install / rel
            return
    try:  # a free-threaded install may only have python3.13t
        names = sorted(e.name for e in os.scandir(install / "bin"))
    except OSError:
        return
    for name in names:
        if name.startswith("python") and _PATH_NAME.fullmatch(name):
            yield install / "bin" / name
            return


def _uv_candidates(env: Mapping[str, str]) -> Iterator[Path]:
    folders: list[Path] = []
    uv = shutil.which("uv", path=env.get("PATH", ""))
    if uv is not None:
        answer = _uv_python_dir(uv, env)
        if answer is not None:
            folders.append(answer)
    home = _home(env)
    if env.get("UV_PYTHON_INSTALL_DIR"):
        folders.append(Path(env["UV_PYTHON_INSTALL_DIR"]))
    elif env.get("XDG_DATA_HOME"):
        folders.append(Path(env["XDG_DATA_HOME"]) / "uv" / "python")
    elif _WINDOWS and env.get("APPDATA"):
        folders.append(Path(env["APPDATA"]) / "uv" / "python")
    elif home is not None:
        folders.append(home / ".local" / "share" / "uv" / "python")
    for folder in dict.fromkeys(folders):
        for install in _subfolders(folder):
            yield from _first_python(install)


def _uv_python_dir(uv: str, env: Mapping[str, str]) -> Path | None:
    """``uv python dir`` (where uv installs Pythons), asked once per uv and settings."""
    try:
        info = os.stat(uv)
    except OSError:
        return None
    settings = tuple(env.get(k, "") for k in ("UV_PYTHON_INSTALL_DIR", "XDG_DATA_HOME", "HOME"))
    key = (os.path.realpath(uv), info.st_mtime_ns, *settings)
    with _cache_lock:
        if key in _uv_dirs:
            return _uv_dirs[key]
    try:
        answer = output_of([uv, "python", "dir"], cwd=Path(uv).parent, env=env, timeout=10)
        found = Path(answer.strip()) if answer.strip() else None
    except AmoskysError:
        found = None  # an old uv: the default folders are looked at anyway
    with _cache_lock:
        _uv_dirs[key] = found
    return found


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(
            Path(e.path) for e in os.scandir(folder) if e.is_dir() and not e.name.startswith(".")
        )
    except OSError:
        return []


def _extra_candidates(env: Mapping[str, str]) -> Iterator[Path]:
    for item in env.get("AMOSKYS_PYTHONS", "").split(os.pathsep):
        if item.strip():
            yield Path(item.strip())


def _sources(env: Mapping[str, str]) -> list[str]:
    names = ["on PATH", "in pyenv", "uv"]
    if env.get("AMOSKYS_PYTHONS", "").strip():
        names.append("AMOSKYS_PYTHONS")
    return names


def _candidates(env: Mapping[str, str]) -> list[Path]:
    """Executable candidates in discovery order, one per real file."""
    seen: set[str] = set()
    found: list[Path] = []
    for source in (_path_candidates, _pyenv_candidates, _uv_candidates, _extra_candidates):
        for path in source(env):
            try:
                real = os.path.realpath(path)
                info = os.stat(real)
            except OSError:
                continue
            if real in seen or not stat.S_ISREG(info.st_mode) or not os.access(real, os.X_OK):
                continue
            seen.add(real)
            found.append(path)
    return found


def _query(path: Path, env: Mapping[str, str]) -> Interpreter | None:
    """Ask ``path`` what it is (cached per file and mtime); None when it does not answer."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    cache_key = (os.path.realpath(path), info.st_mtime_ns, info.st_size)
    with _cache_lock:
        if cache_key in _cache:
            known = _cache[cache_key]
            return None if known is None else replace(known, path=path)
    try:
        out = output_of(
            [os.fspath(path), "-E", "-s", "-c", _QUERY],
            cwd=path.parent,
            env=dict(env),
            timeout=QUERY_TIMEOUT_SECONDS,
        )
        interp = _parse_answer(path, out)
    except AmoskysError:
        interp = None
    with _cache_lock:
        _cache[cache_key] = interp
        if _answers_file is not None and is_binary(cache_key[0]):
            _kept[cache_key] = _answer_of(interp)
    return interp


def keep_answers_in(path: Path | None) -> None:
    """Use the answers kept in ``path`` and keep new ones there; None: memory only."""
    global _answers_file
    with _cache_lock:
        _answers_file = path
        _kept.clear()
        if path is None:
            return
        _kept.update(read_answers(path))
        for (real, mtime, size), answer in list(_kept.items()):
            interp = _interpreter_of(Path(real), answer)
            if answer is not None and interp is None:
                del _kept[(real, mtime, size)]  # malformed: ask that Python again
                continue
            _cache.setdefault((real, mtime, size), interp)
        _saved.clear()
        _saved.update(_kept)


def _save_answers() -> None:
    with _cache_lock:
        if _answers_file is None or _kept == _saved:
            return
        write_answers(_answers_file, _kept)
        _saved.clear()
        _saved.update(_kept)


def _answer_of(interp: Interpreter | None) -> Answer:
    if interp is None:
        return None
    own = interp.implementation_version
    return {
        "version": list(interp.version),
        "implementation": interp.implementation,
        "prerelease": interp.prerelease,
        "freethreaded": interp.freethreaded,
        "implementation_version": None if own is None else list(own),
    }


def _interpreter_of(path: Path, answer: Answer) -> Interpreter | None:
    """The kept ``answer`` as an :class:`Interpreter`; None also when the entry is malformed."""
    if answer is None:
        return None
    try:
        major, minor, patch = (int(n) for n in answer["version"])
        own = answer.get("implementation_version")
        return Interpreter(
            path=path,
            version=(major, minor, patch),
            implementation=str(answer["implementation"]),
            prerelease=str(answer.get("prerelease", "")),
            freethreaded=bool(answer.get("freethreaded", False)),
            implementation_version=(
                None if own is None else (int(own[0]), int(own[1]), int(own[2]))
            ),
        )
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def _parse_answer(path: Path, out: str) -> Interpreter | None:
    for line in out.splitlines():
        words = line.split()
        if len(words) != 7 or words[0] != _MARKER:
            continue
        _, impl, version, level, serial, gil_disabled, own = words
        major, minor, patch = (int(n) for n in version.split("."))
        pre = "" if level == "final" else f"{_PRE_NAMES[_PRE_RANKS.get(level, 1)]}{serial}"
        own_version = None
        if own != "-":
            a, b, c = (int(n) for n in own.split("."))
            own_version = (a, b, c)
        return Interpreter(
            path=path,
            version=(major, minor, patch),
            implementation=impl,
            prerelease=pre,
            freethreaded=gil_disabled == "1",
            implementation_version=own_version,
        )
    return None


def list_interpreters(*, search_env: Mapping[str, str]) -> list[Interpreter]:
    """Every interpreter found with ``search_env`` (its PATH, HOME...), in discovery order."""
    candidates = _candidates(search_env)
    if not candidates:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(candidates))) as pool:
        answers = list(pool.map(lambda p: _query(p, search_env), candidates))
    _save_answers()
    return [interp for interp in answers if interp is not None]


def find_interpreter(
    spec: str,
    *,
    search_env: Mapping[str, str],
    allow_prereleases: bool = False,
    freethreaded: bool = False,
) -> Interpreter:
    """The best interpreter for ``spec``: the highest version that matches it.

    Among equal versions the one found first wins. Raises :class:`AmoskysError` naming
    where it looked, with how to install a matching Python, when none matches.
    """
    wanted = parse_version_spec(
        spec, allow_prereleases=allow_prereleases, freethreaded=freethreaded
    )
    found = list_interpreters(search_env=search_env)
    matching = [(interp.key, -index, interp) for index, interp in enumerate(found)]
    matching = [item for item in matching if wanted.matches(item[2])]
    if matching:
        return max(matching, key=lambda item: (item[0], item[1]))[2]
    have = ", ".join(dict.fromkeys(_describe(i) for i in found)) or "none"
    raise AmoskysError(
        f"{wanted.display} was not found on this machine "
        f"(looked {', '.join(_sources(search_env))})",
        hint=f"{_install_hint(wanted)}; found here: {have}",
    )


def _describe(interp: Interpreter) -> str:
    if interp.implementation == "cpython":
        return interp.version_text
    return f"{interp.implementation} {interp.version_text}"


def _install_hint(wanted: VersionSpec) -> str:
    text = wanted.text
    if wanted.implementation == "pypy":
        python = _PYPY.fullmatch(text)
        minor = python.group("python") if python else "3.10"
        return f"install it with `pyenv install pypy{minor}` or `uv python install pypy@{minor}`"
    simple = re.fullmatch(r"\d+(?:\.\d+){1,2}t?", text)
    if simple is not None or _FREETHREADED.fullmatch(text):
        version = text.removesuffix("-dev")
        return f"install it with `pyenv install {version}` or `uv python install {version}`"
    return (
        "install a matching Python with `pyenv install 3.X` or `uv python install 3.X`, "
        "or list its path in AMOSKYS_PYTHONS"
    )


# -- virtual environments -------------------------------------------------------------------

_SHEBANG_LIMIT = 127
_TRAMPOLINE = b"#!/bin/sh\n'''exec' \"%s\" \"$0\" \"$@\"\n' '''"
_template_locks: dict[str, threading.Lock] = {}
_template_locks_guard = threading.Lock()


def venv_bin(venv: Path) -> Path:
    """The folder of a venv's executables: ``Scripts`` on Windows, ``bin`` elsewhere."""
    return Path(venv) / ("Scripts" if _WINDOWS else "bin")


def create_venv(
    interp: Interpreter,
    dest: Path,
    *,
    env: Mapping[str, str] | None = None,
    template_dir: Path | None = None,
) -> Path:
    """Create a virtual environment with pip at ``dest`` from ``interp``; return its bin dir.

    The venv itself is made by ``uv venv --python <interp>`` when uv is on ``env``'s PATH,
    else by ``<interp> -m venv --without-pip``. pip is the interpreter's own bundled pip
    (``ensurepip``, no network). Bootstrapping pip takes seconds, so with ``template_dir``
    (e.g. ``.amoskys/cache/venv-templates``) a venv with pip is made once per interpreter and
    its pip is copied into each new venv (scripts re-pointed at the new venv): a fraction of a
    second. ``dest`` must not exist or be empty.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    dest = Path(dest).absolute()
    if interp.version < (3, 3, 0):
        raise AmoskysError(
            f"Python {interp.version_text} at {interp.path} cannot make a virtual environment",
            hint="use Python 3 (3.8 or newer)",
        )
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise AmoskysError(
            f"cannot create a virtual environment at {dest}: it exists and is not empty",
            hint="remove it or choose another folder",
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    template = None
    if template_dir is not None and not _WINDOWS:
        template = _venv_template(interp, Path(template_dir).absolute(), environ)
    uv = shutil.which("uv", path=environ.get("PATH", ""))
    python = os.fspath(interp.path)
    if uv is not None:
        _run_venv_tool([uv, "venv", "--quiet", "--python", python, os.fspath(dest)], dest, environ)
        if template is None:
            venv_python = os.fspath(venv_bin(dest) / ("python.exe" if _WINDOWS else "python"))
            _run_venv_tool([venv_python, "-m", "ensurepip", "--default-pip"], dest, environ)
    elif template is None:
        _run_venv_tool([python, "-m", "venv", os.fspath(dest)], dest, environ)
    else:
        _run_venv_tool([python, "-m", "venv", "--without-pip", os.fspath(dest)], dest, environ)
    if template is not None:
        _copy_pip(template, dest)
    return venv_bin(dest)


def _run_venv_tool(argv: list[str], dest: Path, env: Mapping[str, str]) -> None:
    try:
        output_of(argv, cwd=dest.parent, env=env, timeout=VENV_TIMEOUT_SECONDS)
    except AmoskysError as err:
        hint = "check that the interpreter works"
        if "ensurepip" in err.message:
            hint = (
                "this Python has no ensurepip: on Debian/Ubuntu install python3.X-venv, "
                "or use a Python from pyenv or uv"
            )
        raise AmoskysError(
            f"cannot create a virtual environment at {dest}: {err.message}", hint=hint
        ) from None


def _site_packages(venv: Path) -> Path | None:
    for candidate in sorted(venv.glob("lib/*/site-packages")) + [venv / "Lib" / "site-packages"]:
        if candidate.is_dir():
            return candidate
    return None


def _venv_template(interp: Interpreter, template_dir: Path, env: Mapping[str, str]) -> Path:
    """A venv with pip for ``interp`` under ``template_dir``, made once (thread/process safe)."""
    real = os.path.realpath(interp.path)
    info = os.stat(real)
    digest = hashlib.sha256(f"{real}|{info.st_mtime_ns}|{info.st_size}".encode()).hexdigest()
    name = f"{interp.implementation}-{interp.version_text}-{digest[:12]}"
    final = template_dir / name
    with _template_locks_guard:
        lock = _template_locks.setdefault(name, threading.Lock())
    with lock:
        sp = _site_packages(final)
        if sp is not None and (sp / "pip").is_dir():
            return final
        from amoskys.run.workspace import remove_workspace

        remove_workspace(final)  # an interrupted or foreign leftover
        template_dir.mkdir(parents=True, exist_ok=True)
        building = template_dir / f".{name}.{os.getpid()}.{threading.get_ident()}"
        remove_workspace(building)
        try:
            python = os.fspath(interp.path)
            _run_venv_tool([python, "-m", "venv", os.fspath(building)], building, env)
            _repoint_scripts(venv_bin(building), os.fspath(building), os.fspath(final))
            try:
                os.rename(building, final)
            except OSError:
                if _site_packages(final) is None:  # not another process's finished template
                    raise
        except OSError as err:
            raise AmoskysError(
                f"cannot prepare the venv template {final}: {err.strerror or err}"
            ) from None
        finally:
            remove_workspace(building)
    return final


def _copy_pip(template: Path, dest: Path) -> None:
    """Copy what the template's site-packages and bin have beyond a bare venv into ``dest``."""
    from amoskys.run.workspace import copy_files

    source_sp = _site_packages(template)
    target_sp = _site_packages(dest)
    if source_sp is None or target_sp is None:
        raise AmoskysError(f"no site-packages folder in {template} or {dest}")
    present = {entry.name for entry in os.scandir(target_sp)}
    copy_files(source_sp, target_sp, _files_under(source_sp, present))
    source_bin, target_bin = venv_bin(template), venv_bin(dest)
    present = {entry.name for entry in os.scandir(target_bin)}
    scripts = [e.name for e in os.scandir(source_bin) if e.name not in present and e.is_file()]
    copy_files(source_bin, target_bin, scripts)
    _repoint_scripts(target_bin, os.fspath(template), os.fspath(dest), scripts)


def _files_under(root: Path, skip: set[str]) -> list[str]:
    files: list[str] = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.name in skip:
            continue
        if entry.is_dir(follow_symlinks=False):
            for folder, _dirs, names in os.walk(entry.path):
                rel = Path(folder).relative_to(root).as_posix()
                files.extend(f"{rel}/{name}" for name in names)
        else:
            files.append(entry.name)
    return files


def _repoint_scripts(bin_dir: Path, old: str, new: str, names: Iterable[str] | None = None) -> None:
    """Point the small ``#!`` scripts of ``bin_dir`` (pip's) from venv ``old`` to ``new``.

    A shebang longer than the 127 bytes old kernels read becomes the ``/bin/sh`` trampoline
    that pip itself writes for long paths.
    """
    chosen = list(names) if names is not None else [e.name for e in os.scandir(bin_dir)]
    before, after = old.encode(), new.encode()
    for name in chosen:
        path = bin_dir / name
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 64 * 1024:
            continue
        data = path.read_bytes()
        if not data.startswith(b"#!") or before not in data:
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        path.write_bytes(repoint_script(data.replace(before, after)))
        os.chmod(path, mode)


def repoint_script(data: bytes) -> bytes:
    """A ``#!`` script whose shebang is too long for the kernel, as pip's ``/bin/sh`` trampoline.

    Scripts with a short enough shebang (or none) are returned as they are.
    """
    if not data.startswith(b"#!"):
        return data
    first, newline, rest = data.partition(b"\n")
    if len(first) <= _SHEBANG_LIMIT:
        return data
    return _TRAMPOLINE % first[2:].strip() + newline + rest
