"""What the benchmarks measure with: percentiles, and CPU time read from /proc (wall times on a
shared 2-core machine are noisy, CPU per request much less so)."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def percentile(samples: list[float], fraction: float) -> float:
    """The sample at ``fraction`` (0.99: p99) of the sorted samples; NaN when there are none."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def process_stat(pid: int) -> tuple[str, float] | None:
    """(command name, CPU seconds so far, user + system) of a process; None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return stat[stat.index("(") + 1 : stat.rindex(")")], (int(fields[11]) + int(fields[12])) / TICK


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (a process that is gone counts 0)."""
    return sum(stat[1] for stat in map(process_stat, pids) if stat is not None)
