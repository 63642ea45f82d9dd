"""The job's copy of the repository, and the facts git gives about it (real git repos)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from amoskys_testing import git

from amoskys.errors import AmoskysError
from amoskys.run.workspace import (
    ZERO_SHA,
    changed_paths,
    create_workspace,
    ensure_state_dir,
    git_facts,
    list_workspace_files,
    remove_workspace,
    repo_root,
)

POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes and symlinks")


def write(root: Path, rel: str, text: str = "x\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A committed repository with an ignore file and a local identity."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Ada Local")
    write(root, ".gitignore", "*.log\nbuild/\n")
    write(root, "README.md", "original\n")
    write(root, "src/pkg/mod.py", "print('hi')\n")
    write(root, "gone.txt", "to be deleted\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


# -- which files ----------------------------------------------------------------------------


def test_tracked_and_untracked_not_ignored_files_are_listed(repo: Path) -> None:
    write(repo, "new/untracked.txt")
    write(repo, "debug.log")  # ignored
    write(repo, "build/out.bin")  # ignored folder
    write(repo, ".amoskys/runs/1/log.txt")  # state folder, even while not ignored
    (repo / "gone.txt").unlink()  # tracked, deleted in the work tree

    files = list_workspace_files(repo)

    assert files == [".gitignore", "README.md", "new/untracked.txt", "src/pkg/mod.py"]


def test_workspace_copy_holds_uncommitted_edits_and_nothing_ignored(
    repo: Path, tmp_path: Path
) -> None:
    write(repo, "README.md", "edited, not committed\n")
    write(repo, "staged.txt", "staged\n")
    git(repo, "add", "staged.txt")
    write(repo, "notes/todo.txt", "untracked\n")
    write(repo, "app.log", "ignored\n")
    (repo / "gone.txt").unlink()
    ensure_state_dir(repo)
    write(repo, ".amoskys/workspaces/old/file.txt")
    dest = tmp_path / "ws" / "run-1" / "job"

    assert create_workspace(repo, dest) == dest

    copied = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert copied == [
        ".gitignore",
        "README.md",
        "notes/todo.txt",
        "src/pkg/mod.py",
        "staged.txt",
    ]
    assert (dest / "README.md").read_text() == "edited, not committed\n"
    assert not (dest / ".git").exists()


def test_odd_file_names_survive(repo: Path, tmp_path: Path) -> None:
    names = [" leading space.txt", "with space/in dir.txt", "ünïcode.txt", "tab\there.txt"]
    for name in names:
        write(repo, name, name)
    dest = create_workspace(repo, tmp_path / "ws")
    for name in names:
        assert (dest / name).read_text(encoding="utf-8") == name


@POSIX_ONLY
def test_modes_times_and_symlinks_are_kept(repo: Path, tmp_path: Path) -> None:
    script = write(repo, "bin/run.sh", "#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    readonly = write(repo, "data/readonly.txt", "ro\n")
    readonly.chmod(0o444)
    os.utime(script, ns=(1_000_000_000_000_000_000, 1_000_000_000_123_456_789))
    (repo / "link.md").symlink_to("README.md")
    (repo / "srclink").symlink_to("src/pkg")
    (repo / "dangling").symlink_to("does/not/exist")
    big = write(repo, "big.bin", "")
    big.write_bytes(os.urandom(3 * 1024 * 1024))  # the sendfile path

    dest = create_workspace(repo, tmp_path / "ws")

    assert stat.S_IMODE((dest / "bin/run.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "data/readonly.txt").stat().st_mode) == 0o444
    assert stat.S_IMODE((dest / "README.md").stat().st_mode) == stat.S_IMODE(
        (repo / "README.md").stat().st_mode
    )
    assert (dest / "bin/run.sh").stat().st_mtime_ns == script.stat().st_mtime_ns
    assert os.readlink(dest / "link.md") == "README.md"
    assert os.readlink(dest / "srclink") == "src/pkg"
    assert os.readlink(dest / "dangling") == "does/not/exist"
    assert (dest / "srclink" / "mod.py").read_text() == "print('hi')\n"
    assert (dest / "big.bin").read_bytes() == big.read_bytes()


def test_the_copy_is_not_linked_to_the_users_files(repo: Path, tmp_path: Path) -> None:
    dest = create_workspace(repo, tmp_path / "ws")
    assert (dest / "README.md").stat().st_ino != (repo / "README.md").stat().st_ino
    (dest / "README.md").write_text("changed by a step\n")
    assert (repo / "README.md").read_text() == "original\n"


@POSIX_ONLY
def test_a_second_copy_into_the_same_folder_replaces_files(repo: Path, tmp_path: Path) -> None:
    files = list_workspace_files(repo)
    dest = create_workspace(repo, tmp_path / "ws", files)
    (dest / "README.md").chmod(0o444)
    (dest / "src/pkg/mod.py").unlink()
    (dest / "src/pkg/mod.py").symlink_to("elsewhere")
    write(repo, "README.md", "second\n")

    create_workspace(repo, dest, files)

    assert (dest / "README.md").read_text() == "second\n"
    assert not (dest / "src/pkg/mod.py").is_symlink()
    assert (dest / "src/pkg/mod.py").read_text() == "print('hi')\n"


def test_listed_files_deleted_before_the_copy_are_skipped(repo: Path, tmp_path: Path) -> None:
    files = list_workspace_files(repo)
    (repo / "README.md").unlink()
    dest = create_workspace(repo, tmp_path / "ws", files)
    assert not (dest / "README.md").exists()
    assert (dest / "src/pkg/mod.py").exists()


def test_untracked_nested_repository_is_left_out(repo: Path) -> None:
    nested = repo / "vendor" / "other"
    nested.mkdir(parents=True)
    git(nested, "init", "-q")
    write(nested, "file.txt")
    assert not any(f.startswith("vendor/") for f in list_workspace_files(repo))


def test_initialised_submodule_files_are_included(repo: Path, tmp_path: Path) -> None:
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    git(upstream, "init", "-q", "-b", "main")
    write(upstream, "lib.py", "LIB = 1\n")
    git(upstream, "add", "-A")
    git(upstream, "commit", "-q", "-m", "lib")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(upstream), "ext")
    write(repo, "ext/untracked_in_sub.py")

    files = list_workspace_files(repo)

    assert "ext/lib.py" in files and "ext/untracked_in_sub.py" in files
    assert ".gitmodules" in files and "ext" not in files
    dest = create_workspace(repo, tmp_path / "ws", files)
    assert (dest / "ext/lib.py").read_text() == "LIB = 1\n"


# -- not a repository -----------------------------------------------------------------------


def test_a_folder_that_is_not_a_repository_is_an_error_with_a_hint(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    for call in (
        lambda: repo_root(plain),
        lambda: list_workspace_files(plain),
        lambda: create_workspace(plain, tmp_path / "ws"),
        lambda: ensure_state_dir(plain),
    ):
        with pytest.raises(AmoskysError) as info:
            call()
        assert "not inside a git repository" in info.value.message
        assert info.value.hint is not None and "git init" in info.value.hint
    assert not (tmp_path / "ws").exists()
    assert not (plain / ".amoskys").exists()


def test_repo_root_from_a_subfolder_and_a_file(repo: Path) -> None:
    assert repo_root(repo / "src" / "pkg").resolve() == repo.resolve()
    assert repo_root(repo / "src" / "pkg" / "mod.py").resolve() == repo.resolve()


# -- the state folder -----------------------------------------------------------------------


def _exclude_lines(repo: Path) -> list[str]:
    return (repo / ".git" / "info" / "exclude").read_text().splitlines()


def test_state_dir_is_excluded_exactly_once(repo: Path) -> None:
    (repo / ".gitignore").write_text("*.log\n")
    git(repo, "commit", "-qam", "no state rule")
    exclude = repo / ".git" / "info" / "exclude"
    exclude.write_text("# user rules\n*.tmp")  # no final newline

    state = ensure_state_dir(repo)
    ensure_state_dir(repo)
    ensure_state_dir(repo)

    assert state == repo / ".amoskys" and state.is_dir()
    assert _exclude_lines(repo).count(".amoskys/") == 1
    assert "*.tmp" in _exclude_lines(repo)  # the user's last line is intact
    write(repo, ".amoskys/runs/1/log.txt")
    assert git(repo, "status", "--porcelain") == ""


def test_state_dir_already_ignored_leaves_exclude_alone(repo: Path) -> None:
    (repo / ".gitignore").write_text(".amoskys/\n")
    git(repo, "commit", "-qam", "ignore state")
    exclude = repo / ".git" / "info" / "exclude"
    before = exclude.read_text() if exclude.exists() else None

    ensure_state_dir(repo)

    assert (exclude.read_text() if exclude.exists() else None) == before
    assert (repo / ".amoskys" / "CACHEDIR.TAG").read_text().startswith("Signature: ")


def test_state_dir_in_a_worktree_uses_the_common_exclude_file(repo: Path, tmp_path: Path) -> None:
    (repo / ".gitignore").write_text("")
    git(repo, "commit", "-qam", "no rules")
    tree = tmp_path / "tree"
    git(repo, "worktree", "add", "-q", str(tree), "-b", "side")
    assert (tree / ".git").is_file()

    ensure_state_dir(tree)
    ensure_state_dir(tree)

    assert _exclude_lines(repo).count(".amoskys/") == 1
    assert git(tree, "status", "--porcelain") == ""


# -- git facts ------------------------------------------------------------------------------


def test_git_facts_of_a_repository_without_commits(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q", "-b", "trunk")
    git(root, "config", "user.name", "Fresh Person")
    write(root, "a.py")
    write(root, "dir/b.py")

    facts = git_facts(root)

    assert facts.sha == ZERO_SHA
    assert facts.ref == "refs/heads/trunk" and facts.branch == "trunk"
    assert facts.changed == ("a.py", "dir/b.py")
    assert facts.actor == "Fresh Person"
    assert facts.remote_url is None
    assert changed_paths(root, None) == ("a.py", "dir/b.py")


def test_git_facts_of_a_working_repository(repo: Path) -> None:
    git(repo, "remote", "add", "upstream", "https://example.com/up.git")
    git(repo, "remote", "add", "origin", "https://example.com/me/repo.git")
    write(repo, "README.md", "unstaged edit\n")
    write(repo, "src/pkg/new.py")
    git(repo, "add", "src/pkg/new.py")  # staged
    git(repo, "rm", "-q", "gone.txt")  # staged deletion
    write(repo, "untracked dir/file.txt")
    write(repo, "ignored.log")

    facts = git_facts(repo)

    assert facts.sha == git(repo, "rev-parse", "HEAD").strip()
    assert facts.ref == "refs/heads/main" and facts.branch == "main"
    assert facts.changed == ("README.md", "gone.txt", "src/pkg/new.py", "untracked dir/file.txt")
    assert facts.actor == "Ada Local"
    assert facts.remote_url == "https://example.com/me/repo.git"


def test_git_facts_on_a_detached_head(repo: Path) -> None:
    sha = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "--detach")
    facts = git_facts(repo)
    assert facts.sha == sha and facts.ref == sha and facts.branch is None
    assert facts.changed == ()


def test_actor_falls_back_to_the_login_name(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git(repo, "config", "--unset", "user.name")
    monkeypatch.setenv("USER", "login-name")
    assert git_facts(repo).actor == "login-name"


def test_changed_paths_against_a_base_branch(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    write(repo, "feature.py", "committed on the branch\n")
    git(repo, "add", "feature.py")
    git(repo, "commit", "-q", "-m", "feature")
    git(repo, "checkout", "-q", "main")
    write(repo, "main-only.txt")
    git(repo, "add", "main-only.txt")
    git(repo, "commit", "-q", "-m", "main moves on")
    git(repo, "checkout", "-q", "feature")
    write(repo, "README.md", "uncommitted\n")
    write(repo, "scratch/new.txt")
    (repo / "gone.txt").unlink()

    changed = changed_paths(repo, "main")

    # main-only.txt is not in the diff: the comparison starts at the merge-base
    assert changed == ("README.md", "feature.py", "gone.txt", "scratch/new.txt")
    assert changed_paths(repo, None) == ("README.md", "gone.txt", "scratch/new.txt")


def test_changed_paths_with_an_unknown_base_is_an_error(repo: Path) -> None:
    with pytest.raises(AmoskysError) as info:
        changed_paths(repo, "no-such-branch")
    assert "no-such-branch" in info.value.message
    assert info.value.hint is not None and "git fetch" in info.value.hint


def test_changed_paths_without_common_history_is_an_error(repo: Path) -> None:
    git(repo, "checkout", "-q", "--orphan", "unrelated")
    git(repo, "commit", "-q", "-m", "unrelated root")
    with pytest.raises(AmoskysError, match="no commit in common"):
        changed_paths(repo, "main")


# -- removal --------------------------------------------------------------------------------


@POSIX_ONLY
def test_remove_workspace_with_read_only_files_and_folders(repo: Path, tmp_path: Path) -> None:
    dest = create_workspace(repo, tmp_path / "ws")
    write(dest, "locked/deep/file.txt").chmod(0o444)
    (dest / "locked" / "deep").chmod(0o555)
    (dest / "locked").chmod(0o500)
    (dest / "src/pkg/mod.py").chmod(0o400)

    remove_workspace(dest)

    assert not dest.exists()
    remove_workspace(dest)  # gone already: nothing to do


def test_remove_workspace_retries_after_a_permission_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "ws"
    write(target, "sub/file.txt")
    refused: list[str] = []
    real_unlink = os.unlink

    def unlink_refusing_once(path: str, *args: object, **kwargs: object) -> None:
        if not refused:  # as Windows does for a read-only file
            refused.append(os.fspath(path))
            raise PermissionError(13, "Permission denied", os.fspath(path))
        real_unlink(path, *args, **kwargs)  # type: ignore[arg-type]

    with monkeypatch.context() as patch:
        patch.setattr(os, "unlink", unlink_refusing_once)
        remove_workspace(target)

    assert refused and not target.exists()


def test_remove_workspace_on_a_single_file(tmp_path: Path) -> None:
    lone = write(tmp_path, "lone.txt")
    remove_workspace(lone)
    assert not lone.exists()
