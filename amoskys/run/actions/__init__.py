"""Built-in actions: the popular actions a Python pipeline uses, as native Python.

Any version ref (``@v4``, ``@v5``, a commit SHA) maps to the same built-in. Nothing is
downloaded and no container is started.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from amoskys.run.job import StepContext

Action = Callable[["StepContext"], None]


def action_name(uses: str) -> str:
    """``actions/cache/restore@v4`` -> ``actions/cache/restore`` (lower case, no ref)."""
    return uses.split("@", 1)[0].strip().lower().rstrip("/")


def is_remote(uses: str) -> bool:
    """A ``owner/repo@ref`` or ``docker://`` action (not a local ``./path``)."""
    return not uses.startswith("./")


def builtin_action(uses: str) -> Action | None:
    """The built-in that stands in for ``uses``, or None when there is none."""
    from amoskys.run.actions import artifacts, cache, checkout, codecov, setup_python

    table: dict[str, Action] = {
        "actions/checkout": checkout.run,
        "actions/setup-python": setup_python.run,
        "actions/cache": cache.run,
        "actions/cache/restore": cache.run_restore,
        "actions/cache/save": cache.run_save,
        "actions/upload-artifact": artifacts.upload,
        "actions/download-artifact": artifacts.download,
        "codecov/codecov-action": codecov.run,
    }
    return table.get(action_name(uses))
