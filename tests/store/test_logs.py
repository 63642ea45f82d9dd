"""Compressed per-step log files: round trips, kill -9 durability, torn frames, follow."""

from __future__ import annotations

import os
import signal
import subprocess  # nosec B404 - a real child process is killed mid-write
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest

from amoskys.store import logs
from amoskys.store.logs import LogFormatError, LogWriter, count_lines, follow, read_lines

REPO = Path(__file__).resolve().parents[2]


def test_round_trip_counts_and_start(tmp_path: Path) -> None:
    path = tmp_path / "step.log"
    lines = [f"line {i} ✓ é" for i in range(2500)]
    with LogWriter(path, frame_lines=100) as writer:
        for line in lines:
            writer.write_line(line)
        assert writer.line_count == 2500
    assert writer.byte_count == sum(len(line.encode()) + 1 for line in lines)
    assert writer.file_size == path.stat().st_size
    assert list(read_lines(path)) == lines
    assert count_lines(path) == 2500
    assert list(read_lines(path, start=1234)) == lines[1234:]
    assert list(read_lines(path, start=2500)) == []
    assert list(read_lines(path, start=99999)) == []


def test_line_endings_embedded_newlines_and_odd_text(tmp_path: Path) -> None:
    path = tmp_path / "step.log"
    with LogWriter(path) as writer:
        writer.write_line("plain\n")
        writer.write_line("crlf\r\n")
        writer.write_line("progress\r50%\r100%")
        writer.write_line("two\nlines")
        writer.write_line("")
        writer.write_line("lone \udcff surrogate")
        assert writer.line_count == 7
    assert list(read_lines(path)) == [
        "plain",
        "crlf",
        "progress\r50%\r100%",
        "two",
        "lines",
        "",
        "lone ? surrogate",
    ]


def test_compresses_a_repetitive_log(tmp_path: Path) -> None:
    path = tmp_path / "step.log"
    with LogWriter(path) as writer:
        for i in range(20000):
            writer.write_line(f"tests/test_mod.py::test_case_{i % 300} PASSED [{i % 100:3d}%]")
    assert writer.byte_count / path.stat().st_size > 8


def test_time_rule_writes_a_frame_without_flush(tmp_path: Path) -> None:
    path = tmp_path / "step.log"
    writer = LogWriter(path, flush_seconds=0.05)
    try:
        writer.write_line("soon visible")
        deadline = time.monotonic() + 5
        while count_lines(path) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert list(read_lines(path)) == ["soon visible"]
    finally:
        writer.close()


def test_threads_write_whole_lines_in_order(tmp_path: Path) -> None:
    path = tmp_path / "step.log"
    with LogWriter(path, frame_lines=64) as writer:

        def work(n: int) -> None:
            for i in range(1000):
                writer.write_line(f"{n}:{i}")
                if i % 250 == 0:
                    writer.flush()

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    got = list(read_lines(path))
    assert len(got) == 8000 == count_lines(path)
    for n in range(8):
        assert [line for line in got if line.startswith(f"{n}:")] == [
            f"{n}:{i}" for i in range(1000)
        ]


def test_closed_writer_refuses_and_close_is_idempotent(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "step.log")
    writer.write_line("x")
    writer.close()
    writer.close()
    assert writer.closed
    with pytest.raises(ValueError):
        writer.write_line("y")
    with pytest.raises(ValueError):
        writer.flush()


def _two_frames(path: Path) -> list[str]:
    lines = [f"frame line {i}" for i in range(10)]
    with LogWriter(path, frame_lines=5) as writer:
        for line in lines:
            writer.write_line(line)
    return lines


def test_truncated_last_frame_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "step.log"
    lines = _two_frames(path)
    full = path.read_bytes()
    for cut in range(1, 30):  # cut into the second frame, header included
        path.write_bytes(full[:-cut])
        assert list(read_lines(path)) == lines[:5]
        assert count_lines(path) == 5


def test_garbage_after_frames_and_bad_crc_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "step.log"
    lines = _two_frames(path)
    with path.open("ab") as handle:
        handle.write(b"\x00\x00\x00\x07garbage and more garbage")
    assert list(read_lines(path)) == lines
    data = bytearray(path.read_bytes())
    data[len(logs.MAGIC) + logs.FRAME_HEADER.size + 2] ^= 0xFF  # damage the first frame
    path.write_bytes(bytes(data))
    assert list(read_lines(path)) == []
    assert count_lines(path) == 0


def test_torn_header_and_foreign_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    assert list(read_lines(empty)) == [] and count_lines(empty) == 0
    torn = tmp_path / "torn.log"
    torn.write_bytes(logs.MAGIC[:3])
    assert list(read_lines(torn)) == []
    text = tmp_path / "plain.txt"
    text.write_text("just text\n")
    with pytest.raises(LogFormatError):
        list(read_lines(text))
    with pytest.raises(LogFormatError):
        LogWriter(text)
    with pytest.raises(FileNotFoundError):
        list(read_lines(tmp_path / "missing.log"))


def test_reopening_cuts_a_torn_tail_and_appends(tmp_path: Path) -> None:
    path = tmp_path / "step.log"
    lines = _two_frames(path)
    path.write_bytes(path.read_bytes()[:-4])
    with LogWriter(path) as writer:
        assert writer.line_count == 5
        assert writer.byte_count == sum(len(line) + 1 for line in lines[:5])
        writer.write_line("after reopen")
    assert list(read_lines(path)) == [*lines[:5], "after reopen"]


def test_a_frame_is_a_length_count_crc_and_zlib_payload(tmp_path: Path) -> None:
    path = tmp_path / "step.log"
    with LogWriter(path) as writer:
        writer.write_line("a")
        writer.write_line("b")
    data = path.read_bytes()
    assert data.startswith(logs.MAGIC)
    length, count, crc = logs.FRAME_HEADER.unpack_from(data, len(logs.MAGIC))
    payload = data[len(logs.MAGIC) + logs.FRAME_HEADER.size :]
    assert (length, count, crc) == (len(payload), 2, zlib.crc32(payload))
    assert zlib.decompress(payload) == b"a\nb\n"


_CHILD = r"""
import sys, time
sys.path.insert(0, sys.argv[2])
from amoskys.store.logs import LogWriter
writer = LogWriter(sys.argv[1], flush_seconds=0.1)
i = 0
while True:
    writer.write_line(f"line {i}")
    if i % 7 == 6:
        writer.flush()
        print(f"flushed {i + 1}", flush=True)
    else:
        print(f"wrote {i + 1}", flush=True)
    i += 1
    time.sleep(0.01)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_kill_9_keeps_every_flushed_line(tmp_path: Path) -> None:
    path = tmp_path / "step.log"
    child = subprocess.Popen(  # nosec B603
        [sys.executable, "-c", _CHILD, str(path), str(REPO)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    flushed = written_early = 0
    try:
        for raw in child.stdout:
            kind, count = raw.split()
            if kind == "flushed":
                flushed = int(count)
            if int(count) >= 60:
                break
        # lines written by now must reach the file by the time rule (0.1 s) without flush()
        written_early = int(count)
        time.sleep(1.0)
        for raw in child.stdout:  # what was flushed in the meantime
            kind, count = raw.split()
            if kind == "flushed":
                flushed = int(count)
            if int(count) >= written_early + 20:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    got = list(read_lines(path))
    assert got == [f"line {i}" for i in range(len(got))]  # a prefix, nothing torn
    assert len(got) >= max(flushed, written_early) > 0
    assert count_lines(path) == len(got)


def test_follow_sees_lines_as_they_come(tmp_path: Path) -> None:
    path = tmp_path / "later.log"  # does not exist yet: follow waits for it
    done = threading.Event()
    seen_while_writing: list[str] = []

    def produce() -> None:
        time.sleep(0.2)
        with LogWriter(path, flush_seconds=0.05) as writer:
            for i in range(30):
                writer.write_line(f"line {i}")
                time.sleep(0.02)
                if i == 29:
                    seen_while_writing.extend(got)  # what follow had yielded before the end
        done.set()

    got: list[str] = []
    thread = threading.Thread(target=produce)
    thread.start()
    for line in follow(path, done.is_set, poll=0.02):
        got.append(line)
    thread.join()
    assert got == [f"line {i}" for i in range(30)]
    assert len(seen_while_writing) >= 10  # lines arrived live, not all at the end


def test_follow_from_start_and_stop_on_finished_file(tmp_path: Path) -> None:
    path = tmp_path / "step.log"
    lines = _two_frames(path)
    assert list(follow(path, lambda: True, start=3)) == lines[3:]
    assert list(follow(tmp_path / "never.log", lambda: True)) == []


def test_follow_waits_for_a_frame_being_written(tmp_path: Path) -> None:
    path = tmp_path / "step.log"
    lines = _two_frames(path)
    full = path.read_bytes()
    path.write_bytes(full[:-7])  # the second frame is half there
    stop = threading.Event()
    got: list[str] = []

    def finish() -> None:
        time.sleep(0.2)
        with path.open("ab") as handle:
            handle.write(full[-7:])
        time.sleep(0.1)
        stop.set()

    thread = threading.Thread(target=finish)
    thread.start()
    got.extend(follow(path, stop.is_set, poll=0.02))
    thread.join()
    assert got == lines


def test_write_error_cuts_back_to_whole_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "step.log"
    writer = LogWriter(path)
    writer.write_line("kept")
    writer.flush()
    real_write = os.write

    def half_then_fail(fd: int, data: bytes | memoryview) -> int:
        if len(data) > 4:
            real_write(fd, bytes(data)[:4])
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(logs.os, "write", half_then_fail)
    writer.write_line("retried")
    with pytest.raises(OSError):
        writer.flush()
    assert count_lines(path) == 1  # the torn frame was cut off
    monkeypatch.setattr(logs.os, "write", real_write)
    writer.write_line("after")
    writer.close()
    assert list(read_lines(path)) == ["kept", "retried", "after"]


def test_a_short_foreign_file_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "notes"
    path.write_bytes(b"abc")
    with pytest.raises(LogFormatError):
        LogWriter(path)
    assert path.read_bytes() == b"abc"
    torn = tmp_path / "torn.log"
    torn.write_bytes(logs.MAGIC[:5])  # a header torn by a crash is repaired
    with LogWriter(torn) as writer:
        writer.write_line("fine")
    assert list(read_lines(torn)) == ["fine"]


@pytest.mark.parametrize("sync_on_close, expected", [(True, 1), (False, 0)])
def test_close_fsyncs_unless_told_not_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sync_on_close: bool, expected: int
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    path = tmp_path / "step.log"
    writer = LogWriter(path, sync_on_close=sync_on_close)
    writer.write_line("one line")
    writer.close()
    assert len(synced) == expected
    assert list(read_lines(path)) == ["one line"]  # written either way, in the page cache
