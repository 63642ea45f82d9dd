"""``codecov/codecov-action``: keep the coverage report with the run; nothing is uploaded."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from amoskys.run.job import slug

if TYPE_CHECKING:
    from amoskys.run.job import StepContext

_DEFAULT_NAMES = ("coverage.xml", "coverage.json", ".coverage", "lcov.info", "coverage.lcov")


def run(step: StepContext) -> None:
    workspace = step.job.workspace
    named = [
        f.strip()
        for f in (step.input("files") or step.input("file")).replace(",", "\n").splitlines()
        if f.strip()
    ]
    candidates = (
        [workspace / name for name in named]
        if named
        else [
            path
            for name in _DEFAULT_NAMES
            for path in workspace.rglob(name)
            if ".amoskys" not in path.parts
        ]
    )
    found = [path for path in candidates if path.is_file()]
    if not found:
        step.log("No coverage report found; nothing kept (Amoskys never uploads).")
        return
    target = step.settings.run_dir / "coverage" / slug(step.job.inst.name)
    target.mkdir(parents=True, exist_ok=True)
    for path in found:
        rel = path.relative_to(workspace).as_posix().replace("/", "__")
        shutil.copy2(path, target / rel)
        step.log(f"Kept {path.relative_to(workspace)} with the run (not uploaded)")
