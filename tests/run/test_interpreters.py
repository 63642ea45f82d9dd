"""Finding interpreters as setup-python is asked for them, and making venvs from them.

Discovery tests use small shell scripts that answer the version query like an interpreter
would, so they do not depend on what is installed; the rest use ``sys.executable``.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shlex
import shutil
import subprocess  # nosec B404 - tests run the venv's python
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from amoskys.errors import AmoskysError
from amoskys.run import interpreters
from amoskys.run.interpreters import (
    Interpreter,
    create_venv,
    find_interpreter,
    keep_answers_in,
    list_interpreters,
    parse_version_spec,
    read_version_file,
    venv_bin,
)

POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="fake interpreters are sh scripts")


def interp(
    version: str,
    *,
    impl: str = "cpython",
    pre: str = "",
    ft: bool = False,
    own: tuple[int, int, int] | None = None,
) -> Interpreter:
    major, minor, patch = (int(n) for n in version.split("."))
    return Interpreter(Path("/x/python"), (major, minor, patch), impl, pre, ft, own)


def fake_python(
    folder: Path,
    name: str,
    version: str,
    *,
    impl: str = "cpython",
    level: str = "final",
    serial: int = 0,
    ft: bool = False,
    own: str = "-",
    log: Path | None = None,
) -> Path:
    """A script that answers Amoskys' version query like the interpreter described."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    note = f"echo ran >> {shlex.quote(str(log))}\n" if log else ""
    answer = f"amoskys-interpreter {impl} {version} {level} {serial} {int(ft)} {own}"
    path.write_text(f"#!/bin/sh\n{note}echo 'noise from sitecustomize'\necho '{answer}'\n")
    path.chmod(0o755)
    return path


def only(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A search environment that sees nothing but what the test puts in it."""
    return {"PATH": "", "HOME": str(tmp_path / "no-home"), **extra}


# -- specs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "yes", "no"),
    [
        ("3.12", ["3.12.0", "3.12.9"], ["3.11.9", "3.13.0", "2.12.0"]),
        ("3.12.1", ["3.12.1"], ["3.12.0", "3.12.2", "3.13.1"]),
        ("3.x", ["3.0.0", "3.13.2"], ["2.7.18", "4.0.0"]),
        ("3", ["3.6.15", "3.13.2"], ["2.7.18"]),
        ("3.12.x", ["3.12.4"], ["3.13.0"]),
        ("*", ["2.7.18", "3.13.0"], []),
        (">=3.11", ["3.11.0", "3.13.0"], ["3.10.13"]),
        (">= 3.11 <3.13", ["3.11.7", "3.12.1"], ["3.13.0", "3.10.0"]),
        (">3.11", ["3.12.0"], ["3.11.9"]),
        (">3.11.2", ["3.11.3"], ["3.11.2"]),
        ("<3.12", ["3.11.9"], ["3.12.0"]),
        ("<=3.12", ["3.12.9"], ["3.13.0"]),
        ("<=3.12.1", ["3.12.1"], ["3.12.2"]),
        ("3.9 - 3.11", ["3.9.0", "3.11.9"], ["3.8.18", "3.12.0"]),
        ("3.9.2 - 3.11.1", ["3.9.2", "3.11.1"], ["3.9.1", "3.11.2"]),
        ("~3.11", ["3.11.0", "3.11.9"], ["3.12.0"]),
        ("~3.11.4", ["3.11.4"], ["3.11.3", "3.12.0"]),
        ("~3", ["3.0.0", "3.13.0"], ["4.0.0"]),
        ("^3.10", ["3.10.0", "3.13.0"], ["3.9.0", "4.0.0"]),
        ("^0.2.3", ["0.2.9"], ["0.3.0"]),
        ("^0.0.3", ["0.0.3"], ["0.0.4"]),
        ("2.7 || >=3.12", ["2.7.18", "3.12.0"], ["3.11.0"]),
        ("=3.12.1", ["3.12.1"], ["3.12.0"]),
        ("v3.12", ["3.12.1"], ["3.11.1"]),
    ],
)
def test_spec_matching(spec: str, yes: list[str], no: list[str]) -> None:
    parsed = parse_version_spec(spec)
    for version in yes:
        assert parsed.matches(interp(version)), f"{spec} should match {version}"
    for version in no:
        assert not parsed.matches(interp(version)), f"{spec} should not match {version}"


def test_prereleases_match_only_when_asked_for() -> None:
    rc = interp("3.14.0", pre="rc1")
    assert not parse_version_spec("3.14").matches(rc)
    assert not parse_version_spec("3.x").matches(rc)
    assert not parse_version_spec(">=3.13").matches(rc)
    assert parse_version_spec("3.14-dev").matches(rc)
    assert parse_version_spec("3.14", allow_prereleases=True).matches(rc)
    assert parse_version_spec("3.14.0rc1").matches(rc)
    assert parse_version_spec("3.14.0-rc.1").matches(rc)
    assert not parse_version_spec("3.14.0-beta.1").matches(rc)
    assert parse_version_spec(">=3.14.0-alpha.1").matches(rc)  # same x.y.z names a pre-release
    assert parse_version_spec("3.12.0-alpha.1 - 3.14.0").matches(interp("3.12.0", pre="b2"))


def test_free_threaded_builds_match_only_a_t_spec() -> None:
    free = interp("3.13.1", ft=True)
    normal = interp("3.13.1")
    for spec in ("3.13t", "3.13.1t", "3.14t-dev"):
        parsed = parse_version_spec(spec)
        assert parsed.freethreaded
        assert not parsed.matches(normal)
    assert parse_version_spec("3.13t").matches(free)
    assert parse_version_spec("3.14t-dev").matches(interp("3.14.0", pre="a5", ft=True))
    assert not parse_version_spec("3.13").matches(free)
    assert parse_version_spec(">=3.13", freethreaded=True).matches(free)


def test_pypy_specs() -> None:
    pypy = interp("3.10.14", impl="pypy", own=(7, 3, 17))
    for spec in ("pypy3.10", "pypy-3.10", "pypy3.10-v7.3.x", "pypy-3.10-v7.x", "pypy3.10-7.3.17"):
        assert parse_version_spec(spec).matches(pypy), spec
    assert not parse_version_spec("pypy3.10-v7.2.x").matches(pypy)
    assert not parse_version_spec("pypy3.9").matches(pypy)
    assert not parse_version_spec("3.10").matches(pypy)
    assert not parse_version_spec("pypy3.10").matches(interp("3.10.14"))


@pytest.mark.parametrize(
    "spec",
    ["", "   ", "3.12.z", "~=3.11", "==3.11.*", "foo", "3.12 ||", "pypy3", "pypy3.x", "latest"],
)
def test_invalid_specs_are_errors(spec: str) -> None:
    with pytest.raises(AmoskysError) as info:
        parse_version_spec(spec)
    assert "setup-python" in info.value.message
    assert info.value.hint is not None and "3.12" in info.value.hint


@pytest.mark.parametrize(
    ("spec", "word"), [("graalpy-24.1", "GraalPy"), ("pypy3.10-nightly", "nightly")]
)
def test_unsupported_kinds_say_so(spec: str, word: str) -> None:
    with pytest.raises(AmoskysError, match=word):
        parse_version_spec(spec)


# -- finding --------------------------------------------------------------------------------


def _own_spec() -> tuple[str, str]:
    """Specs (minor, exact) that the running interpreter answers to."""
    v = sys.version_info
    suffix = "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
    exact = f"{v.major}.{v.minor}.{v.micro}"
    if v.releaselevel != "final":
        exact += {"alpha": "a", "beta": "b", "candidate": "rc"}[v.releaselevel] + str(v.serial)
        return f"{v.major}.{v.minor}-dev", exact + suffix
    return f"{v.major}.{v.minor}{suffix}", exact + suffix


def test_finds_the_running_interpreter_through_amoskys_pythons(tmp_path: Path) -> None:
    env = only(tmp_path, AMOSKYS_PYTHONS=sys.executable)
    minor, exact = _own_spec()
    for spec in (minor, exact):
        found = find_interpreter(spec, search_env=env)
        assert found.path == Path(sys.executable)
        assert found.version == tuple(sys.version_info[:3])
        assert found.implementation == sys.implementation.name
    assert list_interpreters(search_env=env) == [find_interpreter(minor, search_env=env)]


@POSIX_ONLY
def test_the_highest_matching_version_wins(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake_python(bin_dir, "python3.11", "3.11.4")
    fake_python(bin_dir, "python3.12", "3.12.0")
    fake_python(bin_dir, "python3", "3.12.3")
    fake_python(bin_dir, "python3.13t", "3.13.1", ft=True)
    fake_python(bin_dir, "python3.14", "3.14.0", level="candidate", serial=1)
    fake_python(bin_dir, "pypy3.10", "3.10.14", impl="pypy", own="7.3.17")
    env = only(tmp_path, PATH=str(bin_dir))

    def name(spec: str, **kwargs: bool) -> str:
        return find_interpreter(spec, search_env=env, **kwargs).path.name

    assert name("3.12") == "python3"
    assert name("3.12.0") == "python3.12"
    assert name("3.x") == "python3"
    assert name(">=3.11 <3.12") == "python3.11"
    assert name("3.13t") == "python3.13t"
    assert name("3.14-dev") == "python3.14"
    assert name("3.14", allow_prereleases=True) == "python3.14"
    assert name("pypy3.10-v7.3.x") == "pypy3.10"
    found = find_interpreter("3.14.0rc1", search_env=env)
    assert found.prerelease == "rc1" and found.version_text == "3.14.0rc1"
    with pytest.raises(AmoskysError):
        find_interpreter("3.14", search_env=env)


@POSIX_ONLY
def test_equal_versions_go_to_the_first_found(tmp_path: Path) -> None:
    first = fake_python(tmp_path / "bin", "python3", "3.12.3")
    second = fake_python(tmp_path / "extra", "python", "3.12.3")
    env = only(tmp_path, PATH=str(tmp_path / "bin"), AMOSKYS_PYTHONS=str(second))
    assert find_interpreter("3.12", search_env=env).path == first


@POSIX_ONLY
def test_discovery_in_pyenv_uv_and_path_but_not_shims(tmp_path: Path) -> None:
    home = tmp_path / "home"
    fake_python(tmp_path / "pyenv/versions/3.98.1/bin", "python", "3.98.1")
    uv_dir = home / ".local/share/uv/python"
    fake_python(uv_dir / "cpython-3.97.2-linux-x86_64-gnu/bin", "python3", "3.97.2")
    fake_python(uv_dir / ".temp/bin", "python3", "3.97.9")  # uv's scratch: not an install
    fake_python(tmp_path / "custom-uv/cpython-3.95.0-linux/bin", "python3", "3.95.0")
    fake_python(tmp_path / "bin", "python3.96", "3.96.0")
    fake_python(tmp_path / "bin", "python3.96-config", "3.96.9")  # not an interpreter name
    fake_python(tmp_path / "pyenv/shims", "python3.94", "3.94.0")
    env = {
        "HOME": str(home),
        "PYENV_ROOT": str(tmp_path / "pyenv"),
        "PATH": os.pathsep.join([str(tmp_path / "pyenv/shims"), str(tmp_path / "bin")]),
    }

    versions = [i.version_text for i in list_interpreters(search_env=env)]
    assert versions == ["3.96.0", "3.98.1", "3.97.2"]  # PATH, pyenv, uv
    env["UV_PYTHON_INSTALL_DIR"] = str(tmp_path / "custom-uv")
    assert find_interpreter("3.95", search_env=env).version == (3, 95, 0)
    with pytest.raises(AmoskysError):
        find_interpreter("3.94", search_env=env)


@POSIX_ONLY
def test_uv_is_asked_where_its_pythons_are(tmp_path: Path) -> None:
    managed = tmp_path / "uv-managed"
    fake_python(managed / "cpython-3.92.1-linux-x86_64-gnu/bin", "python", "3.92.1")
    uv = tmp_path / "tools" / "uv"
    uv.parent.mkdir()
    uv.write_text(f"#!/bin/sh\n[ \"$1 $2\" = 'python dir' ] && echo {shlex.quote(str(managed))}\n")
    uv.chmod(0o755)
    found = find_interpreter("3.92", search_env=only(tmp_path, PATH=str(uv.parent)))
    assert found.path == managed / "cpython-3.92.1-linux-x86_64-gnu/bin/python"


@POSIX_ONLY
def test_a_free_threaded_install_with_only_a_t_executable(tmp_path: Path) -> None:
    fake_python(tmp_path / "pyenv/versions/3.91.0t/bin", "python3.91t", "3.91.0", ft=True)
    env = only(tmp_path, PYENV_ROOT=str(tmp_path / "pyenv"))
    assert find_interpreter("3.91t", search_env=env).path.name == "python3.91t"


@POSIX_ONLY
def test_each_interpreter_is_asked_once_per_file_version(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    python = fake_python(tmp_path / "bin", "python3", "3.93.0", log=log)
    env = only(tmp_path, PATH=str(tmp_path / "bin"))

    find_interpreter("3.93", search_env=env)
    find_interpreter("3.93.0", search_env=env)
    assert log.read_text().count("ran") == 1

    stat = python.stat()
    os.utime(python, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    find_interpreter("3.93", search_env=env)
    assert log.read_text().count("ran") == 2


@POSIX_ONLY
def test_candidates_that_do_not_answer_are_skipped(tmp_path: Path) -> None:
    bad = tmp_path / "bin" / "python3"
    bad.parent.mkdir()
    bad.write_text("#!/bin/sh\necho 'not a python'; exit 3\n")
    bad.chmod(0o755)
    silent = tmp_path / "bin" / "python"
    silent.write_text("#!/bin/sh\necho 'Python 3.12.1'\n")
    silent.chmod(0o755)
    (tmp_path / "bin" / "python3.12").write_text("not executable")
    env = only(tmp_path, PATH=str(tmp_path / "bin"))
    assert list_interpreters(search_env=env) == []


def test_a_missing_interpreter_names_where_it_looked_and_how_to_install(tmp_path: Path) -> None:
    env = only(tmp_path, AMOSKYS_PYTHONS=sys.executable)
    with pytest.raises(AmoskysError) as info:
        find_interpreter("3.99", search_env=env)
    err = info.value
    assert err.message == (
        "Python 3.99 was not found on this machine "
        "(looked on PATH, in pyenv, uv, AMOSKYS_PYTHONS)"
    )
    assert err.hint is not None
    assert "`pyenv install 3.99`" in err.hint and "`uv python install 3.99`" in err.hint
    assert "found here: " + ".".join(str(n) for n in sys.version_info[:3]) in err.hint

    with pytest.raises(AmoskysError) as info:
        find_interpreter("3.99", search_env=only(tmp_path))
    assert info.value.message.endswith("(looked on PATH, in pyenv, uv)")
    assert info.value.hint is not None and info.value.hint.endswith("found here: none")

    with pytest.raises(AmoskysError) as info:
        find_interpreter("pypy3.10", search_env=only(tmp_path))
    assert info.value.message.startswith("pypy3.10 was not found")
    assert info.value.hint is not None and "uv python install pypy@3.10" in info.value.hint

    with pytest.raises(AmoskysError) as info:
        find_interpreter(">=3.99", search_env=only(tmp_path))
    assert info.value.hint is not None and "AMOSKYS_PYTHONS" in info.value.hint


def _pyenv_root() -> Path:
    root = os.environ.get("PYENV_ROOT")
    return Path(root) if root else Path(pwd.getpwuid(os.getuid()).pw_dir) / ".pyenv"


def test_pyenv_versions_of_this_machine_are_found(tmp_path: Path) -> None:
    root = _pyenv_root()
    versions = sorted(
        (p.name for p in (root / "versions").glob("*") if re.fullmatch(r"3\.\d+\.\d+", p.name)),
        key=lambda name: tuple(int(n) for n in name.split(".")),
    )
    usable = [v for v in versions if (root / "versions" / v / "bin" / "python").exists()]
    if not usable:
        pytest.skip(f"pyenv has no CPython 3 versions in {root}")
    env = only(tmp_path, PYENV_ROOT=str(root))
    for version in usable[-3:]:
        found = find_interpreter(version, search_env=env)
        assert found.path == root / "versions" / version / "bin" / "python"
        assert found.version_text == version


# -- version files --------------------------------------------------------------------------


def test_python_version_file(tmp_path: Path) -> None:
    path = tmp_path / ".python-version"
    path.write_text("# the default last\r\n3.11\r\n\n 3.12.1 \r3.13/envs/tools\n")
    assert read_version_file(path) == ["3.11", "3.12.1", "3.13"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[project]\nrequires-python = ">=3.11"\n', [">=3.11"]),
        ('[project]\nrequires-python = ">=3.11,<3.14"\n', [">=3.11 <3.14"]),
        ('[project]\nrequires-python = "~=3.11"\n', []),  # not semver: setup-python drops it
        ('[project]\nname = "x"\n', []),
        ('[tool.poetry.dependencies]\npython = "^3.10"\n', ["^3.10"]),
        ("", []),
    ],
)
def test_pyproject_toml(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    assert read_version_file(path) == expected


def test_pipfile_tool_versions_and_errors(tmp_path: Path) -> None:
    pipfile = tmp_path / "Pipfile"
    pipfile.write_text('[requires]\npython_version = "3.12"\n')
    assert read_version_file(pipfile) == ["3.12"]
    pipfile.write_text('[requires]\npython_full_version = "3.12.1"\npython_version = "3.12"\n')
    assert read_version_file(pipfile) == ["3.12.1"]
    tools = tmp_path / ".tool-versions"
    tools.write_text("# python 3.9\nnodejs 20\npython v3.12.1 3.11.7  # pinned\n")
    assert read_version_file(tools) == ["3.12.1", "3.11.7"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[project\n")
    with pytest.raises(AmoskysError, match="TOML"):
        read_version_file(bad)
    with pytest.raises(AmoskysError, match="does not exist"):
        read_version_file(tmp_path / "missing-version")


# -- venvs ----------------------------------------------------------------------------------


def _venv_env(tmp_path: Path) -> dict[str, str]:
    """This environment with only the system folders on PATH, none holding uv or rustc.

    So the ``python -m venv`` path is the one tested, and pip's ``rustc --version`` (for its
    user agent) cannot reach a rustup proxy, which would write ``~/.rustup``.
    """
    folders = [
        d
        for d in os.defpath.split(os.pathsep)
        if d and not shutil.which("uv", path=d) and not shutil.which("rustc", path=d)
    ]
    return {
        **os.environ,
        "PATH": os.pathsep.join(folders),
        "PIP_NO_CACHE_DIR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


def _pip_version(bin_dir: Path) -> str:
    python = bin_dir / ("python.exe" if sys.platform == "win32" else "python")
    done = subprocess.run(  # nosec B603 - fixed argv
        [str(python), "-m", "pip", "--version"], capture_output=True, text=True, check=True
    )
    return done.stdout


def _running_interpreter(tmp_path: Path) -> Interpreter:
    minor, _ = _own_spec()
    return find_interpreter(minor, search_env=only(tmp_path, AMOSKYS_PYTHONS=sys.executable))


def test_venvs_from_a_template_have_their_own_pip(tmp_path: Path) -> None:
    python = _running_interpreter(tmp_path)
    env = _venv_env(tmp_path)
    templates = tmp_path / "templates"
    first = tmp_path / "first"
    # long enough that pip's shebang needs the /bin/sh trampoline
    second = tmp_path / ("d" * 70) / ("e" * 70) / "venv"

    first_bin = create_venv(python, first, env=env, template_dir=templates)
    second_bin = create_venv(python, second, env=env, template_dir=templates)

    assert first_bin == venv_bin(first)
    for venv, bin_dir in ((first, first_bin), (second, second_bin)):
        assert str(venv) in _pip_version(bin_dir)
    assert len([p for p in templates.iterdir() if not p.name.startswith(".")]) == 1
    if sys.platform != "win32":
        pip = subprocess.run(  # nosec B603 - fixed argv
            [str(second_bin / "pip"), "--version"], capture_output=True, text=True, check=True
        )
        assert str(second) in pip.stdout
        assert (second_bin / "pip").read_text().startswith("#!/bin/sh\n")


def test_venv_refuses_a_folder_in_use_and_python_2(tmp_path: Path) -> None:
    python = _running_interpreter(tmp_path)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(AmoskysError, match="not empty"):
        create_venv(python, busy)
    old = Interpreter(Path("/usr/bin/python2"), (2, 7, 18), "cpython")
    with pytest.raises(AmoskysError, match="cannot make a virtual environment"):
        create_venv(old, tmp_path / "old")


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not installed")
def test_venv_with_uv(tmp_path: Path) -> None:
    python = _running_interpreter(tmp_path)
    env = {
        **os.environ,
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        "UV_PYTHON_INSTALL_DIR": str(tmp_path / "uv-pythons"),
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "HOME": str(tmp_path / "uv-home"),
    }
    bin_dir = create_venv(python, tmp_path / "venv", env=env, template_dir=tmp_path / "t")
    assert "uv" in (tmp_path / "venv" / "pyvenv.cfg").read_text()
    assert str(tmp_path / "venv") in _pip_version(bin_dir)


# -- answers kept on disk -------------------------------------------------------------------


@pytest.fixture
def fresh_answers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No answer in memory, and no answers file once the test is over."""
    monkeypatch.setattr(interpreters, "_cache", {})
    yield
    keep_answers_in(None)


def _kept(path: Path) -> dict[str, dict[str, object] | None]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {entry["real"]: entry["answer"] for entry in data["answers"]}


def test_answers_of_binaries_are_kept_and_used_by_the_next_process(
    tmp_path: Path, fresh_answers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = tmp_path / "state" / "interpreters.json"
    script = fake_python(tmp_path / "bin", "python3", "3.93.0")
    env = only(tmp_path, PATH=str(tmp_path / "bin"), AMOSKYS_PYTHONS=sys.executable)
    keep_answers_in(answers)
    found = {i.version_text for i in list_interpreters(search_env=env)}
    assert "3.93.0" in found
    real = os.path.realpath(sys.executable)
    kept = _kept(answers)
    assert kept[real] is not None and kept[real]["version"] == list(sys.version_info[:3])
    assert os.path.realpath(script) not in kept  # a script may answer otherwise next time

    # What a later process sees: nothing in memory, the file says 3.99.1 for this binary.
    data = json.loads(answers.read_text(encoding="utf-8"))
    data["answers"][0]["answer"]["version"] = [3, 99, 1]
    answers.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setattr(interpreters, "_cache", {})
    keep_answers_in(answers)
    assert find_interpreter("3.99", search_env=env).path == Path(sys.executable)


def test_a_changed_binary_or_a_broken_answers_file_is_asked_again(
    tmp_path: Path, fresh_answers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = tmp_path / "interpreters.json"
    real = os.path.realpath(sys.executable)
    info = os.stat(real)
    stale = {"version": [3, 99, 1], "implementation": "cpython"}
    entries = [{"real": real, "mtime_ns": info.st_mtime_ns - 1, "size": info.st_size}]
    answers.write_text(
        json.dumps({"format": 1, "answers": [{**entries[0], "answer": stale}]}), "utf-8"
    )
    env = only(tmp_path, AMOSKYS_PYTHONS=sys.executable)
    keep_answers_in(answers)
    assert [i.version for i in list_interpreters(search_env=env)] == [sys.version_info[:3]]

    for broken in ("{not json", '{"format": 1, "answers": [{"real": 1}, 7]}', "[]"):
        answers.write_text(broken, encoding="utf-8")
        monkeypatch.setattr(interpreters, "_cache", {})
        keep_answers_in(answers)
        assert [i.version for i in list_interpreters(search_env=env)] == [sys.version_info[:3]]
        assert _kept(answers)[real] is not None  # rewritten whole


def test_without_an_answers_file_nothing_is_written(tmp_path: Path, fresh_answers: None) -> None:
    keep_answers_in(None)
    env = only(tmp_path, AMOSKYS_PYTHONS=sys.executable)
    assert list_interpreters(search_env=env)
    assert list(tmp_path.iterdir()) == []
