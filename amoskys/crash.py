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
from typing import Callable, NoReturn, TypeVar

from amoskys import __version__
from amoskys.errors import AmoskysError

EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130

T = TypeVar("T")


def crash_log_dir() -> Path:
    """Where crash logs go: ``$AMOSKYS_CRASH_DIR``, else the system temp folder."""
    configured = os.environ.get("AMOSKYS_CRASH_DIR")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "amoskys"


def write_crash_log(exc: BaseException, argv: list[str]) -> Path:
    """Write the traceback and versions to a new log file and return its path."""
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
    path.write_text("\n".join(lines), encoding="utf-8")
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
        _fail(f"amoskys: internal error: {type(exc).__name__}: {exc}{where}", EXIT_INTERNAL)


def _fail(message: str, code: int) -> NoReturn:
    print(message, file=sys.stderr)
    raise SystemExit(code)
