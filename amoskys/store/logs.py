"""Durable, compressed per-step log files.

A log file is an 8-byte header followed by *frames*, each decodable on its own::

    header  b"AMXLOG\\x00\\x01"                     (magic, format version 1)
    frame   >I payload length | >I line count | >I crc32(payload) | payload
    payload zlib.compress("line\\nline\\n...line\\n".encode("utf-8"))

A reader walks the frames from the start and stops, without an error, at the first frame that is
incomplete (a writer killed mid-write, or still writing) or does not check out (length out of
bounds, CRC mismatch, zlib error). The line count in each frame header lets
:func:`count_lines` and ``read_lines(start=...)`` skip frames without decompressing them.

Lines: :meth:`LogWriter.write_line` takes one line without its line ending (one trailing ``\\n``
or ``\\r\\n`` is dropped). A line that still holds ``\\n`` is stored as several lines, so what a
reader sees is exactly what was counted. Text that cannot be encoded (lone surrogates) is
replaced, never an error.

When a frame is written: every :data:`FRAME_LINES` lines, when :data:`FRAME_BYTES` of text are
waiting, at the latest :data:`FLUSH_SECONDS` after the oldest waiting line (a background thread
per writer, started with the first line), and on :meth:`LogWriter.flush` and
:meth:`LogWriter.close`.

Durability policy:

* Each frame goes to the file with one ``os.write`` on a descriptor opened with ``O_APPEND`` (no
  user-space buffering). Once written it is in the kernel's page cache: readers and
  :func:`follow` see it, and it survives ``kill -9`` of the writing process. So after a
  ``kill -9`` every line that had been flushed (explicitly, or by the size/time rules above) is
  readable; lines still waiting in memory are lost, at most :data:`FLUSH_SECONDS` worth.
* ``os.fsync`` (protection against power loss and OS crashes, which lose the page cache) runs on
  :meth:`LogWriter.flush` and :meth:`LogWriter.close` (unless made with ``sync_on_close=False``,
  as the engine's step logs are: one fsync per step would cost more than a trivial step's whole
  run, and a power loss takes the run with it anyway), and from the background thread at most
  every :data:`FSYNC_SECONDS` while lines keep coming. A busy log therefore costs one fsync per
  :data:`FSYNC_SECONDS`, not one per frame, and a power loss costs at most that much log.
* If a write fails part-way (disk full), the file is cut back to its last whole frame so later
  frames stay readable, the lines stay queued (the next flush tries again), and the error is
  raised by the call that wrote or, when the background thread wrote, by the next call.

Reopening an existing log appends to it after cutting off a torn last frame.
"""

from __future__ import annotations

import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

MAGIC = b"AMXLOG\x00\x01"
FRAME_HEADER = struct.Struct(">III")
FRAME_LINES = 1024
"""A frame is written once this many lines are waiting."""
FRAME_BYTES = 256 * 1024
"""... or once this many bytes of text are waiting."""
FLUSH_SECONDS = 0.25
"""... or at the latest this long after the oldest waiting line was written."""
FSYNC_SECONDS = 2.0
"""The background thread fsyncs at most this often while data keeps coming."""
COMPRESS_LEVEL = 6
MAX_FRAME_PAYLOAD = 64 * 1024 * 1024
"""Readers treat a frame header claiming more than this as damage, not as a frame."""
FOLLOW_POLL_SECONDS = 0.1

_READ_CHUNK = 1024 * 1024
_O_BINARY: int = getattr(os, "O_BINARY", 0)


class LogFormatError(ValueError):
    """The file is not an Amoskys log (wrong magic bytes)."""


class LogWriter:
    """Appends lines to a compressed log file; thread-safe; a context manager.

    ``line_count`` and ``byte_count`` (UTF-8 bytes of the text, one ``\\n`` per line) cover
    every line written, including any in a file this writer reopened; ``file_size`` is the
    compressed size on disk of what has been written so far.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        frame_lines: int = FRAME_LINES,
        flush_seconds: float = FLUSH_SECONDS,
        fsync_seconds: float = FSYNC_SECONDS,
        level: int = COMPRESS_LEVEL,
        sync_on_close: bool = True,
    ) -> None:
        self.path = Path(path)
        self._sync_on_close = sync_on_close
        self._frame_lines = max(1, frame_lines)
        self._flush_seconds = flush_seconds
        self._fsync_seconds = fsync_seconds
        self._level = level
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: list[str] = []
        self._pending_chars = 0  # a cheap stand-in for the bytes waiting
        self._oldest = 0.0  # monotonic time of the oldest pending line
        self._last_sync = time.monotonic()
        self._unsynced = False
        self._closed = False
        self._error: OSError | None = None
        self._thread: threading.Thread | None = None
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | _O_BINARY, 0o644)
        try:
            self._size, self._lines, self._bytes = self._recover()
        except BaseException:
            os.close(self._fd)
            raise

    # -- the public side ---------------------------------------------------------------------

    @property
    def line_count(self) -> int:
        with self._lock:
            return self._lines + len(self._pending)

    @property
    def byte_count(self) -> int:
        with self._lock:
            return self._bytes + sum(len(_encode(line)) + 1 for line in self._pending)

    @property
    def file_size(self) -> int:
        with self._lock:
            return self._size

    @property
    def closed(self) -> bool:
        return self._closed

    def write_line(self, text: str) -> None:
        """Queue one line (see the module docstring for line endings and embedded newlines)."""
        if text.endswith("\n"):
            text = text[:-2] if text.endswith("\r\n") else text[:-1]
        parts = text.split("\n") if "\n" in text else [text]
        with self._lock:
            self._check_open()
            was_idle = not self._pending
            if was_idle:
                self._oldest = time.monotonic()
            self._pending.extend(parts)
            self._pending_chars += len(text) + 1
            if len(self._pending) >= self._frame_lines or self._pending_chars >= FRAME_BYTES:
                self._write_frame()
            elif self._thread is None:
                self._start_thread()
            elif was_idle:
                self._wake.notify()  # the thread may be waiting without a deadline

    def flush(self) -> None:
        """Write waiting lines as a frame and fsync: a durability point."""
        with self._lock:
            self._check_open()
            self._write_frame()
            self._sync()

    def close(self) -> None:
        """Flush, fsync and close. Idempotent. Raises when the last lines cannot be written."""
        with self._lock:
            if self._closed:
                return
            try:
                self._write_frame()  # also retries lines a failed background write left
                if self._sync_on_close:
                    self._sync()
            finally:
                self._closed = True
                self._error = None
                self._wake.notify_all()
                os.close(self._fd)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals (called with the lock held) -------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"log writer for {self.path} is closed")
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _recover(self) -> tuple[int, int, int]:
        """Size, lines and text bytes of the valid part of an existing file; cut the rest."""
        size = os.fstat(self._fd).st_size
        if size < len(MAGIC):
            if size:
                with open(self.path, "rb") as handle:
                    if not MAGIC.startswith(handle.read()):
                        raise LogFormatError(f"{self.path} exists and is not an Amoskys log")
                os.ftruncate(self._fd, 0)  # a header torn by a crash
            _write_all(self._fd, MAGIC)
            return len(MAGIC), 0, 0
        with open(self.path, "rb") as handle:
            if handle.read(len(MAGIC)) != MAGIC:
                raise LogFormatError(f"{self.path} exists and is not an Amoskys log")
            lines = text_bytes = 0
            end = len(MAGIC)
            for frame in _frames(handle, end):
                try:
                    text_bytes += len(frame.text())
                except zlib.error:
                    break
                lines += frame.lines
                end = frame.end
        if end < size:
            os.ftruncate(self._fd, end)
        return end, lines, text_bytes

    def _write_frame(self) -> None:
        if not self._pending:
            return
        text = _encode("\n".join(self._pending) + "\n")
        payload = zlib.compress(text, self._level)
        header = FRAME_HEADER.pack(len(payload), len(self._pending), zlib.crc32(payload))
        try:
            _write_all(self._fd, header + payload)
        except OSError:
            try:
                os.ftruncate(self._fd, self._size)  # keep the file a sequence of whole frames
            except OSError:
                pass  # nothing better to do; readers stop at the torn frame
            raise
        self._size += len(header) + len(payload)
        self._lines += len(self._pending)
        self._bytes += len(text)
        self._pending = []
        self._pending_chars = 0
        self._unsynced = True

    def _sync(self) -> None:
        if self._unsynced:
            os.fsync(self._fd)
            self._unsynced = False
        self._last_sync = time.monotonic()

    def _start_thread(self) -> None:
        self._thread = threading.Thread(
            target=self._background, name=f"log-writer:{self.path.name}", daemon=True
        )
        self._thread.start()

    def _background(self) -> None:
        with self._lock:
            while not self._closed:
                now = time.monotonic()
                if self._pending:
                    due = self._oldest + self._flush_seconds
                elif self._unsynced:
                    due = self._last_sync + self._fsync_seconds
                else:
                    self._wake.wait()
                    continue
                if now < due:
                    self._wake.wait(due - now)
                    continue
                try:
                    self._write_frame()
                    if self._unsynced and now - self._last_sync >= self._fsync_seconds:
                        self._sync()
                except OSError as error:
                    self._error = error  # raised by the next call; lines stay queued
                    self._thread = None  # the next line starts a new thread
                    return


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "replace")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class _Frame:
    __slots__ = ("payload", "lines", "end")

    def __init__(self, payload: bytes, lines: int, end: int) -> None:
        self.payload = payload
        self.lines = lines
        self.end = end  # file offset just after this frame

    def text(self) -> bytes:
        return zlib.decompress(self.payload)

    def decoded(self) -> list[str]:
        text = self.text().decode("utf-8", "replace")
        if text.endswith("\n"):
            text = text[:-1]
        return text.split("\n")


def _frames(handle: BinaryIO, offset: int) -> Iterator[_Frame]:
    """Whole, checked frames from ``offset`` on; stops quietly at the first bad or torn one."""
    handle.seek(offset)
    while True:
        head = handle.read(FRAME_HEADER.size)
        if len(head) < FRAME_HEADER.size:
            return
        length, lines, crc = FRAME_HEADER.unpack(head)
        if length == 0 or length > MAX_FRAME_PAYLOAD or lines == 0:
            return
        payload = handle.read(length)
        if len(payload) < length or zlib.crc32(payload) != crc:
            return
        offset += FRAME_HEADER.size + length
        yield _Frame(payload, lines, offset)


def _open_checked(path: str | os.PathLike[str]) -> tuple[BinaryIO, bool]:
    """An open binary file positioned after the header; ``False`` when the header is torn."""
    handle = open(path, "rb")
    magic = handle.read(len(MAGIC))
    if len(magic) < len(MAGIC) and MAGIC.startswith(magic):
        return handle, False
    if magic != MAGIC:
        handle.close()
        raise LogFormatError(f"{path} is not an Amoskys log")
    return handle, True


def read_lines(path: str | os.PathLike[str], *, start: int = 0) -> Iterator[str]:
    """Every readable line of the log, from line number ``start`` (0-based) on.

    Raises :class:`FileNotFoundError` for a missing file and :class:`LogFormatError` for a file
    that is not a log; a torn or damaged tail just ends the lines.
    """
    handle, ok = _open_checked(path)
    with handle:
        if not ok:
            return
        skip = max(0, start)
        for frame in _frames(handle, len(MAGIC)):
            if skip >= frame.lines:
                skip -= frame.lines
                continue
            try:
                lines = frame.decoded()
            except zlib.error:
                return
            yield from lines[skip:]
            skip = 0


def count_lines(path: str | os.PathLike[str]) -> int:
    """How many lines :func:`read_lines` would give, without decompressing."""
    handle, ok = _open_checked(path)
    with handle:
        if not ok:
            return 0
        return sum(frame.lines for frame in _frames(handle, len(MAGIC)))


def follow(
    path: str | os.PathLike[str],
    stop: Callable[[], bool],
    *,
    start: int = 0,
    poll: float = FOLLOW_POLL_SECONDS,
) -> Iterator[str]:
    """Lines as they are appended (``amoskys logs --follow``), from line ``start`` on.

    Waits for the file to appear, then yields every line already there and every line written
    later, until ``stop()`` is true *and* a read made after that finds nothing new: lines
    written before ``stop()`` became true are never missed. A frame still being written is
    waited for; a damaged frame ends the output once ``stop()`` is true.
    """
    skip = max(0, start)
    handle: BinaryIO | None = None
    offset = len(MAGIC)
    try:
        while True:
            stopping = stop()
            progressed = False
            if handle is None:
                try:
                    candidate, ok = _open_checked(path)
                except FileNotFoundError:
                    candidate, ok = None, False
                if candidate is not None and not ok:
                    candidate.close()
                elif candidate is not None:
                    handle = candidate
            if handle is not None:
                for frame in _frames(handle, offset):
                    offset = frame.end
                    progressed = True
                    if skip >= frame.lines:
                        skip -= frame.lines
                        continue
                    try:
                        lines = frame.decoded()
                    except zlib.error:
                        return
                    yield from lines[skip:]
                    skip = 0
            if stopping and not progressed:
                return
            if not progressed:
                time.sleep(poll)
    finally:
        if handle is not None:
            handle.close()
