"""``actions/checkout``: the job's workspace already is a fresh checkout of the repository.

With ``path:``, the files are also placed under ``$GITHUB_WORKSPACE/<path>``, as GitHub does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from amoskys.run.workspace import create_workspace

if TYPE_CHECKING:
    from amoskys.run.job import StepContext


def run(step: StepContext) -> None:
    repository = step.input("repository")
    if repository and repository.lower() != str(step.settings.github.get("repository", "")).lower():
        from amoskys.run.job import ActionFailed

        raise ActionFailed(
            f"actions/checkout of another repository ({repository}) needs the network; "
            "only this repository can be checked out locally"
        )
    path = step.input("path").strip()
    workspace = step.job.workspace
    if not path or path in (".", "./"):
        step.log(f"Workspace {workspace} holds the repository's files (tracked and untracked)")
        return
    target = (workspace / path).resolve()
    if not str(target).startswith(str(workspace.resolve())):
        from amoskys.run.job import ActionFailed

        raise ActionFailed(f"path {path!r} leaves the workspace")
    create_workspace(step.settings.root, Path(target), step.settings.workspace_files)
    step.log(f"Checked out the repository into {path}")
