"""Real projects for the test-selection benchmark: pinned sdists that ship their test suites.

Each subject is downloaded with pip (``pip download --no-deps --no-binary :all:``), unpacked
into a cache folder, made a git repository with one commit, and given one virtual environment
per Python with its test dependencies. The subject itself is put on the venv's path by a
``.pth`` file pointing at its source folder (what an editable install does), so a mutation of
the checkout takes effect on the next run without reinstalling anything.

Run ``python bench/subjects.py --help``; ``bench/bench_select.py`` calls :func:`prepare`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess  # nosec B404 - a benchmark drives pip, git and pytest
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

PYTEST = "pytest==8.3.3"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "amoskys-bench-select"
GITIGNORE = "__pycache__/\n*.egg-info/\n.pytest_cache/\n.amoskys/\nbuild/\n"
# The sdists carry leftovers of their authors' runs; they are not part of the project.
LEFTOVERS = (".pytest_cache", ".coverage")


@dataclass(frozen=True)
class Subject:
    """One pinned project: where its code and tests live and what its suite needs."""

    name: str
    version: str
    source: str  # folder put on sys.path (relative to the checkout)
    package: str  # the package folder whose files are mutated (relative to the checkout)
    tests: str
    test_deps: tuple[str, ...]
    # Packages the venv gets from pytest's own dependencies that the subject must replace.
    shadowed: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"


SUBJECTS: dict[str, Subject] = {
    s.name: s
    for s in (
        Subject("click", "8.1.7", "src", "src/click", "tests", (PYTEST,)),
        Subject(
            "packaging",
            "24.1",
            "src",
            "src/packaging",
            "tests",
            (PYTEST, "pretend==1.0.9"),
            shadowed=("packaging",),
        ),
        Subject("more-itertools", "10.5.0", ".", "more_itertools", "tests", (PYTEST,)),
    )
}


def python_for(version: str) -> str:
    """The interpreter for ``3.11``/``3.12``: pyenv's build, else one on PATH, else ours."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for candidate in sorted(pyenv.glob(f"{version}.*"), reverse=True):
        exe = candidate / "bin" / "python"
        if exe.exists():
            return str(exe)
    found = shutil.which(f"python{version}")
    if found:
        return found
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        return sys.executable
    raise SystemExit(f"no Python {version} found (pyenv or python{version} on PATH)")


def _run(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(  # nosec B603 - fixed argv built here
        argv, cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout


def _pip_env(cache: Path) -> dict[str, str]:
    return {**os.environ, "PIP_CACHE_DIR": str(cache / "pip"), "PIP_NO_INPUT": "1"}


def fetch(subject: Subject, cache: Path) -> Path:
    """The subject's checkout: sdist unpacked, leftovers removed, one git commit."""
    repo = cache / "repos" / subject.key
    if (repo / ".git").is_dir():
        return repo
    sdists = cache / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    pattern = f"{subject.name.replace('-', '[-_]')}-{subject.version}.tar.gz"
    found = list(sdists.glob(pattern))
    if not found:
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"{subject.name}=={subject.version}",
                "-d",
                str(sdists),
            ],
            env=_pip_env(cache),
        )
        found = list(sdists.glob(pattern))
    if len(found) != 1:
        raise SystemExit(f"{subject.key}: expected one sdist in {sdists}, found {found}")
    staging = cache / "repos" / f".{subject.key}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tarfile.open(found[0]) as tar:
        tar.extractall(staging, filter="data")
    (top,) = list(staging.iterdir())
    for leftover in LEFTOVERS:
        for path in list(top.rglob(leftover)):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    if not (top / subject.tests).is_dir():
        raise SystemExit(f"{subject.key}: the sdist has no {subject.tests}/ folder")
    (top / ".gitignore").write_text(GITIGNORE)
    git_env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.invalid",
        "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    }
    _run(["git", "init", "-q", "-b", "main", str(top)], env=git_env)
    _run(["git", "add", "-A"], cwd=top, env=git_env)
    _run(["git", "commit", "-q", "-m", f"{subject.key} sdist"], cwd=top, env=git_env)
    top.rename(repo)
    shutil.rmtree(staging, ignore_errors=True)
    return repo


def venv_path(subject: Subject, python: str, cache: Path) -> Path:
    return cache / "venvs" / f"{subject.key}-py{python}"


def make_venv(subject: Subject, python: str, cache: Path, repo: Path) -> Path:
    """A venv for ``python`` (e.g. "3.12") with the test deps and the checkout on sys.path."""
    venv = venv_path(subject, python, cache)
    exe = venv / "bin" / "python"
    marker = venv / ".bench-ready"
    if marker.exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    _run([python_for(python), "-m", "venv", str(venv)])
    env = _pip_env(cache)
    _run([str(exe), "-m", "pip", "install", "-q", *subject.test_deps], env=env)
    if subject.shadowed:
        _run([str(exe), "-m", "pip", "uninstall", "-q", "-y", *subject.shadowed], env=env)
    site = Path(
        _run([str(exe), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip()
    )
    (site / f"bench-subject-{subject.name}.pth").write_text(f"{(repo / subject.source)}\n")
    marker.write_text(" ".join(subject.test_deps) + "\n")
    return venv


@dataclass(frozen=True)
class Prepared:
    subject: Subject
    python: str
    repo: Path
    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def exe(self) -> Path:
        return self.venv / "bin" / "python"


def prepare(names: list[str], pythons: list[str], cache: Path) -> list[Prepared]:
    """Fetch every subject and make its venvs; cheap when the cache already has them."""
    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for name in names:
        subject = SUBJECTS[name]
        repo = fetch(subject, cache)
        for python in pythons:
            out.append(Prepared(subject, python, repo, make_venv(subject, python, cache, repo)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="default: %(default)s")
    parser.add_argument("--subjects", default=",".join(SUBJECTS), help="default: %(default)s")
    parser.add_argument("--pythons", default="3.12,3.11", help="default: %(default)s")
    parser.add_argument("--check", action="store_true", help="run each suite once, print counts")
    args = parser.parse_args()
    for p in prepare(args.subjects.split(","), args.pythons.split(","), args.cache):
        print(f"{p.subject.key:24} py{p.python}  {p.repo}  {p.venv}")
        if args.check:
            done = subprocess.run(  # nosec B603 - the subject's own suite
                [str(p.exe), "-m", "pytest", "-q", "-p", "no:cacheprovider", p.subject.tests],
                cwd=p.repo,
                capture_output=True,
                text=True,
                check=False,
            )
            print("    " + (done.stdout.strip().splitlines() or ["(no output)"])[-1])


if __name__ == "__main__":
    main()
