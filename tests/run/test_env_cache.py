"""The environment cache: real interpreters, real venvs, real pip installing local wheels."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess  # nosec B404
import sys
import threading
import zipfile
from pathlib import Path
from typing import Callable

import pytest
from amoskys_testing import REPO

from amoskys.run import env_cache
from amoskys.run.env_cache import EnvCache, make_key
from amoskys.run.interpreters import Interpreter, create_venv

INTERP = Interpreter(Path(sys.executable), sys.version_info[:3], "cpython")
# Only the system folders on PATH, none holding uv or rustc: pip runs ``rustc --version`` for
# its user agent, and a rustup proxy would write ``~/.rustup``.
SAFE_PATH = os.pathsep.join(
    d
    for d in os.defpath.split(os.pathsep)
    if d and not shutil.which("uv", path=d) and not shutil.which("rustc", path=d)
)
PIP_ENV = {
    "PATH": SAFE_PATH,
    "PIP_CONFIG_FILE": os.devnull,  # no machine-wide index, find-links or constraints
    "PIP_NO_CACHE_DIR": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_NO_INPUT": "1",
}
Repo = Callable[..., Path]


def build_wheel(folder: Path, version: str) -> Path:
    """A wheel of ``envmark`` (a module and an ``envmark`` console script), written by hand."""
    name = f"envmark-{version}"
    files = {
        "envmark/__init__.py": (
            f"VERSION = {version!r}\n\n\ndef main() -> None:\n"
            "    import sys\n\n    print('envmark', VERSION, sys.prefix)\n"
        ),
        f"{name}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: envmark\nVersion: {version}\n"
        ),
        f"{name}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{name}.dist-info/entry_points.txt": "[console_scripts]\nenvmark = envmark:main\n",
    }
    record = []
    for rel, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{rel},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{name}.dist-info/RECORD,,")
    files[f"{name}.dist-info/RECORD"] = "\n".join(record) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for rel, text in files.items():
            archive.writestr(rel, text)
    return wheel


def run(argv: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(  # nosec B603
        argv,
        cwd=cwd,
        env={**os.environ, **PIP_ENV},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def pip(venv: Path, *args: str) -> str:
    return run([str(venv / "bin" / "python"), "-m", "pip", *args])


def site_packages(venv: Path) -> Path:
    return next(venv.glob("lib/python*/site-packages"))


def tree(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file and link below ``root``: inode and content (or link target)."""
    found: dict[str, tuple[int, bytes]] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[rel] = (0, os.readlink(path).encode())
        elif path.is_file():
            found[rel] = (path.stat().st_ino, path.read_bytes())
    return found


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheels")
    build_wheel(folder / "v1", "1.0")
    build_wheel(folder / "v2", "2.0")
    return folder


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("venv-templates")


def job_venv(tmp: Path, templates: Path, wheels: Path) -> tuple[Path, Path]:
    """A job's workspace and a venv with envmark 1.0 installed, as a first run leaves them."""
    workspace = tmp / "run1" / "workspace"
    workspace.mkdir(parents=True)
    (workspace / "requirements.txt").write_text("envmark==1.0\n")
    venv = tmp / "run1" / "_tool" / "venv"
    create_venv(INTERP, venv, env={**os.environ, **PIP_ENV}, template_dir=templates)
    pip(venv, "install", "--no-index", "--find-links", str(wheels / "v1"), "envmark==1.0")
    return workspace, venv


def second_workspace(tmp: Path) -> Path:
    workspace = tmp / "run2" / "workspace"
    workspace.mkdir(parents=True)
    (workspace / "requirements.txt").write_text("envmark==1.0\n")
    return workspace


def test_a_second_job_with_the_same_key_reuses_the_env_from_its_new_place(
    tmp_path: Path, templates: Path, wheels: Path
) -> None:
    workspace, venv = job_venv(tmp_path, templates, wheels)
    cache = EnvCache(tmp_path / "store" / "envs")
    key = make_key(INTERP, job="ci#test", matrix={}, workspace=workspace)
    assert cache.restore(key, tmp_path / "nothing-yet", workspace) is None
    assert cache.save(key, venv, workspace).status == "saved"

    workspace2 = second_workspace(tmp_path)
    key2 = make_key(INTERP, job="ci#test", matrix={}, workspace=workspace2)
    assert key2.digest == key.digest
    new = tmp_path / "run2" / "_tool" / "venv"
    restored = cache.restore(key2, new, workspace2)
    assert restored is not None
    # No pip install ran for the new venv: envmark is there, as hard links of the cached files.
    module = site_packages(new) / "envmark" / "__init__.py"
    cached = site_packages(restored.entry / "venv") / "envmark" / "__init__.py"
    assert module.stat().st_ino == cached.stat().st_ino
    # Scripts, pip and the interpreter work from the new place; sys.prefix is the new venv.
    out = run([str(new / "bin" / "envmark")])
    assert out.split() == ["envmark", "1.0", str(new)]
    assert str(new) in run([str(new / "bin" / "pip"), "--version"])
    prefix = run([str(new / "bin" / "python"), "-c", "import sys; print(sys.prefix)"])
    assert prefix.strip() == str(new)
    assert str(tmp_path / "run1") not in (new / "pyvenv.cfg").read_text()
    assert str(tmp_path / "run1") not in (new / "bin" / "envmark").read_text()
    # The rewritten script is a copy: the cached one still names the old venv.
    assert (new / "bin" / "envmark").stat().st_ino != (
        restored.entry / "venv" / "bin" / "envmark"
    ).stat().st_ino
    assert str(venv) in (restored.entry / "venv" / "bin" / "envmark").read_text()
    # Nothing changed: nothing to save.
    assert cache.save(key2, new, workspace2, restored=restored).status == "unchanged"


def test_the_cached_tree_is_unchanged_after_the_job_changes_its_venv(
    tmp_path: Path, templates: Path, wheels: Path
) -> None:
    workspace, venv = job_venv(tmp_path, templates, wheels)
    cache = EnvCache(tmp_path / "envs")
    key = make_key(INTERP, job="ci#test", matrix={}, workspace=workspace)
    cache.save(key, venv, workspace)
    entry = cache.entries(key)[0]
    before = tree(entry)

    workspace2 = second_workspace(tmp_path)
    new = tmp_path / "run2" / "venv"
    restored = cache.restore(key, new, workspace2)
    assert restored is not None
    pip(new, "install", "--no-index", "--find-links", str(wheels / "v2"), "envmark==2.0")
    assert run([str(new / "bin" / "envmark")]).split()[:2] == ["envmark", "2.0"]
    with open(new / "pyvenv.cfg", "a") as cfg:  # a rewritten copy: writing to it is safe
        cfg.write("# edited by the job\n")
    pip(new, "uninstall", "-y", "pip")
    run([str(new / "bin" / "python"), "-m", "compileall", "-q", str(site_packages(new))])
    assert tree(entry) == before

    # The job changed its venv: it is saved as the newest entry of the key, the old one goes.
    assert cache.save(key, new, workspace2, restored=restored).status == "saved"
    entries = cache.entries(key)
    assert len(entries) == 1 and entries[0] != entry and not entry.exists()
    third = tmp_path / "run3" / "venv"
    assert cache.restore(key, third, workspace2) is not None
    assert run([str(third / "bin" / "envmark")]).split()[:2] == ["envmark", "2.0"]


def test_the_key_follows_dependency_files_interpreter_job_and_install_lines(
    tmp_path: Path,
) -> None:
    ws = tmp_path / "ws"
    (ws / "requirements").mkdir(parents=True)
    (ws / "requirements.txt").write_text("-r requirements/base.txt\n")
    (ws / "requirements" / "base.txt").write_text("click==8.1\n")
    (ws / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["click"]\n\n[tool.black]\nline-length = 100\n'
    )
    (ws / "README.md").write_text("hello\n")
    scripts = ["echo hi\npip install -r requirements.txt\n# pip install nothing"]

    def key() -> env_cache.EnvKey:
        return make_key(
            INTERP, job="ci#test", matrix={"os": "ubuntu"}, workspace=ws, scripts=scripts
        )

    first = key()
    assert sorted(first.parts["files"]) == [
        "pyproject.toml",
        "requirements.txt",
        "requirements/base.txt",
    ]
    assert first.parts["install"] == ["pip install -r requirements.txt"]
    (ws / "README.md").write_text("changed\n")
    text = (ws / "pyproject.toml").read_text()
    (ws / "pyproject.toml").write_text(text.replace("line-length = 100", "line-length = 88"))
    assert key().digest == first.digest  # linters' settings and other files do not count
    (ws / "requirements" / "base.txt").write_text("click==8.2\n")
    changed = key()
    assert changed.digest != first.digest and changed.scope == first.scope
    (ws / "pyproject.toml").write_text(text.replace('["click"]', '["click", "rich"]'))
    assert key().digest != changed.digest
    scripts.append("pip install extra")
    assert key().digest != changed.digest
    other_job = make_key(INTERP, job="ci#lint", matrix={"os": "ubuntu"}, workspace=ws)
    assert other_job.scope != first.scope


def test_only_the_newest_keys_of_a_job_are_kept(
    tmp_path: Path, templates: Path, wheels: Path
) -> None:
    workspace, venv = job_venv(tmp_path, templates, wheels)
    cache = EnvCache(tmp_path / "envs", keep=2)
    keys = []
    for n in range(3):
        (workspace / "requirements.txt").write_text(f"envmark==1.0  # {n}\n")
        keys.append(make_key(INTERP, job="ci#test", matrix={}, workspace=workspace))
        cache.save(keys[-1], venv, workspace)
    other = make_key(INTERP, job="ci#other", matrix={}, workspace=workspace)
    cache.save(other, venv, workspace)
    assert [bool(cache.entries(k)) for k in keys] == [False, True, True]
    assert cache.entries(other)
    # A key not restored for longer than the limit goes at the next save of any job.
    idle = cache.entries(keys[1])[0] / "meta.json"
    long_ago = idle.stat().st_mtime - env_cache.MAX_IDLE_SECONDS - 60
    os.utime(idle, (long_ago, long_ago))
    (workspace / "requirements.txt").write_text("envmark==1.0  # other\n")
    cache.save(make_key(INTERP, job="ci#other", matrix={}, workspace=workspace), venv, workspace)
    assert [bool(cache.entries(k)) for k in keys] == [False, False, True]
    assert cache.clear() == 3
    assert not any(cache.entries(k) for k in keys)


def test_concurrent_saves_of_one_key_leave_one_complete_entry(
    tmp_path: Path, templates: Path, wheels: Path
) -> None:
    workspace, venv = job_venv(tmp_path, templates, wheels)
    key = make_key(INTERP, job="ci#test", matrix={}, workspace=workspace)
    caches = [EnvCache(tmp_path / "envs") for _ in range(4)]
    errors: list[BaseException] = []

    def save(cache: EnvCache) -> None:
        try:
            assert cache.save(key, venv, workspace).status == "saved"
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=save, args=(c,)) for c in caches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    cache = caches[0]
    assert len(cache.entries(key)) == 1
    assert not list((cache.root / ".tmp").iterdir())
    new = tmp_path / "run2" / "venv"
    assert cache.restore(key, new, second_workspace(tmp_path)) is not None
    assert run([str(new / "bin" / "envmark")]).split() == ["envmark", "1.0", str(new)]


# An in-tree PEP 660 build backend: pip makes a real editable install of the project without
# setuptools, wheel or the network. Like setuptools' lenient mode, it puts the absolute path of
# the project's ``src`` folder into a ``.pth`` file.
BACKEND = """
import base64, hashlib, os, zipfile

def _wheel(folder, files):
    name = "proj-1.0-0.editable-py3-none-any.whl"
    record = []
    for rel, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append("%s,sha256=%s,%d" % (rel, digest.decode(), len(text.encode())))
    record.append("proj-1.0.dist-info/RECORD,,")
    files["proj-1.0.dist-info/RECORD"] = "\\n".join(record) + "\\n"
    with zipfile.ZipFile(os.path.join(folder, name), "w") as archive:
        for rel, text in files.items():
            archive.writestr(rel, text)
    return name

def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, {
        "__editable__.proj-1.0.pth": os.path.abspath("src") + "\\n",
        "proj-1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: proj\\nVersion: 1.0\\n",
        "proj-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: t\\n"
        "Root-Is-Purelib: true\\nTag: py3-none-any\\n",
        "proj-1.0.dist-info/entry_points.txt": "[console_scripts]\\nproj = proj:main\\n",
    })

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raise NotImplementedError("only editable installs")

def build_sdist(sdist_directory, config_settings=None):
    raise NotImplementedError("only editable installs")
"""


def editable_project(workspace: Path) -> None:
    (workspace / "src" / "proj").mkdir(parents=True)
    (workspace / "src" / "proj" / "__init__.py").write_text(
        "def main() -> None:\n    print(__file__)\n"
    )
    (workspace / "backend.py").write_text(BACKEND)
    (workspace / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        '[project]\nname = "proj"\nversion = "1.0"\n'
    )


def test_an_editable_install_follows_the_workspace_and_survives_pip_reinstalling_it(
    tmp_path: Path, templates: Path
) -> None:
    workspace = tmp_path / "run1" / "workspace"
    editable_project(workspace)
    venv = tmp_path / "run1" / "venv"
    create_venv(INTERP, venv, env={**os.environ, **PIP_ENV}, template_dir=templates)
    editable = ["install", "--no-index", "--no-build-isolation", "-e", "."]
    run([str(venv / "bin" / "python"), "-m", "pip", *editable], cwd=workspace)
    assert run([str(venv / "bin" / "proj")]).strip().startswith(str(workspace))
    cache = EnvCache(tmp_path / "envs")
    key = make_key(INTERP, job="ci#test", matrix={}, workspace=workspace)
    cache.save(key, venv, workspace)
    entry = cache.entries(key)[0]
    before = tree(entry)

    workspace2 = tmp_path / "run2" / "workspace"
    editable_project(workspace2)
    new = tmp_path / "run2" / "venv"
    restored = cache.restore(key, new, workspace2)
    assert restored is not None
    expected = str(workspace2 / "src" / "proj" / "__init__.py")
    assert run([str(new / "bin" / "proj")], cwd=tmp_path).strip() == expected  # before pip
    direct_url = next(site_packages(new).glob("proj-1.0.dist-info/direct_url.json"))
    assert workspace2.as_uri() in direct_url.read_text()
    run([str(new / "bin" / "python"), "-m", "pip", *editable], cwd=workspace2)
    assert run([str(new / "bin" / "proj")], cwd=tmp_path).strip() == expected
    assert tree(entry) == before
    assert (
        str(workspace) in (site_packages(entry / "venv") / "__editable__.proj-1.0.pth").read_text()
    )
    assert cache.save(key, new, workspace2, restored=restored).status == "unchanged"


# -- through `amoskys run` ------------------------------------------------------------------

WORKFLOW = """
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-python@v5
        with: {{python-version: '{version}', cache: pip}}
      - name: probe, then install (a probe step of its own would turn the env cache off)
        run: |
          python -c "import envmark" && echo warm >> {probe} || echo cold >> {probe}
          pip install --no-index --find-links {wheels} -r requirements.txt
      - run: envmark
  broken:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-python@v5
        with: {{python-version: '{version}'}}
      - run: pip install --no-index --find-links {wheels} -r requirements.txt
      - run: exit 1
"""


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if "AMOSKYS_RUN_ID" in os.environ:  # as amoskys_testing.outer_run_only: whole runs, once
        pytest.skip("starts whole amoskys runs: the top-level test run runs it once")
    # The running interpreter is found through pyenv (HOME is a temporary folder here).
    pyenv = Path(sys.base_prefix).parent.parent
    env = {**os.environ, **PIP_ENV, "PYTHONPATH": str(REPO), "PYENV_ROOT": str(pyenv)}
    env.pop("AMOSKYS_RUN_ID", None)
    env.pop(env_cache.DISABLE_VARIABLE, None)
    return subprocess.run(  # nosec B603
        # --no-cache: the job result cache would serve an unchanged job without running it.
        [sys.executable, "-m", "amoskys", "run", "--no-live", "--no-cache", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_amoskys_run_restores_the_env_of_the_last_successful_run(
    make_repo: Repo, tmp_path: Path, wheels: Path
) -> None:
    probe = tmp_path / "probe.txt"
    version = "%d.%d" % sys.version_info[:2]
    workflow = WORKFLOW.format(version=version, probe=probe, wheels=wheels / "v1")
    root = make_repo({".github/workflows/ci.yml": workflow, "requirements.txt": "envmark==1.0\n"})
    envs = root / ".amoskys" / "cache" / "actions" / "envs"

    def keys() -> set[str]:
        if not envs.is_dir():
            return set()
        return {p.name for p in envs.iterdir() if not p.name.startswith(".") and p.is_dir()}

    first = run_cli(root, "--job", "test")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "saved to the environment cache" in first.stdout
    assert (root / ".amoskys" / "cache" / "actions" / "pip").is_dir()  # cache: pip, same store
    saved = keys()
    assert len(saved) == 1

    second = run_cli(root, "--job", "test")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "restored from the environment cache" in second.stdout
    assert "unchanged since it was restored" in second.stdout
    assert probe.read_text().split() == ["cold", "warm"]

    broken = run_cli(root, "--job", "broken")
    assert broken.returncode == 1
    assert keys() == saved  # a failed job saves nothing

    (root / "requirements.txt").write_text("envmark==1.0\n# changed\n")  # an uncommitted edit
    third = run_cli(root, "--job", "test")
    assert third.returncode == 0, third.stdout + third.stderr
    assert probe.read_text().split() == ["cold", "warm", "cold"]
    assert len(keys()) == 2


def test_actions_cache_saves_at_job_end_into_the_same_store(make_repo: Repo) -> None:
    root = make_repo(
        {
            ".github/workflows/ci.yml": """
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/cache@v4
        with: {path: out/data.txt, key: data-1}
      - run: mkdir -p out && echo made-by-the-job > out/data.txt
""",
        }
    )
    first = run_cli(root)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "[build/post] Cache saved with key: data-1" in first.stdout
    store = root / ".amoskys" / "cache" / "actions"
    assert list((store / "entries").glob("*.json"))
    second = run_cli(root)
    assert "Cache restored from key: data-1" in second.stdout


CI_REQUIREMENTS_WORKFLOW = """
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-python@v5
        with: {{python-version: '{version}'}}
      - run: pip install --no-index --find-links {wheels} -r ci/requirements.txt
      - run: python -c "import envmark"
"""


def test_a_requirement_removed_from_a_file_the_install_line_names_misses_the_env_cache(
    make_repo: Repo, wheels: Path
) -> None:
    # ci/requirements.txt matches none of DEPENDENCY_GLOBS: only the install line names it.
    # With the old key the second run restored a venv holding envmark and went green, where a
    # fresh venv (GitHub's) fails the import.
    version = "%d.%d" % sys.version_info[:2]
    workflow = CI_REQUIREMENTS_WORKFLOW.format(version=version, wheels=wheels / "v1")
    root = make_repo(
        {".github/workflows/ci.yml": workflow, "ci/requirements.txt": "envmark==1.0\n"}
    )
    first = run_cli(root)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "saved to the environment cache" in first.stdout
    (root / "ci" / "requirements.txt").write_text("# envmark is no longer needed\n")
    second = run_cli(root)
    assert second.returncode == 1, second.stdout + second.stderr
    assert "restored from the environment cache" not in second.stdout


def test_the_key_follows_files_named_by_install_lines_and_their_includes(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "ci").mkdir(parents=True)
    (ws / "ci" / "requirements.txt").write_text("-r common.txt\n--constraint=../pins.cfg\n")
    (ws / "ci" / "common.txt").write_text("click==8.1\n")
    (ws / "pins.cfg").write_text("click<9\n")
    scripts = ["pip install --requirement=ci/requirements.txt"]

    def key() -> env_cache.EnvKey:
        return make_key(INTERP, job="ci#test", matrix={}, workspace=ws, scripts=scripts)

    first = key()
    assert sorted(first.parts["files"]) == ["ci/common.txt", "ci/requirements.txt", "pins.cfg"]
    (ws / "ci" / "common.txt").write_text("")
    second = key()
    assert second.digest != first.digest
    (ws / "pins.cfg").write_text("")
    third = key()
    assert third.digest != second.digest
    # A local wheel of the same version is not re-installed by pip: its content counts.
    (ws / "vendor").mkdir()
    (ws / "vendor" / "x-1.0-py3-none-any.whl").write_bytes(b"one")
    (ws / "ci" / "common.txt").write_text("../vendor/x-1.0-py3-none-any.whl  # vendored\n")
    fourth = key()
    assert "vendor/x-1.0-py3-none-any.whl" in fourth.parts["files"]
    (ws / "vendor" / "x-1.0-py3-none-any.whl").write_bytes(b"two")
    assert key().digest != fourth.digest


STEP_CONTEXT_WORKFLOW = """
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-python@v5
        with: {{python-version: '{version}'}}
      - if: {condition}
        run: pip install --no-index --find-links {wheels} -r requirements.txt
        working-directory: backend
      - run: python -c "import envmark"
"""


def test_an_install_step_turned_off_or_its_folder_edited_misses_the_env_cache(
    make_repo: Repo, wheels: Path
) -> None:
    # The install line stays the same, so the old key stayed the same: the restored venv
    # still held envmark and the import passed where a fresh venv (GitHub's) fails.
    version = "%d.%d" % sys.version_info[:2]
    workflow = STEP_CONTEXT_WORKFLOW.format(version=version, wheels=wheels / "v1", condition="true")
    root = make_repo(
        {".github/workflows/ci.yml": workflow, "backend/requirements.txt": "envmark==1.0\n"}
    )
    first = run_cli(root)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "saved to the environment cache" in first.stdout
    (root / "backend" / "requirements.txt").write_text("# envmark is no longer needed\n")
    second = run_cli(root)
    assert second.returncode == 1, second.stdout + second.stderr
    (root / "backend" / "requirements.txt").write_text("envmark==1.0\n")
    third = run_cli(root)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "restored from the environment cache" in third.stdout
    turned_off = workflow.replace("if: true", "if: false")
    (root / ".github" / "workflows" / "ci.yml").write_text(turned_off)
    fourth = run_cli(root)
    assert fourth.returncode == 1, fourth.stdout + fourth.stderr


def test_the_key_follows_make_and_sync_steps_and_the_makefile(tmp_path: Path) -> None:
    # `make deps` and `uv sync` install without the word install: removing such a step, or
    # a package from the Makefile, kept the key and the restored venv kept the package.
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "Makefile").write_text("deps:\n\tpip install requests\n")
    scripts = ["make deps\npytest", "uv sync --frozen"]

    def key() -> env_cache.EnvKey:
        return make_key(INTERP, job="ci#test", matrix={}, workspace=ws, scripts=scripts)

    first = key()
    assert first.parts["install"] == ["make deps", "uv sync --frozen"]
    assert "Makefile" in first.parts["files"]
    (ws / "Makefile").write_text("deps:\n\tpip install\n")
    second = key()
    assert second.digest != first.digest
    scripts.pop()
    assert key().digest != second.digest


MOVED_INSTALL_WORKFLOW = """
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-python@v5
        with: {{python-version: '{version}'}}
      - run: {first}
      - run: {second}
"""


def test_an_install_step_moved_after_the_step_that_needs_it_misses_the_env_cache(
    make_repo: Repo, wheels: Path
) -> None:
    # The install lines are the same in the same order, only a non-install step now comes
    # first: the old key was the same, and the restored venv let the import pass before the
    # install step ran, where a fresh venv (GitHub's) fails it.
    version = "%d.%d" % sys.version_info[:2]
    install = f"pip install --no-index --find-links {wheels / 'v1'} envmark==1.0"
    use = "python -c 'import envmark'"
    workflow = MOVED_INSTALL_WORKFLOW.format(version=version, first=install, second=use)
    root = make_repo({".github/workflows/ci.yml": workflow})
    first = run_cli(root)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "saved to the environment cache" in first.stdout
    moved = MOVED_INSTALL_WORKFLOW.format(version=version, first=use, second=install)
    (root / ".github" / "workflows" / "ci.yml").write_text(moved)
    second = run_cli(root)
    assert second.returncode == 1, second.stdout + second.stderr


LATE_INSTALL_WORKFLOW = """
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-python@v5
        with: {{python-version: '{version}'}}
      - run: python check.py
      - run: pip install --no-index --find-links {wheels} envmark==1.0
"""


def test_what_a_later_step_installs_is_not_there_for_the_steps_before_it(
    make_repo: Repo, wheels: Path
) -> None:
    # The saved venv is the job's venv at its end, restored before its first step: a code
    # change that makes check.py import what only the later step installs passed (nothing
    # in the key changed) where a fresh venv (GitHub's) fails. Such a job is not cached.
    version = "%d.%d" % sys.version_info[:2]
    workflow = LATE_INSTALL_WORKFLOW.format(version=version, wheels=wheels / "v1")
    root = make_repo({".github/workflows/ci.yml": workflow, "check.py": "print('ok')\n"})
    first = run_cli(root)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "environment cache not used" in first.stdout
    assert "saved to the environment cache" not in first.stdout
    (root / "check.py").write_text("import envmark\n")
    second = run_cli(root)
    assert second.returncode == 1, second.stdout + second.stderr
    assert "restored from the environment cache" not in second.stdout


def test_a_job_that_installs_after_a_step_using_the_venv_is_not_cached() -> None:
    assert not env_cache.installs_after_use(["pip install -r r.txt", "pytest"])
    assert not env_cache.installs_after_use(["# note\n", "pip install x\npytest", "pytest"])
    assert env_cache.installs_after_use(["pip install -r r.txt", "pytest", "pip install build"])
    assert env_cache.installs_after_use(["python check.py", "make deps"])


COMPOSITE_WORKFLOW = """
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-python@v5
        with: {{python-version: '{version}'}}
      - uses: ./.github/actions/deps
      - run: python -c 'import envmark'
"""

COMPOSITE_ACTION = """
name: deps
runs:
  using: composite
  steps:
    - run: {line}
      shell: bash
"""


def test_an_install_removed_from_a_local_composite_action_misses_the_env_cache(
    make_repo: Repo, wheels: Path
) -> None:
    # The key read only the job's own run: steps: the action's install line was not in it,
    # so removing it kept the key and the restored venv still held envmark.
    version = "%d.%d" % sys.version_info[:2]
    install = f"pip install --no-index --find-links {wheels / 'v1'} envmark==1.0"
    action = ".github/actions/deps/action.yml"
    root = make_repo(
        {
            ".github/workflows/ci.yml": COMPOSITE_WORKFLOW.format(version=version),
            action: COMPOSITE_ACTION.format(line=install),
        }
    )
    first = run_cli(root)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "saved to the environment cache" in first.stdout
    (root / action).write_text(COMPOSITE_ACTION.format(line="echo nothing to install"))
    second = run_cli(root)
    assert second.returncode == 1, second.stdout + second.stderr
