"""Interpreters' answers kept on disk, so a run does not start every Python on the machine.

Finding the Python that ``actions/setup-python`` asks for means asking each candidate what it
is (:func:`amoskys.run.interpreters.list_interpreters`): ten candidates cost ten interpreter
starts, about 0.15 s of every ``amoskys run`` and more CPU than a run served whole from the
result cache needs otherwise. An interpreter binary's answer depends only on the binary, so
it is kept per real path, mtime and size in ``.amoskys/cache/interpreters.json``; a changed
file (an upgrade) has a new key and is asked again. Scripts (``#!``) are never kept: a wrapper
script may answer differently with another environment.

The file is a cache: unreadable or malformed means empty, a failed write is ignored.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FORMAT = 1

AnswerKey = tuple[str, int, int]  # real path, mtime in ns, size
Answer = dict[str, Any] | None  # an interpreter's fields, or None: it is no usable Python


def is_binary(path: str) -> bool:
    """True unless ``path`` starts with ``#!`` (a script whose answer may depend on its env)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(2) != b"#!"
    except OSError:
        return False


def read_answers(path: Path) -> dict[AnswerKey, Answer]:
    """The answers kept in ``path``; empty when it is missing, unreadable or not ours."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return {}
    entries = data.get("answers")
    if not isinstance(entries, list):
        return {}
    answers: dict[AnswerKey, Answer] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        real, mtime, size = entry.get("real"), entry.get("mtime_ns"), entry.get("size")
        answer = entry.get("answer")
        if not (isinstance(real, str) and isinstance(mtime, int) and isinstance(size, int)):
            continue
        if answer is not None and not isinstance(answer, dict):
            continue
        answers[(real, mtime, size)] = answer
    return answers


def write_answers(path: Path, answers: Mapping[AnswerKey, Answer]) -> None:
    """Replace ``path`` with ``answers`` in one rename; a failure leaves the old file."""
    entries = [
        {"real": real, "mtime_ns": mtime, "size": size, "answer": answer}
        for (real, mtime, size), answer in sorted(answers.items(), key=lambda item: item[0])
    ]
    text = json.dumps({"format": FORMAT, "answers": entries}, indent=1)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=".interpreters-", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(temp, path)
        except BaseException:
            os.unlink(temp)
            raise
    except OSError:
        return
