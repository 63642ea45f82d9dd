"""changes_since (real git repositories) and changed_code (one small case per kind of edit)."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from amoskys_testing import git
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amoskys.errors import AmoskysError
from amoskys.select.changes import (
    ChangedCode,
    FileChange,
    changed_code,
    changes_since,
    defined_names,
    reach_at_import,
)

Repo = Callable[..., Path]

# -- changes_since --------------------------------------------------------------------------


def _head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def _by_path(changes: list[FileChange]) -> dict[str, FileChange]:
    return {c.path: c for c in changes}


def test_nothing_changed_gives_no_changes(make_repo: Repo) -> None:
    root = make_repo({"src/pkg/a.py": "A = 1\n", "tests/test_a.py": "def test(): pass\n"})
    assert changes_since(root, _head(root), {}) == []


def test_committed_staged_unstaged_and_untracked_changes(make_repo: Repo) -> None:
    root = make_repo(
        {
            "a.py": "A = 1\n",
            "b.py": "B = 1\n",
            "c.py": "C = 1\n",
            "d.py": "D = 1\n",
            ".gitignore": "ignored.py\n",
        }
    )
    base = _head(root)
    (root / "a.py").write_text("A = 2\n")
    git(root, "commit", "-qam", "committed")  # a commit after the map's commit
    (root / "b.py").write_text("B = 2\n")
    git(root, "add", "b.py")  # staged
    (root / "c.py").write_text("C = 2\n")  # unstaged
    (root / "new.py").write_text("N = 1\n")  # untracked
    (root / "ignored.py").write_text("I = 1\n")  # ignored: not a change
    found = _by_path(changes_since(root, base, {}))
    assert set(found) == {"a.py", "b.py", "c.py", "new.py"}
    assert found["a.py"] == FileChange("a.py", "A = 1\n", "A = 2\n")
    assert found["b.py"].new_text == "B = 2\n"
    assert found["c.py"] == FileChange("c.py", "C = 1\n", "C = 2\n")
    assert found["new.py"] == FileChange("new.py", None, "N = 1\n")


def test_deletion_and_rename(make_repo: Repo) -> None:
    root = make_repo({"pkg/old.py": "X = 1\n", "pkg/gone.py": "Y = 1\n"})
    base = _head(root)
    git(root, "mv", "pkg/old.py", "pkg/new.py")
    (root / "pkg/gone.py").unlink()
    found = _by_path(changes_since(root, base, {}))
    assert found["pkg/old.py"] == FileChange("pkg/old.py", "X = 1\n", None)
    assert found["pkg/new.py"] == FileChange("pkg/new.py", None, "X = 1\n")
    assert found["pkg/gone.py"] == FileChange("pkg/gone.py", "Y = 1\n", None)


def test_binary_files_are_reported_without_text(make_repo: Repo) -> None:
    root = make_repo({"pkg/a.py": "A = 1\n"})
    (root / "pkg/data.bin").write_bytes(b"\x00\x01\x02")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "bin")
    base = _head(root)
    (root / "pkg/data.bin").write_bytes(b"\x00\x01\x03")
    assert changes_since(root, base, {}) == [FileChange("pkg/data.bin", None, None)]


def test_dirty_text_is_the_old_side(make_repo: Repo) -> None:
    root = make_repo({"a.py": "A = 1\n", "b.py": "B = 1\n"})
    base = _head(root)
    # When the map was recorded a.py read "A = 5"; now it is back to the commit's text.
    # b.py was "B = 7" then and is "B = 7" now: no change since the map.
    (root / "b.py").write_text("B = 7\n")
    found = _by_path(changes_since(root, base, {"a.py": "A = 5\n", "b.py": "B = 7\n"}))
    assert found == {"a.py": FileChange("a.py", "A = 5\n", "A = 1\n")}


def test_paths_are_relative_to_a_project_inside_the_repository(make_repo: Repo) -> None:
    root = make_repo({"proj/src/a.py": "A = 1\n", "other/b.py": "B = 1\n"})
    base = _head(root)
    (root / "proj/src/a.py").write_text("A = 2\n")
    (root / "other/b.py").write_text("B = 2\n")
    (root / "proj/new.txt").write_text("x\n")
    found = changes_since(root / "proj", base, {})
    assert [c.path for c in found] == ["new.txt", "src/a.py"]
    assert found[1].old_text == "A = 1\n"


def test_tool_caches_are_not_changes(make_repo: Repo) -> None:
    root = make_repo({"tests/test_a.py": "def test(): pass\n"})
    base = _head(root)
    (root / "tests/__pycache__").mkdir()
    (root / "tests/__pycache__/test_a.cpython-311.pyc").write_bytes(b"\x00junk")
    (root / ".pytest_cache").mkdir()
    (root / ".pytest_cache/README.md").write_text("cache\n")
    assert changes_since(root, base, {}) == []


def test_many_old_texts_come_from_one_git_process_and_stay_exact(make_repo: Repo) -> None:
    """The old sides come from one ``git cat-file --batch``: texts of every size, a binary
    blob and a symlink must still come out exactly (a wrong size would shift all later)."""
    files = {f"pkg/m{n:02}.py": f"X = {n}\n" + "# pad\n" * n for n in range(40)}
    files["pkg/nl.py"] = "no newline at the end"
    root = make_repo(files)
    (root / "pkg/blob.bin").write_bytes(b"\x00\n\n1 2 3\n")
    (root / "pkg/link").symlink_to("m01.py")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "more")
    base = _head(root)
    for path in files:
        (root / path).write_text("CHANGED = 1\n")
    (root / "pkg/blob.bin").write_bytes(b"\x00other")
    (root / "pkg/link").unlink()
    (root / "pkg/link").symlink_to("m02.py")
    found = _by_path(changes_since(root, base, {}))
    assert {p: found[p].old_text for p in files} == files
    assert found["pkg/blob.bin"] == FileChange("pkg/blob.bin", None, None)
    assert found["pkg/link"] == FileChange("pkg/link", "m01.py", "m02.py")


def test_a_moved_submodule_is_a_change_the_map_cannot_see(make_repo: Repo, tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    git(sub, "init", "-q", "-b", "main")
    (sub / "lib.py").write_text("L = 1\n")
    git(sub, "add", "-A")
    git(sub, "commit", "-qm", "lib")
    root = make_repo({"pkg/a.py": "A = 1\n"})
    git(root, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "vendor/sub")
    git(root, "commit", "-qm", "submodule")
    base = _head(root)
    assert changes_since(root, base, {}) == []
    (root / "vendor/sub/lib.py").write_text("L = 2\n")
    git(root / "vendor/sub", "commit", "-qam", "moved")
    found = changes_since(root, base, {})
    assert found == [FileChange("vendor/sub", None, None, "a submodule changed")]


def test_an_unreadable_file_is_a_change_the_map_cannot_see(
    make_repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo({"pkg/a.py": "A = 1\n", "pkg/b.py": "B = 1\n"})
    base = _head(root)
    (root / "pkg/a.py").write_text("A = 2\n")
    (root / "pkg/b.py").write_text("B = 2\n")
    secret = root / "pkg/a.py"
    if os.geteuid() == 0:  # root reads anything: make this one file refuse
        read_bytes = Path.read_bytes

        def refuse(self: Path) -> bytes:
            if self == secret:
                raise PermissionError(13, "Permission denied")
            return read_bytes(self)

        monkeypatch.setattr(Path, "read_bytes", refuse)
    else:
        secret.chmod(0)
    found = _by_path(changes_since(root, base, {}))
    assert found["pkg/a.py"] == FileChange(
        "pkg/a.py", "A = 1\n", None, "cannot be read (Permission denied)"
    )
    assert found["pkg/b.py"] == FileChange("pkg/b.py", "B = 1\n", "B = 2\n")


def test_unknown_commit_is_an_amoskys_error(make_repo: Repo) -> None:
    root = make_repo({"a.py": "A = 1\n"})
    with pytest.raises(AmoskysError, match="git"):
        changes_since(root, "f" * 40, {})


# -- changed_code ---------------------------------------------------------------------------

BASE = textwrap.dedent('''\
    """A module."""
    import os
    from .core import helper as h

    MAX = 5
    TABLE = {"a": 1}


    def plain(a, b=2):
        # a comment
        total = a + b
        return [x * 2 for x in range(total) if x < MAX]


    @decorate(1)
    def decorated(x):
        return x


    async def fetch(url):
        return await get(url)


    def outer(n):
        key = lambda v: v + 1

        def inner(m):
            return m * n

        class Local:
            size = 3

            def method(self):
                return self.size

        return inner, key, Local


    class Shape:
        sides = 4
        name: str = "shape"

        def area(self):
            return self.sides * 2

        class Inner:
            def deep(self):
                return 1

        @property
        def value(self):
            return 1

        @value.setter
        def value(self, v):
            self._v = v


    if os.name == "nt":
        def platform():
            return "win"
    else:
        def platform():
            return "posix"
    ''')


def _code(new: str, old: str = BASE, path: str = "src/pkg/m.py") -> ChangedCode:
    return changed_code(FileChange(path, old, new))


def _edit(old: str, new: str, count: int = 1) -> ChangedCode:
    assert old in BASE, old
    return _code(BASE.replace(old, new, count))


def test_same_text_is_no_change() -> None:
    code = _code(BASE)
    assert not code.changed and code.functions == frozenset() and not code.module_level
    assert code.old_lines == () and code.new_lines == ()


def test_body_change_names_the_function() -> None:
    code = _edit("total = a + b", "total = a - b")
    assert code.functions == {"plain"}
    assert not code.module_level
    assert code.new_lines == (11,) and code.old_lines == (11,)


def test_comprehension_and_lambda_count_as_their_function() -> None:
    assert _edit("if x < MAX", "if x <= MAX").functions == {"plain"}
    assert _edit("v + 1", "v + 2").functions == {"outer"}


def test_signature_change_is_a_change_of_the_function() -> None:
    code = _edit("def plain(a, b=2):", "def plain(a, c=2):")
    assert code.functions == {"plain"} and not code.module_level


def test_default_value_is_evaluated_at_import_but_used_by_the_function() -> None:
    # The value is computed where the def stands, but only a call of `plain` can see it.
    code = _edit("def plain(a, b=2):", "def plain(a, b=3):")
    assert code.module_level and not code.wide
    assert code.functions == {"plain"} and code.names == frozenset()


def test_annotation_change_is_like_a_default() -> None:
    code = _edit("def plain(a, b=2):", "def plain(a: int, b=2):")
    assert code.functions == {"plain"} and not code.wide


def test_decorator_is_module_level_and_wide() -> None:
    code = _edit("@decorate(1)", "@decorate(2)")
    assert code.module_level and code.wide and "decorated" in code.names
    assert not code.functions


def test_module_constant_binds_its_name() -> None:
    code = _edit("MAX = 5", "MAX = 6")
    assert code.module_level and code.names == {"MAX"} and not code.functions


def test_dict_constant_change() -> None:
    code = _edit('TABLE = {"a": 1}', 'TABLE = {"a": 2}')
    assert code.module_level and code.names == {"TABLE"}


def test_class_attribute_binds_attribute_and_class_names() -> None:
    code = _edit("sides = 4", "sides = 5")
    assert code.module_level and code.names == {"sides", "Shape"}
    assert not code.functions
    annotated = _edit('name: str = "shape"', 'name: str = "Shape"')
    assert {"name", "Shape"} <= annotated.names


def test_method_and_nested_class_method() -> None:
    assert _edit("return self.sides * 2", "return self.sides * 3").functions == {"Shape.area"}
    assert _edit("return 1\n\n    @property", "return 2\n\n    @property").functions == {
        "Shape.Inner.deep"
    }


def test_nested_function_uses_locals_in_its_qualname() -> None:
    assert _edit("return m * n", "return m + n").functions == {"outer.<locals>.inner"}
    assert _edit("return self.size", "return -self.size").functions == {
        "outer.<locals>.Local.method"
    }


def test_class_body_inside_a_function_is_that_function() -> None:
    code = _edit("size = 3", "size = 4")
    assert code.functions == {"outer"} and not code.module_level


def test_async_function() -> None:
    assert _edit("await get(url)", "await get(url, 1)").functions == {"fetch"}
    code = _edit("async def fetch(url):", "def fetch(url):")
    assert code.functions == {"fetch"}


def test_property_getter_and_setter_share_one_qualname() -> None:
    assert _edit("self._v = v", "self._v = -v").functions == {"Shape.value"}


def test_conditional_definitions() -> None:
    assert _edit('return "posix"', 'return "linux"').functions == {"platform"}
    code = _edit('if os.name == "nt":', 'if os.name != "nt":')
    assert code.module_level and "platform" in code.names


def test_comment_and_formatting_only_changes_select_nothing() -> None:
    code = _edit("# a comment", "# another comment")
    assert not code.changed and code.new_lines == (10,)
    reformatted = _edit("total = a + b", "total = (a +\n            b)")
    assert not reformatted.changed


def test_docstring_change_is_a_change() -> None:
    code = _edit('"""A module."""', '"""The module."""')
    assert code.module_level


def test_added_lines_above_do_not_change_functions_below() -> None:
    code = _edit("MAX = 5\n", "MAX = 5\n\n\n\n# spacer\n")
    assert not code.changed


def test_moved_plain_function_is_no_change() -> None:
    block = "async def fetch(url):\n    return await get(url)\n\n\n"
    moved = BASE.replace(block, "") + "\n\n" + block
    assert not _code(moved).changed


def test_moved_statement_inside_a_function_changes_it() -> None:
    code = _edit(
        "    total = a + b\n    return",
        "    total = a + b\n    a = 0\n    return",
    )
    assert code.functions == {"plain"}


def test_added_and_deleted_functions() -> None:
    added = _code(BASE + "\n\ndef extra():\n    return 1\n")
    assert added.functions == {"extra"} and added.module_level and "extra" in added.names
    deleted = _code(BASE.replace("async def fetch(url):\n    return await get(url)\n", ""))
    assert deleted.functions == {"fetch"} and "fetch" in deleted.names


def test_added_method_is_named_for_overriding() -> None:
    code = _edit("    class Inner:", "    def __len__(self):\n        return 0\n\n    class Inner:")
    assert code.functions == {"Shape.__len__"}
    assert {"__len__", "Shape"} <= code.names


def test_import_change_binds_the_imported_names() -> None:
    code = _edit("from .core import helper as h", "from .other import helper as h")
    assert code.module_level and "h" in code.names and code.import_names == {"h"}


def test_strings_that_differ_are_names_too() -> None:
    code = _code('__all__ = ["first", "second"]\n', old='__all__ = ["first", "secnd"]\n')
    assert {"__all__", "second", "secnd"} <= code.names
    assert "first" not in code.names


def test_module_level_call_names_its_receiver() -> None:
    code = _code("REGISTRY.update(a=2)\n", old="REGISTRY.update(a=1)\n")
    assert "REGISTRY" in code.names


def test_global_declaration_changes_the_qualname() -> None:
    text = "def make():\n    global built\n    def built():\n        return 1\n"
    code = _code(text.replace("return 1", "return 2"), old=text)
    assert code.functions == {"built"}


def test_syntax_error_is_module_level_with_every_name() -> None:
    code = _edit("total = a + b", "total = a +")
    assert code.module_level
    assert {"MAX", "plain", "Shape", "total", "TABLE"} <= code.names
    assert "plain" in code.functions


def test_new_and_deleted_files() -> None:
    new = changed_code(FileChange("src/pkg/fresh.py", None, "def f():\n    return 1\nX = 1\n"))
    assert new.functions == {"f"} and new.module_level and {"f", "X", "fresh"} <= new.names
    gone = changed_code(FileChange("src/pkg/m.py", BASE, None))
    assert "Shape.area" in gone.functions and gone.module_level


def test_defined_names_lists_what_importers_see() -> None:
    defined = defined_names(FileChange("m.py", BASE, BASE.replace("a + b", "a * b")))
    assert {"MAX", "TABLE", "plain", "Shape", "sides", "outer"} <= defined
    assert "os" not in defined  # imports are the module's own business


def _qualnames_by_cpython(source: str) -> set[str]:
    found: set[str] = set()

    def walk(code: object) -> None:
        for const in getattr(code, "co_consts", ()):
            if hasattr(const, "co_qualname"):
                if not const.co_qualname.rsplit(".", 1)[-1].startswith("<"):
                    found.add(const.co_qualname)
                walk(const)

    walk(compile(source, "m.py", "exec"))
    return found


def test_qualnames_match_the_code_objects_cpython_makes() -> None:
    # Each function body edited on its own must be reported under the very name CPython gives
    # its code object (class bodies are code objects too; they are module level here).
    source = BASE + "\n\ndef make():\n    global built\n    def built():\n        return 1\n"
    expected = _qualnames_by_cpython(source)
    import ast

    from amoskys.select import changes

    ours = {
        s.qualname
        for s in changes._scopes(ast.parse(source))  # noqa: SLF001 - the naming under test
        if s.kind in ("function", "class") and s.qualname
    }
    assert ours == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    function=st.sampled_from(
        ["plain", "decorated", "fetch", "outer", "outer.<locals>.inner", "Shape.area"]
    ),
    value=st.integers(min_value=-1000, max_value=1000),
    line_offset=st.integers(min_value=0, max_value=3),
)
def test_any_edit_of_a_function_body_reports_that_function(
    function: str, value: int, line_offset: int
) -> None:
    # Append a statement at the end of the body with a random constant and extra blank lines.
    anchors = {
        "plain": ("    return [x * 2", "    "),
        "decorated": ("    return x\n", "    "),
        "fetch": ("    return await get(url)", "    "),
        "outer": ("    return inner, key, Local", "    "),
        "outer.<locals>.inner": ("        return m * n", "        "),
        "Shape.area": ("        return self.sides * 2", "        "),
    }
    anchor, indent = anchors[function]
    anchor = anchor.strip("\n")
    anchor_line = anchor.lstrip()
    pad = "\n" * line_offset
    assert anchor in BASE
    edited = BASE.replace(anchor, f"{indent}_probe = {value}{pad}\n{indent}{anchor_line}", 1)
    code = _code(edited)
    assert function in code.functions
    assert not code.module_level


@pytest.mark.skipif(sys.version_info < (3, 12), reason="PEP 695 syntax")
def test_type_parameters_are_evaluated_where_the_def_stands() -> None:
    old = "def first[T](items: list[T]) -> T:\n    return items[0]\n"
    assert _code(old.replace("[0]", "[-1]"), old=old).functions == {"first"}


# -- how far a module-level change reaches -----------------------------------------------------


def test_constant_is_wide_but_not_opaque() -> None:
    code = _edit("MAX = 5", "MAX = 6")
    assert code.wide  # the issue's rule: every test that ran code of the file
    assert not code.opaque  # only readers of MAX can see it


def test_calls_at_import_are_opaque_unless_they_only_build_values() -> None:
    assert _code("X = register(2)\n", old="X = register(1)\n").opaque
    assert not _code("X = frozenset({2})\n", old="X = frozenset({1})\n").opaque
    assert not _code("R = re.compile('b')\n", old="R = re.compile('a')\n").opaque
    assert _code("from a import *\n", old="from b import *\n").opaque


def test_pytestmark_and_module_dunders_are_opaque() -> None:
    assert _code("pytestmark = [2]\n", old="pytestmark = [1]\n").opaque
    assert _code("def __getattr__(n):\n    return n\n", old="").opaque
    assert not _code("__version__ = '2'\n", old="__version__ = '1'\n").opaque


def test_added_plain_function_is_neither_wide_nor_opaque() -> None:
    code = _code(BASE + "\n\ndef extra():\n    return 1\n")
    assert code.module_level and not code.wide and not code.opaque
    added_class = _code(BASE + "\n\nclass Extra:\n    pass\n")
    assert added_class.wide and added_class.opaque


def test_names_follow_the_statements_that_read_them() -> None:
    old = "BASE = 1\nDERIVED = BASE + 1\n\n\nclass K:\n    limit = DERIVED * 2\n"
    code = _code(old.replace("BASE = 1", "BASE = 2"), old=old)
    assert {"BASE", "DERIVED", "limit", "K"} <= code.names


def test_names_follow_calls_of_this_modules_functions_at_import() -> None:
    old = "TABLE = {'a': 1}\n\n\ndef _build():\n    return dict(TABLE)\n\n\nBUILT = _build()\n"
    code = _code(old.replace("'a': 1", "'a': 2"), old=old)
    assert {"TABLE", "BUILT"} <= code.names
    assert code.opaque  # BUILT comes from a call of our own code


def test_import_reach_says_what_a_function_computes_at_import() -> None:
    old = "def _build():\n    return 1\n\n\nBUILT = _build()\nTWICE = BUILT * 2\n"
    change = FileChange("m.py", old, old.replace("return 1", "return 2"))
    assert changed_code(change).functions == {"_build"}
    assert reach_at_import(change, "_build") == {"_build", "BUILT", "TWICE"}
