"""The error handler around every command (after pre-commit's): expected errors print
``path:line:col: message; hint`` and exit 2; anything else prints one line, writes a crash
log with the traceback and versions, and exits 3; Ctrl-C exits 130."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable, Mapping, NoReturn, Sequence, TypeVar

from amoskys import __version__
from amoskys.errors import AmoskysError
from amoskys.run.masking import Masker

EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130

T = TypeVar("T")
SECRET_OPTION = "--secret"  # an option name, not a secret  # nosec B105
SECRETS_FILE_OPTION = "--secrets-file"
SECRET_ENV_PREFIX = "AMOSKYS_SECRET_"  # a variable prefix, not a secret  # nosec B105


def known_secrets(argv: Sequence[str], environ: Mapping[str, str]) -> Masker:
    """A masker for the secrets a command line (``--secret NAME=VALUE``, ``--secrets-file``)
    and the environment (``AMOSKYS_SECRET_*``) gave: a crash log and its message quote argv
    and exceptions."""
    masker = Masker()
    for index, arg in enumerate(argv):
        following = argv[index + 1] if index + 1 < len(argv) else ""
        if arg == SECRET_OPTION:
            masker.add(following.partition("=")[2])
        elif arg.startswith(SECRET_OPTION + "="):
            masker.add(arg[len(SECRET_OPTION) + 1 :].partition("=")[2])
        elif arg == SECRETS_FILE_OPTION or arg.startswith(SECRETS_FILE_OPTION + "="):
            path = following if arg == SECRETS_FILE_OPTION else arg.partition("=")[2]
            for value in _file_secrets(path):
                masker.add(value)
    for name, value in environ.items():
        if name.startswith(SECRET_ENV_PREFIX):
            masker.add(value)
    return masker


def _file_secrets(path: str) -> list[str]:
    """The values of a ``--secrets-file`` (none when it cannot be read or parsed)."""
    from amoskys.run.environment import parse_dotenv

    try:
        return list(parse_dotenv(Path(path).read_text(encoding="utf-8"), path).values())
    except (OSError, UnicodeDecodeError, AmoskysError):
        return []


def crash_log_dir() -> Path:
    """Where crash logs go: ``$AMOSKYS_CRASH_DIR``, else the system temp folder."""
    configured = os.environ.get("AMOSKYS_CRASH_DIR")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "amoskys"


def write_crash_log(exc: BaseException, argv: list[str]) -> Path:
    """Write the traceback and versions to a new log file and return its path (the secrets
    the command was given are masked)."""
    folder = crash_log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    lines = [
        "### version information",
        f"amoskys: {__version__}",
        f"python: {sys.version.split()[0]} ({sys.executable})",
        f"platform: {platform.platform()}",
        f"argv: {argv}",
        "",
        "### traceback",
        "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    ]
    masker = known_secrets(argv, os.environ)
    path.write_text(masker.mask("\n".join(lines)), encoding="utf-8")
    return path


def run_guarded(func: Callable[[], T]) -> T:
    """Call ``func``, turning every way it can fail into a message and an exit code."""
    try:
        return func()
    except AmoskysError as err:
        _fail(str(err), err.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", EXIT_INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - the last line of defence is the point here
        try:
            where = f"; the traceback is in {write_crash_log(exc, sys.argv)}"
        except OSError as log_err:
            where = f" (and the crash log could not be written: {log_err})"
        message = f"amoskys: internal error: {type(exc).__name__}: {exc}{where}"
        _fail(known_secrets(sys.argv, os.environ).mask(message), EXIT_INTERNAL)


def _fail(message: str, code: int) -> NoReturn:
    print(message, file=sys.stderr)
    raise SystemExit(code)
