"""Which ready job starts first: the one that heads the longest remaining chain of work.

The scheduler starts jobs from a ready queue; when more jobs are ready than there is room for
(``-j``), the order among them decides how long the run takes. Plan order leaves that to
chance: on two cores, starting the quick lint job next to a 50 s test job, and the two other
36 s and 45 s test jobs after it, ends at 94 s where 81 s was possible. So each instance gets
a priority: its expected duration plus the longest chain of expected durations among the
jobs that need it (the critical path from it to the end of the run), and the highest goes
first ("longest processing time first", extended along ``needs``). Expected durations come
from the history store (:func:`amoskys.store.reads.recent_job_durations`); an instance with
no history counts as the mean of those with one, and with no history at all every priority is
0 and plan order stands.

Pure: instances and durations in, priorities out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from amoskys.plan import JobInstance


def expected_durations(
    instances: Sequence[JobInstance], history: Mapping[str, float]
) -> dict[str, float]:
    """Seconds each instance is expected to take: its history, else the mean of the others'
    history, else 0. An instance that cannot run here takes no time."""
    known = [history[i.key] for i in instances if i.runnable and i.key in history]
    fallback = sum(known) / len(known) if known else 0.0
    return {i.key: (history.get(i.key, fallback) if i.runnable else 0.0) for i in instances}


def critical_path_priority(
    instances: Sequence[JobInstance], expected: Mapping[str, float]
) -> dict[str, float]:
    """Per instance key: its expected seconds plus the longest chain of expected seconds of
    the instances that (transitively) need it. Keys outside ``instances`` are ignored."""
    needed_by: dict[str, list[str]] = {i.key: [] for i in instances}
    for inst in instances:
        for need in inst.needs_keys:
            if need in needed_by:
                needed_by[need].append(inst.key)
    priority: dict[str, float] = {}

    def chain(key: str, seen: frozenset[str]) -> float:
        if key in priority:
            return priority[key]
        if key in seen:  # a cycle: the planner refuses those, but never loop here
            return 0.0
        after = [chain(k, seen | {key}) for k in needed_by[key]]
        priority[key] = expected.get(key, 0.0) + max(after, default=0.0)
        return priority[key]

    for inst in instances:
        chain(inst.key, frozenset())
    return priority


def start_order(
    instances: Sequence[JobInstance], history: Mapping[str, float]
) -> list[JobInstance]:
    """``instances`` sorted by :func:`critical_path_priority`, highest first; ties (and an
    empty history) keep plan order."""
    priority = critical_path_priority(instances, expected_durations(instances, history))
    ranked = sorted(enumerate(instances), key=lambda pair: (-priority[pair[1].key], pair[0]))
    return [inst for _, inst in ranked]
