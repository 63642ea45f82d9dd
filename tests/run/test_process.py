"""run_process / output_of against real child processes (POSIX)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from amoskys.errors import AmoskysError
from amoskys.run import process
from amoskys.run.masking import Masker
from amoskys.run.process import (
    ProcessResult,
    active_process_groups,
    kill_all,
    kill_process_group,
    output_of,
    run_process,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")

ENV = {"PATH": os.environ.get("PATH", os.defpath)}
PY = sys.executable


def run(argv: list[str], cwd: Path, **kwargs: object) -> tuple[ProcessResult, list[str]]:
    lines: list[str] = []
    kwargs.setdefault("env", ENV)
    kwargs.setdefault("on_line", lines.append)
    result = run_process(argv, cwd=cwd, **kwargs)  # type: ignore[arg-type]
    return result, lines


def gone(pid: int) -> bool:
    """True if ``pid`` no longer runs (a zombie left to a non-reaping init counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        return stat.read_text().rsplit(") ", 1)[1].startswith("Z")
    try:
        state = output_of(["ps", "-o", "stat=", "-p", str(pid)], cwd=Path("/"))
    except AmoskysError:
        return True
    return state.strip().startswith("Z")


def wait_gone(pid: int, within: float = 3.0) -> bool:
    give_up = time.monotonic() + within
    while time.monotonic() < give_up:
        if gone(pid):
            return True
        time.sleep(0.02)
    return gone(pid)


def test_lines_stream_while_the_child_runs(tmp_path: Path) -> None:
    sentinel = tmp_path / "got-first"
    child = (
        "import os, sys, time\n"
        "print('first', flush=True)\n"
        "for _ in range(500):\n"
        "    if os.path.exists(sys.argv[1]):\n"
        "        print('second'); break\n"
        "    time.sleep(0.01)\n"
        "else:\n"
        "    print('first line was not delivered while I ran')\n"
    )
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        if line == "first":
            sentinel.touch()  # the child only goes on once we have seen its first line

    result = run_process([PY, "-c", child, str(sentinel)], cwd=tmp_path, env=ENV, on_line=on_line)
    assert lines == ["first", "second"]
    assert result.exit_code == 0 and result.ok


@pytest.mark.parametrize("code", [0, 1, 3, 255])
def test_exit_codes(tmp_path: Path, code: int) -> None:
    result, _ = run(["sh", "-c", f"exit {code}"], tmp_path)
    assert result.exit_code == code
    assert not result.timed_out and not result.cancelled
    assert result.ok is (code == 0)


def test_killed_by_a_signal_reports_negative_code(tmp_path: Path) -> None:
    result, _ = run(["sh", "-c", "kill -9 $$"], tmp_path)
    assert result.exit_code == -9


def test_stdout_and_stderr_are_merged_in_order(tmp_path: Path) -> None:
    result, lines = run(["sh", "-c", "echo out1; echo err1 >&2; echo out2; printf tail"], tmp_path)
    assert lines == ["out1", "err1", "out2", "tail"]
    assert result.ok


def test_env_is_exactly_what_was_passed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMOSKYS_SHOULD_NOT_LEAK", "1")
    env = {"PATH": ENV["PATH"], "GREETING": "hello world"}
    result, lines = run(["env"], tmp_path, env=env)
    assert result.ok
    assert sorted(lines) == sorted(f"{key}={value}" for key, value in env.items())


def test_cwd_and_devnull_stdin(tmp_path: Path) -> None:
    result, lines = run(["sh", "-c", "pwd; cat; echo after-cat"], tmp_path, timeout=10)
    assert result.ok
    assert Path(lines[0]).resolve() == tmp_path.resolve()
    assert lines[1:] == ["after-cat"]


def test_relative_program_is_found_in_cwd(tmp_path: Path) -> None:
    tool = tmp_path / "tool.sh"
    tool.write_text("#!/bin/sh\necho tool ran\n")
    tool.chmod(0o755)
    result, lines = run(["./tool.sh"], tmp_path)
    assert result.ok and lines == ["tool ran"]


def test_missing_program_is_an_amoskys_error(tmp_path: Path) -> None:
    with pytest.raises(AmoskysError, match="program not found: no-such-program-xyz") as info:
        run(["no-such-program-xyz", "--flag"], tmp_path)
    assert info.value.hint and "PATH" in info.value.hint
    with pytest.raises(AmoskysError, match="program not found"):
        run(["sh", "-c", "true"], tmp_path, env={"PATH": str(tmp_path)})


def test_missing_cwd_is_an_amoskys_error(tmp_path: Path) -> None:
    with pytest.raises(AmoskysError, match="working directory does not exist"):
        run(["true"], tmp_path / "nope")


def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    started = time.monotonic()
    result, _ = run(
        ["bash", "-c", f"sleep 300 & echo $! > {pidfile}; echo started; wait"],
        tmp_path,
        timeout=0.5,
    )
    assert result.timed_out and result.exit_code is None and not result.ok
    assert 0.5 <= result.duration < 0.5 + process.KILL_GRACE_SECONDS + 1
    assert time.monotonic() - started < 0.5 + process.KILL_GRACE_SECONDS + 1
    assert wait_gone(int(pidfile.read_text()))
    assert wait_gone(result.pid)


def test_sigterm_ignored_gets_sigkill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process, "KILL_GRACE_SECONDS", 0.3)
    pidfile = tmp_path / "grandchild.pid"
    script = (
        f"trap '' TERM; sleep 300 & echo $! > {pidfile}; "
        "trap 'echo got TERM' TERM; echo ready; while :; do sleep 0.05; done"
    )
    result, lines = run(["bash", "-c", script], tmp_path, timeout=0.4)
    assert result.timed_out
    assert result.duration < 2.0
    assert lines[0] == "ready"
    assert "got TERM" in lines  # output during the grace period is still delivered
    assert wait_gone(int(pidfile.read_text()))


def test_cancel_event_stops_the_group(tmp_path: Path) -> None:
    cancel = threading.Event()
    pidfile = tmp_path / "grandchild.pid"
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        if line == "ready":
            cancel.set()

    result = run_process(
        ["bash", "-c", f"sleep 300 & echo $! > {pidfile}; echo ready; wait"],
        cwd=tmp_path,
        env=ENV,
        on_line=on_line,
        cancel=cancel,
    )
    assert result.cancelled and not result.timed_out and result.exit_code is None
    assert result.duration < 2.0
    assert lines == ["ready"]
    assert wait_gone(int(pidfile.read_text()))


def test_cancel_from_another_thread(tmp_path: Path) -> None:
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    result, _ = run(["sleep", "300"], tmp_path, cancel=cancel)
    assert result.cancelled and result.duration < 2.0


def test_background_process_holding_the_pipe_does_not_hang_us(tmp_path: Path) -> None:
    pidfile = tmp_path / "background.pid"
    started = time.monotonic()
    result, lines = run(
        ["bash", "-c", f"(sleep 30; echo late) & echo $! > {pidfile}; echo done"], tmp_path
    )
    try:
        assert time.monotonic() - started < 2.0
        assert result.ok and lines == ["done"]
        background = int(pidfile.read_text())
        assert not gone(background)  # like GitHub, a normal exit leaves `server &` running
    finally:
        kill_process_group(result.pid, signal.SIGKILL)
    assert wait_gone(background)


def test_output_is_read_without_a_thread_until_a_background_process_keeps_the_pipe(
    tmp_path: Path,
) -> None:
    """A step costs no reader thread; only output held past the drain window gets one."""
    seen: list[list[str]] = []

    def threads(_line: str) -> None:
        seen.append([t.name for t in threading.enumerate()])

    result, _ = run(["bash", "-c", "echo a; sleep 0.1; echo b"], tmp_path, on_line=threads)
    assert result.ok and len(seen) == 2
    assert not [n for names in seen for n in names if n.startswith("amoskys-output")]
    result, _ = run(["bash", "-c", "(sleep 0.5; echo late) & echo early"], tmp_path)
    try:
        assert result.ok
        assert f"amoskys-output-{result.pid}" in [t.name for t in threading.enumerate()]
    finally:
        kill_process_group(result.pid, signal.SIGKILL)


def test_escaped_process_holding_the_pipe_after_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process, "KILL_GRACE_SECONDS", 0.3)
    pidfile = tmp_path / "escaped.pid"
    escaper = "import os, time; os.setsid(); time.sleep(30)"
    script = f'"{PY}" -c "{escaper}" & echo $! > {pidfile}; sleep 300'
    started = time.monotonic()
    result, _ = run(["bash", "-c", script], tmp_path, timeout=0.3)
    escaped = int(pidfile.read_text())
    try:
        assert result.timed_out
        assert time.monotonic() - started < 2.5
    finally:
        kill_process_group(escaped, signal.SIGKILL)


def test_secret_split_across_two_writes_is_masked(tmp_path: Path) -> None:
    masker = Masker()
    masker.add("secret123")
    child = (
        "import sys, time\n"
        "sys.stdout.write('token=sec'); sys.stdout.flush(); time.sleep(0.2)\n"
        "sys.stdout.write('ret123 end\\nsecret123'); sys.stdout.flush()\n"
    )
    result, lines = run([PY, "-c", child], tmp_path, masker=masker)
    assert result.ok
    assert lines == ["token=*** end", "***"]


def test_add_mask_during_streaming(tmp_path: Path) -> None:
    masker = Masker()
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        if line.startswith("::add-mask::"):
            masker.add(line.removeprefix("::add-mask::"))

    child = (
        "import sys, time\n"
        "sys.stdout.write('::add-mask::letmein\\nthe password is letmein\\n')\n"
        "sys.stdout.flush(); time.sleep(0.1)\n"
        "print('again: letmein')\n"
    )
    run_process([PY, "-c", child], cwd=tmp_path, env=ENV, on_line=on_line, masker=masker)
    assert lines == ["::add-mask::letmein", "the password is ***", "again: ***"]


def test_multi_line_and_encoded_secrets_in_output(tmp_path: Path) -> None:
    masker = Masker()
    masker.add("line-one-secret\nline-two-secret")
    masker.add("p@ss word")
    script = "echo line-one-secret; echo x line-two-secret; echo p%40ss%20word; echo cEBzcyB3b3Jk"
    result, lines = run(["sh", "-c", script], tmp_path, masker=masker)
    assert result.ok
    assert lines == ["***", "x ***", "***", "***"]


def test_utf8_character_split_across_reads(tmp_path: Path) -> None:
    child = (
        "import sys, time\n"
        "out = sys.stdout.buffer\n"
        "out.write(b'caf\\xc3'); out.flush(); time.sleep(0.2)\n"
        "out.write(b'\\xa9 ok\\n'); out.flush()\n"
    )
    result, lines = run([PY, "-c", child], tmp_path)
    assert result.ok and lines == ["café ok"]


def test_registry_tracks_live_groups(tmp_path: Path) -> None:
    seen: list[list[int]] = []

    def on_line(line: str) -> None:
        seen.append(active_process_groups())
        if line == "ready":
            assert kill_all(signal.SIGTERM) >= 1

    result = run_process(
        ["sh", "-c", "echo ready; sleep 300"], cwd=tmp_path, env=ENV, on_line=on_line
    )
    assert result.exit_code == -signal.SIGTERM
    assert result.pid in seen[0]
    assert result.pid not in active_process_groups()


def test_callback_error_still_kills_the_child(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"

    def on_line(line: str) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_process(
            ["sh", "-c", f"echo $$ > {pidfile}; echo hi; sleep 300"],
            cwd=tmp_path,
            env=ENV,
            on_line=on_line,
        )
    assert wait_gone(int(pidfile.read_text()))
    assert active_process_groups() == []


def test_output_of_returns_stdout(tmp_path: Path) -> None:
    assert output_of(["sh", "-c", "echo hi; echo noise >&2"], cwd=tmp_path) == "hi\n"


def test_output_of_failure_names_command_code_and_stderr(tmp_path: Path) -> None:
    masker = Masker()
    masker.add("tok-secret")
    with pytest.raises(AmoskysError) as info:
        output_of(
            ["sh", "-c", "echo fatal: bad tok-secret >&2; exit 4"], cwd=tmp_path, masker=masker
        )
    message = str(info.value)
    assert "exit code 4" in message and "fatal: bad ***" in message
    assert "sh -c" in message and "tok-secret" not in message


def test_output_of_missing_program_and_timeout(tmp_path: Path) -> None:
    with pytest.raises(AmoskysError, match="program not found: git-nope") as info:
        output_of(["git-nope", "status"], cwd=tmp_path)
    assert info.value.hint
    started = time.monotonic()
    with pytest.raises(AmoskysError, match="timed out"):
        output_of(["sh", "-c", "sleep 300 & wait"], cwd=tmp_path, timeout=0.3)
    assert time.monotonic() - started < 2.0
