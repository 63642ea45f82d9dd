"""The secret scanner's speed, and how it compares with detect-secrets.

Three measurements, each timed in this process with :func:`amoskys.security.secrets.scan_files`:

* this repository's tracked files (``git ls-files``);
* a generated tree of ``--mb`` megabytes (default 50) of Python modules, YAML workflows, JSON
  fixtures, lock files with hash lines and Markdown, one file in a hundred holding a corpus
  secret, written once to a temporary folder (``--keep DIR`` to keep it);
* with ``--corpus``: precision and recall over ``tests/security/secrets_corpus.py``.

detect-secrets (a PyPI package, deliberately *not* a dependency) runs on the same files when
``AMOSKYS_DETECT_SECRETS`` names its virtualenv or its ``detect-secrets`` executable, e.g.::

    python -m venv /tmp/ds && /tmp/ds/bin/pip install detect-secrets
    AMOSKYS_DETECT_SECRETS=/tmp/ds python bench/bench_secrets.py --corpus

It runs as ``detect-secrets scan --no-verify`` (its default plugins and filters, without the
network calls that try found secrets against their providers: the scan is what is compared), one
process per measurement, so its times include the interpreter's start (reported separately).
Run:
``python bench/bench_secrets.py [--mb N] [--corpus] [--repeat R] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess  # nosec B404 - the bench drives git and detect-secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable, cast

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "security"))

import secrets_corpus as corpus  # noqa: E402

from amoskys.security.secrets import DEFAULT_CONFIG, scan_files, scan_text  # noqa: E402

MB = 1024 * 1024


def tracked_files() -> list[str]:
    out = subprocess.run(  # nosec B603 B607
        ["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True
    ).stdout
    return [p for p in out.decode().split("\0") if p and (REPO / p).is_file()]


def size_of(root: Path, paths: Iterable[str]) -> int:
    return sum((root / p).stat().st_size for p in paths)


def best_of(repeat: int, work: Callable[[], object]) -> tuple[float, object]:
    times: list[float] = []
    result: object = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return min(times), result


# --------------------------------------------------------------------------- generated tree

WORDS = (
    "build artifact cache runner matrix step job workflow event payload commit branch release "
    "version package module config settings client server request response handler session "
    "user account project report coverage result status message error warning timeout retry"
).split()


def ident(rng: random.Random) -> str:
    return "_".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))


def python_file(rng: random.Random, size: int) -> str:
    lines = ['"""Generated module for the secrets bench."""', "", "import os", ""]
    while sum(len(line) + 1 for line in lines) < size:
        name = ident(rng)
        lines += [
            f"def {name}(value, retries={rng.randint(1, 9)}):",
            f'    """Return the {rng.choice(WORDS)} for ``value``."""',
            f'    token = os.environ.get("{name.upper()}_TOKEN", "")',
            f"    password = settings.{name.upper()}_PASSWORD",
            f'    url = f"https://api.internal/{name}/{{value}}?page={rng.randint(1, 99)}"',
            f'    digest = "{rng.getrandbits(160):040x}"',
            f"    return {{'{name}': value, 'token': token, 'url': url, 'digest': digest}}",
            "",
        ]
    return "\n".join(lines) + "\n"


def yaml_file(rng: random.Random, size: int) -> str:
    lines = ["name: generated", "on: [push, pull_request]", "jobs:"]
    while sum(len(line) + 1 for line in lines) < size:
        job = ident(rng).replace("_", "-")
        lines += [
            f"  {job}:",
            "    runs-on: ubuntu-latest",
            "    env:",
            f"      {job.upper().replace('-', '_')}_TOKEN: ${{{{ secrets.{job.upper()[:8]} }}}}",
            "    steps:",
            f"      - uses: actions/checkout@{rng.getrandbits(160):040x}",
            f"      - run: make {job} VERSION={rng.randint(1, 9)}.{rng.randint(0, 20)}",
        ]
    return "\n".join(lines) + "\n"


def json_file(rng: random.Random, size: int) -> str:
    items = []
    total = 0
    while total < size:
        item = {
            "id": f"{rng.getrandbits(128):032x}",
            "name": ident(rng),
            "sha": f"{rng.getrandbits(160):040x}",
            "status": rng.choice(["passed", "failed", "skipped"]),
            "duration": round(rng.random() * 100, 3),
        }
        text = json.dumps(item)
        items.append(text)
        total += len(text) + 2
    return "[\n" + ",\n".join(items) + "\n]\n"


def lock_file(rng: random.Random, size: int) -> str:
    lines: list[str] = []
    while sum(len(line) + 1 for line in lines) < size:
        name = ident(rng).replace("_", "-")
        lines += [
            "[[package]]",
            f'name = "{name}"',
            f'version = "{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"',
            "files = [",
            f'    {{file = "{name}.whl", hash = "sha256:{rng.getrandbits(256):064x}"}},',
            f'    {{file = "{name}.tar.gz", hash = "sha256:{rng.getrandbits(256):064x}"}},',
            "]",
            "",
        ]
    return "\n".join(lines) + "\n"


def markdown_file(rng: random.Random, size: int) -> str:
    lines = ["# Generated notes", ""]
    while sum(len(line) + 1 for line in lines) < size:
        lines.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))) + ".")
        if rng.random() < 0.1:
            lines.append(f"    export API_KEY=<your {rng.choice(WORDS)} key>")
    return "\n".join(lines) + "\n"


KINDS = (
    ("py", python_file),
    ("yml", yaml_file),
    ("json", json_file),
    ("lock", lock_file),
    ("md", markdown_file),
)


def generate_tree(root: Path, megabytes: float, seed: int = 7) -> list[str]:
    """Files of 20-80 KB until ``megabytes`` are written; returns their relative paths."""
    rng = random.Random(seed)  # nosec B311 - test data, not secrets
    paths: list[str] = []
    written = 0
    index = 0
    while written < megabytes * MB:
        suffix, make = KINDS[index % len(KINDS)]
        text = make(rng, rng.randint(20_000, 80_000))
        if index % 100 == 42:  # one file in a hundred leaks a secret
            text += corpus.POSITIVES[index // 100 % len(corpus.POSITIVES)].text
        rel = f"pkg{index // 50:03d}/{ident(rng)}_{index}.{suffix}"
        if suffix == "lock":
            rel = f"pkg{index // 50:03d}/lock{index}/poetry.lock"
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written += len(text.encode())
        paths.append(rel)
        index += 1
    return paths


# --------------------------------------------------------------------------- detect-secrets


def detect_secrets_exe() -> str | None:
    where = os.environ.get("AMOSKYS_DETECT_SECRETS")
    if not where:
        return None
    path = Path(where)
    if path.is_dir():
        path = path / "bin" / "detect-secrets"
    return str(path) if path.is_file() else None


def run_detect_secrets(
    exe: str, root: Path, paths: list[str] | None
) -> tuple[float, dict[str, list[int]]]:
    """Seconds and ``{path: [lines]}`` for ``detect-secrets scan`` over ``paths`` (or all)."""
    args = [exe, "scan", "--no-verify"] + (paths if paths is not None else ["--all-files", "."])
    started = time.perf_counter()
    done = subprocess.run(args, cwd=root, check=True, capture_output=True, text=True)  # nosec B603
    elapsed = time.perf_counter() - started
    results = json.loads(done.stdout)["results"]
    return elapsed, {
        name: sorted({item["line_number"] for item in items}) for name, items in results.items()
    }


def detect_secrets_startup(exe: str) -> float:
    started = time.perf_counter()
    subprocess.run([exe, "--version"], check=True, capture_output=True)  # nosec B603
    return time.perf_counter() - started


# --------------------------------------------------------------------------- measurements


def report_speed(label: str, root: Path, paths: list[str], repeat: int, exe: str | None) -> None:
    size = size_of(root, paths)
    seconds, result = best_of(repeat, lambda: scan_files(root, paths, config=DEFAULT_CONFIG))
    found = len(result) if isinstance(result, list) else 0
    print(
        f"{label}: {len(paths)} files, {size / MB:.1f} MB\n"
        f"  amoskys        {seconds:7.3f} s  {len(paths) / seconds:9.0f} files/s  "
        f"{size / MB / seconds:7.1f} MB/s  ({found} findings, best of {repeat})"
    )
    if exe is not None:
        seconds, lines = run_detect_secrets(exe, root, paths)
        hits = sum(len(v) for v in lines.values())
        print(
            f"  detect-secrets {seconds:7.3f} s  {len(paths) / seconds:9.0f} files/s  "
            f"{size / MB / seconds:7.1f} MB/s  ({hits} lines reported, one run)"
        )


def score_corpus(exe: str | None, repeat: int) -> None:
    texts = [(c.name, c.path, c.text) for c in corpus.CASES]

    def ours() -> dict[str, list[int]]:
        return {
            name: [f.line or 0 for f in scan_text(text, path, config=DEFAULT_CONFIG)]
            for name, path, text in texts
        }

    seconds, lines = best_of(repeat, ours)
    score = corpus.evaluate(cast("dict[str, list[int]]", lines))
    print(
        f"corpus: {len(corpus.POSITIVES)} secrets, {len(corpus.NEGATIVES)} look-alikes\n"
        f"  amoskys        precision {score.precision:.3f}  recall {score.recall:.3f}  "
        f"(fp {score.false_positives}, fn {score.false_negatives})  {seconds * 1000:.1f} ms"
    )
    if score.missed or score.false_alarms:
        print(f"    missed: {', '.join(score.missed)}; false alarms: {score.false_alarms}")
    if exe is None:
        return
    with tempfile.TemporaryDirectory(prefix="amoskys-ds-corpus-") as tmp:
        root = Path(tmp)
        rels = []
        for name, path, text in texts:
            target = root / name / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            rels.append(f"{name}/{path}")
        elapsed, found = run_detect_secrets(exe, root, rels)
    by_case = {name.split("/", 1)[0]: lines for name, lines in found.items()}
    theirs = corpus.evaluate(by_case)
    print(
        f"  detect-secrets precision {theirs.precision:.3f}  recall {theirs.recall:.3f}  "
        f"(fp {theirs.false_positives}, fn {theirs.false_negatives})  "
        f"{elapsed * 1000:.0f} ms incl. start-up"
    )
    print(f"    missed: {', '.join(theirs.missed)}")
    print(f"    false alarms: {', '.join(theirs.false_alarms)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mb", type=float, default=50.0, help="size of the generated tree")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--corpus", action="store_true", help="also score the labelled corpus")
    parser.add_argument("--keep", type=Path, help="write the generated tree here and keep it")
    args = parser.parse_args()
    exe = detect_secrets_exe()
    if exe is not None:
        print(f"detect-secrets: {exe} (start-up {detect_secrets_startup(exe):.2f} s)")
    if args.corpus:
        score_corpus(exe, args.repeat)
    report_speed("repository (git ls-files)", REPO, tracked_files(), args.repeat, exe)
    if args.mb <= 0:
        return
    root = args.keep or Path(tempfile.mkdtemp(prefix="amoskys-secrets-bench-"))
    try:
        started = time.perf_counter()
        paths = generate_tree(root, args.mb)
        print(f"(generated {args.mb:.0f} MB in {time.perf_counter() - started:.1f} s)")
        report_speed("generated tree", root, paths, args.repeat, exe)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
