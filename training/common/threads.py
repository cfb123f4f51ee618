"""Torch's thread count for a training run, chosen by timing real steps."""

from __future__ import annotations

import os

import numpy as np


class ThreadTuner:
    """Picks torch's thread count by timing real steps, and re-checks now and then.

    On a shared machine all-cores intra-op threading can be several times slower
    than one thread (threads wait on each other's preempted cores); timing a few
    steps of each candidate is cheap and needs no guess about the load.
    """

    def __init__(self, candidates: list[int], probe: int = 5, every: int = 300) -> None:
        self.candidates = sorted(set(candidates), reverse=True)
        self.probe = probe
        self.every = every
        self.best = self.candidates[0]
        self.times: dict[int, list[float]] = {}

    @classmethod
    def for_training(cls, threads: int | None, fewer: int | None = None) -> ThreadTuner:
        """``threads`` when given, else all cores timed against ``fewer`` (default: half)."""
        cores = os.cpu_count() or 1
        if threads:
            return cls([threads])
        return cls([cores, fewer if fewer is not None else max(1, cores // 2)])

    def threads_for(self, step: int) -> int:
        """The thread count to use for ``step``."""
        phase = step % self.every
        window = self.probe * len(self.candidates)
        if len(self.candidates) > 1 and phase < window:
            return self.candidates[phase // self.probe]
        return self.best

    def record(self, step: int, threads: int, seconds: float) -> None:
        """Note one step's time; at the end of a probe window, keep the fastest count."""
        phase = step % self.every
        if phase % self.probe:  # the first step after a switch pays for the switch
            self.times.setdefault(threads, []).append(seconds)
        if phase == self.probe * len(self.candidates) - 1 and self.times:
            self.best = min(self.times, key=lambda t: float(np.median(self.times[t])))
            self.times = {}
