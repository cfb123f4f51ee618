"""What this process may use of the CPU (no third-party imports)."""

from __future__ import annotations

import os
from pathlib import Path


def usable_cpus() -> list[int]:
    """Logical CPUs this process may run on (its affinity mask, else all)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS / Windows have no affinity call
        return list(range(os.cpu_count() or 1))


def physical_cores() -> int:
    """Physical cores among the usable CPUs (SMT siblings count once); at least 1.

    Compute-bound inference gains little from a core's second hardware thread and
    loses to the contention, so this is the default thread count.
    """
    cpus = usable_cpus()
    cores = set()
    for cpu in cpus:
        topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topo / "physical_package_id").read_text().strip()
            core = (topo / "core_id").read_text().strip()
        except OSError:
            return max(1, len(cpus))  # no sysfs topology: assume no SMT
        cores.add((package, core))
    return max(1, len(cores))
