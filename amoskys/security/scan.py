"""The security scans as ``amoskys security-scan`` runs them: dependencies and secrets.

Dependencies are what the project pins (requirements files, ``pyproject.toml``, lock files),
plus the packages installed in the current environment when ``[tool.amoskys]
scan-installed = true``; they are matched against the local OSV index (``amoskys vulndb
update``). Secrets are searched in the files git would push, or in the staged changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from amoskys.checks.settings import CheckSettings
from amoskys.errors import AmoskysError, Problem
from amoskys.findings.model import Finding
from amoskys.security.dependencies import Package, installed_packages, project_dependencies
from amoskys.security.osv import DEFAULT_URL, VulnDb


def vulndb_dir(settings: CheckSettings, state_dir: Path) -> Path:
    """``[tool.amoskys] vulndb = "folder"`` (relative to the project), else ``.amoskys/vulndb``."""
    if settings.vulndb:
        return (settings.root / settings.vulndb).resolve()
    return state_dir / "vulndb"


def update_vulndb(settings: CheckSettings, state_dir: Path, source: str | None) -> str:
    """Build the index from ``source`` (a folder, a zip, a URL; default OSV's PyPI export)."""
    where: str | Path = source or DEFAULT_URL
    if source and "://" not in source:
        where = Path(source).resolve()
    result = VulnDb.update(where, vulndb_dir(settings, state_dir))
    lines = [
        f"indexed {result.records} advisories for {result.packages} packages from "
        f"{result.source} in {result.seconds:.1f}s ({result.size_bytes / 1e6:.1f} MB)",
        f"skipped {result.withdrawn} withdrawn and {result.other_ecosystems} other-ecosystem "
        "records",
    ]
    lines.extend(f"warning: {p}" for p in result.problems[:20])
    return "\n".join(lines)


def scan_dependencies(
    settings: CheckSettings, state_dir: Path
) -> tuple[list[Finding], list[str], str | None]:
    """(findings, notes, why the scan could not run or None)."""
    try:
        db = VulnDb.open(vulndb_dir(settings, state_dir))
    except AmoskysError as err:
        return [], [], f"{err.message}; {err.hint}" if err.hint else err.message
    problems: list[Problem] = []
    try:
        packages: list[Package] = project_dependencies(settings.root, problems)
        if settings.raw.get("scan-installed") is True:
            packages += installed_packages()
        result = db.scan(list(dict.fromkeys(packages)))
    finally:
        db.close()
    notes = [str(p) for p in [*problems, *result.problems][:20]]
    return result.findings, notes, None


def secrets_config(settings: CheckSettings) -> Any:
    from amoskys.security.secrets import SecretsConfig

    section = settings.raw.get("secrets", {})
    return SecretsConfig.from_mapping(section if isinstance(section, dict) else {})


def scan_secrets(settings: CheckSettings, *, staged: bool = False) -> list[Finding]:
    """Secrets in the files git would push, or in the staged content (pre-commit hook)."""
    from amoskys.checks.commands import staged_files, tracked_files
    from amoskys.security.secrets import scan_files, scan_text

    config = secrets_config(settings)
    if staged:
        found: list[Finding] = []
        for path, text in staged_files(settings.root):
            found.extend(scan_text(text, path, config=config))
        return found
    return list(scan_files(settings.root, tracked_files(settings.root), config=config))
