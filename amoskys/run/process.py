"""The one place that starts processes.

Everything else calls :func:`run_process` (steps: streamed, masked, killable) or
:func:`output_of` (short helpers such as git), so timeouts, process groups and masking live here.

Each child starts in a new session, so it leads its own process group; on timeout or cancel the
whole group gets SIGTERM and, after :data:`KILL_GRACE_SECONDS`, SIGKILL. A background process
that outlives a normally finished child is left running (GitHub lets ``./server &`` serve later
steps); if it keeps the output pipe open, reading stops :data:`DRAIN_SECONDS` after the child
exits and a daemon thread discards whatever it writes later, so it never gets SIGPIPE. The
output is otherwise read in the calling thread (``poll``): a step costs no thread.

Windows (best effort, untested): ``CREATE_NEW_PROCESS_GROUP``, CTRL_BREAK for "terminate" and
``taskkill /T /F`` for "kill".
"""

from __future__ import annotations

import math
import os
import queue
import select
import shlex
import shutil
import signal
import subprocess  # this module is the project's one process launcher  # nosec B404
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from amoskys.errors import AmoskysError
from amoskys.run.masking import LineMasker, Masker

KILL_GRACE_SECONDS = 2.0
"""Time between SIGTERM and SIGKILL when a process group is stopped."""
DRAIN_SECONDS = 0.25
"""How long to keep reading after the child is gone, when something else holds the pipe."""
POLL_SECONDS = 0.05
"""How often the cancel event, the deadline and the child are checked while no output comes."""
HELPER_TIMEOUT_SECONDS = 60.0
"""Default timeout of :func:`output_of`."""
READ_SIZE = 64 * 1024
STDERR_TAIL_LINES = 15

_WINDOWS = sys.platform == "win32"
_SIGKILL: int = getattr(signal, "SIGKILL", signal.SIGTERM)
_NEW_GROUP_FLAG: int = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)

_live_lock = threading.RLock()  # re-entrant: a signal handler may call kill_all mid-update
_live: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ProcessResult:
    """How a child ended.

    ``exit_code`` is the exit status (on POSIX ``-N`` when signal N ended it), or ``None`` when
    we stopped it because of a timeout or a cancel. ``duration`` is in seconds. ``pid`` is also
    the id of the child's process group on POSIX.
    """

    exit_code: int | None
    timed_out: bool
    cancelled: bool
    duration: float
    pid: int

    @property
    def ok(self) -> bool:
        """True when the child ran to the end and exited with status 0."""
        return self.exit_code == 0 and not self.timed_out and not self.cancelled


def active_process_groups() -> list[int]:
    """Process-group ids (the leaders' pids) of children started here and still running."""
    with _live_lock:
        return sorted(_live)


def kill_all(sig: int = signal.SIGTERM) -> int:
    """Send ``sig`` to every running process group (for a SIGINT handler); return how many."""
    with _live_lock:
        procs = list(_live.values())
    for proc in procs:
        _signal_group(proc, sig)
    return len(procs)


def kill_process_group(pgid: int, sig: int = signal.SIGTERM) -> bool:
    """Send ``sig`` to process group ``pgid`` (e.g. leftovers of a finished step); True if sent.

    On Windows the group is ended with ``taskkill /T /F`` whatever ``sig`` is.
    """
    if _WINDOWS:
        return _taskkill(pgid)
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float | None = None,
    on_line: Callable[[str], None] | None = None,
    masker: Masker | None = None,
    stdin_devnull: bool = True,
    cancel: threading.Event | None = None,
) -> ProcessResult:
    """Run ``argv`` in ``cwd`` with exactly ``env``; stream its merged stdout+stderr.

    Each output line is masked and passed to ``on_line`` without its line ending, in order,
    while the child runs. The program is looked up on ``env``'s ``PATH``. On ``timeout``
    (seconds) or when ``cancel`` is set, the child's whole process group is stopped. Raises
    :class:`AmoskysError` if the program or ``cwd`` does not exist or cannot be started.
    """
    command = _prepare(argv, cwd, env)
    start = time.monotonic()
    proc = _spawn(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL if stdin_devnull else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    stream = _Stream(proc, LineMasker(masker), on_line)
    deadline = None if timeout is None else start + timeout
    timed_out = cancelled = False
    try:
        while proc.poll() is None:  # a child that has finished is never "timed out"
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            if deadline is not None and time.monotonic() >= deadline:
                timed_out = True
                break
            wait = POLL_SECONDS
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            if stream.eof:  # it closed its output but runs on (or is exiting just now)
                _wait_exit(proc, wait)
            else:
                stream.pump(wait)
        if timed_out or cancelled:
            _stop(proc, stream)
        stream.drain(DRAIN_SECONDS)
        stream.finish()
    finally:
        if proc.poll() is None:  # on_line raised, or KeyboardInterrupt
            _signal_group(proc, _SIGKILL)
            _reap(proc)
        stream.abandon()
        _forget(proc)
    return ProcessResult(
        exit_code=None if timed_out or cancelled else proc.returncode,
        timed_out=timed_out,
        cancelled=cancelled,
        duration=time.monotonic() - start,
        pid=proc.pid,
    )


def output_of(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = HELPER_TIMEOUT_SECONDS,
    masker: Masker | None = None,
) -> str:
    """Run a short helper (git, ...) and return its stdout, decoded as UTF-8.

    ``env`` defaults to this process's environment. A non-zero exit, a timeout or a missing
    program raises :class:`AmoskysError` naming the command, with the tail of its stderr
    (the whole message masked with ``masker`` when given: the command line may hold a secret).
    """
    out = bytes_of(argv, cwd=cwd, env=env, timeout=timeout, masker=masker)
    return out.decode("utf-8", errors="replace")


def bytes_of(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = HELPER_TIMEOUT_SECONDS,
    masker: Masker | None = None,
    stdin: bytes | None = None,
) -> bytes:
    """:func:`output_of`, but the stdout's raw bytes, and ``stdin`` written to the helper's
    standard input (e.g. ``git cat-file --batch``: many objects, one process)."""
    environ: Mapping[str, str] = os.environ if env is None else env
    command = _prepare(argv, cwd, environ)
    shown = _display(argv)
    proc = _spawn(
        command,
        cwd=cwd,
        env=environ,
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        try:
            out, err = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc, _SIGKILL)
            try:
                proc.communicate(timeout=DRAIN_SECONDS)
            except subprocess.TimeoutExpired:
                pass  # something that left the group still holds the pipes
            _reap(proc)
            message = f"`{shown}` timed out after {timeout:g}s"
            raise AmoskysError(
                masker.mask(message) if masker is not None else message,
                hint=f"its whole process group was killed; ran in {cwd}",
            ) from None
    finally:
        _forget(proc)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    if proc.returncode != 0:
        tail = _tail(err.decode("utf-8", errors="replace"))
        message = f"`{shown}` failed with exit code {proc.returncode}"
        if tail:
            message = f"{message}: {tail}"
        if masker is not None:
            message = masker.mask(message)
        raise AmoskysError(message, hint=f"ran in {cwd}")
    return out


class _Stream:
    """The child's output pipe, read on the caller's thread; lines delivered there too.

    On POSIX the pipe is waited on with :func:`select.poll` and read in the calling thread: no
    thread per step. Only when a process outlives the child and keeps the pipe open
    (:meth:`abandon` before EOF) does a daemon thread take over, to discard what it writes
    later. On Windows, where pipes cannot be polled, a daemon thread reads into a queue.
    """

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        lines: LineMasker,
        on_line: Callable[[str], None] | None,
    ) -> None:
        self.eof = False
        self._lines = lines
        self._on_line = on_line
        assert proc.stdout is not None  # started with stdout=PIPE  # nosec B101
        self._pipe: IO[bytes] = proc.stdout
        self._name = f"amoskys-output-{proc.pid}"
        self._abandoned = threading.Event()
        self._chunks: queue.Queue[bytes | None] | None = None
        self._poller: Any = None
        if _WINDOWS:
            self._chunks = queue.Queue()
            threading.Thread(
                target=self._read_all, args=(True,), name=self._name, daemon=True
            ).start()
        else:
            self._poller = select.poll()
            self._poller.register(self._pipe.fileno(), select.POLLIN)

    def _read_all(self, keep: bool) -> None:
        """Thread: read until EOF, queueing reads while ``keep`` and not abandoned."""
        try:
            while True:
                chunk = self._pipe.read(READ_SIZE)
                if not chunk:
                    break
                if keep and self._chunks is not None and not self._abandoned.is_set():
                    self._chunks.put(chunk)
        except (OSError, ValueError):
            pass
        finally:
            if keep and self._chunks is not None:
                self._chunks.put(None)
            self._pipe.close()

    def _next(self, wait: float) -> bytes | None | bool:
        """One read, waiting up to ``wait`` seconds: bytes, None at EOF, False if none came."""
        if self._chunks is not None:
            try:
                return self._chunks.get(timeout=wait) if wait > 0 else self._chunks.get_nowait()
            except queue.Empty:
                return False
        if not self._poller.poll(math.ceil(wait * 1000) if wait > 0 else 0):
            return False
        try:
            chunk = os.read(self._pipe.fileno(), READ_SIZE)
        except BlockingIOError:
            return False
        except (OSError, ValueError):
            return None
        return chunk or None

    def pump(self, wait: float) -> None:
        """Handle one read, waiting up to ``wait`` seconds for it."""
        if self.eof:  # nothing more will come: wait as a read would have
            if wait > 0:
                time.sleep(wait)
            return
        chunk = self._next(wait)
        if chunk is not False:
            self._handle(chunk if isinstance(chunk, bytes) else None)

    def drain(self, window: float) -> None:
        """Read until EOF, giving up ``window`` seconds from now (a process holds the pipe)."""
        give_up = time.monotonic() + window
        while not self.eof:
            remaining = give_up - time.monotonic()
            if remaining <= 0:
                # What is already in the pipe (or queued) is still shown, a bounded amount.
                for _ in range(16):
                    chunk = self._next(0)
                    if chunk is False:
                        break
                    self._handle(chunk if isinstance(chunk, bytes) else None)
                    if self.eof:
                        break
                self.abandon()
                return
            self.pump(remaining)

    def finish(self) -> None:
        """Emit the unterminated last line, if any."""
        self._emit_all(self._lines.flush())

    def abandon(self) -> None:
        """Stop reading for the caller; a daemon thread discards the rest until the pipe closes."""
        if self._abandoned.is_set():
            return
        self._abandoned.set()
        if self._chunks is not None:
            return  # the reader thread discards from now on and closes the pipe
        if self.eof:
            self._pipe.close()
            return
        self._poller.unregister(self._pipe.fileno())
        threading.Thread(target=self._read_all, args=(False,), name=self._name, daemon=True).start()

    def _handle(self, chunk: bytes | None) -> None:
        if chunk is None:
            self.eof = True
            return
        self._emit_all(self._lines.feed(chunk))

    def _emit_all(self, lines: Iterable[str]) -> None:
        for line in lines:
            if self._on_line is not None:
                self._on_line(line)


def _wait_exit(proc: subprocess.Popen[bytes], wait: float) -> None:
    """Wait up to ``wait`` seconds for ``proc`` to exit, without reaping it.

    On Linux a pidfd wakes us the moment it exits; elsewhere :meth:`Popen.wait` polls with
    sleeps that a loaded machine stretches to milliseconds, on every step.
    """
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is not None:
        try:
            pidfd = pidfd_open(proc.pid)
        except OSError:  # reaped meanwhile, or a kernel without pidfd
            pidfd = None
        if pidfd is not None:
            try:
                waiter = select.poll()
                waiter.register(pidfd, select.POLLIN)
                waiter.poll(math.ceil(wait * 1000))
            finally:
                os.close(pidfd)
            return
    try:
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        pass


def _stop(proc: subprocess.Popen[bytes], stream: _Stream) -> None:
    """SIGTERM the group, show what it prints for up to the grace time, then SIGKILL it."""
    _signal_group(proc, signal.SIGTERM)
    give_up = time.monotonic() + KILL_GRACE_SECONDS
    while time.monotonic() < give_up:
        if proc.poll() is not None and (stream.eof or not _group_exists(proc.pid)):
            break  # the leader is gone and nothing in the group holds the pipe
        stream.pump(min(POLL_SECONDS, max(0.0, give_up - time.monotonic())))
    if _group_exists(proc.pid):
        _signal_group(proc, _SIGKILL)
    _reap(proc)


def _prepare(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> list[str]:
    """``argv`` with its program resolved on ``env``'s PATH; checks ``cwd``."""
    if not argv:
        raise AmoskysError("empty command: nothing to run")
    if not Path(cwd).is_dir():
        raise AmoskysError(
            f"working directory does not exist: {cwd}", hint=f"needed to run `{_display(argv)}`"
        )
    return [_resolve(argv[0], cwd, env), *argv[1:]]


def _resolve(program: str, cwd: Path, env: Mapping[str, str]) -> str:
    """The path of ``program``: looked up on ``env``'s PATH, or relative to ``cwd``."""
    has_dir = os.sep in program or (os.altsep is not None and os.altsep in program)
    if has_dir:
        candidate = Path(program)
        if not candidate.is_absolute():
            candidate = Path(cwd) / candidate
        found = shutil.which(str(candidate))
    else:
        found = shutil.which(program, path=env.get("PATH", os.defpath))
    if found is None:
        where = f"in {cwd}" if has_dir else "on the PATH given to it"
        raise AmoskysError(
            f"program not found: {program}",
            hint=f"it is not an executable file {where}; install it or fix PATH",
        )
    return found


def _spawn(
    command: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdin: int | None,
    stdout: int,
    stderr: int,
) -> subprocess.Popen[bytes]:
    """Start ``command`` as the leader of a new process group and register it."""
    try:
        with _live_lock:
            proc = subprocess.Popen(  # argv list, no shell  # nosec B603
                command,
                cwd=cwd,
                env=dict(env),
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                bufsize=0,
                close_fds=True,
                start_new_session=not _WINDOWS,
                creationflags=_NEW_GROUP_FLAG if _WINDOWS else 0,
            )
            _live[proc.pid] = proc
    except OSError as exc:
        raise AmoskysError(
            f"cannot start `{_display(command)}`: {exc.strerror or exc}",
            hint="check that it is an executable program for this machine",
        ) from exc
    return proc


def _forget(proc: subprocess.Popen[bytes]) -> None:
    with _live_lock:
        _live.pop(proc.pid, None)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Send ``sig`` to ``proc``'s process group; ignore a group that is already gone."""
    if _WINDOWS:
        if sig == signal.SIGTERM and proc.poll() is None:
            try:
                proc.send_signal(getattr(signal, "CTRL_BREAK_EVENT", signal.SIGTERM))
                return
            except OSError:
                pass
        _taskkill(proc.pid)
        return
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_exists(pgid: int) -> bool:
    if _WINDOWS:
        return False  # taskkill /T already covered the tree
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _taskkill(pid: int) -> bool:
    """Windows: end ``pid`` and its descendants."""
    try:
        done = subprocess.run(  # fixed argv  # nosec B603 B607
            ["taskkill", "/T", "/F", "/PID", str(pid)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=KILL_GRACE_SECONDS * 5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _reap(proc: subprocess.Popen[bytes]) -> None:
    try:
        proc.wait(timeout=KILL_GRACE_SECONDS * 5)
    except subprocess.TimeoutExpired:  # pragma: no cover - unkillable (D state)
        pass


def _display(argv: Sequence[str]) -> str:
    return subprocess.list2cmdline(list(argv)) if _WINDOWS else shlex.join(argv)


def _tail(text: str) -> str:
    lines = text.rstrip().splitlines()[-STDERR_TAIL_LINES:]
    return "\n".join(lines)[-2000:]
