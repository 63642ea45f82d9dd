"""``amoskys init``: four files that parse, validate and plan; never an overwrite without
--force; all or nothing when a folder cannot be written. Plus the ``.pre-commit-hooks.yaml``
manifest that lets other repositories use Amoskys's gates as pre-commit hooks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess  # nosec B404 - the tests drive the real CLI, git, make and chattr
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from amoskys_testing import REPO, SHARED
from ruamel.yaml import YAML

from amoskys.errors import AmoskysError, ConfigError
from amoskys.init import (
    DEPENDABOT_PATH,
    MAKEFILE_PATH,
    PRE_COMMIT_PATH,
    WORKFLOW_PATH,
    Options,
    package_path,
    render_files,
    render_workflow,
    write_files,
)
from amoskys.plan import plan
from amoskys.platforms import LocalRunner
from amoskys.workflow.events import Event
from amoskys.workflow.parse import parse_workflow_text

FILES = (WORKFLOW_PATH, DEPENDABOT_PATH, MAKEFILE_PATH, PRE_COMMIT_PATH)
TARGETS = ("lint", "security-scan", "test", "ci-local")
LINUX = LocalRunner("linux")

# The fields of a hook in a pre-commit manifest, as pre-commit documents them ("Creating new
# hooks"), plus additional_dependencies and alias, which its manifest schema also accepts.
MANIFEST_REQUIRED = {"id", "name", "entry", "language"}
MANIFEST_OPTIONAL = {
    "alias",
    "files",
    "exclude",
    "types",
    "types_or",
    "exclude_types",
    "always_run",
    "fail_fast",
    "verbose",
    "pass_filenames",
    "require_serial",
    "description",
    "language_version",
    "minimum_pre_commit_version",
    "args",
    "stages",
    "additional_dependencies",
    "log_file",
}


def _yaml(text: str) -> Any:
    return YAML(typ="safe").load(text)


def amoskys(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(  # nosec B603
        [sys.executable, "-m", "amoskys", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file outside .git: its bytes and its mtime in nanoseconds."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def _leftovers(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.name.endswith((".tmp", ".bak")) and ".git" not in p.parts
    )


@pytest.fixture
def empty_repo(make_repo: Callable[..., Path]) -> Path:
    return make_repo({}, commit=False)


@pytest.fixture
def inited(empty_repo: Path) -> Path:
    done = amoskys(empty_repo, "init")
    assert done.returncode == 0, done.stderr
    return empty_repo


# ---------------------------------------------------------------- the four files


def test_init_in_an_empty_git_repo_writes_the_four_files(empty_repo: Path) -> None:
    done = amoskys(empty_repo, "init")
    assert done.returncode == 0, done.stderr
    for rel in FILES:
        assert (empty_repo / rel).is_file(), rel
        assert f"wrote {rel}" in done.stdout
    assert "skipped" not in done.stdout
    # Nothing to check yet, and init says so.
    assert "the gates check the whole folder (none found yet); tests: none found" in done.stdout
    assert _leftovers(empty_repo) == []
    assert done.stderr == ""


def test_the_generated_files_parse(inited: Path) -> None:
    workflow = _yaml((inited / WORKFLOW_PATH).read_text(encoding="utf-8"))
    assert set(workflow["jobs"]) == {"code-quality", "security-scan", "test-matrix"}
    dependabot = _yaml((inited / DEPENDABOT_PATH).read_text(encoding="utf-8"))
    assert dependabot["version"] == 2
    config = _yaml((inited / PRE_COMMIT_PATH).read_text(encoding="utf-8"))
    (local,) = config["repos"]
    assert local["repo"] == "local"
    hooks = {hook["id"]: hook for hook in local["hooks"]}
    assert set(hooks) == {"amoskys-lint", "amoskys-secrets"}
    assert hooks["amoskys-lint"]["entry"] == "amoskys lint"
    assert hooks["amoskys-secrets"]["entry"] == "amoskys security-scan --secrets-only --staged"
    for hook in hooks.values():
        assert hook["language"] == "system"  # the amoskys on PATH: no network
        assert hook["pass_filenames"] is False
    assert hooks["amoskys-lint"]["types"] == ["python"]
    assert hooks["amoskys-secrets"]["types"] == ["text"]


def _recipes(makefile: str) -> dict[str, list[str]]:
    """target -> its recipe lines (without the TAB); fails on a recipe not led by a TAB."""
    recipes: dict[str, list[str]] = {}
    current: str | None = None
    for line in makefile.splitlines():
        if line.startswith("\t"):
            assert current is not None, f"recipe line outside a rule: {line!r}"
            recipes[current].append(line[1:])
        elif line.startswith(" ") and line.strip() and current is not None:
            raise AssertionError(f"recipe of {current} indented with spaces: {line!r}")
        elif ":" in line and not line.startswith("#") and "=" not in line:
            current = line.split(":", 1)[0].strip()
            recipes[current] = []
        else:
            current = None
    return recipes


def test_the_makefile_has_tab_recipes_for_the_four_targets(inited: Path) -> None:
    text = (inited / MAKEFILE_PATH).read_text(encoding="utf-8")
    recipes = _recipes(text)
    assert set(recipes[".PHONY"]) == set() and recipes.keys() >= {".PHONY", *TARGETS}
    phony = next(line for line in text.splitlines() if line.startswith(".PHONY:"))
    assert set(phony.split(":", 1)[1].split()) == set(TARGETS)
    assert recipes["lint"] == ["$(AMOSKYS) lint"]
    assert recipes["security-scan"] == ["$(AMOSKYS) security-scan"]
    assert recipes["test"] == ["$(AMOSKYS) test"]
    assert recipes["ci-local"] == ["$(AMOSKYS) run"]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_reads_the_makefile(inited: Path) -> None:
    def dry(*args: str) -> str:
        done = subprocess.run(  # nosec B603 B607
            ["make", "-n", *args], cwd=inited, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert dry("lint") == "amoskys lint"
    assert dry("security-scan") == "amoskys security-scan"
    assert dry("test") == "amoskys test"
    assert dry("ci-local") == "amoskys run"
    assert dry("AMOSKYS=python -m amoskys", "ci-local") == "python -m amoskys run"


def test_dependabot_config_is_the_seeds(inited: Path) -> None:
    seed = SHARED / "seed" / "dependabot.yml"
    if not seed.is_file():
        pytest.skip("the seed is not here")
    generated = _yaml((inited / DEPENDABOT_PATH).read_text(encoding="utf-8"))
    assert generated == _yaml(seed.read_text(encoding="utf-8"))


def test_workflow_keeps_the_seeds_triggers_jobs_and_matrix_and_runs_amoskys(inited: Path) -> None:
    seed_path = SHARED / "seed" / "ci-cd.yml"
    if not seed_path.is_file():
        pytest.skip("the seed is not here")
    seed = _yaml(seed_path.read_text(encoding="utf-8"))
    generated = _yaml((inited / WORKFLOW_PATH).read_text(encoding="utf-8"))
    assert {k: v for k, v in generated["on"].items() if k != "workflow_dispatch"} == seed["on"]
    assert "workflow_dispatch" in generated["on"]
    assert set(generated["jobs"]) == set(seed["jobs"])
    assert generated["jobs"]["test-matrix"]["strategy"] == seed["jobs"]["test-matrix"]["strategy"]

    def runs(job: str) -> list[str]:
        return [s["run"] for s in generated["jobs"][job]["steps"] if "run" in s]

    assert runs("code-quality")[-1] == "amoskys lint"
    assert runs("security-scan")[-1] == "amoskys security-scan"
    assert runs("test-matrix")[-1] == "amoskys test"
    for job in generated["jobs"]:
        install = runs(job)[0]
        assert 'python -m pip install "${AMOSKYS_PIP_SPEC:-amoskys==' in install, job
    assert generated["defaults"]["run"]["shell"] == "bash"


def test_the_workflow_validates_and_plans_as_expected() -> None:
    text = render_workflow(Options())
    workflow = parse_workflow_text(text, WORKFLOW_PATH)
    result = plan([workflow], Event("push", ref="refs/heads/main"), runner=LINUX)
    names = [inst.name for inst in result.instances]
    matrix = [
        f"test-matrix ({os_label}, {version})"
        for os_label in ("ubuntu-latest", "windows-latest", "macOS-latest")
        for version in ("3.11", "3.12", "3.13")
    ]
    assert names == ["code-quality", "security-scan", *matrix]
    runnable = [inst.name for inst in result.instances if inst.runnable]
    assert runnable == ["code-quality", "security-scan", *matrix[:3]]
    for event in (
        Event("push", ref="refs/heads/develop"),
        Event("pull_request", ref="refs/heads/feature", base_ref="refs/heads/main"),
        Event("schedule"),
        Event("workflow_dispatch"),
    ):
        assert plan([workflow], event, runner=LINUX).decisions[0].decision.triggered, event
    other = plan([workflow], Event("push", ref="refs/heads/feature"), runner=LINUX)
    assert not other.decisions[0].decision.triggered
    assert other.instances == ()


def test_amoskys_validate_and_plan_accept_the_generated_workflow(inited: Path) -> None:
    validated = amoskys(inited, "validate")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "1 workflow(s), 3 job(s): no problems found" in validated.stdout
    planned = amoskys(inited, "plan", "--ref", "main", "--json")
    assert planned.returncode == 0, planned.stderr
    jobs = json.loads(planned.stdout)["jobs"]
    assert [j["id"] for j in jobs] == ["code-quality", "security-scan"] + ["test-matrix"] * 9
    matrix = [j for j in jobs if j["id"] == "test-matrix"]
    ubuntu = [j["matrix"]["python-version"] for j in matrix if j["runs_on"] == ["ubuntu-latest"]]
    assert ubuntu == ["3.11", "3.12", "3.13"]
    assert [j["runnable"] for j in jobs].count(True) == 5


# ---------------------------------------------------------------- never overwrite; --force


def test_a_second_init_skips_every_file_and_changes_nothing(inited: Path) -> None:
    before = _tree(inited)
    done = amoskys(inited, "init")
    assert done.returncode == 0, done.stderr
    for rel in FILES:
        assert f"skipped {rel}: it exists (--force overwrites it)" in done.stdout
    assert "wrote" not in done.stdout
    assert "nothing written" in done.stdout
    assert _tree(inited) == before


def test_init_writes_only_the_missing_files(inited: Path) -> None:
    (inited / MAKEFILE_PATH).write_text("all:\n\t@echo mine\n", encoding="utf-8")
    (inited / PRE_COMMIT_PATH).unlink()
    done = amoskys(inited, "init")
    assert done.returncode == 0, done.stderr
    assert f"wrote {PRE_COMMIT_PATH}" in done.stdout
    assert f"skipped {MAKEFILE_PATH}" in done.stdout
    assert (inited / MAKEFILE_PATH).read_text(encoding="utf-8") == "all:\n\t@echo mine\n"


def test_force_rewrites_every_file(inited: Path) -> None:
    expected = {rel: (inited / rel).read_bytes() for rel in FILES}
    for rel in FILES:
        (inited / rel).write_text("# mine\n", encoding="utf-8")
    (inited / MAKEFILE_PATH).chmod(0o600)
    done = amoskys(inited, "init", "--force")
    assert done.returncode == 0, done.stderr
    for rel in FILES:
        assert f"wrote {rel}" in done.stdout
        assert (inited / rel).read_bytes() == expected[rel]
    assert (inited / MAKEFILE_PATH).stat().st_mode & 0o777 == 0o600  # its mode is kept
    assert _leftovers(inited) == []


def test_a_folder_where_a_file_belongs_is_skipped_or_an_input_error_with_force(
    inited: Path,
) -> None:
    (inited / MAKEFILE_PATH).unlink()
    (inited / MAKEFILE_PATH).mkdir()
    before = _tree(inited)
    skipped = amoskys(inited, "init")
    assert skipped.returncode == 0, skipped.stderr
    assert f"skipped {MAKEFILE_PATH}: a folder of that name exists" in skipped.stdout
    done = amoskys(inited, "init", "--force")
    assert done.returncode == 2
    assert "Makefile is a folder, not a file" in done.stderr
    assert _tree(inited) == before


# ---------------------------------------------------------------- all or nothing


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], None]]:
    """Make a folder unwritable, even for root (chattr +i); undone after the test."""
    undo: list[Callable[[], None]] = []

    def make(folder: Path) -> None:
        if hasattr(os, "geteuid") and os.geteuid() != 0:
            folder.chmod(0o555)
            undo.append(lambda: folder.chmod(0o755))
        else:
            chattr = shutil.which("chattr")
            if chattr is None:
                pytest.skip("running as root without chattr: no folder is read-only")
            done = subprocess.run(  # nosec B603
                [chattr, "+i", str(folder)], capture_output=True, text=True
            )
            if done.returncode != 0:
                pytest.skip(f"chattr +i does not work here: {done.stderr.strip()}")
            undo.append(lambda: subprocess.run([chattr, "-i", str(folder)], check=False))
        probe = folder / ".probe"
        try:
            probe.write_text("x", encoding="utf-8")
        except OSError:
            return
        probe.unlink()
        pytest.skip("the folder is still writable")

    yield make
    for action in reversed(undo):
        action()


def test_a_read_only_folder_is_an_input_error_and_nothing_is_written(
    empty_repo: Path, read_only: Callable[[Path], None]
) -> None:
    # .github/workflows is writable, .github is not: the workflow is staged first, then
    # Dependabot's file cannot be, and the staged workflow must not be left behind.
    (empty_repo / ".github" / "workflows").mkdir(parents=True)
    read_only(empty_repo / ".github")
    done = amoskys(empty_repo, "init")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"cannot write {DEPENDABOT_PATH}" in done.stderr
    assert "nothing was written" in done.stderr
    assert "Traceback" not in done.stderr
    assert _tree(empty_repo) == {}
    assert list((empty_repo / ".github" / "workflows").iterdir()) == []


def test_a_rename_that_fails_rolls_back_the_files_already_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / MAKEFILE_PATH).write_text("old\n", encoding="utf-8")
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        if Path(dst).name == PRE_COMMIT_PATH:
            raise PermissionError(13, "Permission denied")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    files = render_files(Options())
    with pytest.raises(AmoskysError) as caught:
        write_files(root, files, force=True)
    assert caught.value.message == f"cannot write {PRE_COMMIT_PATH}: Permission denied"
    assert caught.value.hint is not None and "nothing was written" in caught.value.hint
    assert sorted(p.name for p in root.iterdir()) == [MAKEFILE_PATH]  # .github removed too
    assert (root / MAKEFILE_PATH).read_text(encoding="utf-8") == "old\n"


def test_a_file_that_appears_meanwhile_is_never_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import amoskys.init as init_module

    root = tmp_path / "project"
    root.mkdir()
    real_stage = init_module._stage

    def stage(root_: Path, rel: str, *args: Any) -> Any:
        staged = real_stage(root_, rel, *args)
        if rel == MAKEFILE_PATH:
            (root_ / rel).write_text("theirs\n", encoding="utf-8")
        return staged

    monkeypatch.setattr(init_module, "_stage", stage)
    outcome = write_files(root, render_files(Options()), force=False)
    assert (root / MAKEFILE_PATH).read_text(encoding="utf-8") == "theirs\n"
    assert (MAKEFILE_PATH, "it appeared while amoskys init ran") in outcome.skipped
    assert sorted(outcome.written) == sorted(set(FILES) - {MAKEFILE_PATH})
    assert _leftovers(root) == []


# ---------------------------------------------------------------- layout and options


def test_init_reports_what_the_gates_check(make_repo: Any) -> None:
    root = make_repo({"src/mypkg/__init__.py": "", "tests/test_x.py": ""}, commit=False)
    done = amoskys(root, "init")
    assert done.returncode == 0, done.stderr
    assert "the gates check package src/mypkg; tests: tests" in done.stdout
    assert "pyproject.toml" not in done.stdout  # nothing to configure


def test_several_packages_are_all_checked(make_repo: Any) -> None:
    root = make_repo({"a/__init__.py": "", "b/__init__.py": "", "tests/__init__.py": ""})
    done = amoskys(root, "init")
    assert done.returncode == 0, done.stderr
    assert "the gates check packages a, b; tests: tests" in done.stdout


def test_package_option_prints_the_pyproject_lines_to_check_it(make_repo: Any) -> None:
    root = make_repo({"src/found/__init__.py": "", "test/test_x.py": ""}, commit=False)
    done = amoskys(root, "init", "--package", "other")
    assert done.returncode == 0, done.stderr
    assert "the gates check package src/found; tests: test" in done.stdout
    assert (
        'to check src/other, set in pyproject.toml:\n  [tool.amoskys]\n  packages = ["src/other"]'
        in done.stdout
    )
    assert "note: src/other/ does not exist yet" in done.stdout
    assert not (root / "pyproject.toml").exists()  # init never edits it
    again = amoskys(root, "init", "--package", "found")
    assert again.returncode == 0, again.stderr
    assert "nothing written" in again.stdout
    assert "pyproject.toml" not in again.stdout  # found is what the gates check already


def test_package_path_follows_the_layout(tmp_path: Path) -> None:
    assert package_path(tmp_path, "pkg") == "pkg"
    (tmp_path / "src").mkdir()
    assert package_path(tmp_path, "pkg") == "src/pkg"
    (tmp_path / "pkg").mkdir()  # a flat package beside an unrelated src/ folder
    assert package_path(tmp_path, "pkg") == "pkg"
    with pytest.raises(ConfigError, match="is not a Python import name"):
        package_path(tmp_path, "my-pkg")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--package", "my-pkg"), "--package 'my-pkg' is not a Python import name"),
        (("--python", "3"), "--python '3' is not a version like 3.12"),
        (("--amoskys-spec", "x}; rm -rf /"), "is not a pip requirement amoskys can write"),
        (("--amoskys-spec", "$(id)"), "is not a pip requirement amoskys can write"),
    ],
)
def test_bad_options_are_input_errors_and_write_nothing(
    empty_repo: Path, args: tuple[str, ...], message: str
) -> None:
    done = amoskys(empty_repo, "init", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert _tree(empty_repo) == {}


def test_python_versions_and_amoskys_spec_go_into_the_workflow(empty_repo: Path) -> None:
    done = amoskys(
        empty_repo,
        "init",
        "--python",
        "3.11",
        "--python",
        "3.13",
        "--python",
        "3.11",
        "--amoskys-spec",
        "amoskys @ git+https://example.com/amoskys@v1#egg=amoskys",
    )
    assert done.returncode == 0, done.stderr
    text = (empty_repo / WORKFLOW_PATH).read_text(encoding="utf-8")
    workflow = _yaml(text)
    matrix = workflow["jobs"]["test-matrix"]["strategy"]["matrix"]
    assert matrix["python-version"] == ["3.11", "3.13"]
    single = workflow["jobs"]["code-quality"]["steps"][1]["with"]["python-version"]
    assert single == "3.13"  # 3.12 is not asked for: the newest one asked for
    assert '"${AMOSKYS_PIP_SPEC:-amoskys @ git+https://example.com/amoskys@v1#egg=amoskys}"' in (
        text
    )
    result = plan([parse_workflow_text(text, WORKFLOW_PATH)], Event("push"), runner=LINUX)
    assert len(result.instances) == 2 + 3 * 2


def test_init_outside_a_git_repository_writes_into_the_current_folder(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    done = amoskys(folder, "init")
    assert done.returncode == 0, done.stderr
    assert all((folder / rel).is_file() for rel in FILES)


# ---------------------------------------------------------------- pre-commit


def _manifest() -> list[dict[str, Any]]:
    hooks = _yaml((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert isinstance(hooks, list)
    return hooks


def test_the_pre_commit_hooks_manifest_has_the_documented_shape() -> None:
    hooks = {hook["id"]: hook for hook in _manifest()}
    assert set(hooks) == {"amoskys-lint", "amoskys-secrets"}
    for hook in hooks.values():
        assert MANIFEST_REQUIRED <= set(hook), hook["id"]
        assert set(hook) <= MANIFEST_REQUIRED | MANIFEST_OPTIONAL, hook["id"]
        assert all(isinstance(hook[key], str) for key in MANIFEST_REQUIRED)
        assert hook["language"] == "python"
        assert hook["pass_filenames"] is False
        assert hook["entry"].split()[0] == "amoskys"  # the console script of pyproject.toml
    lint, secrets = hooks["amoskys-lint"], hooks["amoskys-secrets"]
    assert lint["entry"] == "amoskys lint"
    assert lint["types"] == ["python"]
    assert secrets["entry"] == "amoskys security-scan --secrets-only --staged"
    assert secrets["types"] == ["text"]
    assert 'amoskys = "amoskys.cli:main"' in (REPO / "pyproject.toml").read_text(encoding="utf-8")


def test_pre_commit_itself_accepts_the_manifest_and_the_generated_config(inited: Path) -> None:
    clientlib = pytest.importorskip("pre_commit.clientlib")
    clientlib.load_manifest(str(REPO / ".pre-commit-hooks.yaml"))
    clientlib.load_config(str(inited / PRE_COMMIT_PATH))
