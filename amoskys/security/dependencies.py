"""The dependencies a project pins or an environment has installed, as :class:`Package` rows.

Sources, all read without installing or resolving anything:

* requirements files (``requirements*.txt`` and ``requirements/*.txt`` at the project root,
  and whatever they include with ``-r``): one package per ``name==version`` pin (``===`` too);
  hashes and other per-requirement options, environment markers (kept whatever they say: the
  pin is real on *some* interpreter), comments and line continuations are understood;
  ``-e``/``--editable`` lines, constraint files (``-c``), index options, URLs, paths and
  unpinned requirements carry no version and are left out;
* ``pyproject.toml``: ``[project] dependencies``, ``[project.optional-dependencies]`` and
  ``[dependency-groups]`` entries pinned with ``==``;
* lock files: ``uv.lock`` and ``poetry.lock`` (``[[package]]`` name/version) and
  ``pylock.toml`` / ``pylock.*.toml`` (PEP 751 ``[[packages]]``), leaving out the project's own
  editable/virtual/directory entries;
* the installed distributions of this interpreter (:mod:`importlib.metadata`) or of another
  one, asked through :func:`amoskys.run.process.output_of` with a small ``-c`` script.

Mistakes in these files become :class:`~amoskys.errors.Problem` entries in the caller's list;
nothing here raises for a bad line.
"""

from __future__ import annotations

import codecs
import json
import re
import tempfile
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Iterable

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from amoskys.errors import AmoskysError, Location, Problem
from amoskys.run.process import output_of

INSTALLED_TIMEOUT_SECONDS = 60.0
"""How long another interpreter may take to list its distributions."""

_LIST_SCRIPT = (
    "import json, importlib.metadata as m\n"
    "print(json.dumps([[d.metadata['Name'], d.version] for d in m.distributions()]))\n"
)


@dataclass(frozen=True)
class Package:
    """One pinned or installed distribution: ``name`` as written, ``version`` as written,
    where it was pinned (a POSIX path relative to the project root, 1-based line) if known."""

    name: str
    version: str
    source_file: str | None = None
    line: int | None = None

    @property
    def key(self) -> str:
        """The PEP 503 normalised name (``Zope.Interface`` -> ``zope-interface``)."""
        return canonicalize_name(self.name)


# --------------------------------------------------------------------------- requirements

_COMMENT = re.compile(r"(^|\s+)#.*$")
_REQUIREMENT_OPTION = re.compile(r"\s-{1,2}[A-Za-z]")  # --hash=..., --config-settings ...
_INCLUDE = re.compile(r"^(?:-r|--requirement)(?:\s*=\s*|\s+|(?=\S))(?P<path>\S+)$")


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """(first line number, joined text) with ``\\`` continuations joined, comments removed."""
    start = 0
    parts: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not parts:
            start = number
        line = raw.rstrip()
        if line.endswith("\\"):
            parts.append(line[:-1])
            continue
        parts.append(line)
        joined = _COMMENT.sub("", " ".join(parts)).strip()
        parts = []
        if joined:
            yield start, joined
    if parts:
        joined = _COMMENT.sub("", " ".join(parts)).strip()
        if joined:
            yield start, joined


_NAMED_URL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*@")
_ARCHIVES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")


def _is_url_or_path(spec: str) -> bool:
    """A bare URL, VCS link, path or archive (``name @ url`` is a requirement, no pin)."""
    if _NAMED_URL.match(spec):
        return False
    target = spec.split(";")[0].strip()
    return (
        "://" in target
        or "/" in target
        or "\\" in target
        or target.startswith(".")
        or target.lower().endswith(_ARCHIVES)
    )


def pinned_version(requirement: Requirement) -> str | None:
    """The version of an exact pin (``==1.2``, ``===1.2``), also beside other bounds
    (``==1.2,<2`` installs 1.2 all the same); ``None`` for anything looser."""
    if requirement.url:
        return None
    exact = {
        spec.version
        for spec in requirement.specifier
        if spec.operator in ("==", "===") and not spec.version.endswith("*")
    }
    return exact.pop() if len(exact) == 1 else None  # two different pins install nothing


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _decode(data: bytes) -> str:
    """A requirements file's text, with the byte order mark pip honours (``pip freeze >
    requirements.txt`` in Windows PowerShell writes UTF-16); UTF-8 otherwise."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    return data.decode("utf-8")


def read_requirements(
    path: Path, root: Path, problems: list[Problem], *, _seen: set[Path] | None = None
) -> list[Package]:
    """The ``==`` pins of a requirements file and of the files it includes with ``-r``."""
    seen = set() if _seen is None else _seen
    resolved = path.resolve()
    if resolved in seen:
        return []
    seen.add(resolved)
    shown = _relative(path, root)
    try:
        text = _decode(path.read_bytes())
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(f"cannot read {shown}: {exc}", Location(shown)))
        return []
    packages: list[Package] = []
    for number, line in _logical_lines(text):
        if line.startswith("-"):
            include = _INCLUDE.match(line)
            if include:
                target = path.parent / include["path"]
                if target.is_file():
                    packages.extend(read_requirements(target, root, problems, _seen=seen))
                else:
                    problems.append(
                        Problem(
                            f"included requirements file {include['path']} not found",
                            Location(shown, number),
                        )
                    )
            continue  # -e/--editable, -c, -i, --hash-only lines ...: no pin here
        cut = _REQUIREMENT_OPTION.search(line)
        spec = line[: cut.start()].strip() if cut else line
        if _is_url_or_path(spec):
            continue  # not a pinned release
        try:
            requirement = Requirement(spec)
        except InvalidRequirement as exc:
            problems.append(Problem(f"not a requirement: {exc}", Location(shown, number)))
            continue
        version = pinned_version(requirement)
        if version is not None:
            packages.append(Package(requirement.name, version, shown, number))
    return packages


# --------------------------------------------------------------------------- TOML sources


def _load_toml(path: Path, shown: str, problems: list[Problem]) -> tuple[dict[str, object], str]:
    try:
        text = path.read_text(encoding="utf-8")
        return tomllib.loads(text), text
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(f"cannot read {shown}: {exc}", Location(shown)))
    except tomllib.TOMLDecodeError as exc:
        problems.append(Problem(f"not valid TOML: {exc}", Location(shown)))
    return {}, ""


def _line_of(text: str, needle: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if f'"{needle}"' in line or f"'{needle}'" in line:
            return number
    return None


def read_pyproject(path: Path, root: Path, problems: list[Problem]) -> list[Package]:
    """``==`` pins in ``[project]`` dependencies, optional dependencies and dependency groups."""
    shown = _relative(path, root)
    data, text = _load_toml(path, shown, problems)
    entries: list[object] = []
    project = data.get("project")
    if isinstance(project, dict):
        deps = project.get("dependencies")
        if isinstance(deps, list):
            entries.extend(deps)
        optional = project.get("optional-dependencies")
        if isinstance(optional, dict):
            for group in optional.values():
                if isinstance(group, list):
                    entries.extend(group)
    groups = data.get("dependency-groups")
    if isinstance(groups, dict):
        for group in groups.values():
            if isinstance(group, list):
                entries.extend(group)  # {include-group = ...} tables are skipped below
    packages: list[Package] = []
    for entry in entries:
        if not isinstance(entry, str):
            continue
        line = _line_of(text, entry)
        try:
            requirement = Requirement(entry)
        except InvalidRequirement as exc:
            problems.append(Problem(f"not a requirement: {exc}", Location(shown, line or 0)))
            continue
        version = pinned_version(requirement)
        if version is not None:
            packages.append(Package(requirement.name, version, shown, line))
    return packages


def _block_lines(text: str, header: str) -> list[int]:
    """For each ``[[header]]`` block in order, the line of its ``name =`` key (or header)."""
    lines: list[int] = []
    inside = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("["):
            inside = line == f"[[{header}]]"
            if inside:
                lines.append(number)
            continue
        if inside and re.match(r"name\s*=", line):
            lines[-1] = number
            inside = False
    return lines


_LOCAL_SOURCES = ("editable", "virtual", "directory", "path")


def read_lock(path: Path, root: Path, problems: list[Problem]) -> list[Package]:
    """name/version of every locked package in ``uv.lock``, ``poetry.lock``, ``pdm.lock`` or
    ``pylock*.toml`` (the project's own local entries left out)."""
    shown = _relative(path, root)
    data, text = _load_toml(path, shown, problems)
    header = "packages" if path.name.startswith("pylock") else "package"
    entries = data.get(header)
    if not isinstance(entries, list):
        return []
    lines = _block_lines(text, header)
    packages: list[Package] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        name, version = entry.get("name"), entry.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            continue  # a dynamic-version workspace member, or a malformed entry
        source = entry.get("source")
        if isinstance(source, dict):
            if any(key in source for key in _LOCAL_SOURCES) or source.get("type") == "directory":
                continue
        if header == "packages" and "directory" in entry:
            continue
        if path.name == "pdm.lock" and ("path" in entry or entry.get("editable") is True):
            continue  # a local folder, not a release
        line = lines[index] if index < len(lines) else None
        packages.append(Package(name, version, shown, line))
    return packages


# --------------------------------------------------------------------------- discovery


def project_dependencies(root: Path, problems: list[Problem] | None = None) -> list[Package]:
    """Every pin the project at ``root`` declares, in a stable order, duplicates removed."""
    sink: list[Problem] = [] if problems is None else problems
    found: list[Package] = []
    seen: set[Path] = set()
    # requirements.txt, requirements-dev.txt and the dev-/test-requirements.txt spelling too
    requirement_files = sorted(root.glob("*requirements*.txt")) + sorted(
        (root / "requirements").rglob("*.txt")
    )
    for path in requirement_files:
        if path.is_file():
            found.extend(read_requirements(path, root, sink, _seen=seen))
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        found.extend(read_pyproject(pyproject, root, sink))
    locks = [root / "uv.lock", root / "poetry.lock", root / "pdm.lock", root / "pylock.toml"]
    locks += sorted(root.glob("pylock.*.toml"))
    for path in locks:
        if path.is_file():
            found.extend(read_lock(path, root, sink))
    return list(dict.fromkeys(found))


def _installed_rows(rows: Iterable[tuple[object, object]]) -> list[Package]:
    packages: dict[str, Package] = {}
    for name, version in rows:
        if not isinstance(name, str) or not isinstance(version, str) or not name:
            continue  # a broken distribution without metadata
        package = Package(name, version)
        packages.setdefault(package.key, package)  # the first on sys.path wins, as for import
    return sorted(packages.values(), key=lambda p: p.key)


def installed_packages(python: str | Path | None = None) -> list[Package]:
    """The distributions installed in this interpreter (``python=None``) or in the interpreter
    ``python`` (a path or a command on PATH), one per normalised name."""
    if python is None:
        return _installed_rows((d.metadata["Name"], d.version) for d in metadata.distributions())
    out = output_of(
        [str(python), "-c", _LIST_SCRIPT],
        cwd=Path(tempfile.gettempdir()),  # not the project: its modules must not shadow json
        timeout=INSTALLED_TIMEOUT_SECONDS,
    )
    try:
        rows = json.loads(out)
    except json.JSONDecodeError:
        rows = None
    if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == 2 for r in rows):
        raise AmoskysError(
            f"{python} did not list its installed distributions",
            hint="it must be a Python >= 3.8 interpreter",
        )
    return _installed_rows((row[0], row[1]) for row in rows)
