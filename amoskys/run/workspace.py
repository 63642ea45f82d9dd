"""The job's working copy of the repository, and what git knows about the repository.

Each job instance runs in a fresh copy of the repository under
``<repo>/.amoskys/workspaces/<run-id>/<slug>``: the files git tracks plus the untracked files
git does not ignore, exactly as they are in the work tree (uncommitted edits included, tracked
files deleted in the work tree left out). The copy is made of real copies, never hard links,
so a step that writes into a file cannot change the user's file. Symlinks are copied as
symlinks; file modes and modification times are kept.

The copy has no ``.git``: it is a snapshot of files, like the tarball GitHub's checkout falls
back to without git. Steps that need history should run ``git`` with ``--git-dir``/``-C`` on
the repository; a per-job clone or worktree would cost far more than the copy and would not
carry the user's uncommitted edits.

Every git call goes through :func:`amoskys.run.process.output_of`, with the variables that
would point git at another repository (``GIT_DIR``... as set inside git hooks) removed.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from amoskys.errors import AmoskysError, Location
from amoskys.run.process import output_of

STATE_DIR_NAME = ".amoskys"
"""The folder, at the top of the repository, where Amoskys keeps its state."""
ZERO_SHA = "0" * 40
"""The sha reported for a repository that has no commit yet."""
GIT_TIMEOUT_SECONDS = 120.0

_CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This folder holds Amoskys' runs, workspaces and caches.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)
_EXCLUDE_LINE = f"{STATE_DIR_NAME}/"
_exclude_lock = threading.Lock()

# Variables with which git would work on another repository than the one in ``cwd``.
_REPO_LOCATING_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_PREFIX",
    "GIT_NAMESPACE",
)
_SMALL_FILE = 1 << 20  # read in one go below this size; sendfile above


@dataclass(frozen=True)
class GitFacts:
    """What ``github.sha``, ``github.ref``... are for the repository as it is now."""

    sha: str
    """HEAD's commit, or 40 zeros when the repository has no commit yet."""
    ref: str
    """``refs/heads/<branch>``, or the sha when HEAD is detached."""
    branch: str | None
    """The current branch (also on a branch with no commit yet); None when detached."""
    changed: tuple[str, ...]
    """Paths changed against HEAD: staged, unstaged and untracked-not-ignored (POSIX, sorted)."""
    actor: str
    """``git config user.name``, else the login name."""
    remote_url: str | None
    """The URL of ``origin`` (else of the first remote); None without remotes."""


# -- git ------------------------------------------------------------------------------------


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _REPO_LOCATING_VARS}
    env["GIT_OPTIONAL_LOCKS"] = "0"  # status must not take the index lock from the user
    return env


def _require_git() -> None:
    if shutil.which("git") is None:
        raise AmoskysError(
            "git was not found on PATH",
            hint="install git: Amoskys reads the repository's files and facts with it",
        )


def _git(repo: Path, *args: str) -> str:
    return output_of(["git", *args], cwd=repo, env=_git_env(), timeout=GIT_TIMEOUT_SECONDS)


def _nul_split(text: str) -> list[str]:
    return [item for item in text.split("\0") if item]


def _is_state_path(rel: str) -> bool:
    return rel == STATE_DIR_NAME or rel.startswith(_EXCLUDE_LINE)


def repo_root(start: Path) -> Path:
    """The top folder of the git work tree that ``start`` is in.

    Raises :class:`AmoskysError` (with a ``git init`` hint) outside a git work tree.
    """
    _require_git()
    folder = Path(start)
    if not folder.is_dir():
        folder = folder.parent
    if not folder.is_dir():
        raise AmoskysError(f"folder does not exist: {start}")
    try:
        top = _git(folder, "rev-parse", "--show-toplevel").strip()
    except AmoskysError:
        top = ""
    if not top:
        raise AmoskysError(
            f"{start} is not inside a git repository",
            hint="run `git init` (and commit) there: the workspace holds the files git knows",
        )
    return Path(top)


def ensure_state_dir(repo: Path) -> Path:
    """Create ``<repo>/.amoskys/`` and make git ignore it; return its path.

    When the repository's ignore rules do not already ignore it, ``.amoskys/`` is added once to
    ``info/exclude`` in git's common folder (the main repository's, for a worktree), so the
    user's tracked ``.gitignore`` is left alone. Idempotent and safe to call from threads.
    """
    repo = Path(repo)
    repo_root(repo)  # a clear error outside a repository
    state = repo / STATE_DIR_NAME
    state.mkdir(parents=True, exist_ok=True)
    with _exclude_lock:
        tag = state / "CACHEDIR.TAG"
        if not tag.exists():
            tag.write_text(_CACHEDIR_TAG, encoding="utf-8")
        if not _state_dir_ignored(repo):
            _add_to_exclude(repo)
    return state


def _state_dir_ignored(repo: Path) -> bool:
    # The folder holds CACHEDIR.TAG, so git lists the folder itself when its rules ignore it.
    listed = _git(
        repo,
        "ls-files",
        "-z",
        "--others",
        "--ignored",
        "--exclude-standard",
        "--directory",
        "--",
        STATE_DIR_NAME,
    )
    return _EXCLUDE_LINE in _nul_split(listed)


def _add_to_exclude(repo: Path) -> None:
    common = _git(repo, "rev-parse", "--git-common-dir").strip()
    exclude = (repo / common).resolve() / "info" / "exclude"
    try:
        text = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
        if _EXCLUDE_LINE in (line.strip() for line in text.splitlines()):
            return  # there already, but overridden by a rule of higher precedence
        exclude.parent.mkdir(parents=True, exist_ok=True)
        prefix = "" if not text or text.endswith("\n") else "\n"
        with exclude.open("a", encoding="utf-8") as out:
            out.write(f"{prefix}# Amoskys' state (runs, workspaces, caches)\n{_EXCLUDE_LINE}\n")
    except OSError as err:
        raise AmoskysError(
            f"cannot add {_EXCLUDE_LINE} to {exclude}: {err.strerror or err}",
            hint=f"add the line {_EXCLUDE_LINE} to .gitignore yourself",
        ) from None


def list_workspace_files(repo: Path) -> list[str]:
    """The files a workspace gets: tracked and untracked-not-ignored, as sorted POSIX paths.

    Tracked files deleted in the work tree are left out, and so is anything under
    ``.amoskys/``. An initialised submodule contributes its own files the same way; an
    untracked nested repository and an uninitialised submodule contribute nothing.
    """
    repo = Path(repo)
    repo_root(repo)  # a clear error outside a repository
    files = sorted(set(_listed_files(repo, "")))
    return [rel for rel in files if not _is_state_path(rel)]


def _listed_files(repo: Path, prefix: str) -> Iterable[str]:
    folder = repo / prefix if prefix else repo
    listed = _git(folder, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for rel in _nul_split(listed):
        if rel.endswith("/"):
            continue  # an untracked nested repository
        full = f"{prefix}{rel}"
        if _is_state_path(full):
            continue
        try:
            mode = os.lstat(repo / full).st_mode
        except OSError:
            continue  # deleted in the work tree (or not decodable as UTF-8)
        if stat.S_ISDIR(mode):
            if (repo / full / ".git").exists():  # an initialised submodule
                yield from _listed_files(repo, f"{full}/")
            continue
        yield full


def git_facts(repo: Path) -> GitFacts:
    """The commit, ref, branch, changed paths, actor and remote of ``repo``'s work tree."""
    repo = Path(repo)
    _require_git()
    oid, branch, changed = _status(repo)
    sha = ZERO_SHA if oid in ("", "(initial)") else oid
    ref = f"refs/heads/{branch}" if branch is not None else sha
    actor, remote = _identity_and_remote(repo)
    return GitFacts(
        sha=sha, ref=ref, branch=branch, changed=changed, actor=actor, remote_url=remote
    )


def _status(repo: Path) -> tuple[str, str | None, tuple[str, ...]]:
    """HEAD's oid (or ``(initial)``), the branch (None when detached), the changed paths."""
    out = _git(
        repo,
        "status",
        "--porcelain=v2",
        "--branch",
        "-z",
        "--untracked-files=all",
        "--no-renames",
        "--ignore-submodules=none",
    )
    oid = ""
    branch: str | None = None
    changed: set[str] = set()
    entries = out.split("\0")
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if entry.startswith("# branch.oid "):
            oid = entry[len("# branch.oid ") :]
        elif entry.startswith("# branch.head "):
            head = entry[len("# branch.head ") :]
            branch = None if head == "(detached)" else head
        elif entry.startswith("1 "):
            changed.add(entry.split(" ", 8)[8])
        elif entry.startswith("2 "):  # a rename (only when renames are detected anyway)
            changed.add(entry.split(" ", 9)[9])
            if index < len(entries):
                changed.add(entries[index])  # the original path
                index += 1
        elif entry.startswith("u "):
            changed.add(entry.split(" ", 10)[10])
        elif entry.startswith("? "):
            changed.add(entry[2:])
    paths = tuple(sorted(p for p in changed if p and not _is_state_path(p)))
    return oid, branch, paths


def _identity_and_remote(repo: Path) -> tuple[str, str | None]:
    config = _git(repo, "config", "-z", "--list")
    name = ""
    remotes: dict[str, str] = {}
    for item in _nul_split(config):
        key, _, value = item.partition("\n")
        low = key.lower()
        if low == "user.name":
            name = value.strip()  # the last one wins, as in git
        elif low.startswith("remote.") and low.endswith(".url"):
            remotes.setdefault(key[len("remote.") : -len(".url")], value)
    if not name:
        name = os.environ.get("USER") or os.environ.get("USERNAME") or _login_name()
    remote = remotes.get("origin") or next(iter(remotes.values()), None)
    return name, remote


def _login_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def changed_paths(repo: Path, base: str | None) -> tuple[str, ...]:
    """Paths changed between ``base`` and the work tree, plus untracked-not-ignored files.

    With a ``base`` (a branch, tag or sha) the comparison starts at the merge-base of ``base``
    and HEAD, as a pull request's diff does; without one it starts at HEAD (all files when there
    is no commit yet). Sorted POSIX paths; deleted files are included.
    """
    repo = Path(repo)
    _require_git()
    if base is None:
        return _status(repo)[2]
    try:
        _git(repo, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")
    except AmoskysError:
        raise AmoskysError(
            f"base {base!r} is not a commit, branch or tag of this repository",
            hint=f"fetch it first (git fetch origin {base}) or name an existing branch",
        ) from None
    try:
        start = _git(repo, "merge-base", base, "HEAD").strip()
    except AmoskysError:
        raise AmoskysError(
            f"HEAD and {base!r} have no commit in common",
            hint="commit first, or compare with a branch that shares history with HEAD",
        ) from None
    diffed = _git(repo, "diff", "--name-only", "-z", "--no-renames", start, "--")
    untracked = _git(repo, "ls-files", "-z", "--others", "--exclude-standard")
    changed = set(_nul_split(diffed)) | set(_nul_split(untracked))
    return tuple(sorted(p for p in changed if not p.endswith("/") and not _is_state_path(p)))


# -- the copy -------------------------------------------------------------------------------


def create_workspace(repo: Path, dest: Path, files: Sequence[str] | None = None) -> Path:
    """Copy the workspace files of ``repo`` (or ``files``, relative POSIX paths) into ``dest``.

    ``dest`` is created if needed; files already there are replaced (so a second checkout into
    the same workspace refreshes it). Files listed but gone meanwhile, and folders, are
    skipped. Returns ``dest``. Raises :class:`AmoskysError` when ``repo`` is not a git
    repository or a file cannot be copied.
    """
    repo = Path(repo)
    dest = Path(dest)
    repo_root(repo)
    if files is None:
        files = list_workspace_files(repo)
    copy_files(repo, dest, files)
    return dest


def copy_files(src: Path, dest: Path, files: Iterable[str]) -> None:
    """Copy ``files`` (relative POSIX paths) from ``src`` into ``dest``, creating folders.

    Regular files keep their content, mode bits and times; symlinks are copied as symlinks;
    anything already at a destination path is replaced. Listed paths that are gone are
    skipped, and so are folders. Raises :class:`AmoskysError` when something cannot be copied.
    """
    files = list(files)
    src_root = os.fspath(src)
    dst_root = os.fspath(dest)
    try:
        os.makedirs(dst_root, exist_ok=True)
        for folder in _parent_dirs(files):
            os.makedirs(os.path.join(dst_root, folder), exist_ok=True)
    except OSError as err:
        raise AmoskysError(
            f"cannot create the folder {err.filename or dest}: {err.strerror or err}",
            hint="check the permissions and free space of that disk",
        ) from None
    # One thread: copying 1,000 files with 2 or 4 threads measured no faster on disk (file
    # creation dominates) and slower on tmpfs (the per-file work holds the GIL).
    for rel in files:
        source = os.path.join(src_root, rel)
        try:
            _copy_entry(source, os.path.join(dst_root, rel))
        except OSError as err:
            if isinstance(err, FileNotFoundError) and not os.path.lexists(source):
                continue  # deleted since the list was made
            raise _copy_error(rel, dest, err) from None


def _copy_error(rel: str, dest: Path, err: OSError) -> AmoskysError:
    return AmoskysError(
        f"cannot copy {rel} into {dest}: {err.strerror or err}",
        location=Location(rel),
        hint="check that the file is readable and that the disk has room",
    )


def _parent_dirs(files: Iterable[str]) -> list[str]:
    folders: set[str] = set()
    for rel in files:
        parent = os.path.dirname(rel)
        while parent and parent not in folders:
            folders.add(parent)
            parent = os.path.dirname(parent)
    return sorted(folders)


def _copy_entry(src: str, dst: str) -> None:
    """Copy one file (content, mode, mtime) or symlink; skip anything else."""
    info = os.lstat(src)
    if stat.S_ISLNK(info.st_mode):
        target = os.readlink(src)
        try:
            os.symlink(target, dst)
        except FileExistsError:
            _remove_entry(dst)
            os.symlink(target, dst)
        return
    if not stat.S_ISREG(info.st_mode):
        return  # a folder (uninitialised submodule), fifo or socket
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    fsrc = os.open(src, os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        try:
            fdst = os.open(dst, flags, 0o600)
        except FileExistsError:
            _remove_entry(dst)
            fdst = os.open(dst, flags, 0o600)
        try:
            _copy_data(fsrc, fdst, info.st_size)
            _set_mode_and_times(fdst, dst, info)
        finally:
            os.close(fdst)
    finally:
        os.close(fsrc)


def _copy_data(fsrc: int, fdst: int, size: int) -> None:
    if size < _SMALL_FILE or not hasattr(os, "sendfile") or not sys.platform.startswith("linux"):
        while True:
            chunk = os.read(fsrc, max(size + 1, 64 * 1024))
            if not chunk:
                return
            view = memoryview(chunk)
            while view:
                view = view[os.write(fdst, view) :]
    offset = 0
    while True:
        sent = os.sendfile(fdst, fsrc, offset, max(size - offset, 1 << 20))
        if sent == 0:
            return
        offset += sent


def _set_mode_and_times(fd: int, path: str, info: os.stat_result) -> None:
    mode = stat.S_IMODE(info.st_mode) & 0o777
    times = (info.st_atime_ns, info.st_mtime_ns)
    if os.chmod in os.supports_fd:
        os.chmod(fd, mode)
    else:
        os.chmod(path, mode)
    if os.utime in os.supports_fd:
        os.utime(fd, ns=times)
    else:
        os.utime(path, ns=times)


def _remove_entry(path: str) -> None:
    """Remove what is at ``path`` so a file can be written there (read-only files too)."""
    try:
        os.unlink(path)
    except PermissionError:
        _make_writable(path)
        os.unlink(path)


# -- removal --------------------------------------------------------------------------------


def remove_workspace(path: Path) -> None:
    """Delete a workspace folder, even with read-only files or folders in it (no-op if gone)."""
    target = os.fspath(path)
    if os.path.islink(target) or os.path.isfile(target):
        _remove_entry(target)
        return
    if not os.path.isdir(target):
        return
    _make_writable(target)
    if sys.version_info >= (3, 12):
        shutil.rmtree(target, onexc=_retry_removal)
    else:
        shutil.rmtree(target, onerror=lambda func, p, exc: _retry_removal(func, p, exc[1]))


def _retry_removal(func: Callable[..., object], path: str, exc: BaseException) -> None:
    """rmtree's error handler: make ``path`` and its folder writable, then try again."""
    if isinstance(exc, FileNotFoundError):
        return
    if not isinstance(exc, PermissionError):
        raise exc
    _make_writable(os.path.dirname(path))
    _make_writable(path)
    if func in (os.unlink, os.remove, os.rmdir):
        func(path)
    elif os.path.isdir(path) and not os.path.islink(path):
        remove_workspace(Path(path))  # a folder that could not be listed: now it can
    else:
        raise exc


def _make_writable(path: str) -> None:
    try:
        info = os.lstat(path)
    except OSError:
        return
    if stat.S_ISLNK(info.st_mode):
        return
    extra = stat.S_IRWXU if stat.S_ISDIR(info.st_mode) else stat.S_IRUSR | stat.S_IWUSR
    if info.st_mode & extra != extra:
        os.chmod(path, stat.S_IMODE(info.st_mode) | extra)
