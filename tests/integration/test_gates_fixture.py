"""The seed's gates on a project with one planted problem per gate (issue 5's acceptance).

Each problem fails exactly its gate with the right count; once each is fixed, or suppressed
with a reason, every gate passes. Real tools (Black, isort, flake8, mypy, Bandit, pytest with
coverage), the real PyPA advisory snapshot, a real git repository.
"""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from amoskys_testing import REPO, SHARED

from amoskys.security.osv import VulnDb

Repo = Callable[..., Path]
SNAPSHOT = SHARED / "data" / "pypa-advisory-db"
FAKE_AWS_KEY = "AKIA" + "QYLPMN5HHHFPZAM2"  # random, in AWS's documented format

CALC = """def add(a: int, b: int) -> int:
    return a + b


def sub(a: int, b: int) -> int:
    return a - b


def mul(a: int, b: int) -> int:
    return a * b


def div(a: int, b: int) -> float:
    return a / b


def neg(a: int) -> int:
    return -a
"""


@pytest.fixture(scope="module")
def vulndb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not SNAPSHOT.is_dir():
        pytest.skip("the PyPA advisory snapshot is not available")
    folder = tmp_path_factory.mktemp("vulndb")
    VulnDb.update(SNAPSHOT, folder)
    return folder


def planted(vulndb: Path) -> dict[str, str]:
    return {
        "pyproject.toml": (
            f'[tool.amoskys]\npackages = ["pkg"]\nvulndb = "{vulndb}"\n\n'
            '[tool.coverage.run]\ninclude = ["pkg/calc.py"]\n\n'
            '[tool.isort]\nprofile = "black"\n'
        ),
        ".flake8": "[flake8]\nmax-line-length = 100\n",
        "requirements.txt": "idna==3.6\n",
        "config.env": f"AWS_ACCESS_KEY_ID={FAKE_AWS_KEY}\n",
        "pkg/__init__.py": "",
        "pkg/calc.py": CALC,
        "pkg/fmt.py": "NAME = 'single quotes'\n",
        "pkg/imports.py": "import sys\nimport os\n\nPLACES = (os.sep, sys.platform)\n",
        "pkg/style.py": "import json\n\nVALUE = 1\n",
        "pkg/wrong_type.py": 'def answer() -> int:\n    return "forty-two"\n',
        "pkg/danger.py": "def run(expression: str) -> object:\n    return eval(expression)\n",
        "tests/test_calc.py": (
            "from pkg.calc import add\n\n\ndef test_add() -> None:\n    assert add(1, 2) == 3\n\n\n"
            "def test_broken() -> None:\n    assert add(2, 2) == 5\n"
        ),
    }


def tool_env(root: Path) -> dict[str, str]:
    """The CLI's environment; the tools keep their user caches in a home of their own."""
    home = root.parent / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(home)}
    env.pop("AMOSKYS_RESULTS", None)
    return env


def check(root: Path, command: str) -> dict[str, Any]:
    env = tool_env(root)
    done = subprocess.run(  # nosec B603
        [sys.executable, "-m", "amoskys", command, "--report", "json"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    data: dict[str, Any] = json.loads(done.stdout[done.stdout.index("{") :])
    assert done.returncode == (0 if data["passed"] else 1), done.stderr
    return data


def gates(data: dict[str, Any]) -> dict[str, bool]:
    return {g["name"]: g["passed"] for g in data["gates"]}


def counted(data: dict[str, Any], category: str) -> list[dict[str, Any]]:
    return [f for f in data["findings"] if f["category"] == category and not f["suppressed"]]


def test_planted_problems_fail_exactly_their_gates_then_pass_when_fixed(
    make_repo: Repo, vulndb: Path
) -> None:
    root = make_repo(planted(vulndb))

    lint = check(root, "lint")
    assert gates(lint) == {"format": False, "imports": False, "style": False, "types": False}
    assert [f["file"] for f in counted(lint, "format")] == ["pkg/fmt.py"]
    assert [f["file"] for f in counted(lint, "imports")] == ["pkg/imports.py"]
    assert [(f["file"], f["rule"]) for f in counted(lint, "style")] == [("pkg/style.py", "F401")]
    assert [(f["file"], f["line"]) for f in counted(lint, "types")] == [("pkg/wrong_type.py", 2)]

    security = check(root, "security-scan")
    assert gates(security) == {"code-security": False, "vulnerabilities": False, "secrets": False}
    bandit = [f for f in counted(security, "code-security") if f["severity"] != "low"]
    assert [(f["file"], f["rule"]) for f in bandit] == [("pkg/danger.py", "B307")]
    (vuln,) = counted(security, "vulnerability")
    assert "PYSEC-2024-60" in [vuln["rule"], *vuln["aliases"]]
    assert vuln["file"] == "requirements.txt" and vuln["line"] == 1
    (secret,) = counted(security, "secret")
    assert secret["file"] == "config.env"
    assert FAKE_AWS_KEY not in json.dumps(security)  # never printed in full

    tests = check(root, "test")
    assert gates(tests) == {"tests": False, "coverage": False}
    assert tests["tests"]["passed"] == 1 and tests["tests"]["failed"] == 1
    assert tests["tests"]["coverage"] == pytest.approx(60.0)

    # Fix four, suppress three with a reason, and test everything.
    (root / "pkg/fmt.py").write_text('NAME = "single quotes"\n')
    (root / "pkg/imports.py").write_text(
        "import os\nimport sys\n\nPLACES = (os.sep, sys.platform)\n"
    )
    (root / "pkg/style.py").write_text("VALUE = 1\n")
    (root / "pkg/wrong_type.py").write_text("def answer() -> int:\n    return 42\n")
    with (root / "pyproject.toml").open("a") as config:
        config.write(
            '\n[[tool.amoskys.suppress]]\nid = "B307"\npath = "pkg/danger.py"\n'
            'reason = "only ever evaluates our own constant expressions"\n'
            '\n[[tool.amoskys.suppress]]\nid = "PYSEC-2024-60"\n'
            'reason = "idna only parses trusted host names here"\nuntil = 2099-12-31\n'
            '\n[[tool.amoskys.suppress]]\nid = "aws-access-key-id"\npath = "config.env"\n'
            'reason = "a deactivated key kept for the integration fixture"\n'
        )
    (root / "tests/test_calc.py").write_text(
        "from pkg.calc import add, div, mul, neg, sub\n\n\ndef test_all() -> None:\n"
        "    assert (add(1, 2), sub(3, 1), mul(2, 3), div(6, 3), neg(1)) == (3, 2, 6, 2, -1)\n"
    )
    lint, security, tests = (check(root, c) for c in ("lint", "security-scan", "test"))
    assert all(gates(lint).values()), lint["gates"]
    assert all(gates(security).values()), security["gates"]
    assert all(gates(tests).values()), tests["gates"]
    suppressed = [f for f in security["findings"] if f["suppressed"]]
    assert {f["category"] for f in suppressed} >= {"code-security", "vulnerability", "secret"}


def test_a_suppression_without_reason_is_a_config_error_and_expired_ones_stop_applying(
    make_repo: Repo, vulndb: Path
) -> None:
    files = planted(vulndb)
    root = make_repo(
        {
            **files,
            "pyproject.toml": files["pyproject.toml"]
            + '\n[[tool.amoskys.suppress]]\nid = "PYSEC-2024-60"\n',
        }
    )
    env = tool_env(root)
    done = subprocess.run(  # nosec B603
        [sys.executable, "-m", "amoskys", "security-scan"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert "has no reason" in done.stderr and "pyproject.toml" in done.stderr
    (root / "pyproject.toml").write_text(
        files["pyproject.toml"]
        + '\n[[tool.amoskys.suppress]]\nid = "PYSEC-2024-60"\nreason = "r"\nuntil = 2020-01-01\n'
    )
    security = check(root, "security-scan")
    gate = next(g for g in security["gates"] if g["name"] == "vulnerabilities")
    assert not gate["passed"] and "expired" in gate["evidence"]
