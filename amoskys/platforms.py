"""Which ``runs-on`` labels this machine can serve, and why not when it can't.

GitHub picks a runner that has *every* label a job asks for. Here the local machine has the
labels of its own platform (``ubuntu-latest``, ``linux``, ``x64``... on Linux), plus any that
the user maps to it in ``[tool.amoskys.runners]`` or with ``--platform LABEL=local``.
"""

from __future__ import annotations

import platform as _platform
import sys
from dataclasses import dataclass
from typing import Iterable

#: Label prefixes and names GitHub's hosted runners use, by the OS they run.
_OS_LABELS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # os: (exact labels, prefixes)
    "linux": (("linux", "ubuntu-latest"), ("ubuntu-",)),
    "macos": (("macos", "macos-latest", "macOS"), ("macos-",)),
    "windows": (("windows", "windows-latest"), ("windows-",)),
}

_ARCH_LABELS = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}


def current_os() -> str:
    """``linux``, ``macos`` or ``windows`` (RUNNER_OS is the capitalised form)."""
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return "linux"


def runner_os_name(os_name: str) -> str:
    """The value of ``runner.os`` / ``RUNNER_OS``: Linux, macOS or Windows."""
    return {"linux": "Linux", "macos": "macOS", "windows": "Windows"}[os_name]


def runner_arch() -> str:
    """The value of ``runner.arch``: X64, ARM64..."""
    return _ARCH_LABELS.get(_platform.machine().lower(), _platform.machine().lower()).upper()


def os_of_label(label: str) -> str | None:
    """The OS a GitHub-hosted label stands for, or None for a custom label."""
    low = label.lower()
    for os_name, (exact, prefixes) in _OS_LABELS.items():
        if low in {e.lower() for e in exact} or any(low.startswith(p) for p in prefixes):
            return os_name
    return None


def arch_of_label(label: str) -> str | None:
    """``arm64`` for GitHub's arm64 hosted labels (``ubuntu-24.04-arm``), else None (any)."""
    low = label.lower()
    if low.endswith("-arm") or low.endswith("-arm64"):
        return "arm64"
    return None


@dataclass(frozen=True)
class LocalRunner:
    """The labels this machine answers to."""

    os: str
    extra_labels: frozenset[str] = frozenset()

    @classmethod
    def here(cls, extra_labels: Iterable[str] = ()) -> LocalRunner:
        return cls(current_os(), frozenset(label.lower() for label in extra_labels))

    def has_label(self, label: str) -> bool:
        low = label.lower()
        if low in self.extra_labels:
            return True
        arch = _ARCH_LABELS.get(_platform.machine().lower())
        if os_of_label(low) == self.os:
            wanted = arch_of_label(low)
            return wanted is None or wanted == arch
        return arch is not None and low == arch

    def missing_labels(self, labels: Iterable[str]) -> tuple[str, ...]:
        """The labels of ``labels`` that this machine does not have."""
        return tuple(label for label in labels if not self.has_label(label))

    def why_not(self, labels: Iterable[str]) -> str | None:
        """None when this machine can run a job with these labels, else the reason."""
        wanted = tuple(labels)
        if not wanted:
            return "no runs-on labels"
        missing = self.missing_labels(wanted)
        if not missing:
            return None
        return "no runner for " + ", ".join(missing)
