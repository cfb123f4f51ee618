"""The one interleaved timer: rotating order, budget, quiet waits untimed."""

from __future__ import annotations

import pytest

from ptx.timing import lower_quartile, settle, time_interleaved


def test_rounds_rotate_the_order_and_every_runner_runs_once_per_round() -> None:
    calls: list[str] = []
    runners = {n: (lambda n=n: calls.append(n)) for n in "abc"}
    times = time_interleaved(runners, budget_s=None, max_rounds=3, quiet=lambda: None)
    assert calls == list("abcbcacab")
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3, "c": 3}


def test_budget_stops_after_min_rounds_and_quiet_is_not_timed() -> None:
    now = [0.0]

    def clock() -> float:
        return now[0]

    def slow() -> None:
        now[0] += 1.0

    def quiet() -> None:
        now[0] += 100.0  # waiting must never count as the runner's time

    times = time_interleaved(
        {"x": slow, "y": slow}, budget_s=0.5, min_rounds=2, max_rounds=9, clock=clock, quiet=quiet
    )
    assert times == {"x": [1.0, 1.0], "y": [1.0, 1.0]}
    with pytest.raises(ValueError):
        time_interleaved({"x": slow}, max_rounds=0)


def test_warmup_and_progress() -> None:
    count = {"run": 0, "seen": 0}

    def run() -> None:
        count["run"] += 1

    def seen() -> None:
        count["seen"] += 1

    time_interleaved(
        {"x": run}, budget_s=None, max_rounds=4, quiet=lambda: None, warmup=True, on_call=seen
    )
    assert count == {"run": 5, "seen": 4}


def test_lower_quartile_and_settle() -> None:
    assert lower_quartile([0.3]) == 0.3
    assert lower_quartile([4.0, 1.0, 3.0, 2.0, 5.0]) == 2.0
    assert 0 < settle(max_s=0.02, slice_s=0.005) <= 0.03
