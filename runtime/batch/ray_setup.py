"""Starting or joining the Ray that `ptx batch` runs on (local options, the one-hint import)."""

from __future__ import annotations

import os

from ptx.errors import MissingDependency

IDLE_WORKER_KEEP_MS = 60_000  # how long a local Ray keeps an idle worker process (decode)
RAY_HINT = "pip install 'ptx[batch]'"


def import_ray():
    """Ray and Ray Data, or MissingDependency with the one-line install hint."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise MissingDependency("ray", "batch", "ptx batch", install=RAY_HINT) from exc
    return ray


def local_cpus() -> int:
    """This machine's CPUs (a local Ray's size)."""
    return max(1, os.cpu_count() or 1)


def local_ray_options(cpus: int) -> dict:
    """``ray.init`` arguments for a local Ray as ptx starts it (quiet, ``cpus`` CPUs).

    Ray runs its workers 15 nice levels below the driver by default; then on a busy
    machine every other process (a ``ptx run`` beside it too) takes the CPU first and a
    batch run crawls. The workers here keep the priority ``ptx batch`` was started at.
    Ray kills a worker process idle for a second when it holds more than ``cpus``
    (the actors count); a decode task's process, idle while the actors catch up, was
    killed and the next block paid for a new one, a second of CPU each (with two
    workers the decode tasks took 19.5 ms of CPU an image, 3.4 ms with one decode task
    and idle workers kept a minute, as here).
    """
    return dict(
        num_cpus=cpus,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="ERROR",
        _system_config={
            "worker_niceness": 0,
            "idle_worker_killing_time_threshold_ms": IDLE_WORKER_KEEP_MS,
            # Nothing scrapes a local ptx batch Ray's metrics (no dashboard); collecting
            # them cost each Ray process ~3 ms of CPU a second (26.5 -> 18.5 ms/s for
            # three idle actors, measured).
            "enable_metrics_collection": False,
        },
    )


def one_machine(ray, address: str | None) -> bool:
    """True when the actors ran on this machine (a local Ray of one node)."""
    if address or not ray.is_initialized():
        return False
    try:
        return len([n for n in ray.nodes() if n.get("Alive")]) == 1
    except Exception:  # a Ray that cannot say: leave the temp files to the next run
        return False


def start_ray(ray, address: str | None, cpus: int) -> bool:
    """Connect to ``address`` or start a local Ray; True when this call started it."""
    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR")  # fmt: skip
    else:
        ray.init(**local_ray_options(cpus))
    return True


__all__ = [
    "IDLE_WORKER_KEEP_MS", "RAY_HINT", "import_ray", "local_cpus", "local_ray_options",
    "one_machine", "start_ray",
]  # fmt: skip
