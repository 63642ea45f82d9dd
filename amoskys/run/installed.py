"""What is installed for a Python interpreter, and which one a shim starts, found without
starting it (a start costs tens of milliseconds; these are a few directory listings).

A pip install, upgrade or uninstall adds, renames or removes a ``<name>-<version>.dist-info``
in a site folder while the interpreter's binary stays as it was, so the entry names of its
site folders stand for what is installed. A pyenv or asdf shim keeps its path when ``pyenv
local``/``global`` switches the version: the version variables and files decide what it starts.
Used by the result cache (a job's inputs) and by test selection (a map recorded against other
installed packages cannot say what a test runs now).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

VERSION_FILES = (".python-version", ".tool-versions")
"""The files in which pyenv and asdf look, from the working folder up, for the version a
shim starts."""


def shim_selection(root: Path, env: Mapping[str, str]) -> list[str]:
    """What decides the interpreter a ``python`` shim starts in a job under ``root``: the
    version variables, the version files in ``root`` and every folder above it (the job's
    folder is inside ``root``; files outside the repository, or left out of a job's inputs,
    are no workspace file of its key) and pyenv's global ``version`` file. The shim's own
    path never changes when ``pyenv local``/``global`` switches the version."""
    found = [
        f"{name}={env[name]}" for name in ("PYENV_VERSION", "ASDF_PYTHON_VERSION") if name in env
    ]
    home = env.get("HOME")
    pyenv_root = env.get("PYENV_ROOT") or (str(Path(home) / ".pyenv") if home else None)
    places = [root.resolve(), *root.resolve().parents]
    files = [folder / name for folder in places for name in VERSION_FILES]
    if pyenv_root:
        files.append(Path(pyenv_root) / "version")
    if home:
        files.append(Path(home) / ".tool-versions")
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found.append(f"{path}: {text.strip()}")
    return found


def site_folders(python: Path, env: Mapping[str, str]) -> list[Path]:
    """The folders ``python`` imports installed packages from, found without starting it: a
    virtual environment's own (and its base's when it includes the system's), or those of
    the installation the real binary belongs to, and the user's site folder."""
    places: list[Path] = []
    venv = python.parent.parent
    config = venv / "pyvenv.cfg"
    try:
        text = config.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = None
    if text is not None:
        places.append(venv)
        if not re.search(r"^\s*include-system-site-packages\s*=\s*true\s*$", text, re.I | re.M):
            return _site_globs(places, None)
    places.append(Path(os.path.realpath(python)).parent.parent)
    return _site_globs(places, env.get("HOME"))


def _site_globs(prefixes: Sequence[Path], home: str | None) -> list[Path]:
    patterns = (
        "lib/python3*/site-packages",
        "lib/python3*/dist-packages",
        "lib/python3/dist-packages",
        "local/lib/python3*/dist-packages",
        "Lib/site-packages",
    )
    found = [folder for prefix in prefixes for p in patterns for folder in prefix.glob(p)]
    if home:
        found.extend(Path(home).glob(".local/lib/python3*/site-packages"))
    return sorted(set(found))


def installed(python: Path, env: Mapping[str, str]) -> list[str]:
    """What is installed for ``python``: per site folder, a digest of its entry names. A pip
    install, upgrade or uninstall adds, renames or removes a ``<name>-<version>.dist-info``
    there, while the interpreter's binary stays as it was."""
    found: list[str] = []
    for folder in site_folders(python, env):
        try:
            names = sorted(n for n in os.listdir(folder) if n != "__pycache__")
        except OSError:
            continue
        digest = hashlib.sha256("\0".join(names).encode("utf-8", "surrogateescape"))
        found.append(f"site {folder}: {digest.hexdigest()}")
    return found


def shim_installs(selection: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """:func:`installed` for the pyenv versions the shim selection names."""
    home = env.get("HOME")
    pyenv_root = env.get("PYENV_ROOT") or (str(Path(home) / ".pyenv") if home else None)
    if not pyenv_root:
        return []
    names = {
        word
        for line in selection
        for word in re.split(r"[\s:=]+", line.rsplit(": ", 1)[-1].split("=", 1)[-1])
        if word and "/" not in word
    }
    found: list[str] = []
    for name in sorted(names):
        python = Path(pyenv_root) / "versions" / name / "bin" / "python"
        if python.exists():
            found.extend(installed(python, env))
    return found


def installed_digest(python: str, env: Mapping[str, str]) -> str:
    """One digest of :func:`installed` for ``python``; empty when it tells nothing: a shim
    (what it starts is not known here) or no site folder found."""
    if Path(python).parent.name == "shims":
        return ""
    found = installed(Path(python), env)
    if not found:
        return ""
    return hashlib.sha256("\n".join(found).encode("utf-8", "surrogateescape")).hexdigest()
