"""The environment a step starts from: clean, as tox does, plus what GitHub's runner sets.

Nothing of the caller's environment reaches a step except PATH, HOME, USER, LANG and LC_*,
TMPDIR, TERM, the proxy variables, pip's and uv's configuration (PIP_*, UV_*), and names
matching the project's ``[tool.amoskys] pass-env`` patterns.
"""

from __future__ import annotations

import fnmatch
from typing import Iterable, Mapping

_PASSED = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "TMPDIR",
    "TERM",
    "SHELL",
    "SYSTEMROOT",
    "COMSPEC",
    "PATHEXT",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "PYENV_ROOT",
)
_PASSED_PATTERNS = ("LC_*", "PIP_*", "UV_*")


def clean_environment(source: Mapping[str, str], pass_env: Iterable[str] = ()) -> dict[str, str]:
    """The subset of ``source`` a step may see (names compared exactly, patterns by glob)."""
    patterns = (*_PASSED_PATTERNS, *pass_env)
    return {
        name: value
        for name, value in source.items()
        if name in _PASSED or any(fnmatch.fnmatchcase(name, p) for p in patterns)
    }


def parse_dotenv(text: str, origin: str) -> dict[str, str]:
    """``NAME=value`` lines (``#`` comments, optional ``export``, quotes stripped)."""
    from amoskys.errors import AmoskysError, Location

    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name or not (name[0].isalpha() or name[0] == "_"):
            raise AmoskysError(
                f"not a NAME=value line: {raw.strip()[:40]!r}",
                location=Location(origin, number, 1),
                hint="write one NAME=value per line",
            )
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
            if raw.strip().split("=", 1)[1].strip().startswith('"'):
                value = value.replace("\\n", "\n")
        values[name] = value
    return values
