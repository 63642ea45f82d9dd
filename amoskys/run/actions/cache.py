"""``actions/cache`` (and its ``restore`` and ``save`` halves) over the local cache store.

The combined action restores when its step runs and saves after the job succeeds, unless
the primary key was an exact hit: GitHub's behaviour, with entries kept in the project's one
store, ``.amoskys/cache/actions`` (:func:`~amoskys.run.cache_store.project_store`), which also
holds ``setup-python``'s pip cache and the cached job environments.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from amoskys.errors import AmoskysError
from amoskys.run.cache_store import CacheStore, project_store

if TYPE_CHECKING:
    from amoskys.run.job import StepContext


def _store(step: StepContext) -> CacheStore:
    return project_store(step.settings.root)


def _home(step: StepContext) -> Path:
    return Path(step.settings.base_env.get("HOME", str(step.job.workspace)))


def _restore(step: StepContext) -> bool:
    from amoskys.run.job import ActionFailed

    key = step.input("key").strip()
    paths = step.input("path")
    if not key or not paths.strip():
        raise ActionFailed("actions/cache needs both `key` and `path` inputs")
    try:
        result = _store(step).restore(
            key,
            step.input("restore-keys"),
            paths,
            step.job.workspace,
            home=_home(step),
            lookup_only=step.input("lookup-only").lower() == "true",
        )
    except AmoskysError as err:
        raise ActionFailed(err.message) from None
    for warning in result.warnings:
        step.log(f"warning: {warning}")
    step.outputs["cache-hit"] = "true" if result.hit else "false"
    step.outputs["cache-primary-key"] = key
    step.outputs["cache-matched-key"] = result.matched_key or ""
    if result.matched_key is None:
        if step.input("fail-on-cache-miss").lower() == "true":
            raise ActionFailed(
                "Failed to restore cache entry. Exiting as fail-on-cache-miss is set. "
                f"Input key: {key}"
            )
        step.log(f"Cache not found for input keys: {key}")
    else:
        step.log(f"Cache restored from key: {result.matched_key} ({result.files} files)")
    return result.hit


def _save(step: StepContext, key: str, paths: str, *, post: bool = False) -> None:
    """Save ``paths`` under ``key``; ``post``: at the end of the job, when the step's log is
    closed (messages go to the job's post log)."""
    from amoskys.run.job import ActionFailed

    try:
        result = _store(step).save(key, paths, step.job.workspace, home=_home(step))
    except AmoskysError as err:
        raise ActionFailed(err.message) from None
    (step.job.post_log if post else step.log)(result.message)


def run(step: StepContext) -> None:
    hit = _restore(step)
    if hit or step.input("lookup-only").lower() == "true":
        return
    key, paths = step.input("key").strip(), step.input("path")
    save_always = step.input("save-always").lower() == "true"

    def post() -> None:
        if save_always or not step.job.failed:
            _save(step, key, paths, post=True)

    step.job.posts.append(post)


def run_restore(step: StepContext) -> None:
    _restore(step)


def run_save(step: StepContext) -> None:
    from amoskys.run.job import ActionFailed

    key = step.input("key").strip()
    if not key:
        raise ActionFailed("actions/cache/save needs a `key` input")
    _save(step, key, step.input("path"))
