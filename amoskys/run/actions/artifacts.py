"""``actions/upload-artifact`` and ``download-artifact``: artifacts kept with the run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from amoskys.errors import AmoskysError
from amoskys.run.artifact_store import ArtifactStore

if TYPE_CHECKING:
    from amoskys.run.job import StepContext


def _store(step: StepContext) -> ArtifactStore:
    return ArtifactStore(step.settings.run_dir / "artifacts")


def _true(text: str) -> bool:
    return text.strip().lower() == "true"


def upload(step: StepContext) -> None:
    from amoskys.run.job import ActionFailed

    name = step.input("name", "artifact").strip() or "artifact"
    try:
        result = _store(step).upload(
            name,
            step.input("path"),
            step.job.workspace,
            if_no_files_found=step.input("if-no-files-found", "warn").strip() or "warn",
            include_hidden_files=_true(step.input("include-hidden-files")),
            overwrite=_true(step.input("overwrite")),
            home=Path(step.settings.base_env.get("HOME", str(step.job.workspace))),
        )
    except AmoskysError as err:
        raise ActionFailed(err.message) from None
    for warning in result.warnings:
        step.log(f"warning: {warning}")
    if result.uploaded:
        step.outputs["artifact-id"] = result.sha256[:16]
        step.outputs["artifact-digest"] = result.sha256
        step.log(f"Artifact {name} kept with the run: {result.files} files, {result.size} bytes")


def download(step: StepContext) -> None:
    from amoskys.run.job import ActionFailed

    name = step.input("name").strip() or None
    target = step.input("path").strip()
    dest = step.job.workspace / target if target else step.job.workspace
    try:
        written = _store(step).download(
            name,
            dest,
            pattern=step.input("pattern").strip() or None,
            merge_multiple=_true(step.input("merge-multiple")),
        )
    except AmoskysError as err:
        raise ActionFailed(err.message) from None
    step.outputs["download-path"] = str(dest)
    step.log(f"Downloaded {len(written)} file(s) into {dest}")
