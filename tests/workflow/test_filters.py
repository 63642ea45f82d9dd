"""GitHub's filter pattern syntax: every row of the docs' "filter pattern cheat sheet", the
documented ordered negation, the path-filter rules, and invalid patterns."""

from __future__ import annotations

import pytest

from amoskys.errors import AmoskysError
from amoskys.workflow.filters import (
    MAX_DIFF_FILES,
    compile_pattern,
    filter_passes,
    is_negated,
    matches_any,
    paths_pass,
    pattern_problem,
)

# "Patterns to match branches and tags": (patterns, matching examples, non-matching examples).
# The matching examples are the doc's; the non-matching ones follow from each row's description.
BRANCH_AND_TAG_ROWS = [
    (["feature/*"], ["feature/my-branch", "feature/your-branch"], ["feature/beta-a/my-branch"]),
    (
        ["feature/**"],
        ["feature/beta-a/my-branch", "feature/your-branch", "feature/mona/the/octocat"],
        ["feature", "features/x", "main"],
    ),
    (
        ["main", "releases/mona-the-octocat"],
        ["main", "releases/mona-the-octocat"],
        ["mainline", "releases/mona", "xmain"],
    ),
    (["*"], ["main", "releases"], ["releases/v1", "all/the/branches"]),
    (["**"], ["all/the/branches", "every/tag", "main"], []),
    (["*feature"], ["mona-feature", "feature", "ver-10-feature"], ["feature-x", "a/feature"]),
    (["v2*"], ["v2", "v2.0", "v2.9"], ["v1.0", "xv2", "v2/x"]),
    (["v[12].[0-9]+.[0-9]+"], ["v1.10.1", "v2.0.0"], ["v3.0.0", "v1.x.1", "v1.0", "v1..1"]),
]

# "Patterns to match file paths".
PATH_ROWS = [
    (["*"], ["README.md", "server.rb"], ["docs/README.md"]),
    (["*.jsx?"], ["page.js", "page.jsx"], ["page.jsxx", "page.ts", "src/page.js"]),
    (["**"], ["all/the/files.md", "a.txt"], []),
    (["*.js"], ["app.js", "index.js"], ["js/index.js", "app.jsx"]),
    (["**.js"], ["index.js", "js/index.js", "src/js/app.js"], ["index.jsx", "js/index.ts"]),
    (["docs/*"], ["docs/README.md", "docs/file.txt"], ["docs/mona/octocat.txt", "a/docs/x"]),
    (["docs/**"], ["docs/README.md", "docs/mona/octocat.txt"], ["a/docs/x", "docs2/x"]),
    (
        ["docs/**/*.md"],
        ["docs/README.md", "docs/mona/hello-world.md", "docs/a/markdown/file.md"],
        ["docs/a.txt", "README.md", "src/docs/a.md"],
    ),
    (
        ["**/docs/**"],
        ["docs/hello.md", "dir/docs/my-file.txt", "space/docs/plan/space.doc"],
        ["mydocs/hello.md", "docs"],
    ),
    (["**/README.md"], ["README.md", "js/README.md"], ["README.mdx", "js/MY-README.md"]),
    (["**/*src/**"], ["a/src/app.js", "my-src/code/js/app.js"], ["src.js", "a/srcs/app.js"]),
    (["**/*-post.md"], ["my-post.md", "path/their-post.md"], ["post.md", "path/post.md"]),
    (
        ["**/migrate-*.sql"],
        ["migrate-10909.sql", "db/migrate-v1.0.sql", "db/sept/migrate-v1.sql"],
        ["db/migrate-v1.sqlx", "db/migrate/v1.sql"],
    ),
    (["*.md", "!README.md"], ["hello.md"], ["README.md", "docs/hello.md"]),
    (["*.md", "!README.md", "README*"], ["hello.md", "README.md", "README.doc"], ["a/README.md"]),
]


@pytest.mark.parametrize(("patterns", "matching", "other"), BRANCH_AND_TAG_ROWS + PATH_ROWS)
def test_cheat_sheet_rows(patterns: list[str], matching: list[str], other: list[str]) -> None:
    for value in matching:
        assert matches_any(patterns, value), (patterns, value)
    for value in other:
        assert not matches_any(patterns, value), (patterns, value)


def test_bullet_examples() -> None:
    assert matches_any(["Octo*"], "Octocat")
    assert matches_any(["[CB]at"], "Cat") and matches_any(["[CB]at"], "Bat")
    assert not matches_any(["[CB]at"], "Rat")
    assert matches_any(["[1-2]00"], "100") and matches_any(["[1-2]00"], "200")
    assert not matches_any(["[1-2]00"], "300")
    assert matches_any(["[0-9a-z]"], "7") and matches_any(["[0-9a-z]"], "q")
    assert not matches_any(["[0-9a-z]"], "Q")


def test_question_mark_and_plus_repeat_the_preceding_character() -> None:
    assert matches_any(["colou?r"], "color") and matches_any(["colou?r"], "colour")
    assert not matches_any(["colou?r"], "colouur")
    assert matches_any(["go+d"], "god") and matches_any(["go+d"], "goood")
    assert not matches_any(["go+d"], "gd")
    # The set is "the preceding character" too.
    assert matches_any(["v[0-9]?"], "v") and matches_any(["v[0-9]?"], "v7")
    assert not matches_any(["v[0-9]?"], "v77")


def test_stacked_repeats_repeat_the_repeated_character() -> None:
    # Not Python's lazy '??' or possessive '?+'/'++': (b?)+ and (b+)+ are plain repeats.
    assert matches_any(["ab?+b"], "ab")
    assert matches_any(["ab++b"], "abbb")
    assert matches_any(["ab??c"], "abc") and matches_any(["ab??c"], "ac")


def test_single_star_stops_at_slash_double_star_does_not() -> None:
    assert not matches_any(["a*z"], "a/z")
    assert matches_any(["a**z"], "a/b/z")
    assert matches_any(["a/**/z"], "a/z")  # '**/' may match no directory at all


def test_escaping_makes_special_characters_literal() -> None:
    assert matches_any(["release\\*"], "release*")
    assert not matches_any(["release\\*"], "release1")
    assert matches_any(["a\\+b"], "a+b") and not matches_any(["a\\+b"], "aab")
    assert matches_any(["v1\\?"], "v1?") and not matches_any(["v1\\?"], "v1")
    assert matches_any(["\\[x\\]"], "[x]")
    assert matches_any(["\\!important"], "!important")


def test_regex_characters_are_literal() -> None:
    assert matches_any(["v1.0"], "v1.0")
    assert not matches_any(["v1.0"], "v1x0")
    assert matches_any(["a(b)|c$"], "a(b)|c$")


def test_bang_is_literal_after_the_first_character() -> None:
    assert matches_any(["wow!"], "wow!")
    assert not is_negated("wow!") and is_negated("!wow")


def test_matching_is_case_sensitive() -> None:
    assert not matches_any(["main"], "Main")


def test_documented_ordered_negation() -> None:
    patterns = ["releases/**", "!releases/**-alpha"]
    assert matches_any(patterns, "releases/10")
    assert matches_any(patterns, "releases/beta/mona")
    assert not matches_any(patterns, "releases/10-alpha")
    assert not matches_any(patterns, "releases/beta/3-alpha")


def test_later_positive_reincludes_and_last_match_wins() -> None:
    patterns = ["**", "!docs/**", "docs/keep/**"]
    assert matches_any(patterns, "src/a.py")
    assert not matches_any(patterns, "docs/a.md")
    assert matches_any(patterns, "docs/keep/a.md")


def test_negations_only_include_nothing() -> None:
    assert not matches_any(["!main"], "develop")
    assert not matches_any(["!main"], "main")
    assert not matches_any([], "main")


def test_sub_project_paths_example() -> None:
    patterns = ["sub-project/**", "!sub-project/docs/**"]
    assert paths_pass(patterns, None, ["sub-project/index.js"])
    assert paths_pass(patterns, None, ["sub-project/src/index.js"])
    assert not paths_pass(patterns, None, ["sub-project/docs/readme.md"])


def test_filter_passes_include_and_ignore() -> None:
    assert filter_passes(None, None, "anything")
    assert filter_passes(["main", "develop"], None, "develop")
    assert not filter_passes(["main", "develop"], None, "feature/x")
    assert not filter_passes(None, ["mona/octocat", "releases/**-alpha"], "releases/beta/3-alpha")
    assert filter_passes(None, ["mona/octocat", "releases/**-alpha"], "releases/beta")
    assert not filter_passes([], None, "main")  # a written, empty list matches nothing


def test_filter_passes_with_both_lists_requires_both() -> None:
    assert filter_passes(["releases/**"], ["**-alpha"], "releases/1")
    assert not filter_passes(["releases/**"], ["**-alpha"], "releases/1-alpha")
    assert not filter_passes(["releases/**"], ["**-alpha"], "main")


def test_paths_needs_one_matching_file() -> None:
    assert paths_pass(["**.js"], None, ["README.md", "src/app.js"])
    assert not paths_pass(["**.js"], None, ["README.md", "docs/a.md"])


def test_paths_ignore_runs_unless_every_file_is_ignored() -> None:
    ignore = ["docs/**"]
    assert not paths_pass(None, ignore, ["docs/a.md", "docs/b/c.md"])
    assert paths_pass(None, ignore, ["docs/a.md", "src/app.py"])


def test_unknown_changes_pass_and_no_changes_do_not() -> None:
    assert paths_pass(["**.js"], None, None)
    assert paths_pass(None, ["docs/**"], None)
    assert not paths_pass(["**.js"], None, [])
    assert not paths_pass(None, ["docs/**"], [])
    assert paths_pass(None, None, [])  # no path filter: nothing to evaluate


def test_only_the_first_300_files_count() -> None:
    assert MAX_DIFF_FILES == 300
    many = [f"docs/{i}.md" for i in range(MAX_DIFF_FILES)]
    assert not paths_pass(["src/**"], None, [*many, "src/app.py"])
    assert paths_pass(["src/**"], None, [*many[:-1], "src/app.py"])
    assert not paths_pass(None, ["docs/**"], [*many, "src/app.py"])


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("", "empty"),
        ("!", "'!' must be followed"),
        ("release/[0-9", "never closed"),
        ("[]", "no characters"),
        ("release\\", "escapes nothing"),
        ("?x", "no preceding character"),
        ("+x", "no preceding character"),
        ("[a-Z]", "a-z, A-Z or 0-9"),
        ("[!-/]", "negated sets"),
        ("[^a]", "negated sets"),
        ("[9-0]", "backwards"),
        ("[a[b]", "inside"),
    ],
)
def test_invalid_patterns(pattern: str, fragment: str) -> None:
    problem = pattern_problem(pattern)
    assert problem is not None and fragment in problem
    with pytest.raises(AmoskysError, match="invalid filter pattern"):
        compile_pattern(pattern)
    with pytest.raises(AmoskysError):
        matches_any(["ok", pattern], "ok")


@pytest.mark.parametrize(
    "pattern",
    ["main", "!main", "*", "release/v[0-9].[0-9]", "a[._-]b", "**/", "a]b", "wow!"],
)
def test_valid_patterns_have_no_problem(pattern: str) -> None:
    assert pattern_problem(pattern) is None
    compile_pattern(pattern)


def test_problem_points_at_the_character() -> None:
    assert pattern_problem("!ab[") == "'[' is never closed by ']' (at character 4 of '!ab[')"


def test_compile_pattern_is_cached_and_ignores_the_bang() -> None:
    assert compile_pattern("docs/**") is compile_pattern("docs/**")
    assert compile_pattern("!docs/*").match("docs/a") is not None
