"""What changed since the map's commit, and which code that change touches.

:func:`changes_since` asks git (the only I/O here) for every file that differs between a commit
and the work tree: committed, staged, unstaged and untracked-not-ignored changes alike.
:func:`changed_code` then compares the two texts of one Python file by their syntax trees, so
it can say *which* code changed in a way that matches what the recorder saw at run time:

* a **function** changed when its own code changed: its body (lambdas, comprehensions and
  classes defined inside it count as its body), its argument names or kinds. Functions are
  named by their ``co_qualname`` exactly as CPython names the code objects: ``f``, ``C.m``,
  ``f.<locals>.g``, ``f.<locals>.C.m``;
* **module level** changed when a statement that runs at import time changed: assignments,
  imports, class bodies, decorators, ``if``/``try`` blocks around definitions, and the adding,
  removing or reordering of definitions. The names those statements bind are reported, with
  the names bound by the module's other import-time statements that read them (``B = A + 1``,
  ``T = _build()`` when ``_build`` reads ``A``), so that tests which ran code reading such a
  name elsewhere can be selected. ``wide`` says every test that ran code of the file is
  concerned (the issue's rule), ``opaque`` the narrower "may act beyond those names".
* Default values and annotations are evaluated where the ``def`` stands, but only a call of
  that function can see them: a change there is a change of the function (and module level,
  without ``wide``).

Comments, blank lines and formatting are not part of the syntax tree, so a change of only
those changes no code and selects nothing. (A test that reads source text or line numbers,
e.g. through ``inspect.getsource``, is not protected against such edits; the recorder cannot
see file reads either.)
"""

from __future__ import annotations

import ast
import bisect
import difflib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from amoskys.errors import AmoskysError
from amoskys.run.process import bytes_of, output_of

GIT_TIMEOUT_SECONDS = 120.0
BINARY_SNIFF_BYTES = 8000
"""Like git, a file with a NUL byte in its first 8000 bytes is binary."""
# Folders and files that tools write while the tests run: never part of a change.
_NOISE_DIRS = frozenset(
    {"__pycache__", ".pytest_cache", ".mypy_cache", ".hypothesis", ".amoskys", ".tox", ".nox"}
)
_NOISE_SUFFIXES = (".pyc", ".pyo")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_GIT_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_PREFIX")


@dataclass(frozen=True)
class FileChange:
    """One file whose content differs; a side is ``None`` when absent there (or binary)."""

    path: str
    old_text: str | None
    new_text: str | None
    unseen: str | None = None
    """Why the map cannot judge this change (a submodule moved, the file cannot be read):
    selection then runs every test and says this."""


@dataclass(frozen=True)
class ChangedCode:
    """Which code of one Python file a change touches (see the module docstring)."""

    path: str
    functions: frozenset[str]
    module_level: bool
    names: frozenset[str]
    old_lines: tuple[int, ...] = ()
    new_lines: tuple[int, ...] = ()
    import_names: frozenset[str] = frozenset()
    """The part of ``names`` bound by changed ``import`` statements."""
    wide: bool = False
    """The issue's rule: a change outside function bodies (constants, class attributes,
    decorators, parametrize data) reaches every test that ran code of the file. False when
    the module-level change is only default values or annotations (seen by calls of that
    function alone) or plain definitions added or removed (seen through their names alone)."""
    opaque: bool = False
    """Narrower than ``wide``: the change may act beyond the names it binds, even counting
    the statements that read them (a call that is not a plain value constructor, a decorator,
    a class statement, a dunder like ``__getattr__`` or ``pytestmark``). Used by
    ``module-level = "names"``."""

    @property
    def changed(self) -> bool:
        """True when some code changed (not only comments or formatting)."""
        return bool(self.functions) or self.module_level


# -- the changed files --------------------------------------------------------------------


def _git(root: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_VARS}
    env["GIT_OPTIONAL_LOCKS"] = "0"
    return output_of(["git", *args], cwd=root, env=env, timeout=GIT_TIMEOUT_SECONDS)


def _is_noise(path: str) -> bool:
    parts = path.split("/")
    return path.endswith(_NOISE_SUFFIXES) or any(
        part in _NOISE_DIRS or part.endswith(".egg-info") for part in parts[:-1]
    )


def _decode(data: bytes) -> str | None:
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return None
    return data.decode("utf-8", errors="replace")


def _work_tree_text(root: Path, path: str) -> str | None:
    """The file's text now; None when absent or binary. An unreadable file raises OSError."""
    target = root / path
    try:
        if target.is_symlink():
            return os.readlink(target)  # git stores a link as its target's path
        return _decode(target.read_bytes())
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def _blobs(root: Path, shas: Sequence[str]) -> dict[str, str | None]:
    """The texts of many blobs from one ``git cat-file --batch`` (None: binary or missing),
    instead of one ``git show`` per changed file."""
    if not shas:
        return {}
    env = {k: v for k, v in os.environ.items() if k not in _GIT_VARS}
    env["GIT_OPTIONAL_LOCKS"] = "0"
    wanted = list(dict.fromkeys(shas))
    out = bytes_of(
        ["git", "cat-file", "--batch"],
        cwd=root,
        env=env,
        timeout=GIT_TIMEOUT_SECONDS,
        stdin="".join(f"{sha}\n" for sha in wanted).encode("ascii"),
    )
    texts: dict[str, str | None] = {}
    at = 0
    for sha in wanted:
        end = out.index(b"\n", at)
        header = out[at:end].decode("ascii", errors="replace").split()
        at = end + 1
        if len(header) != 3:  # "<sha> missing"
            texts[sha] = None
            continue
        size = int(header[2])
        texts[sha] = _decode(out[at : at + size]) if header[1] == "blob" else None
        at += size + 1  # the content and its newline
    return texts


_SUBMODULE = "160000"
_NO_BLOB = "0" * 40


def changes_since(root: Path, commit: str, dirty: Mapping[str, str]) -> list[FileChange]:
    """Every file under ``root`` whose text differs from ``commit`` (sorted by path).

    The new side is the work tree: staged, unstaged and untracked files that git does not
    ignore. The old side is ``commit``'s text (all of them read by one ``git cat-file``),
    except for the paths in ``dirty`` (files that already differed from ``commit`` when the
    map was recorded): their recorded text is the old side. Renames are a deletion plus an
    addition. Binary files have ``None`` texts but are still reported when they differ. A
    submodule that moved, or a file that cannot be read, is reported with ``unseen`` set.
    Paths are POSIX, relative to ``root`` (which may be a folder inside the repository). Tool
    caches (``__pycache__``, ``.pytest_cache``...) are left out. Raises
    :class:`~amoskys.errors.AmoskysError` when git fails (unknown commit...).
    """
    listed = _git(
        root, "diff", "--raw", "--no-abbrev", "--no-renames", "--relative", "-z", commit, "--", "."
    )
    fields = [item for item in listed.split("\0") if item]
    status_of: dict[str, str] = {}
    old_blob: dict[str, str] = {}
    submodules: set[str] = set()
    for meta, path in zip(fields[0::2], fields[1::2]):
        parts = meta.lstrip(":").split()
        if len(parts) < 5:
            raise AmoskysError(f"git diff --raw printed {meta!r}", hint="is git too old?")
        old_mode, new_mode, old_sha, status = parts[0], parts[1], parts[2], parts[4]
        status_of[path] = status[:1]
        if _SUBMODULE in (old_mode, new_mode):
            submodules.add(path)
        elif old_sha != _NO_BLOB:
            old_blob[path] = old_sha
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z", "--", ".")
    for path in untracked.split("\0"):
        if path:
            status_of.setdefault(path, "A")
    for path in dirty:
        status_of.setdefault(path, "=")  # same as commit now, but not when recorded
    wanted = [
        old_blob[p]
        for p in status_of
        if p in old_blob and p not in dirty and not _is_noise(p) and status_of[p] != "A"
    ]
    blobs = _blobs(root, wanted)
    changes: list[FileChange] = []
    for path in sorted(status_of):
        if _is_noise(path):
            continue
        if path in submodules:
            changes.append(FileChange(path, None, None, "a submodule changed"))
            continue
        status = status_of[path]
        if path in dirty:
            old: str | None = dirty[path]
        elif status == "A" or path not in old_blob:
            old = None
        else:
            old = blobs.get(old_blob[path])
        try:
            new = _work_tree_text(root, path)
        except OSError as error:
            why = f"cannot be read ({error.strerror or error})"
            changes.append(FileChange(path, old, None, why))
            continue
        if old == new and (old is not None or status == "="):
            continue  # binary on both sides is still a change unless it came from `dirty`
        if old is None and new is None and status == "=":
            continue
        changes.append(FileChange(path, old, new))
    return changes


# -- the changed code ---------------------------------------------------------------------

_DEF_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_EMPTY = "List([], Load())"
# Dunder names that hold plain values (any other, like `__getattr__`, acts on the module).
_PLAIN_DUNDERS = frozenset(
    {"__all__", "__doc__", "__version__", "__author__", "__license__", "__copyright__"}
    | {"__title__", "__summary__", "__uri__", "__email__", "__slots__", "__annotations__"}
)
# Calls at import time that only build a value (anything else may change state elsewhere).
PURE_CALLS = frozenset(
    """compile escape frozenset set dict list tuple object TypeVar ParamSpec TypeVarTuple
    NewType namedtuple NamedTuple TypedDict getLogger int str float bool bytes bytearray len
    sorted max min range enumerate zip map filter reversed cast partial join format encode
    decode lower upper strip rstrip lstrip split rsplit startswith endswith replace items keys
    values copy MappingProxyType defaultdict OrderedDict Counter deque Lock RLock local
    WeakKeyDictionary WeakValueDictionary WeakSet count attrgetter itemgetter methodcaller
    Decimal Fraction Path PurePath PurePosixPath getenv get calcsize field Field
    """.split()
)


@dataclass
class _Scope:
    """One function, class or module body with its nested definitions cut out."""

    qualname: str  # "" for the module
    kind: str  # "module" | "class" | "function"
    owner: str | None  # the function whose execution runs this code; None = import time
    statements: list[ast.stmt]
    classes: tuple[str, ...]  # names of the classes this scope is inside (itself included)
    span: tuple[int, int]  # first and last line of the definition, decorators included


_Def = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


@dataclass(frozen=True)
class _DefInfo:
    """What a stub stands for: the definition's name and the dumps of its two parts."""

    name: str
    is_class: bool
    decorators: str  # decorators, base classes, class keywords, type parameters
    defaults: str  # default values and annotations (functions only)


def _stub(node: _Def) -> ast.stmt:
    """What the parent evaluates of a definition: decorators, defaults, annotations, bases.

    Two lists: what changes the object the name is bound to (decorators, bases, keywords,
    type parameters) and what only matters when the function runs (defaults, annotations).
    """
    shaping: list[ast.expr] = list(node.decorator_list)
    running: list[ast.expr] = []
    keys: list[str] = []
    if isinstance(node, ast.ClassDef):
        shaping += node.bases
        shaping += [kw.value for kw in node.keywords]
        keys = [kw.arg or "**" for kw in node.keywords]
    else:
        a = node.args
        running += [d for d in a.defaults] + [d for d in a.kw_defaults if d is not None]
        every = [*a.posonlyargs, *a.args, *a.kwonlyargs]
        every += [arg for arg in (a.vararg, a.kwarg) if arg is not None]
        running += [arg.annotation for arg in every if arg.annotation is not None]
        if node.returns is not None:
            running.append(node.returns)
    params = list(getattr(node, "type_params", None) or [])
    first = ast.List(elts=shaping, ctx=ast.Load())
    second = ast.List(elts=running, ctx=ast.Load())
    stub = ast.Expr(
        value=ast.Call(
            func=ast.Name(id=f"<{type(node).__name__} {node.name}>", ctx=ast.Load()),
            args=[first, second, *params],
            keywords=[ast.keyword(arg=k, value=ast.Constant(None)) for k in keys],
        )
    )
    shape = _dump(first) + "".join(map(_dump, params)) + ",".join(keys)
    stub._amoskys_def = _DefInfo(  # type: ignore[attr-defined]
        node.name, isinstance(node, ast.ClassDef), shape, _dump(second)
    )
    return stub


def _def_info(stmt: ast.stmt) -> _DefInfo | None:
    info = getattr(stmt, "_amoskys_def", None)
    return info if isinstance(info, _DefInfo) else None


def _cut(body: list[ast.stmt], found: list[_Def]) -> list[ast.stmt]:
    """``body`` with each nested definition replaced by its stub (collected in ``found``).

    Definitions are statements, so only statement lists are walked (``if``/``try``/``with``/
    ``for``/``while``/``match`` bodies), never expressions. Nested lists are edited in place:
    each tree is parsed for this comparison only.
    """
    out: list[ast.stmt] = []
    for stmt in body:
        if isinstance(stmt, _DEF_TYPES):
            found.append(stmt)
            out.append(_stub(stmt))
            continue
        for name, value in ast.iter_fields(stmt):
            if not isinstance(value, list) or not value:
                continue
            if isinstance(value[0], ast.stmt):
                setattr(stmt, name, _cut(value, found))
            elif isinstance(value[0], (ast.ExceptHandler, ast.match_case)):
                for part in value:
                    part.body = _cut(part.body, found)
        out.append(stmt)
    return out


def _declared_global(statements: Iterable[ast.stmt]) -> set[str]:
    """Names declared ``global`` in a function body (not in the functions nested in it)."""
    names: set[str] = set()
    todo: list[ast.AST] = list(statements)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Global):
            names.update(node.names)
        elif isinstance(node, (ast.ExceptHandler, ast.match_case)):
            todo.extend(node.body)
        elif not isinstance(node, _DEF_TYPES):
            for value in ast.iter_fields(node):
                field = value[1]
                if (
                    isinstance(field, list)
                    and field
                    and isinstance(field[0], (ast.stmt, ast.ExceptHandler, ast.match_case))
                ):
                    todo.extend(field)
    return names


def _scopes(tree: ast.Module, has_global: bool = True) -> list[_Scope]:
    """Every body of the module, named as CPython names the code objects (``has_global``
    False: the source has no ``global`` statement, the body walk for them is skipped)."""
    found: list[_Scope] = []

    def visit(
        body: list[ast.stmt],
        qualname: str,
        kind: str,
        owner: str | None,
        classes: tuple[str, ...],
        globals_here: set[str],
        span: tuple[int, int],
    ) -> None:
        nested: list[_Def] = []
        own = _cut(body, nested)
        found.append(_Scope(qualname, kind, owner, own, classes, span))
        for node in nested:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            lines = (first, node.end_lineno or node.lineno)
            if node.name in globals_here:
                child = node.name  # `global g` in the parent: CPython names it plainly
            elif kind == "function":
                child = f"{qualname}.<locals>.{node.name}"
            elif qualname:
                child = f"{qualname}.{node.name}"
            else:
                child = node.name
            if isinstance(node, ast.ClassDef):
                visit(node.body, child, "class", owner, (*classes, node.name), set(), lines)
            else:
                args = node.args
                signature = ast.arguments(
                    posonlyargs=[ast.arg(arg=a.arg) for a in args.posonlyargs],
                    args=[ast.arg(arg=a.arg) for a in args.args],
                    vararg=None if args.vararg is None else ast.arg(arg=args.vararg.arg),
                    kwonlyargs=[ast.arg(arg=a.arg) for a in args.kwonlyargs],
                    kw_defaults=[],
                    kwarg=None if args.kwarg is None else ast.arg(arg=args.kwarg.arg),
                    defaults=[],
                )
                # The signature (names and kinds, defaults cut) belongs to the code object;
                # an `async` prefix too: they go first in the function's own statements.
                head = ast.Expr(
                    value=ast.Lambda(
                        args=signature,
                        body=ast.Constant(isinstance(node, ast.AsyncFunctionDef)),
                    )
                )
                visit(
                    [head, *node.body],
                    child,
                    "function",
                    child,
                    classes,
                    _declared_global(node.body) if has_global else set(),
                    lines,
                )

    visit(tree.body, "", "module", None, (), set(), (0, 1 << 30))
    return found


def _dump(node: ast.AST) -> str:
    return ast.dump(node, annotate_fields=False)


def _bound_names(stmt: ast.stmt, imports: set[str]) -> set[str]:
    """Names a module- or class-level statement binds or mutates."""
    names: set[str] = set()

    def target(node: ast.expr) -> None:
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
            target(node.value)
        elif isinstance(node, ast.Subscript):
            target(node.value)
        elif isinstance(node, ast.Starred):
            target(node.value)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                target(elt)

    for node in ast.walk(stmt):
        if isinstance(node, (ast.Assign, ast.Delete)):
            for t in node.targets:
                target(t)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
            target(node.target)
        elif isinstance(node, ast.comprehension):
            target(node.target)
        elif isinstance(node, ast.NamedExpr):
            target(node.target)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    target(item.optional_vars)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                if bound != "*":
                    names.add(bound)
                    imports.add(bound)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            names.add("__doc__")  # a docstring (or a stray constant: harmless)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Name) and func.id.startswith("<"):
                names.add(func.id[1:-1].split(" ", 1)[1])  # a definition stub: its name
            elif isinstance(func, ast.Attribute):
                # A call at import time may change its receiver: `REGISTRY.update(...)`.
                receiver = func.value
                if isinstance(receiver, ast.Name):
                    names.add(receiver.id)
                elif isinstance(receiver, ast.Attribute):
                    names.add(receiver.attr)
    return names


def _mentioned(nodes: Iterable[ast.AST], strings: bool = False) -> set[str]:
    """Names and attributes that appear in ``nodes`` (and identifier-like strings)."""
    found: set[str] = set()
    for top in nodes:
        for node in ast.walk(top):
            if isinstance(node, ast.Name):
                found.add(node.id)
            elif isinstance(node, ast.Attribute):
                found.add(node.attr)
            elif strings and isinstance(node, ast.Constant) and isinstance(node.value, str):
                if _IDENTIFIER.fullmatch(node.value):
                    found.add(node.value)
            elif isinstance(node, ast.alias):
                found.add(node.asname or node.name.split(".")[0])
    return {name for name in found if not name.startswith("<")}


def _opaque(stmt: ast.stmt, bound: set[str]) -> bool:
    """True when a module- or class-level statement may act beyond the names it binds:
    a call that is not a plain value constructor, a star import, a dunder or pytest name
    (``__getattr__``, ``pytestmark``), a class (re)definition or a changed decorator."""
    info = _def_info(stmt)
    if info is not None:
        return info.is_class or info.decorators != _EMPTY
    special = {n for n in bound if n.startswith("pytest") or n.startswith("__")}
    if special - _PLAIN_DUNDERS:
        return True
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr if isinstance(func, ast.Attribute) else ""
            )
            if name not in PURE_CALLS:
                return True
        elif isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            return True
    return False


@dataclass
class _Statement:
    """One import-time statement, for following names from statement to statement."""

    bound: set[str]
    reads: set[str]
    classes: tuple[str, ...]
    function: str | None  # the qualname of the def a stub stands for
    opaque: bool


def _import_time_statements(scopes: Iterable[_Scope]) -> list[_Statement]:
    """The module's and its classes' statements, each with what it binds and reads; a call
    of a function of this module reads what that function's body reads (``T = _build()``)."""
    every = list(scopes)
    tops = {s.qualname: s for s in every if s.kind == "function" and "." not in s.qualname}
    body_reads: dict[str, set[str]] = {}

    def reads_of(function: str) -> set[str]:
        # Only for functions that import-time code names: most bodies are never walked.
        if function not in body_reads:
            inner = [s for s in every if s.qualname.startswith(function + ".")]
            body_reads[function] = _mentioned(
                [stmt for s in (tops[function], *inner) for stmt in s.statements]
            )
        return body_reads[function]

    found: list[_Statement] = []
    for scope in every:
        if scope.owner is not None:
            continue
        for stmt in scope.statements:
            bound = _bound_names(stmt, set())
            info = _def_info(stmt)
            function = None
            if info is not None and not info.is_class:
                function = f"{scope.qualname}.{info.name}" if scope.qualname else info.name
            reads = _mentioned([stmt])
            todo = [] if info is not None else [name for name in reads if name in tops]
            seen = set(todo)
            while todo:
                called = reads_of(todo.pop())
                reads |= called
                more = {n for n in called if n in tops} - seen
                seen |= more
                todo += more
            found.append(
                _Statement(bound, reads - bound, scope.classes, function, _opaque(stmt, bound))
            )
    return found


def _follow(statements: list[_Statement], names: set[str], functions: set[str]) -> bool:
    """Add to ``names`` what import-time statements reading them bind (``Y = X + 1`` after
    ``X`` changed), until nothing grows; True when one of those statements is opaque."""
    wide = False
    grown = True
    while grown:
        grown = False
        for stmt in statements:
            if stmt.reads.isdisjoint(names) or (stmt.bound | set(stmt.classes)) <= names:
                continue
            names |= stmt.bound | set(stmt.classes)
            grown = True
            wide = wide or stmt.opaque
            if stmt.function is not None:
                functions.add(stmt.function)
    return wide


def _changed_lines(old: str, new: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Line numbers (1-based) that differ on each side; a pure insertion or deletion also
    marks the line before it on the other side."""
    a, b = old.splitlines(), new.splitlines()
    # The common head and tail are cut first: difflib is quadratic on what is left.
    head = 0
    while head < len(a) and head < len(b) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < len(a) - head and tail < len(b) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    old_lines: list[int] = []
    new_lines: list[int] = []
    matcher = difflib.SequenceMatcher(
        None, a[head : len(a) - tail], b[head : len(b) - tail], autojunk=False
    )
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        old_lines.extend(range(head + i1 + 1, head + i2 + 1))
        new_lines.extend(range(head + j1 + 1, head + j2 + 1))
        if i1 == i2:
            old_lines.append(max(head + i1, 1))
        if j1 == j2:
            new_lines.append(max(head + j1, 1))
    return tuple(sorted(set(old_lines))), tuple(sorted(set(new_lines)))


def _untouched(scopes: list[_Scope], lines: Sequence[int]) -> bool:
    """True when no changed line falls inside any of the ``scopes``."""
    for scope in scopes:
        first, last = scope.span
        at = bisect.bisect_left(lines, first)
        if at < len(lines) and lines[at] <= last:
            return False
    return True


def _every_name(*texts: str | None) -> frozenset[str]:
    found: set[str] = set()
    for text in texts:
        if text:
            found.update(_IDENTIFIER.findall(text))
    return frozenset(found)


def _parse(text: str, path: str) -> ast.Module | None:
    try:
        return ast.parse(text, filename=path)
    except (SyntaxError, ValueError):  # ValueError: NUL bytes
        return None


def defined_names(change: FileChange) -> frozenset[str]:
    """Every name the file binds at import time, imports left out (old and new side): what its
    importers can see, for changes whose effect on the module's namespace is unknown."""
    names: set[str] = set()
    for text in (change.old_text, change.new_text):
        tree = _parse(text, change.path) if text is not None else None
        if tree is None:
            names |= _every_name(text)
            continue
        for scope in _scopes(tree):
            if scope.owner is None:
                imports: set[str] = set()
                for stmt in scope.statements:
                    names |= _bound_names(stmt, imports) - imports
                names.update(scope.classes)
    return frozenset(names)


def changed_code(change: FileChange) -> ChangedCode:
    """Which functions and which module-level names of a Python file ``change`` touches.

    A file added or removed counts as a change of every function it has and of its module
    level. Text that does not parse (a SyntaxError on either side) is a module-level change
    that may affect every name in the file.
    """
    old, new = change.old_text, change.new_text
    old_lines, new_lines = _changed_lines(old or "", new or "")
    old_tree = _parse(old, change.path) if old is not None else ast.Module([], [])
    new_tree = _parse(new, change.path) if new is not None else ast.Module([], [])
    if old_tree is None or new_tree is None:
        every = _every_name(old, new)
        functions: set[str] = set()
        for tree in (old_tree, new_tree):
            if tree is not None:
                functions.update(s.qualname for s in _scopes(tree) if s.kind == "function")
        return ChangedCode(
            change.path,
            frozenset(functions),
            True,
            every,
            old_lines,
            new_lines,
            wide=True,
            opaque=True,
        )
    old_scopes: dict[str, list[_Scope]] = {}
    new_scopes: dict[str, list[_Scope]] = {}
    for scopes, tree, text in ((old_scopes, old_tree, old), (new_scopes, new_tree, new)):
        for scope in _scopes(tree, "global" in (text or "")):
            # Two definitions with one qualname (a property's getter and setter, `if`/`else`
            # variants) share a code name: compare them together.
            scopes.setdefault(scope.qualname, []).append(scope)
    functions = set()
    module_level = wide = opaque = False
    names: set[str] = set()
    imports: set[str] = set()
    for qualname in old_scopes.keys() | new_scopes.keys():
        before = old_scopes.get(qualname, [])
        after = new_scopes.get(qualname, [])
        if before and after and _untouched(before, old_lines) and _untouched(after, new_lines):
            continue  # the same text on both sides (lines outside every difference)
        a = [_dump(stmt) for scope in before for stmt in scope.statements]
        b = [_dump(stmt) for scope in after for stmt in scope.statements]
        if a == b:
            continue
        scope = (after or before)[0]
        if scope.owner is not None:
            functions.add(scope.owner)
            continue
        a_stmts = [stmt for s in before for stmt in s.statements]
        b_stmts = [stmt for s in after for stmt in s.statements]
        gone, came = _differing(a, b, a_stmts, b_stmts)
        if not gone and not came:
            continue  # only plain definitions moved
        module_level = True
        more = _import_time_change(scope, gone, came, names, imports, functions)
        wide, opaque = wide or more[0], opaque or more[1]
    if names:
        for scopes in (old_scopes, new_scopes):
            statements = _import_time_statements(s for g in scopes.values() for s in g)
            if _follow(statements, names, functions):
                wide = opaque = True
    if old is None or new is None:
        module_level = wide = opaque = True
        stem = change.path.rsplit("/", 1)[-1].removesuffix(".py")
        names |= defined_names(change) | {stem}
    return ChangedCode(
        change.path,
        frozenset(functions),
        module_level,
        frozenset(names),
        old_lines,
        new_lines,
        import_names=frozenset(imports),
        wide=wide,
        opaque=opaque,
    )


def reach_at_import(change: FileChange, function: str) -> frozenset[str]:
    """The names that the file's import-time statements bind with what ``function`` computes
    (``DOUBLED = _build()``, then ``TWICE = DOUBLED * 2``): for a function that ran at import."""
    top = function.split(".", 1)[0]
    reached = {top}
    for text in (change.old_text, change.new_text):
        tree = _parse(text, change.path) if text is not None else None
        if tree is not None:
            _follow(_import_time_statements(_scopes(tree)), reached, set())
    return frozenset(reached)


def _child(scope: _Scope, name: str) -> str:
    return f"{scope.qualname}.{name}" if scope.qualname else name


def _import_time_change(
    scope: _Scope,
    gone: list[ast.stmt],
    came: list[ast.stmt],
    names: set[str],
    imports: set[str],
    functions: set[str],
) -> tuple[bool, bool]:
    """Record what the changed import-time statements of ``scope`` bind. Return (wide,
    opaque): whether every test that ran code of the file must run (see ChangedCode)."""
    wide = opaque = False
    shapes: dict[str, set[str]] = {}
    for stmt in (*gone, *came):
        info = _def_info(stmt)
        if info is not None and not info.is_class:
            shapes.setdefault(info.name, set()).add(info.decorators)
    counted: dict[str, int] = {}
    for stmt in (*gone, *came):
        info = _def_info(stmt)
        if info is not None:
            counted[info.name] = counted.get(info.name, 0) + 1
    for stmt in (*gone, *came):
        info = _def_info(stmt)
        if info is not None and not info.is_class:
            if counted[info.name] > 1 and len(shapes[info.name]) == 1:
                # Same decorators on both sides: only defaults or annotations changed, and
                # those matter only when the function runs.
                functions.add(_child(scope, info.name))
                continue
            names.add(info.name)
            names.update(scope.classes)
            dunder = info.name.startswith("__") and info.name.endswith("__")
            if info.decorators != _EMPTY or (dunder and info.name not in _PLAIN_DUNDERS):
                wide = opaque = True  # a decorator reshapes; a dunder acts without a name
            continue
        bound = _bound_names(stmt, imports)
        names |= bound
        names.update(scope.classes)
        wide = True  # the rule: a constant, class attribute... reaches the whole file
        opaque = opaque or _opaque(stmt, bound)
    names |= _mentioned(gone) ^ _mentioned(came)
    if "__all__" in names:  # what `from m import *` exports
        names |= _mentioned(gone, strings=True) ^ _mentioned(came, strings=True)
    return wide, opaque


def _undecorated_function(stmt: ast.stmt) -> bool:
    info = _def_info(stmt)
    return info is not None and not info.is_class and info.decorators == _EMPTY


def _differing(
    a: list[str], b: list[str], a_stmts: list[ast.stmt], b_stmts: list[ast.stmt]
) -> tuple[list[ast.stmt], list[ast.stmt]]:
    """The statements only on the old side and only on the new side.

    A ``def`` without decorators that only moved is no change: where it stands does not alter
    what it does.
    """
    gone: list[int] = []
    came: list[int] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            gone.extend(range(i1, i2))
            came.extend(range(j1, j2))
    moved = {a[i] for i in gone} & {b[j] for j in came}
    moved = {a[i] for i in gone if a[i] in moved and _undecorated_function(a_stmts[i])}
    return (
        [a_stmts[i] for i in gone if a[i] not in moved],
        [b_stmts[j] for j in came if b[j] not in moved],
    )
