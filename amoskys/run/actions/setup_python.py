"""``actions/setup-python``: find the requested interpreter here and give the job a venv.

The interpreter is looked for on PATH, under pyenv and uv (never downloaded). The job gets
its own virtual environment, first on PATH, so ``python -m pip install`` installs into it and
nothing leaks between jobs or into the user's Python. ``cache: pip`` shares pip's download
cache across jobs and runs under ``.amoskys/cache/pip``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from amoskys.errors import AmoskysError
from amoskys.run.interpreters import create_venv, find_interpreter, read_version_file

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
    templates = step.settings.root / ".amoskys" / "cache" / "venv-templates"
    bin_dir = create_venv(interp, venv, env=search_env, template_dir=templates)
    step.add_path(str(bin_dir))
    step.set_env("VIRTUAL_ENV", str(venv))
    step.set_env("pythonLocation", str(venv))
    step.set_env("Python_ROOT_DIR", str(venv))
    step.set_env("Python3_ROOT_DIR", str(venv))
    if step.input("cache").strip().lower() == "pip":
        pip_cache = step.settings.root / ".amoskys" / "cache" / "pip"
        pip_cache.mkdir(parents=True, exist_ok=True)
        step.set_env("PIP_CACHE_DIR", str(pip_cache))
        step.outputs["cache-hit"] = "true" if any(pip_cache.iterdir()) else "false"
    step.outputs["python-version"] = interp.version_text
    step.outputs["python-path"] = str(bin_dir / "python")
    step.log(f"Python {interp.version_text} from {interp.path}; job venv at {venv}")
