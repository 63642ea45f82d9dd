"""Shared fixtures. The autouse guard fails any test that writes to $HOME or to this
repository's own ``.amoskys/`` folder: tests work in temporary folders only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest
from amoskys_testing import REPO, git


def _snapshot(folder: Path) -> dict[str, float]:
    """Modification times of every folder under ``folder`` and of the files near its top.

    A new or deleted file changes its folder's time, and the files that are rewritten in
    place (the store's database) live at the top; skipping the deep files keeps this cheap
    when ``amoskys run`` has left venv templates and caches there.
    """
    if not folder.exists():
        return {}
    times: dict[str, float] = {}
    for current, _dirs, files in os.walk(folder):
        times[current] = os.stat(current).st_mtime
        if len(Path(current).relative_to(folder).parts) < 2:
            for name in files:
                path = os.path.join(current, name)
                times[path] = os.stat(path).st_mtime
    return times


@pytest.fixture(autouse=True)
def _guard_home_and_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AMOSKYS_CRASH_DIR", str(tmp_path_factory.mktemp("crash")))
    # Inside an `amoskys run` of this project, the amoskys commands that tests start would
    # append their findings and metrics (a toy project's 100% coverage) to the job's results.
    monkeypatch.delenv("AMOSKYS_RESULTS", raising=False)
    state = REPO / ".amoskys"
    before = _snapshot(state)
    yield
    touched = sorted(p.relative_to(home).as_posix() for p in home.rglob("*"))
    assert not touched, f"the test wrote to $HOME: {touched[:5]}"
    assert _snapshot(state) == before, "the test wrote to the repository's own .amoskys/"


@pytest.fixture
def make_repo(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A factory: ``make_repo({"path": "text", ...}, branch="main")`` -> a committed git repo."""

    def make(files: dict[str, str], branch: str = "main", commit: bool = True) -> Path:
        root = tmp_path / "repo"
        root.mkdir(exist_ok=True)
        git(root, "init", "-q", "-b", branch)
        for rel, text in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        if commit:
            git(root, "add", "-A")
            git(root, "commit", "-q", "-m", "initial")
        return root

    return make
