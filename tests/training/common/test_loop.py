"""The one training loop: budget, schedule, threads, averages, checkpoints, Ctrl-C."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ptx.training.common.loop import LoopState, TrainLoop
from ptx.training.common.schedule import cosine_at, lr_at, schedule_position
from ptx.training.common.threads import ThreadTuner


class FakeClock:
    """Seconds advance only when a step runs, so budgets are tested without wall time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeOptimizer:
    def __init__(self) -> None:
        self.param_groups = [{"lr": 0.0}, {"lr": 0.0}]


class FakeBoard:
    def __init__(self) -> None:
        self.scalars: list[tuple[str, float, int]] = []

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars.append((tag, value, step))


class TinyFamily:
    """A fake family: each step takes one fake second and reports its index as the loss."""

    def __init__(self, clock: FakeClock, seconds_per_step: float = 1.0) -> None:
        self.clock = clock
        self.per_step = seconds_per_step
        self.ran: list[int] = []
        self.saved: list[tuple[int, dict | None]] = []
        self.lrs: list[float | None] = []
        self.threads: list[int] = []

    def step(self, at: LoopState) -> dict[str, float]:
        self.ran.append(at.step)
        self.lrs.append(at.lr)
        self.clock.now += self.per_step
        return {"loss": float(at.step)}

    def checkpoint(self, at: LoopState, metrics: dict | None) -> None:
        self.saved.append((at.step, metrics))

    def loop(self, steps: int, **kw) -> TrainLoop:
        return TrainLoop(
            steps,
            progress=False,
            clock=self.clock,
            set_threads=self.threads.append,
            tuner=ThreadTuner([1]),
            checkpoint=self.checkpoint,
            summarise=lambda at: {"steps": at.step, "loss": at.averages.get("loss")},
            **kw,
        )


def test_runs_to_the_step_target_and_checkpoints_every_n_and_at_the_end() -> None:
    fam = TinyFamily(FakeClock())
    state = fam.loop(7, checkpoint_every=3).run(fam.step)
    assert fam.ran == list(range(7)) and state.step == 7 and state.start_step == 0
    assert [s for s, _ in fam.saved] == [3, 6, 7]  # every 3 steps, then the final one
    assert [m is None for _, m in fam.saved] == [True, True, False]
    assert fam.saved[-1][1] == {"steps": 7, "loss": state.averages["loss"]} == state.metrics
    assert state.seconds == 7.0 and state.steps_per_second == pytest.approx(1.0)


def test_the_step_target_is_never_checkpointed_twice() -> None:
    fam = TinyFamily(FakeClock())
    fam.loop(6, checkpoint_every=3).run(fam.step)
    assert [s for s, _ in fam.saved] == [3, 6]  # the periodic save at 6 is the final's


def test_time_budget_stops_the_run_and_still_writes_the_final_checkpoint() -> None:
    fam = TinyFamily(FakeClock(), seconds_per_step=2.0)
    state = fam.loop(1000, time_budget_s=5.0, checkpoint_every=100).run(fam.step)
    assert fam.ran == [0, 1, 2]  # at 6 fake seconds the budget of 5 is spent
    assert state.step == 3 and [s for s, _ in fam.saved] == [3]
    assert state.metrics["steps"] == 3


def test_resume_starts_at_the_saved_step_and_schedule_position() -> None:
    fam = TinyFamily(FakeClock())
    opt = FakeOptimizer()
    state = fam.loop(10, start=6, schedule_start=0.6, lr=lambda p: p, optimizers=[opt]).run(
        fam.step
    )
    assert fam.ran == [6, 7, 8, 9] and state.start_step == 6
    assert fam.lrs == pytest.approx([0.6, 0.7, 0.8, 0.9])  # no budget: steps set the position
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.9, 0.9])
    assert state.steps_per_second == pytest.approx(1.0)


def test_with_a_budget_the_schedule_follows_time_from_the_resume_point() -> None:
    fam = TinyFamily(FakeClock())
    fam.loop(10**6, time_budget_s=4.0, schedule_start=0.5, lr=lambda p: p).run(fam.step)
    assert fam.lrs == pytest.approx([0.5, 0.625, 0.75, 0.875])


def test_no_schedule_leaves_the_optimizer_alone() -> None:
    fam = TinyFamily(FakeClock())
    opt = FakeOptimizer()
    state = fam.loop(3, optimizers=[opt]).run(fam.step)
    assert fam.lrs == [None, None, None] and state.lr is None
    assert [g["lr"] for g in opt.param_groups] == [0.0, 0.0]


def test_zero_steps_makes_only_the_final_checkpoint() -> None:
    fam = TinyFamily(FakeClock())
    state = fam.loop(0, checkpoint_every=1).run(fam.step)
    assert fam.ran == [] and state.averages == {}
    assert fam.saved == [(0, {"steps": 0, "loss": None})]


def test_averages_are_smoothed_and_logged_every_n_steps() -> None:
    fam = TinyFamily(FakeClock())
    tb = FakeBoard()
    state = fam.loop(4, smoothing=0.5, tb=tb, log_every=2, lr=lambda p: 1.0).run(fam.step)
    # 0, then 0.5*0 + 0.5*1, then 0.5*0.5 + 0.5*2, then 0.5*1.25 + 0.5*3
    assert state.averages["loss"] == pytest.approx(2.125)
    assert tb.scalars == [
        ("train/loss", pytest.approx(0.5), 2),
        ("train/lr", 1.0, 2),
        ("train/loss", pytest.approx(2.125), 4),
        ("train/lr", 1.0, 4),
    ]


def test_a_family_chooses_its_own_scalars() -> None:
    fam = TinyFamily(FakeClock())
    tb = FakeBoard()

    def scalars(at: LoopState) -> dict[str, float]:
        return {"twice": 2 * at.averages["loss"]}

    fam.loop(2, smoothing=0.0, tb=tb, log_every=2, scalars=scalars).run(fam.step)
    assert tb.scalars == [("train/twice", 2.0, 2)]


def test_threads_come_from_the_tuner_for_every_step() -> None:
    clock = FakeClock()
    fam = TinyFamily(clock)
    loop = fam.loop(8)
    loop.tuner = ThreadTuner([4, 1], probe=2, every=100)
    original = fam.step

    def step(at: LoopState) -> dict[str, float]:
        out = original(at)
        clock.now += 5.0 if at.threads == 4 else 0.0  # four threads are slower here
        return out

    loop.run(step)
    assert fam.threads == [4, 4, 1, 1, 1, 1, 1, 1]


def test_an_exception_skips_the_final_checkpoint() -> None:
    fam = TinyFamily(FakeClock())

    def failing(at: LoopState) -> dict[str, float]:
        if at.step == 4:
            raise KeyboardInterrupt
        return fam.step(at)

    with pytest.raises(KeyboardInterrupt):
        fam.loop(10, checkpoint_every=2).run(failing)
    assert [s for s, _ in fam.saved] == [2, 4]  # the last periodic checkpoint stands


def test_ctrl_c_during_a_checkpoint_waits_for_it_to_finish() -> None:
    # A real SIGINT in a fresh interpreter (other tests' native libraries install handlers).
    code = """
import signal
from ptx.training.common.loop import TrainLoop
from ptx.training.common.threads import ThreadTuner
signal.signal(signal.SIGINT, signal.default_int_handler)
done = []
def checkpoint(at, metrics):
    signal.raise_signal(signal.SIGINT)
    done.append(at.step)
loop = TrainLoop(5, progress=False, checkpoint=checkpoint, checkpoint_every=2,
                 tuner=ThreadTuner([1]), set_threads=lambda n: None)
try:
    loop.run(lambda at: {})
except KeyboardInterrupt:
    assert done == [2], done
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    print("held")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "held"


def test_ctrl_c_is_held_until_the_save_finishes() -> None:
    # A fresh interpreter: native libraries loaded by other tests (OpenVINO, TensorRT, CUDA)
    # install their own signal machinery, and a real SIGINT must meet only Python's.
    code = """
import signal
from ptx.training.common.loop import deferred_interrupt
signal.signal(signal.SIGINT, signal.default_int_handler)  # nohup/CI may start us with SIG_IGN
done = []
try:
    with deferred_interrupt():
        signal.raise_signal(signal.SIGINT)
        done.append("saved")
except KeyboardInterrupt:
    assert done == ["saved"], done
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    print("held")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "held"


def test_thread_tuner_keeps_the_faster_count() -> None:
    tuner = ThreadTuner([2, 1], probe=3, every=100)
    for step in range(6):
        n = tuner.threads_for(step)
        tuner.record(step, n, 0.5 if n == 2 else 0.1)
    assert tuner.threads_for(6) == 1 and tuner.threads_for(99) == 1
    assert tuner.threads_for(100) == 2  # a later window probes again


def test_schedule_follows_steps_or_time_and_resumes_where_it_stopped() -> None:
    assert schedule_position(50, 100, 0.0, None) == pytest.approx(0.5)
    assert schedule_position(10, 10**6, 30.0, 60.0) == pytest.approx(0.5)
    assert schedule_position(10, 10**6, 30.0, 60.0, start=0.5) == pytest.approx(0.75)
    assert schedule_position(10, 10**6, 90.0, 60.0) == 1.0
    lrs = [lr_at(p / 10, 1e-3) for p in range(1, 11)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False)) and lrs[-1] < 0.05e-3


def test_cosine_decays_from_base_to_zero() -> None:
    assert cosine_at(0.0, 2.0) == pytest.approx(2.0)
    assert cosine_at(0.5, 2.0) == pytest.approx(1.0)
    assert cosine_at(1.0, 2.0) == pytest.approx(0.0) and cosine_at(3.0, 2.0) == cosine_at(1.0, 2.0)


def test_thread_tuner_for_training_times_all_cores_against_fewer() -> None:
    import os

    cores = os.cpu_count() or 1
    assert ThreadTuner.for_training(3).candidates == [3]
    assert ThreadTuner.for_training(None).candidates == sorted({cores, max(1, cores // 2)})[::-1]
    assert ThreadTuner.for_training(None, fewer=1).candidates == sorted({cores, 1})[::-1]
