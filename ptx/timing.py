"""The one interleaved timer: contenders measured side by side, in rotating order.

Used by the runtime's ``auto`` trial and every benchmark that compares two or more
things in one run. Rounds rotate the order (A B C, B C A, C A B, ...; for two
contenders A B, then B A), so drift on a shared machine hits each alike, and each
call starts once the process has gone quiet (a previous contender's pool threads
may still spin), that wait untimed.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

SETTLE_MAX_S = 0.15  # longest wait for other threads of this process to stop spinning


def settle(max_s: float = SETTLE_MAX_S, slice_s: float = 0.005) -> float:
    """Sleep until this process's own threads go quiet (at most ``max_s``); returns seconds slept.

    ONNX Runtime's pool spins ~50 ms of CPU after each call by default; a contender
    timed right after it would share the cores with that spin and look slower.
    """
    waited, quiet = 0.0, 0
    while waited < max_s and quiet < 2:  # two quiet slices: a spinner may be descheduled once
        cpu = time.process_time()
        time.sleep(slice_s)
        waited += slice_s
        quiet = quiet + 1 if time.process_time() - cpu < 0.2 * slice_s else 0
    return waited


def time_interleaved(
    runners: dict[str, Callable[[], object]],
    budget_s: float | None = 1.0,
    min_rounds: int = 3,
    max_rounds: int = 15,
    clock: Callable[[], float] = time.perf_counter,
    quiet: Callable[[], object] = settle,
    warmup: bool = False,
    on_call: Callable[[], object] | None = None,
) -> dict[str, list[float]]:
    """Seconds per call of each runner, one call each per round, in rotating order.

    Rounds stop after ``max_rounds``, or once ``budget_s`` is spent and at least
    ``min_rounds`` ran (``budget_s=None``: always ``max_rounds``). ``warmup`` makes
    one untimed call of each first; ``on_call`` runs after each timed call (progress).
    """
    if max_rounds < 1 or min_rounds < 0:
        raise ValueError("max_rounds must be at least 1 and min_rounds not negative")
    names = list(runners)
    if warmup:
        for name in names:
            runners[name]()
    times: dict[str, list[float]] = {n: [] for n in names}
    start = clock()
    for r in range(max_rounds):
        if budget_s is not None and r >= min_rounds and clock() - start >= budget_s:
            break
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            quiet()
            t0 = clock()
            runners[name]()
            times[name].append(clock() - t0)
            if on_call is not None:
                on_call()
    return times


def lower_quartile(values: list[float]) -> float:
    """The 25th percentile (inclusive interpolation; the value itself for one sample)."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=4, method="inclusive")[0]
