"""Artifacts of one run, behind ``actions/upload-artifact`` and ``actions/download-artifact``.

The engine passes ``<repo>/.amoskys/runs/<run-id>/artifacts``; each artifact is a folder::

    <name>/manifest.json   name, created time, files (path, size, sha256), size, digest
    <name>/files/...       the files, laid out as they will be downloaded

An upload is assembled in a temporary folder and renamed into place, so an artifact is either
complete or absent, and two uploads of one name cannot both succeed.

upload-artifact v4's documented rules:

* ``path`` is newline-separated; globs, ``~`` and ``!`` exclusions; relative to the workspace.
* The least common ancestor of the include patterns' search paths (their part before the first
  wildcard) is the root of the artifact; exclusions do not change it. One file: its folder.
* Hidden files (a name starting with ``.``, or inside such a folder) are left out unless
  ``include_hidden_files``. Symbolic links are followed. Permissions are not kept.
* ``if-no-files-found``: ``warn`` (default), ``error`` or ``ignore``.
* Names are unique within a run unless ``overwrite``; some characters are not allowed.

download-artifact v4: a ``name`` downloads into ``dest``; no name downloads every artifact (or
those whose name matches ``pattern``), each into ``dest/<name>/``, or all into ``dest`` with
``merge_multiple``.
"""

from __future__ import annotations

import builtins
import contextlib
import fnmatch
import hashlib
import json
import os
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from amoskys.errors import AmoskysError
from amoskys.run.cache_store import (
    WORKERS,
    FoundPath,
    find_paths,
    parse_path_patterns,
    split_lines,
)

FORBIDDEN_NAME_CHARACTERS: dict[str, str] = {
    '"': "Double quote",
    ":": "Colon",
    "<": "Less than",
    ">": "Greater than",
    "|": "Vertical bar",
    "*": "Asterisk",
    "?": "Question mark",
    "\r": "Carriage return",
    "\n": "Line feed",
    "\\": "Backslash",
    "/": "Forward slash",
}
"""Characters GitHub rejects in artifact names (they break some file systems, such as NTFS)."""
IF_NO_FILES_FOUND = ("warn", "error", "ignore")
CHUNK = 1024 * 1024
MANIFEST = "manifest.json"
FORMAT = 1

IfNoFilesFound = Literal["warn", "error", "ignore"]


@dataclass(frozen=True)
class UploadResult:
    """What an upload stored; ``files == 0`` means nothing was uploaded (see ``warnings``)."""

    name: str
    files: int
    size: int
    sha256: str
    root: Path | None = None
    warnings: tuple[str, ...] = ()

    @property
    def uploaded(self) -> bool:
        return self.files > 0


@dataclass(frozen=True)
class ArtifactInfo:
    """One stored artifact, as :meth:`ArtifactStore.list` shows it."""

    name: str
    files: int
    size: int
    sha256: str
    created: float


def validate_artifact_name(name: str) -> None:
    """GitHub's rule for artifact names, plus what cannot be a folder name here."""
    if not name:
        raise AmoskysError(
            "artifact name is empty", hint="give a name, or leave it out for 'artifact'"
        )
    for char, label in FORBIDDEN_NAME_CHARACTERS.items():
        if char in name:
            shown = char.encode("unicode_escape").decode("ascii")
            raise AmoskysError(
                f"artifact name {name!r} is not valid: it contains {label} {shown}",
                hint='not allowed: " : < > | * ? \\r \\n \\ /',
            )
    if name in (".", ".."):
        raise AmoskysError(f"artifact name {name!r} is not valid", hint="use a real name")


def _safe_rel(rel: str) -> bool:
    parts = rel.split("/")
    return bool(rel) and not rel.startswith("/") and all(p not in ("", ".", "..") for p in parts)


def _artifact_root(search_paths: tuple[Path, ...]) -> Path:
    """The least common ancestor of the search paths; a file's own folder if it is a file."""
    common = Path(os.path.commonpath([str(p) for p in search_paths]))
    if common.exists() and not common.is_dir():
        return common.parent
    return common


def _copy_hashing(src: Path, dest: Path) -> tuple[str, int]:
    """Copy ``src`` to a new file ``dest``; return its SHA-256 and size."""
    hasher = hashlib.sha256()
    size = 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as fin, open(dest, "xb") as fout:
        while chunk := fin.read(CHUNK):
            hasher.update(chunk)
            fout.write(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size


def _digest(files: list[dict[str, Any]]) -> str:
    """The artifact's digest: SHA-256 over its sorted (path, size, sha256) lines."""
    hasher = hashlib.sha256()
    for record in files:
        line = f"{record['path']}\0{record.get('type', 'file')}\0"
        line += f"{record.get('size', 0)}\0{record.get('sha256', '')}\n"
        hasher.update(line.encode("utf-8"))
    return hasher.hexdigest()


class ArtifactStore:
    """The artifacts of one run, kept under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root))

    def _folder(self, name: str) -> Path:
        return self.root / name

    def _read(self, folder: Path) -> dict[str, Any] | None:
        try:
            data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return None
        if data.get("name") != folder.name or not isinstance(data.get("files"), list):
            return None
        return data

    @staticmethod
    def _info(data: dict[str, Any]) -> ArtifactInfo:
        files = [f for f in data["files"] if f.get("type", "file") == "file"]
        return ArtifactInfo(
            data["name"], len(files), int(data["size"]), data["sha256"], float(data["created"])
        )

    def get(self, name: str) -> ArtifactInfo | None:
        """The artifact called ``name``, or None."""
        validate_artifact_name(name)
        data = self._read(self._folder(name))
        return None if data is None else self._info(data)

    # -- upload

    def upload(
        self,
        name: str,
        paths_text: str,
        workspace: Path,
        if_no_files_found: str = "warn",
        include_hidden_files: bool = False,
        overwrite: bool = False,
        *,
        home: Path | None = None,
    ) -> UploadResult:
        """Store what ``paths_text`` selects as artifact ``name`` (upload-artifact v4)."""
        validate_artifact_name(name)
        if if_no_files_found not in IF_NO_FILES_FOUND:
            raise AmoskysError(
                f"if-no-files-found {if_no_files_found!r} is not recognised",
                hint="use one of: warn, error, ignore",
            )
        if not split_lines(paths_text):
            raise AmoskysError("upload-artifact needs a path", hint="set 'path:' to upload")
        patterns = parse_path_patterns(paths_text, workspace, home=home)
        if all(p.negate for p in patterns):
            raise AmoskysError(
                "upload-artifact path has only exclusions",
                hint="add at least one path to upload",
            )
        found = find_paths(
            patterns, follow_symlinks=True, include_hidden=include_hidden_files, skip=[self.root]
        )
        warnings = list(found.warnings)
        if not found.files:
            message = (
                f"No files were found with the provided path: {paths_text.strip()}. "
                "No artifacts will be uploaded."
            )
            if if_no_files_found == "error":
                raise AmoskysError(message, hint="check the path, or set if-no-files-found")
            if if_no_files_found == "warn":
                warnings.append(message)
            return UploadResult(name, 0, 0, "", None, tuple(warnings))
        folder = self._folder(name)
        if not overwrite and self._read(folder) is not None:
            raise self._duplicate(name)
        root = _artifact_root(found.search_paths)
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".tmp-{uuid.uuid4().hex}"
        try:
            records = self._stage(found.found, root, staging / "files")
            manifest = {
                "format": FORMAT,
                "name": name,
                "created": time.time(),
                "root": str(root),
                "size": sum(r.get("size", 0) for r in records),
                "sha256": _digest(records),
                "files": records,
            }
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
            self._publish(staging, folder, overwrite)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        info = self._info(manifest)
        return UploadResult(name, info.files, info.size, info.sha256, root, tuple(warnings))

    def _stage(self, found: tuple[FoundPath, ...], root: Path, into: Path) -> list[dict[str, Any]]:
        """Copy the found files below ``into``, relative to ``root``; their records, sorted."""
        into.mkdir(parents=True)
        files: list[tuple[str, FoundPath]] = []
        records: list[dict[str, Any]] = []
        for item in found:
            rel = Path(os.path.relpath(item.path, root)).as_posix()
            if not _safe_rel(rel):
                continue
            if item.kind == "file":
                files.append((rel, item))
            elif item.kind == "dir":
                (into / rel).mkdir(parents=True, exist_ok=True)
                records.append({"path": rel, "type": "dir"})

        def copy(entry: tuple[str, FoundPath]) -> dict[str, Any]:
            rel, item = entry
            sha, size = _copy_hashing(item.path, into / rel)
            return {"path": rel, "type": "file", "size": size, "sha256": sha}

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            records.extend(pool.map(copy, files))
        records.sort(key=lambda r: str(r["path"]))
        return records

    @staticmethod
    def _duplicate(name: str) -> AmoskysError:
        return AmoskysError(
            f"an artifact named {name!r} already exists in this run",
            hint="give each upload its own name, or set overwrite: true",
        )

    def _publish(self, staging: Path, folder: Path, overwrite: bool) -> None:
        """Rename the staged artifact into place; replace an old one only with ``overwrite``."""
        trash: Path | None = None
        if overwrite and folder.exists():
            trash = self.root / f".trash-{uuid.uuid4().hex}"
            with contextlib.suppress(FileNotFoundError):
                os.rename(folder, trash)
        elif folder.exists() and self._read(folder) is None:
            shutil.rmtree(folder, ignore_errors=True)  # a broken leftover, not an artifact
        try:
            os.rename(staging, folder)
        except OSError as exc:
            raise self._duplicate(folder.name) from exc
        finally:
            if trash is not None:
                shutil.rmtree(trash, ignore_errors=True)

    # -- download

    def download(
        self,
        name: str | None,
        dest: Path,
        pattern: str | None = None,
        merge_multiple: bool = False,
    ) -> builtins.list[Path]:
        """Write artifacts below ``dest``; return the files written.

        With a ``name``, that artifact goes straight into ``dest`` (``pattern`` is ignored).
        Without, every artifact whose name matches ``pattern`` (all if None) goes into
        ``dest/<name>/``, or straight into ``dest`` when ``merge_multiple``.
        """
        dest = Path(os.path.abspath(dest))
        if name is not None:
            validate_artifact_name(name)
            data = self._read(self._folder(name))
            if data is None:
                known = ", ".join(a.name for a in self.list()) or "none"
                raise AmoskysError(
                    f"artifact {name!r} not found in this run",
                    hint=f"artifacts of this run: {known}",
                )
            return self._extract(data, dest)
        selected = [
            data
            for data in self._all()
            if pattern is None or fnmatch.fnmatchcase(str(data["name"]), pattern)
        ]
        selected.sort(key=lambda d: (float(d["created"]), str(d["name"])))
        written: builtins.list[Path] = []
        for data in selected:
            target = dest if merge_multiple else dest / str(data["name"])
            written.extend(self._extract(data, target))
        return written

    def _extract(self, data: dict[str, Any], dest: Path) -> builtins.list[Path]:
        source = self._folder(str(data["name"])) / "files"
        dest.mkdir(parents=True, exist_ok=True)
        files: builtins.list[tuple[Path, Path]] = []
        for record in data["files"]:
            rel = str(record.get("path", ""))
            if not _safe_rel(rel):
                continue
            if record.get("type", "file") == "dir":
                (dest / rel).mkdir(parents=True, exist_ok=True)
            else:
                files.append((source / rel, dest / rel))

        def copy(pair: tuple[Path, Path]) -> Path:
            src, target = pair
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.parent / f".amoskys-{uuid.uuid4().hex}.part"
            try:
                shutil.copyfile(src, temp)
                os.replace(temp, target)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
            return target

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            return builtins.list(pool.map(copy, files))

    # -- listing

    def _all(self) -> builtins.list[dict[str, Any]]:
        try:
            folders = sorted(p for p in self.root.iterdir() if p.is_dir())
        except FileNotFoundError:
            return []
        loaded = (self._read(f) for f in folders)
        return [d for d in loaded if d is not None]

    def delete(self, name: str) -> bool:
        """Remove artifact ``name``; False if there was none."""
        validate_artifact_name(name)
        folder = self._folder(name)
        if self._read(folder) is None:
            return False
        trash = self.root / f".trash-{uuid.uuid4().hex}"
        os.rename(folder, trash)
        shutil.rmtree(trash, ignore_errors=True)
        return True

    def list(self) -> builtins.list[ArtifactInfo]:
        """Every complete artifact of the run, by name."""
        return [self._info(d) for d in self._all()]
