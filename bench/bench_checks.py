"""``amoskys lint`` + ``amoskys security-scan`` against the same tools run one after another.

The plain way is what the seed's Makefile would do: black --check, isort --check-only, flake8,
mypy, then bandit, sequentially. Amoskys runs them in parallel and adds the offline OSV match
and the secret scan. Both sides run in a scratch clone of this repository:

- first run: no caches (no ``.mypy_cache``, no Black cache, no ``.amoskys/cache``);
- warm run: the same again, every cache populated by the first run (mypy's and Black's own
  for both sides, plus Amoskys's per-file lint cache);
- one file edited: a line appended to one module, then both sides again.

Run: ``python bench/bench_checks.py``. With ``--store``: only the comparison of the per-file
cache's JSON store with sqlite3 (2,000 files, one in ten with a finding).
"""

from __future__ import annotations

import os
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
        for step in range(3):
            if step == 2:
                edited = clone / "amoskys" / "checks" / "settings.py"
                edited.write_text(edited.read_text() + "\nEDITED = True\n")
            results["plain"].append(sum(timed(argv, clone, env) for argv in PLAIN))
            results["amoskys"].append(
                timed([*amoskys, "lint"], clone, env)
                + timed([*amoskys, "security-scan"], clone, env)
            )
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    heads = ("first run", "warm run", "1 file edited")
    print(f"{'':28}" + "".join(f"{h:>15}" for h in heads))
    print(f"{'tools one after another':28}" + "".join(f"{t:>14.1f}s" for t in results["plain"]))
    print(
        f"{'amoskys lint + security-scan':28}" + "".join(f"{t:>14.1f}s" for t in results["amoskys"])
    )
    ratios = [ours / plain for ours, plain in zip(results["amoskys"], results["plain"])]
    print(f"{'ratio (target <= 0.6x)':28}" + "".join(f"{r:>14.2f}x" for r in ratios))


def store() -> None:
    """The JSON file per tool and key (what Amoskys uses) against one sqlite3 table."""
    import json
    import sqlite3

    sys.path.insert(0, str(REPO))
    from amoskys.checks.file_cache import FileResults, finding_row
    from amoskys.findings.model import Category, Finding, Severity

    count = 2000
    one = Finding("flake8", "F401", Severity.MEDIUM, Category.STYLE, "unused", "a.py", 1, 1, "x")
    files = {f"pkg/m{i}.py": (f"{i:064d}", [one] if i % 10 == 0 else []) for i in range(count)}
    with tempfile.TemporaryDirectory(prefix="amoskys-bench-store-") as temp:
        folder = Path(temp)
        results = FileResults(folder, "flake8", "k" * 64)
        start = time.perf_counter()
        for path, (content, found) in files.items():
            results.put(path, content, found)
        results.save()
        json_write = time.perf_counter() - start
        start = time.perf_counter()
        again = FileResults(folder, "flake8", "k" * 64)
        hits = sum(again.get(path, content) is not None for path, (content, _) in files.items())
        json_read = time.perf_counter() - start
        assert hits == count
        database = folder / "cache.sqlite"
        start = time.perf_counter()
        con = sqlite3.connect(database)
        con.execute("create table r (key text, path text, digest text, findings text)")
        with con:
            con.executemany(
                "insert into r values (?, ?, ?, ?)",
                [
                    ("k", path, content, json.dumps([finding_row(f) for f in found]))
                    for path, (content, found) in files.items()
                ],
            )
        con.close()
        sql_write = time.perf_counter() - start
        start = time.perf_counter()
        con = sqlite3.connect(database)
        rows = {
            path: (digest, json.loads(text))
            for path, digest, text in con.execute(
                "select path, digest, findings from r where key = ?", ("k",)
            )
        }
        con.close()
        hits = sum(rows[path][0] == content for path, (content, _) in files.items())
        sql_read = time.perf_counter() - start
        assert hits == count
        print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(
            f"json:    write {json_write * 1000:6.1f} ms, read {json_read * 1000:6.1f} ms, "
            f"{results.path.stat().st_size / 1000:.0f} kB"
        )
        print(
            f"sqlite3: write {sql_write * 1000:6.1f} ms, read {sql_read * 1000:6.1f} ms, "
            f"{database.stat().st_size / 1000:.0f} kB"
        )


if __name__ == "__main__":
    if "--store" in sys.argv:
        store()
    else:
        main()
