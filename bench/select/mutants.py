"""Single-line mutants of a project's source, found with ``ast``, chosen with a fixed seed.

A mutant is a text replacement of one line of one file: (file, line, before, after, kind,
scope). Kinds: operator swaps (``+``/``-``, ``<``/``<=``, ``==``/``!=``, ``and``/``or``, ...),
constant changes (numbers + 1, strings, ``True``/``False``) and negated conditions
(``if x`` -> ``if not (x)``). Scopes say where the line is: ``function`` (a function body),
``module``, ``class`` (a class body outside its methods), ``default`` (a default argument
value) or ``decorator`` (a decorator's arguments). Only mutants whose file still compiles are
kept. Annotations, docstrings, ``if TYPE_CHECKING``/``__main__`` blocks and ``__all__`` are
skipped: changing them is either invisible or breaks every import, neither is informative.
"""

from __future__ import annotations

import ast
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SWAPS: dict[type[ast.AST], tuple[str, str]] = {
    ast.Add: ("+", "-"),
    ast.Sub: ("-", "+"),
    ast.Mult: ("*", "//"),
    ast.FloorDiv: ("//", "*"),
    ast.Mod: ("%", "//"),
    ast.BitOr: ("|", "&"),
    ast.BitAnd: ("&", "|"),
    ast.LShift: ("<<", ">>"),
    ast.RShift: (">>", "<<"),
    ast.Lt: ("<", "<="),
    ast.LtE: ("<=", "<"),
    ast.Gt: (">", ">="),
    ast.GtE: (">=", ">"),
    ast.Eq: ("==", "!="),
    ast.NotEq: ("!=", "=="),
    ast.Is: ("is", "is not"),
    ast.IsNot: ("is not", "is"),
    ast.In: ("in", "not in"),
    ast.NotIn: ("not in", "in"),
    ast.And: ("and", "or"),
    ast.Or: ("or", "and"),
}
SCOPES = ("function", "module", "class", "default", "decorator")


@dataclass(frozen=True)
class Mutant:
    file: str  # POSIX path relative to the checkout
    line: int  # 1-based
    before: str  # the whole line, without its newline
    after: str
    kind: str  # swap:+:-, const:int, const:str, const:bool, negate
    scope: str  # one of SCOPES

    @property
    def key(self) -> str:
        raw = f"{self.file}\0{self.line}\0{self.before}\0{self.after}"
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def apply(self, text: str) -> str:
        """The file's text with this mutant's line replaced; the line must still match."""
        lines = text.splitlines(keepends=True)
        old = lines[self.line - 1]
        body = old.rstrip("\r\n")
        if body != self.before:
            raise ValueError(f"{self.file}:{self.line} no longer reads {self.before!r}")
        lines[self.line - 1] = self.after + old[len(body) :]
        return "".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "before": self.before,
            "after": self.after,
            "kind": self.kind,
            "scope": self.scope,
        }


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _skipped_subtrees(tree: ast.AST) -> set[ast.AST]:
    """Nodes whose whole subtree is not mutated (annotations, docstrings, guards, __all__)."""
    out: set[ast.AST] = set()

    def drop(node: ast.AST | None) -> None:
        if node is not None:
            out.update(ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            drop(node.returns)
            for arg in [*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs]:
                drop(arg.annotation)
            drop(node.args.vararg and node.args.vararg.annotation)
            drop(node.args.kwarg and node.args.kwarg.annotation)
        if isinstance(node, ast.AnnAssign):
            drop(node.annotation)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                drop(body[0])
        if isinstance(node, ast.If):
            text = ast.unparse(node.test)
            if "TYPE_CHECKING" in text or "__name__" in text:
                drop(node)
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                drop(node)
        if isinstance(node, ast.JoinedStr):
            drop(node)  # f-strings: their parts have no usable positions before 3.12
    return out


def _scope(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> str:
    """Where ``node`` sits: inside a function body, a default, a decorator, a class or module."""
    child = node
    parent = parents.get(child)
    while parent is not None:
        if isinstance(parent, ast.arguments):
            if child in parent.defaults or child in parent.kw_defaults:
                return "default"
        elif isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            if not isinstance(parent, ast.Lambda) and child in parent.decorator_list:
                return "decorator"
            return "function"
        elif isinstance(parent, ast.ClassDef):
            if child in parent.decorator_list:
                return "decorator"
            return "class"
        child, parent = parent, parents.get(parent)
    return "module"


def _operator_edit(
    line: str, start: int, end: int, token: str, new: str
) -> tuple[int, int, str] | None:
    """Replace ``token`` in line[start:end] when that gap holds nothing else but parentheses."""
    gap = line[start:end]
    inner = gap.strip(" ()")
    if " ".join(inner.split()) != token:
        return None
    at = start + gap.index(inner)
    return at, at + len(inner), new


def _edits(node: ast.AST, line: str) -> Iterator[tuple[int, int, str, str]]:
    """(start col, end col, replacement, kind) edits of one node, all on ``node``'s line."""
    if isinstance(node, ast.BinOp) and type(node.op) in SWAPS:
        if node.left.end_lineno == node.right.lineno == node.lineno:
            token, new = SWAPS[type(node.op)]
            edit = _operator_edit(
                line, node.left.end_col_offset or 0, node.right.col_offset, token, new
            )
            if edit:
                yield (*edit, f"swap:{token}:{new}")
    elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in SWAPS:
        right = node.comparators[0]
        if node.left.end_lineno == right.lineno == node.lineno:
            token, new = SWAPS[type(node.ops[0])]
            edit = _operator_edit(line, node.left.end_col_offset or 0, right.col_offset, token, new)
            if edit:
                yield (*edit, f"swap:{token}:{new}")
    elif isinstance(node, ast.BoolOp) and len(node.values) == 2 and type(node.op) in SWAPS:
        a, b = node.values
        if a.end_lineno == b.lineno == a.lineno:
            token, new = SWAPS[type(node.op)]
            edit = _operator_edit(line, a.end_col_offset or 0, b.col_offset, token, new)
            if edit:
                yield (*edit, f"swap:{token}:{new}")
    elif isinstance(node, ast.Constant) and node.lineno == node.end_lineno:
        text = line[node.col_offset : node.end_col_offset]
        value = node.value
        if isinstance(value, bool):
            yield node.col_offset, node.end_col_offset or 0, str(not value), "const:bool"
        elif isinstance(value, int) and text.isdigit():
            yield node.col_offset, node.end_col_offset or 0, str(value + 1), "const:int"
        elif isinstance(value, str) and text[:1] in "\"'" and not text.startswith(text[0] * 3):
            try:
                same = ast.literal_eval(text) == value
            except (ValueError, SyntaxError):
                same = False
            if same:
                new = repr(value + "X") if value else repr("X")
                yield node.col_offset, node.end_col_offset or 0, new, "const:str"
    elif isinstance(node, (ast.If, ast.While, ast.IfExp)):
        test = node.test
        if test.lineno == test.end_lineno and not (
            isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
        ):
            text = line[test.col_offset : test.end_col_offset]
            yield test.col_offset, test.end_col_offset or 0, f"not ({text})", "negate"


def mutants_of_file(root: Path, rel: str) -> list[Mutant]:
    """Every compiling single-line mutant of one file."""
    text = (root / rel).read_text(encoding="utf-8")
    tree = ast.parse(text)
    lines = text.splitlines()
    parents = _parents(tree)
    skipped = _skipped_subtrees(tree)
    out: list[Mutant] = []
    seen: set[tuple[int, str]] = set()
    for node in ast.walk(tree):
        if node in skipped or not hasattr(node, "lineno"):
            continue
        line_no = node.lineno
        line = lines[line_no - 1]
        for start, end, new, kind in _edits(node, line):
            after = line[:start] + new + line[end:]
            if after == line or (line_no, after) in seen:
                continue
            mutant = Mutant(rel, line_no, line, after, kind, _scope(node, parents))
            try:
                compile(mutant.apply(text), rel, "exec", dont_inherit=True)
            except (SyntaxError, ValueError):
                continue
            seen.add((line_no, after))
            out.append(mutant)
    return sorted(out, key=lambda m: (m.line, m.after))


def all_mutants(root: Path, package: str) -> list[Mutant]:
    files = sorted(p.relative_to(root).as_posix() for p in (root / package).rglob("*.py"))
    return [m for rel in files for m in mutants_of_file(root, rel)]


def _spread(mutants: list[Mutant], count: int, rng: random.Random) -> list[Mutant]:
    """``count`` of ``mutants``, taken in turn from each family (swap, const, negate)."""
    families: dict[str, list[Mutant]] = {}
    for m in mutants:
        families.setdefault(m.kind.split(":")[0], []).append(m)
    for members in families.values():
        rng.shuffle(members)
    picked: list[Mutant] = []
    order = sorted(families)
    while len(picked) < count and any(families.values()):
        for family in order:
            if families[family] and len(picked) < count:
                picked.append(families[family].pop())
    return picked


def choose(mutants: list[Mutant], count: int, seed: int) -> list[Mutant]:
    """``count`` mutants: a third (when there are) outside function bodies, and within each
    part the families (operator swaps, constants, negations) in equal shares.

    Deterministic for a given seed and candidate list; ordered by file and line so a run
    walks each file once.
    """
    rng = random.Random(seed)
    inside = [m for m in mutants if m.scope == "function"]
    outside = [m for m in mutants if m.scope != "function"]
    picked = _spread(outside, min(len(outside), count // 3), rng)
    picked += _spread(inside, count - len(picked), rng)
    if len(picked) < count:
        rest = [m for m in outside if m not in picked]
        picked += _spread(rest, count - len(picked), rng)
    return sorted(picked, key=lambda m: (m.file, m.line, m.after))
