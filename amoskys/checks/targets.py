"""Which files each per-file checker would check, and what configures it.

To re-check only changed files, Amoskys must know a tool's files without starting it. The
candidates are the files git would push (tracked, and untracked but not ignored) under the
tool's paths; each tool's own selection rules are applied on top: Black's ``include``,
``exclude`` and ``extend-exclude`` (its ``force-exclude`` it applies itself to files passed
by name), flake8's ``filename``, ``exclude`` and ``extend-exclude`` on every folder of the
path, isort's extensions (its ``skip`` rules it applies with ``--filter-files``), Bandit's
``*.py``/``*.pyw`` (its excluded folders it applies itself).

The configuration text of a tool (the sections and files it reads) goes into its cache key.
"""

from __future__ import annotations

import configparser
import fnmatch
import json
import os
import re
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from amoskys.checks.file_cache import file_text

BLACK_DEFAULT_EXCLUDES = (
    r"/(\.direnv|\.eggs|\.git|\.hg|\.ipynb_checkpoints|\.mypy_cache|\.nox|\.pytest_cache"
    r"|\.ruff_cache|\.tox|\.svn|\.venv|\.vscode|__pypackages__|_build|buck-out|build|dist|venv)/"
)
BLACK_DEFAULT_INCLUDES = r"\.pyi?$"  # Black's own adds .ipynb, which needs its jupyter extra
FLAKE8_DEFAULT_EXCLUDE: tuple[str, ...] = tuple(
    ".svn,CVS,.bzr,.hg,.git,__pycache__,.tox,.nox,.eggs,*.egg".split(",")
)
ISORT_EXTENSIONS = (".py", ".pyi", ".pyx", ".pxd")
BANDIT_PATTERNS = ("*.py", "*.pyw")


def under(files: Iterable[str], paths: Sequence[str]) -> list[str] | None:
    """The files inside ``paths`` (folders or files, relative to the root), in order;
    ``None`` when a path leaves the root (the tool is then run the plain way)."""
    prefixes: list[str] = []
    for raw in paths:
        pure = PurePosixPath(raw.replace(os.sep, "/"))
        if pure.is_absolute() or ".." in pure.parts:
            return None
        prefixes.append(pure.as_posix())
    if "." in prefixes:
        return list(files)
    return [f for f in files if any(f == p or f.startswith(p + "/") for p in prefixes)]


def pyproject_section(root: Path, *keys: str) -> Any:
    """``[tool.<keys>]`` of ``pyproject.toml`` (``None`` when absent or unreadable)."""
    try:
        data: Any = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def config_text(tool: str, root: Path) -> str:
    """Everything in the project that configures ``tool`` (for its cache key)."""
    if tool == "black":
        return _json(
            [
                pyproject_section(root, "tool", "black"),
                pyproject_section(root, "project", "requires-python"),  # target versions
            ]
        )
    if tool == "isort":
        parts = [_json(pyproject_section(root, "tool", "isort"))]
        for name in (".isort.cfg", "setup.cfg", "tox.ini", ".editorconfig"):
            parts.append(file_text(root / name))
        # isort calls a module first-party when it exists in the project's source folders.
        # Only names that can be modules: caches and reports coming and going do not count.
        for folder in (root, root / "src"):
            try:
                names = [n for n in os.listdir(folder) if _module_like(folder, n)]
            except OSError:
                names = []
            parts.append(_json(sorted(names)))
        return "\x1e".join(parts)
    if tool == "flake8":
        # [tool.flake8] configures flake8 through the Flake8-pyproject plugin
        files = [file_text(root / n) for n in ("setup.cfg", "tox.ini", ".flake8")]
        return "\x1e".join([*files, _json(pyproject_section(root, "tool", "flake8"))])
    if tool == "bandit":
        return "\x1e".join(
            [_json(pyproject_section(root, "tool", "bandit")), file_text(root / ".bandit")]
        )
    return ""


def _module_like(folder: Path, name: str) -> bool:
    if name.startswith(".") or name == "__pycache__":
        return False
    return name.endswith((".py", ".pyi", ".so", ".pyd")) or (folder / name).is_dir()


def black_files(root: Path, files: Iterable[str]) -> list[str]:
    """Black's selection among ``files``."""
    section = pyproject_section(root, "tool", "black")
    config = section if isinstance(section, dict) else {}
    include = _regex(config.get("include"), BLACK_DEFAULT_INCLUDES)
    exclude = _regex(config.get("exclude"), BLACK_DEFAULT_EXCLUDES)
    extend = _regex(config.get("extend-exclude") or config.get("extend_exclude"), None)
    chosen: list[str] = []
    for rel in files:
        if include is None or not include.search("/" + rel):
            continue
        names = _ancestors(rel) + ["/" + rel]
        if any(r is not None and r.search(n) for r in (exclude, extend) for n in names):
            continue
        chosen.append(rel)
    return chosen


def _ancestors(rel: str) -> list[str]:
    parts = rel.split("/")[:-1]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def _regex(value: Any, default: str | None) -> re.Pattern[str] | None:
    text = value if isinstance(value, str) else default
    if not text:
        return None
    try:
        return re.compile(text, re.VERBOSE if "\n" in text else 0)
    except re.error:
        return re.compile(default) if default else None


def flake8_files(root: Path, files: Iterable[str]) -> list[str]:
    """flake8's selection among ``files``: its ``filename`` patterns, and its ``exclude`` on
    each folder and on the file (by name and by absolute path, as flake8 matches them)."""
    options = _flake8_options(root)
    exclude = [*options.get("exclude", FLAKE8_DEFAULT_EXCLUDE), *options.get("extend-exclude", ())]
    patterns = [_absolute(p, root) for p in exclude]
    wanted = [_absolute(p, root) for p in options.get("filename", ("*.py",))]
    chosen: list[str] = []
    for rel in files:
        parts = rel.split("/")
        steps = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(_flake8_match(step, root, patterns) for step in steps):
            continue
        if _flake8_match(rel, root, wanted):
            chosen.append(rel)
    return chosen


def _absolute(pattern: str, root: Path) -> str:
    # flake8 makes patterns with a slash absolute, relative to the configuration's folder.
    if "/" in pattern:
        return os.path.abspath(root / pattern)
    return pattern


def _flake8_match(rel: str, root: Path, patterns: Sequence[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    full = os.path.abspath(root / rel)
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(full, p) for p in patterns)


def _flake8_options(root: Path) -> dict[str, tuple[str, ...]]:
    """``exclude``, ``extend-exclude``, ``filename`` of the first of setup.cfg, tox.ini,
    .flake8 with a ``[flake8]`` section (flake8's own order)."""
    for name in ("setup.cfg", "tox.ini", ".flake8"):
        parser = configparser.RawConfigParser()
        try:
            parser.read(root / name, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue
        if not parser.has_section("flake8"):
            continue
        found: dict[str, tuple[str, ...]] = {}
        for key in ("exclude", "extend-exclude", "filename"):
            value = parser.get("flake8", key, fallback=None)
            if value is None:
                value = parser.get("flake8", key.replace("-", "_"), fallback=None)
            if value is not None:
                found[key] = tuple(p.strip() for p in re.split(r"[,\s]+", value) if p.strip())
        return found
    return {}


def isort_files(files: Iterable[str]) -> list[str]:
    return [f for f in files if f.endswith(ISORT_EXTENSIONS)]


def bandit_files(files: Iterable[str]) -> list[str]:
    chosen: list[str] = []
    for rel in files:
        name = rel.rsplit("/", 1)[-1]
        if any(fnmatch.fnmatch(name, p) for p in BANDIT_PATTERNS):
            chosen.append(rel)
    return chosen


def tool_files(tool: str, root: Path, files: Iterable[str]) -> list[str]:
    """The files ``tool`` would check among the candidates ``files``."""
    if tool == "black":
        return black_files(root, files)
    if tool == "flake8":
        return flake8_files(root, files)
    if tool == "isort":
        return isort_files(files)
    if tool == "bandit":
        return bandit_files(files)
    return list(files)
