"""Which job instances the pytest probe measures coverage in (``[tool.amoskys]
matrix-coverage``).

Coverage with branch measurement slows a suite down noticeably, and the instances of one
matrix job run the same tests on the same code: measuring it in each of them buys a little
precision (version-specific lines) for a full extra cost per instance. By default only the
first instance of each matrix job that this machine can run measures it, as many hosted
workflows upload coverage from one matrix cell; ``"all"`` measures it everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable

from amoskys.plan import JobInstance


def instances_measuring_coverage(instances: Iterable[JobInstance], mode: str) -> frozenset[str]:
    """The keys of the instances whose pytest runs measure coverage under ``mode``.

    ``"all"``: every instance. ``"first"``: per job (its instances share ``group``), the
    runnable instance with the lowest matrix index; a job without a matrix is its own first.
    """
    chosen: dict[str, JobInstance] = {}
    every: set[str] = set()
    for inst in instances:
        every.add(inst.key)
        if not inst.runnable:
            continue
        group = inst.group or inst.key
        best = chosen.get(group)
        if best is None or inst.strategy_index < best.strategy_index:
            chosen[group] = inst
    if mode == "all":
        return frozenset(every)
    return frozenset(inst.key for inst in chosen.values())
