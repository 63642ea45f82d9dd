"""``amoskys lint`` + ``amoskys security-scan`` against the same tools run one after another.

The plain way is what the seed's Makefile would do: black --check, isort --check-only, flake8,
mypy, then bandit, sequentially. Amoskys runs them in parallel and adds the offline OSV match
and the secret scan. Both sides run twice in a scratch clone of this repository; the second
(warm-cache) run is reported, plus the first. Run: ``python bench/bench_checks.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess  # nosec B404 - a benchmark drives real tools
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = REPO.parent / "shared" / "data" / "pypa-advisory-db"

PLAIN = [
    ["black", "--check", "amoskys", "tests"],
    ["isort", "--check-only", "amoskys", "tests"],
    ["flake8", "amoskys", "tests"],
    ["mypy", "amoskys"],
    ["bandit", "-q", "-r", "amoskys", "-f", "json", "-o", "/dev/null"],
]


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="amoskys-bench-checks-") as temp:
        clone = Path(temp) / "repo"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": temp}
        amoskys = [sys.executable, "-m", "amoskys"]
        if SNAPSHOT.is_dir():
            timed([*amoskys, "vulndb", "update", "--from", str(SNAPSHOT)], clone, env)
        results: dict[str, list[float]] = {"plain": [], "amoskys": []}
        for _ in range(2):
            results["plain"].append(sum(timed(argv, clone, env) for argv in PLAIN))
            results["amoskys"].append(
                timed([*amoskys, "lint"], clone, env)
                + timed([*amoskys, "security-scan"], clone, env)
            )
        shutil.rmtree(clone / ".mypy_cache", ignore_errors=True)
    cold_plain, warm_plain = results["plain"]
    cold_ours, warm_ours = results["amoskys"]
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'':28}{'first run':>12}{'warm run':>12}")
    print(f"{'tools one after another':28}{cold_plain:>11.1f}s{warm_plain:>11.1f}s")
    print(f"{'amoskys lint + security-scan':28}{cold_ours:>11.1f}s{warm_ours:>11.1f}s")
    print(
        f"{'ratio (target <= 0.6x)':28}{cold_ours / cold_plain:>11.2f}x"
        f"{warm_ours / warm_plain:>11.2f}x"
    )


if __name__ == "__main__":
    main()
