"""What this process may use of the CPU (no third-party imports)."""

from __future__ import annotations

import os
import platform
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


# The units that decide which precisions pay off on the CPU (Linux /proc/cpuinfo names).
MATRIX_FLAGS = ("amx_tile", "amx_bf16", "amx_int8", "amx_fp16")
VECTOR_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "avx512_vnni", "avx_vnni")


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The feature flags the CPU reports (Linux /proc/cpuinfo; empty set elsewhere)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        if line.startswith(("flags", "Features")):  # x86 / Arm
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU's model name (Linux /proc/cpuinfo, else what platform reports)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_capabilities(cpuinfo: str | None = None) -> dict[str, object]:
    """Model, cores and the matrix/vector units present (what BF16/INT8 can run on)."""
    flags = cpu_flags(cpuinfo)
    return {
        "model": cpu_model(cpuinfo),
        "physical_cores": physical_cores(),
        "usable_cpus": len(usable_cpus()),
        "matrix": [f for f in MATRIX_FLAGS if f in flags],
        "vector": [f for f in VECTOR_FLAGS if f in flags],
    }
