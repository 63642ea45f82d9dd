"""The local cache store: GitHub's key matching, immutability, dedup, atomicity, LRU prune."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from amoskys.errors import AmoskysError
from amoskys.run.cache_store import (
    MAX_KEY_LENGTH,
    CacheStore,
    cache_version,
    find_paths,
    parse_path_patterns,
    validate_key,
)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    folder.mkdir()
    return folder


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "fakehome"
    folder.mkdir()
    return folder


@pytest.fixture
def store(tmp_path: Path) -> CacheStore:
    return CacheStore(tmp_path / "store")


def write(path: Path, text: str, mode: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if mode is not None:
        path.chmod(mode)
    return path


def tree(root: Path) -> dict[str, str]:
    """Everything below ``root``: files as text, links as '-> target', empty dirs as '/'."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            out[rel] = path.read_text(encoding="utf-8")
        elif not any(path.iterdir()):
            out[rel] = "/"
    return out


def blobs(store: CacheStore) -> list[Path]:
    return [p for p in (store.root / "objects").rglob("*") if p.is_file()]


# --------------------------------------------------------------------------- round trip


def test_round_trip_keeps_content_modes_symlinks_nested_and_empty_dirs(
    ws: Path, store: CacheStore
) -> None:
    write(ws / "deps/bin/tool", "#!/bin/sh\n", 0o755)
    write(ws / "deps/lib/a/b/c/deep.txt", "deep")
    write(ws / "deps/ro.txt", "read only", 0o444)
    (ws / "deps/empty/inner").mkdir(parents=True)
    os.symlink("bin/tool", ws / "deps/tool-link")
    os.symlink("/nonexistent/target", ws / "deps/dangling")
    mtime = 1_600_000_000_000_000_000
    os.utime(ws / "deps/lib/a/b/c/deep.txt", ns=(mtime, mtime))
    before = tree(ws)

    saved = store.save("deps-1", "deps", ws)
    assert saved.status == "saved" and saved.saved
    assert saved.files == 3 and saved.size == len("#!/bin/sh\n") + 4 + 9

    fresh = ws.parent / "fresh"
    fresh.mkdir()
    result = store.restore("deps-1", [], "deps", fresh)
    assert result.hit and result.matched_key == "deps-1" and result.files == 3
    assert tree(fresh) == before
    assert stat.S_IMODE((fresh / "deps/bin/tool").stat().st_mode) == 0o755
    assert stat.S_IMODE((fresh / "deps/ro.txt").stat().st_mode) == 0o444
    assert (fresh / "deps/tool-link").is_symlink()
    assert (fresh / "deps/dangling").is_symlink()
    assert (fresh / "deps/lib/a/b/c/deep.txt").stat().st_mtime_ns == mtime


def test_restore_copies_and_never_links_blobs(ws: Path, store: CacheStore) -> None:
    write(ws / "c/file.txt", "original")
    store.save("k", "c", ws)
    (ws / "c/file.txt").unlink()
    store.restore("k", [], "c", ws)
    restored = ws / "c/file.txt"
    assert restored.stat().st_nlink == 1
    restored.write_text("changed later", encoding="utf-8")
    (blob,) = blobs(store)
    assert blob.read_text(encoding="utf-8") == "original"
    other = ws.parent / "other"
    store.restore("k", [], "c", other)
    assert (other / "c/file.txt").read_text(encoding="utf-8") == "original"


def test_restore_overwrites_existing_files_and_replaces_a_symlink_in_the_way(
    ws: Path, store: CacheStore, tmp_path: Path
) -> None:
    write(ws / "c/f.txt", "cached")
    store.save("k", "c", ws)
    outside = write(tmp_path / "outside.txt", "must stay")
    (ws / "c/f.txt").unlink()
    os.symlink(outside, ws / "c/f.txt")
    store.restore("k", [], "c", ws)
    assert not (ws / "c/f.txt").is_symlink()
    assert (ws / "c/f.txt").read_text(encoding="utf-8") == "cached"
    assert outside.read_text(encoding="utf-8") == "must stay"


def test_tilde_paths_are_kept_relative_to_home(ws: Path, home: Path, store: CacheStore) -> None:
    write(home / ".cache/pip/wheels/x.whl", "wheel")
    saved = store.save("pip", "~/.cache/pip", ws, home=home)
    assert saved.files == 1
    other_home = home.parent / "otherhome"
    result = store.restore("pip", [], "~/.cache/pip", ws, home=other_home)
    assert result.hit
    assert (other_home / ".cache/pip/wheels/x.whl").read_text(encoding="utf-8") == "wheel"


def test_absolute_paths_outside_workspace_and_home_restore_to_the_same_place(
    ws: Path, home: Path, store: CacheStore, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    write(elsewhere / "data.bin", "abs")
    store.save("abs", str(elsewhere), ws, home=home)
    (elsewhere / "data.bin").unlink()
    assert store.restore("abs", [], str(elsewhere), ws, home=home).hit
    assert (elsewhere / "data.bin").read_text(encoding="utf-8") == "abs"


def test_nothing_matched_saves_nothing(ws: Path, store: CacheStore) -> None:
    result = store.save("k", "missing/dir", ws)
    assert result.status == "empty" and not result.saved
    assert "no cache is being saved" in result.message
    assert store.entries() == []


# --------------------------------------------------------------------------- key matching


def test_exact_key_is_a_hit_and_wins_over_newer_prefix_matches(ws: Path, store: CacheStore) -> None:
    write(ws / "c/v.txt", "exact")
    store.save("npm-abc", "c", ws)
    write(ws / "c/v.txt", "newer")
    store.save("npm-abcdef", "c", ws)
    result = store.restore("npm-abc", ["npm-"], "c", ws)
    assert result.hit and result.matched_key == "npm-abc"
    assert (ws / "c/v.txt").read_text(encoding="utf-8") == "exact"


def test_restore_keys_are_prefixes_tried_in_order_and_the_newest_match_wins(
    ws: Path, store: CacheStore
) -> None:
    for key in ("npm-feature-111", "npm-feature-222", "npm-main-333"):
        write(ws / "c/v.txt", key)
        store.save(key, "c", ws)
    result = store.restore("npm-feature-999", ["npm-feature-", "npm-"], "c", ws)
    assert not result.hit and result.matched_key == "npm-feature-222"
    assert (ws / "c/v.txt").read_text(encoding="utf-8") == "npm-feature-222"
    result = store.restore("npm-other-1", ["npm-nothing-", "npm-"], "c", ws)
    assert result.matched_key == "npm-main-333"
    assert store.restore("pip-1", ["pip-"], "c", ws) == type(result)(False, None)


def test_a_restore_key_matching_exactly_beats_newer_keys_it_prefixes(
    ws: Path, store: CacheStore
) -> None:
    write(ws / "c/v.txt", "1")
    store.save("deps", "c", ws)
    write(ws / "c/v.txt", "2")
    store.save("deps-newer", "c", ws)
    assert store.restore("x", ["deps"], "c", ws).matched_key == "deps"


def test_the_primary_key_also_matches_as_a_prefix_without_a_hit(
    ws: Path, store: CacheStore
) -> None:
    write(ws / "c/v.txt", "1")
    store.save("build-linux-1234", "c", ws)
    result = store.restore("build-linux", [], "c", ws)
    assert not result.hit and result.matched_key == "build-linux-1234"


def test_a_different_path_list_or_os_is_another_version_and_misses(
    ws: Path, tmp_path: Path
) -> None:
    write(ws / "a/x.txt", "x")
    write(ws / "b/y.txt", "y")
    store = CacheStore(tmp_path / "store", os_name="linux")
    store.save("k", "a\nb", ws)
    assert not store.restore("k", ["k"], "a", ws).hit
    assert store.restore("k", ["k"], "a", ws).matched_key is None
    assert store.restore("k", [], "b\na", ws).hit  # order of lines does not matter
    other_os = CacheStore(tmp_path / "store", os_name="windows")
    assert other_os.restore("k", ["k"], "a\nb", ws).matched_key is None
    assert cache_version("a\nb", "linux") == cache_version(["b", "a"], "linux")
    assert cache_version("a", "linux") != cache_version("a", "darwin")


def test_lookup_only_finds_without_writing(ws: Path, store: CacheStore) -> None:
    write(ws / "c/v.txt", "cached")
    store.save("k", "c", ws)
    (ws / "c/v.txt").unlink()
    result = store.restore("k", [], "c", ws, lookup_only=True)
    assert result.hit and not (ws / "c/v.txt").exists()


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "key, words",
    [("a" * (MAX_KEY_LENGTH + 1), "at most 512"), ("a,b", "comma"), ("", "empty")],
)
def test_bad_keys_are_errors(key: str, words: str, ws: Path, store: CacheStore) -> None:
    write(ws / "c/v.txt", "x")
    with pytest.raises(AmoskysError, match=words) as info:
        store.save(key, "c", ws)
    assert info.value.hint
    with pytest.raises(AmoskysError, match=words):
        store.restore(key, [], "c", ws)


def test_bad_restore_keys_and_empty_paths_are_errors(ws: Path, store: CacheStore) -> None:
    validate_key("a" * MAX_KEY_LENGTH)
    with pytest.raises(AmoskysError, match="restore key"):
        store.restore("k", ["ok", "not,ok"], "c", ws)
    with pytest.raises(AmoskysError, match="at least one path"):
        store.save("k", "\n  \n", ws)


# --------------------------------------------------------------------------- immutability


def test_entries_are_immutable_a_second_save_is_a_no_op(ws: Path, store: CacheStore) -> None:
    write(ws / "c/v.txt", "first")
    assert store.save("k", "c", ws).status == "saved"
    write(ws / "c/v.txt", "second")
    again = store.save("k", "c", ws)
    assert again.status == "exists" and "already exists" in again.message
    store.restore("k", [], "c", ws)
    assert (ws / "c/v.txt").read_text(encoding="utf-8") == "first"
    assert len(store.entries()) == 1


def test_concurrent_savers_of_one_key_first_wins(ws: Path, store: CacheStore) -> None:
    for i in range(50):
        write(ws / f"c/{i}.txt", f"file {i}")
    barrier = threading.Barrier(4)
    statuses: list[str] = []

    def save() -> None:
        barrier.wait()
        statuses.append(store.save("race", "c", ws).status)

    threads = [threading.Thread(target=save) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == ["exists", "exists", "exists", "saved"]
    assert len(store.entries()) == 1


# --------------------------------------------------------------------------- dedup & atomicity


def test_identical_files_are_stored_once_across_entries(ws: Path, store: CacheStore) -> None:
    write(ws / "c/one.txt", "same bytes")
    write(ws / "c/two.txt", "same bytes")
    first = store.save("k1", "c", ws)
    assert first.files == 2 and first.new_bytes == len("same bytes")
    write(ws / "c/three.txt", "same bytes")
    second = store.save("k2", "c", ws)
    assert second.files == 3 and second.new_bytes == 0
    assert len(blobs(store)) == 1
    assert stat.S_IMODE(blobs(store)[0].stat().st_mode) == 0o444


def test_an_interrupted_manifest_write_is_ignored(ws: Path, store: CacheStore) -> None:
    write(ws / "c/v.txt", "good")
    store.save("good", "c", ws)
    version = store.version("c")
    # A crash while writing a manifest leaves only a temporary file, or at worst a broken one.
    (store.root / "tmp" / "deadbeef.json").write_text('{"format": 1, "key": "crash', "utf-8")
    (store.root / "entries" / ("0" * 64 + ".json")).write_text('{"format": 1, "ke', "utf-8")
    (store.root / "entries" / ("1" * 64 + ".json.tmp")).write_text("{}", "utf-8")
    assert [e.key for e in store.entries()] == ["good"]
    assert store.restore("crash", ["crash"], "c", ws).matched_key is None
    assert store.restore("x", ["g"], "c", ws).matched_key == "good"
    assert store.entries()[0].version == version


def test_an_entry_with_a_missing_blob_is_skipped(ws: Path, store: CacheStore) -> None:
    write(ws / "c/v.txt", "old")
    store.save("k-old", "c", ws)
    write(ws / "c/v.txt", "new")
    store.save("k-new", "c", ws)
    next(p for p in blobs(store) if p.read_text(encoding="utf-8") == "new").unlink()
    result = store.restore("k", ["k-"], "c", ws)
    assert result.matched_key == "k-old" and any("missing blobs" in w for w in result.warnings)


# --------------------------------------------------------------------------- patterns


def test_globs_and_exclusions(ws: Path, store: CacheStore) -> None:
    write(ws / "src/a.py", "a")
    write(ws / "src/pkg/b.py", "b")
    write(ws / "src/pkg/test_b.py", "t")
    write(ws / "src/pkg/notes.txt", "n")
    write(ws / "build/out.o", "o")
    write(ws / "build/keep/me.o", "k")
    write(ws / "build/deep/x.o", "x")
    write(ws / "build/deep/x.c", "c")
    write(ws / "node_modules/m/i.js", "i")
    # Later lines win: '!build/**/*.o' drops every .o file, 'build/keep' brings one folder back.
    paths = "# a comment\n**/*.py\n!**/test_*\nbuild/\n!build/**/*.o\nbuild/keep"
    saved = store.save("g", paths, ws)
    assert saved.files == 4
    fresh = ws.parent / "fresh"
    store.restore("g", [], paths, fresh)
    assert tree(fresh) == {
        "build/deep/x.c": "c",
        "build/keep/me.o": "k",
        "src/a.py": "a",
        "src/pkg/b.py": "b",
    }


def test_an_excluded_folder_is_left_out_entirely(ws: Path) -> None:
    write(ws / "keep.txt", "k")
    write(ws / "node_modules/m/i.js", "i")
    (ws / "node_modules/empty").mkdir()
    found = find_paths(parse_path_patterns(".\n!node_modules", ws))
    assert [f.path for f in found.found] == [ws / "keep.txt"]


def test_pattern_engine_search_paths_and_directory_only_patterns(ws: Path, home: Path) -> None:
    write(ws / "a/x.txt", "x")
    write(ws / "b", "a file named b")
    pats = parse_path_patterns("a/*/z?.[ch]\n~/cache\n!a\nb/", ws, home=home)
    assert [p.search_path for p in pats] == [ws / "a", home / "cache", ws / "a", ws / "b"]
    assert [p.negate for p in pats] == [False, False, True, False]
    found = find_paths(parse_path_patterns("b/\na", ws))
    assert [f.path for f in found.found] == [ws / "a/x.txt"]  # 'b/' wants a directory
    assert pats[0].matches(f"{ws.as_posix()}/a/q/z1.c", False)
    assert not pats[0].matches(f"{ws.as_posix()}/a/q/z1.py", False)
    with pytest.raises(AmoskysError, match="nothing after"):
        parse_path_patterns("!", ws)


def test_the_store_never_caches_itself(ws: Path) -> None:
    store = CacheStore(ws / ".amoskys/cache")
    write(ws / "f.txt", "f")
    store.save("one", ".", ws)
    saved = store.save("two", "**", ws)
    assert saved.files == 1


# --------------------------------------------------------------------------- prune


def test_prune_removes_least_recently_used_entries_and_orphan_blobs(
    ws: Path, store: CacheStore
) -> None:
    for n, key in enumerate(["old", "middle", "new"]):
        write(ws / "c/data.bin", str(n) * 1000)
        store.save(key, "c", ws)
    # Using "old" makes it recently used; "middle" is now the least recently used.
    for n, key in enumerate(["middle", "new", "old"]):
        entry = next(e for e in store.entries() if e.key == key)
        stamp = 1_700_000_000 + n
        os.utime(store.root / "entries" / f"{entry.id}.json", (stamp, stamp))
    assert store.size() == 3000

    result = store.prune(2000)
    assert result.removed == ("middle",)
    assert result.removed_blobs == 1 and result.freed_bytes == 1000
    assert result.remaining_bytes == 2000
    assert sorted(e.key for e in store.entries()) == ["new", "old"]
    assert store.restore("old", [], "c", ws).hit

    (store.root / "objects/ff").mkdir()
    (store.root / "objects/ff" / ("f" * 62)).write_text("orphan", encoding="utf-8")
    assert store.prune(10**9).removed_blobs == 1
    assert store.prune(0).remaining_bytes == 0
    assert store.entries() == [] and blobs(store) == []


def test_restore_marks_an_entry_as_used(ws: Path, store: CacheStore) -> None:
    write(ws / "c/a", "a")
    store.save("a", "c", ws)
    write(ws / "c/a", "b")
    store.save("b", "c", ws)
    for key in ("a", "b"):
        entry = next(e for e in store.entries() if e.key == key)
        os.utime(store.root / "entries" / f"{entry.id}.json", (1000, 1000))
    store.restore("a", [], "c", ws)
    assert store.prune(1).removed[0] == "b"


def test_delete_removes_every_version_of_a_key(ws: Path, store: CacheStore) -> None:
    write(ws / "a/f", "1")
    write(ws / "b/f", "2")
    store.save("k", "a", ws)
    store.save("k", "b", ws)
    assert store.delete("k") == 2 and store.entries() == []
