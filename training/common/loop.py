"""The one training loop every family runs.

A family hands the loop a step function (``LoopState`` in, a dict of scalars
out) and, optionally, a checkpoint function; the loop owns the rest: the step
target and the time budget (whichever ends first), the schedule position and
the learning rate it sets on the optimizers, the measured thread count, the
tqdm bar, exponentially averaged scalars on the bar and in TensorBoard,
checkpoints every N steps and at the end with Ctrl-C held off until each is
written, and the final metrics.

The timed part of a step (what the thread tuner compares) is the whole step
function, drawing its batch included.
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from ptx.training.common.schedule import schedule_position
from ptx.training.common.threads import ThreadTuner


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold Ctrl-C until the block ends, so a checkpoint's files are all from one step."""
    try:
        previous = signal.getsignal(signal.SIGINT)
        caught: list[int] = []
        signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    except ValueError:  # not the main thread: signals cannot be handled here anyway
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            raise KeyboardInterrupt


@dataclass
class LoopState:
    """Where a run stands; the loop updates it, the family's callables read it."""

    steps: int  # the step target
    step: int = 0  # steps done, so also the index of the step about to run
    start_step: int = 0  # where this run (or resume) began
    progress: float = 0.0  # schedule position (0 → 1) of the latest step
    lr: float | None = None  # learning rate of the latest step (None: no schedule)
    threads: int = 0  # torch threads of the latest step
    averages: dict[str, float] = field(default_factory=dict)  # smoothed step scalars
    seconds: float = 0.0  # wall time of the loop (set when it ends)
    metrics: dict[str, Any] = field(default_factory=dict)  # the family's final figures

    @property
    def steps_per_second(self) -> float:
        """Steps this run made per second of loop time."""
        return (self.step - self.start_step) / max(self.seconds, 1e-9)


def _torch_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


@dataclass
class TrainLoop:
    """How one run loops; ``run(step)`` does it and returns the final LoopState."""

    steps: int
    label: str = "train"  # the progress bar's title
    time_budget_s: float | None = None
    start: int = 0  # steps already done (resume)
    schedule_start: float = 0.0  # schedule position a resumed run restarts from
    lr: Callable[[float], float] | None = None  # schedule position -> learning rate
    optimizers: Sequence[Any] = ()  # whose param groups get ``lr``
    tuner: ThreadTuner | None = None  # None: ThreadTuner.for_training(None)
    checkpoint: Callable[[LoopState, dict[str, Any] | None], None] | None = None
    checkpoint_every: int = 0  # 0: only the final checkpoint
    summarise: Callable[[LoopState], dict[str, Any]] | None = None  # final metrics
    progress: bool = True
    tb: Any = None  # a SummaryWriter for train/<scalar>
    log_every: int = 10
    smoothing: float = 0.95  # weight of the old average in the scalars' EMA
    postfix: Callable[[LoopState], dict[str, Any]] | None = None  # bar text
    scalars: Callable[[LoopState], dict[str, float]] | None = None  # TensorBoard values
    set_threads: Callable[[int], None] = _torch_threads
    clock: Callable[[], float] = time.perf_counter

    def run(self, step: Callable[[LoopState], dict[str, float]]) -> LoopState:
        """Run ``step`` until the step target or the time budget; checkpoint; final metrics.

        The final checkpoint (with ``summarise``'s metrics) is written only when the
        loop ends normally; an interrupted run keeps its last periodic checkpoint.
        """
        state = LoopState(steps=self.steps, step=self.start, start_step=self.start)
        tuner = self.tuner or ThreadTuner.for_training(None)
        budget = self.time_budget_s
        t0 = self.clock()
        state.progress = schedule_position(state.step, self.steps, 0.0, budget, self.schedule_start)
        bar = tqdm(total=self.steps, initial=state.step, desc=self.label, disable=not self.progress)
        try:
            while state.step < self.steps:
                elapsed = self.clock() - t0
                if budget is not None and elapsed >= budget:
                    break
                state.progress = schedule_position(
                    state.step, self.steps, elapsed, budget, self.schedule_start
                )
                self._set_lr(state)
                state.threads = tuner.threads_for(state.step)
                self.set_threads(state.threads)
                t_step = self.clock()
                values = step(state)
                tuner.record(state.step, state.threads, self.clock() - t_step)
                state.step += 1
                self._average(state, values)
                bar.update(1)
                if state.step % self.log_every == 0:
                    self._log(state, bar)
                every = self.checkpoint_every
                if every and state.step % every == 0 and state.step < self.steps:
                    self._save(state, None)
        finally:
            bar.close()
        state.seconds = self.clock() - t0
        state.metrics = self.summarise(state) if self.summarise is not None else {}
        self._save(state, state.metrics)
        return state

    def _set_lr(self, state: LoopState) -> None:
        if self.lr is None:
            return
        state.lr = self.lr(state.progress)
        for opt in self.optimizers:
            for group in opt.param_groups:
                group["lr"] = state.lr

    def _average(self, state: LoopState, values: dict[str, float]) -> None:
        s, avg = self.smoothing, state.averages
        for key, value in values.items():
            v = float(value)
            avg[key] = v if key not in avg or math.isnan(avg[key]) else s * avg[key] + (1 - s) * v

    def _log(self, state: LoopState, bar: Any) -> None:
        if self.postfix is not None:
            bar.set_postfix(**self.postfix(state))
        else:
            bar.set_postfix({k: f"{v:.4f}" for k, v in state.averages.items()})
        if self.tb is None:
            return
        if self.scalars is not None:
            values = self.scalars(state)
        else:
            values = dict(state.averages)
            if state.lr is not None:
                values["lr"] = state.lr
        for key, value in values.items():
            self.tb.add_scalar(f"train/{key}", value, state.step)

    def _save(self, state: LoopState, metrics: dict[str, Any] | None) -> None:
        if self.checkpoint is None:
            return
        with deferred_interrupt():
            self.checkpoint(state, metrics)
