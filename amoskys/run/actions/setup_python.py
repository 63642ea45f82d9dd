"""``actions/setup-python``: find the requested interpreter here and give the job a venv.

The interpreter is looked for on PATH, under pyenv and uv (never downloaded). The job gets
its own virtual environment, first on PATH, so ``python -m pip install`` installs into it and
nothing leaks between jobs or into the user's Python. ``cache: pip`` shares pip's download
cache across jobs and runs in the project's cache store (``.amoskys/cache/actions/pip``).

The venv is taken from the environment cache (:mod:`amoskys.run.env_cache`) when this job
instance already made one for the same interpreter and dependency files; when the job
succeeds, its venv is saved there (if it is new or its installed distributions changed), so a
warm ``pip install -r requirements.txt`` finds everything installed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from amoskys.errors import AmoskysError
from amoskys.run import env_cache
from amoskys.run.cache_store import project_store
from amoskys.run.interpreters import (
    Interpreter,
    create_venv,
    find_interpreter,
    read_version_file,
    venv_bin,
)

if TYPE_CHECKING:
    from amoskys.run.job import StepContext


def _requested(step: StepContext) -> list[str]:
    versions = [v.strip() for v in step.input("python-version").splitlines() if v.strip()]
    if versions:
        return versions
    version_file = step.input("python-version-file").strip()
    if version_file:
        return read_version_file(step.job.workspace / version_file)
    default = step.job.workspace / ".python-version"
    if default.is_file():
        return read_version_file(default)
    return []


def run(step: StepContext) -> None:
    from amoskys.run.job import ActionFailed

    search_env = step.settings.base_env
    allow_pre = step.input("allow-prereleases").lower() == "true"
    requested = _requested(step) or ["3"]
    try:
        found = [
            find_interpreter(spec, search_env=search_env, allow_prereleases=allow_pre)
            for spec in requested
        ]
    except AmoskysError as err:
        raise ActionFailed(f"{err.message}; {err.hint}" if err.hint else err.message) from None
    interp = found[-1]  # as setup-python: the last version listed is the default
    venv = step.job.tool_cache / f"venv-{interp.version_text}"
    if not _from_env_cache(step, interp, venv):
        templates = step.settings.root / ".amoskys" / "cache" / "venv-templates"
        create_venv(interp, venv, env=search_env, template_dir=templates)
    bin_dir = venv_bin(venv)
    step.add_path(str(bin_dir))
    step.set_env("VIRTUAL_ENV", str(venv))
    step.set_env("pythonLocation", str(venv))
    step.set_env("Python_ROOT_DIR", str(venv))
    step.set_env("Python3_ROOT_DIR", str(venv))
    if step.input("cache").strip().lower() == "pip":
        pip_cache = project_store(step.settings.root).pip_cache
        pip_cache.mkdir(parents=True, exist_ok=True)
        step.set_env("PIP_CACHE_DIR", str(pip_cache))
        step.outputs["cache-hit"] = "true" if any(pip_cache.iterdir()) else "false"
    step.outputs["python-version"] = interp.version_text
    step.outputs["python-path"] = str(bin_dir / "python")
    step.log(f"Python {interp.version_text} from {interp.path}; job venv at {venv}")


def _local_action_text(workspace: Path, uses: str | None) -> str | None:
    """The ``action.yml`` text of a local action (``uses: ./path``): its install lines count
    in the environment cache key as the job's own; None for other steps."""
    if uses is None or not uses.startswith("./"):
        return None
    for name in ("action.yml", "action.yaml"):
        try:
            return (workspace / uses / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    return None


def _from_env_cache(step: StepContext, interp: Interpreter, venv: Path) -> bool:
    """Restore the job's venv from the environment cache; register its save at job end.

    True when ``venv`` was made from a cache entry.
    """
    if not env_cache.enabled(os.environ) or venv.exists():
        return False
    job = step.job
    cache = env_cache.EnvCache(project_store(step.settings.root).envs)
    workflow = step.settings.workflows.get(job.inst.workflow)
    default_folder = job.inst.job.defaults.working_directory or (
        workflow.defaults.working_directory if workflow is not None else None
    )
    scripts: list[env_cache.InstallScript] = []
    for s in job.inst.job.steps:
        text = s.run if s.run is not None else _local_action_text(job.workspace, s.uses)
        if text is not None:
            scripts.append(
                env_cache.InstallScript(
                    text,
                    folder=(s.working_directory or default_folder or "") if s.run else "",
                    condition=s.if_ or "",
                    env={k: str(v) for k, v in s.env.items()},
                )
            )
    if env_cache.installs_after_use([s.text for s in scripts]):
        step.log(
            "environment cache not used: a step installs after a step that runs something, "
            "which would find it installed in a restored venv"
        )
        return False
    try:
        key = env_cache.make_key(
            interp,
            job=job.inst.key,
            matrix=job.inst.matrix,
            workspace=job.workspace,
            scripts=scripts,
        )
        restored = cache.restore(key, venv, job.workspace)
    except OSError as err:
        step.log(f"environment cache not used: {err.strerror or err}")
        return False
    if restored is not None:
        step.log(
            f"job venv restored from the environment cache: {restored.files} files "
            f"({restored.rewritten} rewritten for the new paths) in {restored.seconds:.2f} s"
        )

    def save() -> None:
        if job.failed or job.cancelled:
            return
        try:
            result = cache.save(key, venv, job.workspace, restored=restored)
        except OSError as err:
            job.post_log(f"environment cache: job venv not saved: {err.strerror or err}")
            return
        job.post_log(result.message)

    job.posts.append(save)
    return restored is not None
