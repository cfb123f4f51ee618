"""benchmarks/cpu_backends.py on the tiny test model: a real run, its table and its check."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("openvino")
pytest.importorskip("torch")

from ptx.benchmarks.studies import cpu_backends  # noqa: E402


def test_interleave_runs_each_once_per_round_in_rotating_order():
    order, quiet, ticks = [], [], []
    runners = {n: (lambda n=n: order.append(n)) for n in "abc"}

    class Bar:
        def update(self):
            ticks.append(1)

    bar, hush = Bar(), lambda: quiet.append(1)
    times = cpu_backends.interleave(runners, rounds=6, progress=bar, quiet=hush)
    rounds = [order[i : i + 3] for i in range(0, 18, 3)]
    assert all(sorted(r) == list("abc") for r in rounds)
    assert [r[0] for r in rounds] == list("abcabc")  # ptx.timing's rotation
    assert len(quiet) == 18 and len(ticks) == 18
    assert all(len(t) == 6 and min(t) >= 0 for t in times.values())


def test_ratio_check_flags_a_slow_auto():
    base = {"family": "f", "batch": 1, "size": 8, "rounds": 1, "auto_backend": "openvino"}
    ok = cpu_backends.Case(
        **base,
        p25_ms={"torch": 9, "onnxruntime": 5, "openvino": 4, "auto": 4.1},
        median_ms={"torch": 9, "onnxruntime": 5, "openvino": 4, "auto": 4.1},
        auto_reason="",
        auto_trial_s=0,
    )
    slow = cpu_backends.Case(
        **base,
        p25_ms={"torch": 9, "onnxruntime": 5, "openvino": 4, "auto": 4.4},
        median_ms={"torch": 9, "onnxruntime": 5, "openvino": 4, "auto": 4.4},
        auto_reason="",
        auto_trial_s=0,
    )
    assert ok.best_cpu == "openvino" and ok.auto_ratio == pytest.approx(4.1 / 4)
    meta = {
        "host": "h", "cpu": "c", "threads": 1, "size": 8, "rounds": 1, "load_before": "0",
        "load_after": "0", "versions": {}, "command": "x", "tiny": True,
    }  # fmt: skip
    rows = [
        ln for ln in cpu_backends.markdown([ok, slow], meta).splitlines() if ln.startswith("| f |")
    ]
    assert rows[0].endswith("| yes |") and rows[1].endswith("| NO |")


def test_tiny_run_writes_table_and_json(tmp_path, monkeypatch):
    monkeypatch.delenv("PTX_BACKEND", raising=False)  # the benchmark measures auto's own trial
    md, cases = cpu_backends.run(
        size=32, batches=(2,), rounds=2, families=("enhance",), threads=1, out=tmp_path, tiny=True
    )
    text = md.read_text()
    assert "| enhance | 2 |" in text and "load average" in text
    doc = json.loads(md.with_suffix(".json").read_text())
    assert [c["batch"] for c in doc["cases"]] == [2]
    for case in cases:
        assert set(case.median_ms) == set(case.p25_ms) == set(cpu_backends.CONTENDERS)
        assert all(0 < case.p25_ms[n] <= case.median_ms[n] for n in case.p25_ms)
        assert all(len(t) == 2 for t in case.times_ms.values())
        assert case.auto_backend in ("onnxruntime", "openvino") and case.auto_trial_s > 0
