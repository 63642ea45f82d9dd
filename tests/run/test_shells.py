"""GitHub's shell templates: the documented argv, and scripts really run through them."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from amoskys.errors import AmoskysError
from amoskys.run.process import run_process
from amoskys.run.shells import script_suffix, shell_command, write_script

LINUX = "linux"
HOST_PATH = os.environ.get("PATH", os.defpath)
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX shells")


def bin_dir(tmp_path: Path, **links: str) -> str:
    """A PATH of one directory holding ``name -> target`` symlinks."""
    directory = tmp_path / "bin"
    directory.mkdir(exist_ok=True)
    for name, target in links.items():
        (directory / name).symlink_to(target)
    return str(directory)


def fake_program(tmp_path: Path, name: str) -> str:
    """An executable file called ``name`` (only looked up on PATH, never run)."""
    directory = tmp_path / "fakebin"
    directory.mkdir(exist_ok=True)
    program = directory / name
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    return str(directory)


def test_documented_templates(tmp_path: Path) -> None:
    script = tmp_path / "step.sh"
    path = str(script)
    assert shell_command("bash", script, platform=LINUX, env_path=HOST_PATH) == [
        "bash",
        "--noprofile",
        "--norc",
        "-eo",
        "pipefail",
        path,
    ]
    assert shell_command(None, script, platform=LINUX, env_path=HOST_PATH) == ["bash", "-e", path]
    assert shell_command("sh", script, platform=LINUX, env_path=HOST_PATH) == ["sh", "-e", path]
    python_path = bin_dir(tmp_path, python=sys.executable)
    assert shell_command("python", script, platform=LINUX, env_path=python_path) == [
        "python",
        path,
    ]
    pwsh_path = fake_program(tmp_path, "pwsh")
    assert shell_command("pwsh", script, platform=LINUX, env_path=pwsh_path) == [
        "pwsh",
        "-command",
        f". '{path}'",
    ]


def test_keywords_are_case_insensitive(tmp_path: Path) -> None:
    argv = shell_command("Bash", tmp_path / "s.sh", platform=LINUX, env_path=HOST_PATH)
    assert argv[:2] == ["bash", "--noprofile"]


def test_relative_script_path_becomes_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = shell_command("sh", Path("step.sh"), platform=LINUX, env_path=HOST_PATH)
    assert argv[-1] == str(tmp_path / "step.sh")


def test_windows_templates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ComSpec", r"C:\Windows\system32\cmd.exe")
    script = tmp_path / "it's.ps1"
    env_path = fake_program(tmp_path, "powershell")
    assert shell_command("cmd", script, platform="win32", env_path=env_path) == [
        r"C:\Windows\system32\cmd.exe",
        "/D",
        "/E:ON",
        "/V:OFF",
        "/S",
        "/C",
        "CALL",
        str(script),
    ]
    quoted = str(script).replace("'", "''")
    assert shell_command("powershell", script, platform="win32", env_path=env_path) == [
        "powershell",
        "-command",
        f". '{quoted}'",
    ]
    # Unspecified on Windows: pwsh, falling back to Windows PowerShell.
    assert shell_command(None, script, platform="Windows", env_path=env_path)[0] == "powershell"


def test_default_falls_back_to_sh_without_bash(tmp_path: Path) -> None:
    sh = shutil.which("sh")
    assert sh is not None
    only_sh = bin_dir(tmp_path, sh=sh)
    script = tmp_path / "s.sh"
    assert shell_command(None, script, platform=LINUX, env_path=only_sh) == [
        "sh",
        "-e",
        str(script),
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AmoskysError, match="no default shell"):
        shell_command(None, script, platform=LINUX, env_path=str(empty))


def test_missing_pwsh_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AmoskysError, match="needs `pwsh`") as info:
        shell_command("pwsh", tmp_path / "s.ps1", platform=LINUX, env_path=str(tmp_path))
    assert info.value.hint and "PowerShell" in info.value.hint


def test_windows_only_shells_are_refused_elsewhere(tmp_path: Path) -> None:
    for shell in ("cmd", "powershell"):
        with pytest.raises(AmoskysError, match="only available on Windows"):
            shell_command(shell, tmp_path / "s", platform="darwin", env_path=HOST_PATH)


def test_custom_templates(tmp_path: Path) -> None:
    script = tmp_path / "my step"
    path = str(script)
    assert shell_command(
        "bash -x {0} --after 'two words'", script, platform=LINUX, env_path=HOST_PATH
    ) == [
        "bash",
        "-x",
        path,
        "--after",
        "two words",
    ]
    perl_path = fake_program(tmp_path, "perl")
    assert shell_command("perl {0}", script, platform=LINUX, env_path=perl_path) == ["perl", path]


@pytest.mark.parametrize("shell", ["zsh", "perl -w", "fish --login"])
def test_unknown_shell_without_placeholder(tmp_path: Path, shell: str) -> None:
    with pytest.raises(AmoskysError, match="unknown shell") as info:
        shell_command(shell, tmp_path / "s", platform=LINUX, env_path=HOST_PATH)
    hint = info.value.hint or ""
    assert "bash, sh, python, pwsh, powershell, cmd" in hint and "{0}" in hint


def test_custom_template_with_missing_program(tmp_path: Path) -> None:
    with pytest.raises(AmoskysError, match="needs `no-such-shell`"):
        shell_command("no-such-shell {0}", tmp_path / "s", platform=LINUX, env_path=HOST_PATH)
    with pytest.raises(AmoskysError, match="cannot parse"):
        shell_command("bash '{0}", tmp_path / "s", platform=LINUX, env_path=HOST_PATH)


@pytest.mark.parametrize(
    ("shell", "suffix"),
    [
        ("bash", ".sh"),
        ("sh", ".sh"),
        ("python", ".py"),
        ("pwsh", ".ps1"),
        ("powershell", ".ps1"),
        ("cmd", ".cmd"),
        ("bash -x {0}", ".sh"),
        ("python -u {0}", ".py"),
        ("perl {0}", ""),
        ("python3 {0}", ""),
    ],
)
def test_script_suffix(shell: str, suffix: str) -> None:
    assert script_suffix(shell) == suffix


def test_script_suffix_of_the_default_shell() -> None:
    assert script_suffix(None, platform=LINUX) == ".sh"
    assert script_suffix(None, platform="win32") == ".ps1"


def test_write_script_contents(tmp_path: Path) -> None:
    plain = write_script("echo hi\n", "bash", tmp_path)
    assert plain.parent == tmp_path and plain.suffix == ".sh"
    assert plain.read_text() == "echo hi\n"
    again = write_script("echo hi\n", "bash", tmp_path)
    assert again != plain  # every step gets its own file

    ps1 = write_script("Write-Output hi", "pwsh", tmp_path, platform=LINUX)
    assert ps1.suffix == ".ps1"
    assert ps1.read_text().splitlines() == [
        "$ErrorActionPreference = 'stop'",
        "Write-Output hi",
        r"if ((Test-Path -LiteralPath variable:\LASTEXITCODE)) { exit $LASTEXITCODE }",
    ]
    cmd = write_script("echo hi", "cmd", tmp_path / "new", platform="win32")
    assert cmd.suffix == ".cmd"
    assert cmd.read_bytes() == b"@echo off\r\necho hi"


def run_script(
    tmp_path: Path, text: str, shell: str | None, env_path: str = HOST_PATH
) -> tuple[int | None, list[str]]:
    script = write_script(text, shell, tmp_path / "my scripts")
    argv = shell_command(shell, script, platform=sys.platform, env_path=env_path)
    lines: list[str] = []
    result = run_process(
        argv, cwd=tmp_path, env={"PATH": env_path}, on_line=lines.append, timeout=30
    )
    return result.exit_code, lines


@posix_only
def test_bash_pipefail_fails_a_pipeline(tmp_path: Path) -> None:
    code, lines = run_script(tmp_path, "false | true\necho unreachable\n", "bash")
    assert code == 1 and lines == []


@posix_only
def test_unspecified_shell_is_bash_e_without_pipefail(tmp_path: Path) -> None:
    code, lines = run_script(
        tmp_path, "false | true\necho reached\nfalse\necho not-reached\n", None
    )
    assert code == 1 and lines == ["reached"]


@posix_only
def test_sh_stops_at_the_first_error(tmp_path: Path) -> None:
    code, lines = run_script(tmp_path, "echo one\nfalse\necho two\n", "sh")
    assert code == 1 and lines == ["one"]


@posix_only
def test_python_shell_runs_a_py_file(tmp_path: Path) -> None:
    env_path = os.pathsep.join([bin_dir(tmp_path, python=sys.executable), HOST_PATH])
    code, lines = run_script(
        tmp_path, "import sys\nprint('suffix', sys.argv[0][-3:])\nsys.exit(7)\n", "python", env_path
    )
    assert code == 7 and lines == ["suffix .py"]


@posix_only
def test_custom_template_runs(tmp_path: Path) -> None:
    code, lines = run_script(tmp_path, 'echo "args: $*"\n', "bash {0} first 'second arg'")
    assert code == 0 and lines == ["args: first second arg"]
    if shutil.which("perl") is not None:
        code, lines = run_script(tmp_path, 'print "perl ran\\n";\n', "perl {0}")
        assert code == 0 and lines == ["perl ran"]
