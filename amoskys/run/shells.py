"""GitHub's ``shell:`` keywords and templates, turned into argv for :mod:`amoskys.run.process`.

The built-in keywords run what GitHub documents (``jobs.<job_id>.steps[*].shell``), with ``{0}``
standing for the step's script file:

========== ============================================ ==========
shell      command run                                  script
========== ============================================ ==========
(none)     ``bash -e {0}``, else ``sh -e {0}`` (POSIX)  ``.sh``
(none)     ``pwsh``, else ``powershell`` (Windows)      ``.ps1``
bash       ``bash --noprofile --norc -eo pipefail {0}`` ``.sh``
sh         ``sh -e {0}``                                ``.sh``
python     ``python {0}``                               ``.py``
pwsh       ``pwsh -command ". '{0}'"``                  ``.ps1``
powershell ``powershell -command ". '{0}'"``            ``.ps1``
cmd        ``%ComSpec% /D /E:ON /V:OFF /S /C "CALL "{0}""`` ``.cmd``
========== ============================================ ==========

Anything else must be a template such as ``perl {0}``: the first word is the program, the rest
its arguments, split like a POSIX shell would, with ``{0}`` replaced by the script path in
every argument. As in GitHub's runner, the script's extension comes from the program (a template
starting with ``bash`` gets ``.sh``; ``perl {0}`` gets none) and pwsh/powershell/cmd scripts get
the same fail-fast lines GitHub adds.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from amoskys.errors import AmoskysError

PLACEHOLDER = "{0}"

_TEMPLATES: dict[str, tuple[str, ...]] = {
    "bash": ("bash", "--noprofile", "--norc", "-eo", "pipefail", PLACEHOLDER),
    "sh": ("sh", "-e", PLACEHOLDER),
    "python": ("python", PLACEHOLDER),
    "pwsh": ("pwsh", "-command", f". '{PLACEHOLDER}'"),
    "powershell": ("powershell", "-command", f". '{PLACEHOLDER}'"),
    # Documented as  %ComSpec% /D /E:ON /V:OFF /S /C "CALL "{0}"". Python's Windows quoting
    # would escape those inner quotes (cmd.exe does not understand \"), while separate CALL and
    # path arguments give cmd the same command, with the path quoted only if it needs it.
    "cmd": ("%ComSpec%", "/D", "/E:ON", "/V:OFF", "/S", "/C", "CALL", PLACEHOLDER),
}
_DEFAULT_POSIX = ("bash", "-e", PLACEHOLDER)
_SUFFIXES = {
    "bash": ".sh",
    "sh": ".sh",
    "python": ".py",
    "pwsh": ".ps1",
    "powershell": ".ps1",
    "cmd": ".cmd",
}
_WINDOWS_ONLY = frozenset({"cmd", "powershell"})
_MISSING_HINTS = {
    "pwsh": "install PowerShell 7 (pwsh), or choose another shell for this step",
    "powershell": "Windows PowerShell exists only on Windows; use `shell: pwsh` elsewhere",
    "python": "if only python3 is installed, use `shell: python3 {0}`",
}
SUPPORTED = ("bash", "sh", "python", "pwsh", "powershell", "cmd")
"""The built-in shell keywords."""


def is_windows(platform: str) -> bool:
    """True for ``win32``/``Windows`` (``sys.platform`` or ``runner.os`` spelling)."""
    return platform.lower().startswith("win")


def shell_command(
    shell: str | None, script_path: Path, *, platform: str, env_path: str | None
) -> list[str]:
    """The argv that runs ``script_path`` with ``shell`` (a keyword, a template or None).

    ``platform`` is ``sys.platform``-like (``linux``, ``darwin``, ``win32``); ``env_path`` is
    the PATH the step will run with (None: this process's PATH), used to pick the default shell
    and to report a missing one clearly.
    """
    path = os.path.abspath(script_path)
    program, template = _template(shell, platform, env_path)
    argv = [_substitute(part, path, program) for part in template]
    if argv[0] == "%ComSpec%":
        argv[0] = os.environ.get("ComSpec", "cmd.exe")
    return argv


def script_suffix(shell: str | None, *, platform: str = sys.platform) -> str:
    """The script file extension GitHub uses for ``shell`` (``""`` for unknown programs)."""
    if shell is None or not shell.strip():
        return ".ps1" if is_windows(platform) else ".sh"
    return _SUFFIXES.get(_program_of(shell).lower(), "")


def write_script(
    run_text: str, shell: str | None, dir: Path, *, platform: str = sys.platform
) -> Path:
    """Write a step's ``run:`` text to a new script file in ``dir``, ready for ``shell``.

    pwsh/powershell scripts get GitHub's ``$ErrorActionPreference = 'stop'`` first line and a
    last line that exits with ``$LASTEXITCODE``; cmd scripts get ``@echo off``.
    """
    suffix = script_suffix(shell, platform=platform)
    if shell is None or not shell.strip():
        program = "pwsh" if is_windows(platform) else "bash"
    else:
        program = _program_of(shell).lower()
    newline = "\r\n" if is_windows(platform) else "\n"
    text = run_text
    if program in ("pwsh", "powershell"):
        text = newline.join(
            [
                "$ErrorActionPreference = 'stop'",
                run_text,
                r"if ((Test-Path -LiteralPath variable:\LASTEXITCODE)) { exit $LASTEXITCODE }",
            ]
        )
    elif program == "cmd":
        text = newline.join(["@echo off", run_text])
    # Windows PowerShell 5.1 reads UTF-8 files as ANSI unless they start with a BOM.
    encoding = "utf-8-sig" if program == "powershell" else "utf-8"
    Path(dir).mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="step-", suffix=suffix, dir=dir)
    with os.fdopen(fd, "w", encoding=encoding, newline="") as handle:
        handle.write(text)
    if not is_windows(platform):
        os.chmod(name, 0o700)  # owner only; a `{0} args` template executes it  # nosec B103
    return Path(name)


def _template(shell: str | None, platform: str, env_path: str | None) -> tuple[str, list[str]]:
    """(keyword or program, argv template) for ``shell``; checks the program exists."""
    windows = is_windows(platform)
    if shell is None or not shell.strip():
        candidates = ("pwsh", "powershell") if windows else ("bash", "sh")
        for name in candidates:
            if shutil.which(name, path=env_path) is not None:
                if name == "bash":
                    return name, list(_DEFAULT_POSIX)
                return name, list(_TEMPLATES[name])
        raise AmoskysError(
            f"no default shell: neither {candidates[0]} nor {candidates[1]} is on the PATH",
            hint="install one, or set `shell:` for the step",
        )
    text = shell.strip()
    keyword = text.lower()
    if keyword in _TEMPLATES:
        if keyword in _WINDOWS_ONLY and not windows:
            raise AmoskysError(
                f"shell `{keyword}` is only available on Windows",
                hint="use bash, sh, python or pwsh, or a template such as `zsh {0}`",
            )
        _require(keyword, keyword, env_path)
        return keyword, list(_TEMPLATES[keyword])
    if PLACEHOLDER not in text:
        raise AmoskysError(
            f"unknown shell `{text}`",
            hint=(
                f"use one of {', '.join(SUPPORTED)}, or a template with {{0}} for the script "
                f"file, such as `{text.split()[0]} {{0}}`"
            ),
        )
    try:
        parts = shlex.split(text, posix=True)
    except ValueError as exc:
        raise AmoskysError(f"cannot parse shell template `{text}`: {exc}") from None
    if parts[0] != PLACEHOLDER:
        _require(parts[0], text, env_path)
    return parts[0], parts


def _require(program: str, shell: str, env_path: str | None) -> None:
    """Raise a clear error if ``program`` is not on ``env_path``."""
    if program == "cmd" or os.sep in program or (os.altsep and os.altsep in program):
        return  # cmd runs via %ComSpec%; paths are checked when the step starts
    if shutil.which(program, path=env_path) is None:
        raise AmoskysError(
            f"shell `{shell}` needs `{program}`, which is not on the PATH",
            hint=_MISSING_HINTS.get(program, f"install {program}, or choose another shell"),
        )


def _substitute(part: str, path: str, program: str) -> str:
    if program in ("pwsh", "powershell") and part == f". '{PLACEHOLDER}'":
        return part.replace(PLACEHOLDER, path.replace("'", "''"))  # PowerShell quoting
    return part.replace(PLACEHOLDER, path)


def _program_of(shell: str) -> str:
    words = shell.split()
    return words[0] if words else ""
