"""The run's artifact store: upload-artifact v4's root, hidden-file and naming rules; download."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from amoskys.errors import AmoskysError
from amoskys.run.artifact_store import (
    FORBIDDEN_NAME_CHARACTERS,
    ArtifactStore,
    validate_artifact_name,
)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    folder.mkdir()
    return folder


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "run/artifacts")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def files_in(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def downloaded(store: ArtifactStore, name: str, tmp_path: Path) -> dict[str, str]:
    dest = tmp_path / f"dl-{name}"
    store.download(name, dest)
    return files_in(dest)


# --------------------------------------------------------------------------- the root


def test_a_single_file_is_uploaded_from_its_own_folder(
    ws: Path, store: ArtifactStore, tmp_path: Path
) -> None:
    write(ws / "path/to/artifact/world.txt", "hello")
    result = store.upload("my-artifact", "path/to/artifact/world.txt", ws)
    assert result.uploaded and result.files == 1 and result.size == 5
    assert result.root == ws / "path/to/artifact"
    assert downloaded(store, "my-artifact", tmp_path) == {"world.txt": "hello"}


def test_a_directory_is_uploaded_as_its_contents(
    ws: Path, store: ArtifactStore, tmp_path: Path
) -> None:
    write(ws / "out/a.txt", "a")
    write(ws / "out/sub/b.txt", "b")
    (ws / "out/empty").mkdir()
    store.upload("dir", "out/", ws)
    assert downloaded(store, "dir", tmp_path) == {"a.txt": "a", "sub/b.txt": "b"}
    assert (tmp_path / "dl-dir/empty").is_dir()


def test_wildcards_keep_the_hierarchy_after_the_first_wildcard(
    ws: Path, store: ArtifactStore, tmp_path: Path
) -> None:
    for rel in ("some/directory/foo1.txt", "some/directory/foo2.txt", "other/directory/foo1.txt"):
        write(ws / "path/to" / rel, rel)
    write(ws / "path/to/other/directory/bar.txt", "not matched")
    result = store.upload("wild", "path/to/*/directory/foo?.txt", ws)
    assert result.root == ws / "path/to" and result.files == 3
    assert sorted(downloaded(store, "wild", tmp_path)) == [
        "other/directory/foo1.txt",
        "some/directory/foo1.txt",
        "some/directory/foo2.txt",
    ]


def test_several_paths_use_their_least_common_ancestor_and_exclusions_do_not_change_it(
    ws: Path, store: ArtifactStore, tmp_path: Path
) -> None:
    write(ws / "path/output/bin/app", "app")
    write(ws / "path/output/bin/app.tmp", "tmp")
    write(ws / "path/output/test-results/r.xml", "xml")
    paths = "path/output/bin/\npath/output/test-results\n!path/**/*.tmp"
    result = store.upload("multi", paths, ws)
    assert result.root == ws / "path/output"
    assert downloaded(store, "multi", tmp_path) == {
        "bin/app": "app",
        "test-results/r.xml": "xml",
    }


def test_tilde_uses_the_given_home_and_absolute_paths_are_allowed(
    ws: Path, store: ArtifactStore, tmp_path: Path
) -> None:
    home = tmp_path / "fakehome"
    write(home / "new/artifact/world.txt", "hi")
    assert store.upload("tilde", "~/new/**/*", ws, home=home).root == home / "new"
    assert downloaded(store, "tilde", tmp_path) == {"artifact/world.txt": "hi"}
    write(tmp_path / "abs/x.txt", "x")
    assert store.upload("abs", str(tmp_path / "abs/x.txt"), ws).files == 1


def test_symlinks_are_followed_and_permissions_are_not_kept(
    ws: Path, store: ArtifactStore, tmp_path: Path
) -> None:
    target = write(tmp_path / "real.sh", "#!/bin/sh\n")
    target.chmod(0o755)
    (ws / "dist").mkdir()
    os.symlink(target, ws / "dist/run.sh")
    os.symlink("/nonexistent", ws / "dist/broken")
    result = store.upload("links", "dist", ws)
    assert result.files == 1 and any("broken" in w for w in result.warnings)
    dest = tmp_path / "dl"
    (path,) = store.download("links", dest)
    assert path == dest / "run.sh" and not path.is_symlink()
    assert path.read_text(encoding="utf-8") == "#!/bin/sh\n"
    assert not stat.S_IMODE(path.stat().st_mode) & 0o111


# --------------------------------------------------------------------------- hidden files


def test_hidden_files_and_folders_are_left_out_by_default(
    ws: Path, store: ArtifactStore, tmp_path: Path
) -> None:
    write(ws / "out/visible.txt", "v")
    write(ws / "out/.env", "SECRET=1")
    write(ws / "out/.cache/data", "c")
    write(ws / "out/sub/.hidden", "h")
    store.upload("plain", "out", ws)
    assert downloaded(store, "plain", tmp_path) == {"visible.txt": "v"}
    store.upload("all", "out\n!out/.env", ws, include_hidden_files=True)
    assert downloaded(store, "all", tmp_path) == {
        ".cache/data": "c",
        "sub/.hidden": "h",
        "visible.txt": "v",
    }


def test_a_hidden_file_named_explicitly_is_still_hidden(ws: Path, store: ArtifactStore) -> None:
    write(ws / ".tagrc", "v1.2.3")
    result = store.upload("tag", ".tagrc", ws)
    assert not result.uploaded and any("No files were found" in w for w in result.warnings)
    assert store.upload("tag", ".tagrc", ws, include_hidden_files=True).files == 1


def test_a_hidden_folder_above_the_search_path_does_not_hide(
    ws: Path, store: ArtifactStore
) -> None:
    write(ws / ".build/reports/r.txt", "r")
    assert store.upload("reports", ".build/reports", ws).files == 1


# --------------------------------------------------------------------------- if-no-files-found


def test_if_no_files_found_warn_error_ignore(ws: Path, store: ArtifactStore) -> None:
    warned = store.upload("a", "nothing/here", ws)
    assert not warned.uploaded and warned.sha256 == ""
    assert warned.warnings == (
        "No files were found with the provided path: nothing/here. No artifacts will be uploaded.",
    )
    assert store.upload("a", "nothing/here", ws, if_no_files_found="ignore").warnings == ()
    with pytest.raises(AmoskysError, match="No files were found"):
        store.upload("a", "nothing/here", ws, if_no_files_found="error")
    with pytest.raises(AmoskysError, match="not recognised") as info:
        store.upload("a", "nothing/here", ws, if_no_files_found="fail")
    assert info.value.hint == "use one of: warn, error, ignore"
    assert store.list() == []


def test_empty_folders_alone_are_no_files(ws: Path, store: ArtifactStore) -> None:
    (ws / "empty/inner").mkdir(parents=True)
    assert not store.upload("e", "empty", ws).uploaded


# --------------------------------------------------------------------------- names


def test_the_same_name_twice_is_an_error_unless_overwrite(
    ws: Path, store: ArtifactStore, tmp_path: Path
) -> None:
    write(ws / "my-file.txt", "hello world")
    first = store.upload("artifact", "my-file.txt", ws)
    write(ws / "my-file.txt", "goodbye world")
    with pytest.raises(AmoskysError, match="already exists") as info:
        store.upload("artifact", "my-file.txt", ws)
    assert info.value.hint and "overwrite" in info.value.hint
    assert downloaded(store, "artifact", tmp_path) == {"my-file.txt": "hello world"}
    second = store.upload("artifact", "my-file.txt", ws, overwrite=True)
    assert second.sha256 != first.sha256
    assert files_in(store.root / "artifact/files") == {"my-file.txt": "goodbye world"}
    assert [a.name for a in store.list()] == ["artifact"]


def test_overwrite_without_an_existing_artifact_just_uploads(
    ws: Path, store: ArtifactStore
) -> None:
    write(ws / "f", "f")
    assert store.upload("new", "f", ws, overwrite=True).uploaded


@pytest.mark.parametrize("char", sorted(FORBIDDEN_NAME_CHARACTERS))
def test_forbidden_characters_in_names(char: str, ws: Path, store: ArtifactStore) -> None:
    write(ws / "f", "f")
    with pytest.raises(AmoskysError, match=FORBIDDEN_NAME_CHARACTERS[char]):
        store.upload(f"bad{char}name", "f", ws)


def test_valid_and_invalid_names(ws: Path) -> None:
    for name in ("my-artifact", "binary ubuntu-latest a", "v1.2.3_build+7", ".dotted"):
        validate_artifact_name(name)
    for name in ("", ".", ".."):
        with pytest.raises(AmoskysError):
            validate_artifact_name(name)


# --------------------------------------------------------------------------- download & list


@pytest.fixture
def three(ws: Path, store: ArtifactStore) -> ArtifactStore:
    for name in ("Artifact-A", "Artifact-B", "other"):
        write(ws / name / f"{name}.txt", name)
        write(ws / name / "shared.txt", f"shared from {name}")
        store.upload(name, name, ws)
    return store


def test_download_all_puts_each_artifact_in_its_own_folder(
    three: ArtifactStore, tmp_path: Path
) -> None:
    dest = tmp_path / "all"
    written = three.download(None, dest)
    assert len(written) == 6
    assert files_in(dest) == {
        "Artifact-A/Artifact-A.txt": "Artifact-A",
        "Artifact-A/shared.txt": "shared from Artifact-A",
        "Artifact-B/Artifact-B.txt": "Artifact-B",
        "Artifact-B/shared.txt": "shared from Artifact-B",
        "other/other.txt": "other",
        "other/shared.txt": "shared from other",
    }


def test_download_by_pattern_and_merge_multiple(three: ArtifactStore, tmp_path: Path) -> None:
    dest = tmp_path / "merged"
    three.download(None, dest, pattern="Artifact-*", merge_multiple=True)
    assert files_in(dest) == {
        "Artifact-A.txt": "Artifact-A",
        "Artifact-B.txt": "Artifact-B",
        "shared.txt": "shared from Artifact-B",  # uploaded later, so it wins
    }
    assert three.download(None, tmp_path / "none", pattern="nomatch-*") == []


def test_download_by_name_ignores_pattern_and_unknown_names_fail(
    three: ArtifactStore, tmp_path: Path
) -> None:
    dest = tmp_path / "one"
    three.download("other", dest, pattern="Artifact-*")
    assert sorted(files_in(dest)) == ["other.txt", "shared.txt"]
    with pytest.raises(AmoskysError, match="not found") as info:
        three.download("missing", dest)
    assert info.value.hint and "Artifact-A" in info.value.hint


def test_download_overwrites_existing_files(three: ArtifactStore, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    write(dest / "shared.txt", "stale")
    three.download("other", dest)
    assert (dest / "shared.txt").read_text(encoding="utf-8") == "shared from other"


def test_list_reports_complete_artifacts_only(three: ArtifactStore) -> None:
    (three.root / ".tmp-0123").mkdir()
    write(three.root / ".tmp-0123/manifest.json", '{"format": 1, "name": "half"')
    (three.root / "stray").mkdir()
    infos = three.list()
    assert [a.name for a in infos] == ["Artifact-A", "Artifact-B", "other"]
    assert infos[0].files == 2
    assert infos[0].size == len("Artifact-A") + len("shared from Artifact-A")
    assert three.get("other") == infos[2] and three.get("stray") is None
    assert three.delete("other") and not three.delete("other")
    assert [a.name for a in three.list()] == ["Artifact-A", "Artifact-B"]


def test_the_digest_depends_on_content_not_on_the_name(ws: Path, store: ArtifactStore) -> None:
    write(ws / "d/f.txt", "same")
    one = store.upload("one", "d", ws)
    two = store.upload("two", "d", ws)
    assert one.sha256 == two.sha256 and len(one.sha256) == 64
    write(ws / "d/f.txt", "different")
    assert store.upload("three", "d", ws).sha256 != one.sha256


def test_the_store_never_uploads_itself(ws: Path) -> None:
    store = ArtifactStore(ws / ".amoskys/runs/1/artifacts")
    write(ws / "f.txt", "f")
    store.upload("first", ".", ws, include_hidden_files=True)
    result = store.upload("second", ".", ws, include_hidden_files=True)
    assert result.files == 1
