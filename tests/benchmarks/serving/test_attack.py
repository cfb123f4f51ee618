"""The mixed attack, CI-sized: a real `ptx serve`, well-behaved clients never see an error."""

from __future__ import annotations

from ptx.benchmarks.serving.attack import markdown, run_attack, verdict


def test_small_mixed_attack_leaves_good_clients_alone(dynamic_onnx, tmp_path):
    doc = run_attack(
        dynamic_onnx, 16, good=2, loris=10, bombers=1, malformed=1,
        baseline_s=1.0, duration_s=3.0, work=tmp_path,
    )  # fmt: skip
    assert doc["baseline"]["errors"] == 0 and doc["attack"]["errors"] == 0, doc
    assert doc["attack"]["answered"] > 0
    assert doc["server"]["exit_code_on_sigterm"] == 0
    tally = doc["attackers"]
    assert tally.get("bomb:413", 0) > 0, tally  # refused from the header, never decoded
    assert tally.get("loris:opened", 0) >= 10
    for key in tally:
        kind, code = key.split(":")
        if kind in ("bomb", "malformed"):
            assert code.startswith("4"), tally  # never a 5xx, never a dropped connection


def test_verdict_names_each_failed_criterion():
    ok = {"answered": 10, "errors": 0, "error_kinds": {}, "p50_ms": 1.0, "p99_ms": 2.0}
    doc = {
        "settings": {"loris": 1, "bombers": 1, "malformed": 1, "good": 1, "size": 8,
                     "duration_s": 1, "baseline_s": 1},
        "baseline": ok,
        "attack": {**ok, "p99_ms": 7.0, "errors": 1, "error_kinds": {"HTTP 503": 1}},
        "attackers": {},
        "server": {"rss_warm_mib": 1, "rss_peak_mib": 3000.0, "exit_code_on_sigterm": 1},
    }  # fmt: skip
    failed = verdict(doc, 3.0, 2048.0)
    assert len(failed) == 4 and "p99" in failed[1] and "RSS" in failed[2]
    doc["failed"] = failed
    assert "| under attack | 10 | 1 |" in markdown(doc)
