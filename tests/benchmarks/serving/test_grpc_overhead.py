"""The gRPC overhead study on a tiny model: a real `ptx serve --grpc-port` subprocess."""

from __future__ import annotations

import json

import pytest

from ptx.benchmarks.serving import grpc_overhead

pytest.importorskip("tritonclient.grpc")


def test_measure_checks_answers_and_writes_a_page(hw_onnx, tmp_path):
    res = grpc_overhead.measure(hw_onnx, size=16, seconds=0.5)
    assert set(res["p50_ms"]) == {
        "in-process", "grpc", "grpc lean", "http", "grpc floor", "grpc lean floor",
    }  # fmt: skip
    assert res["floor_ratio"] > 1 and res["lean_floor_ratio"] > 1
    assert all(n >= grpc_overhead.ROUNDS for n in res["requests"].values())
    assert res["backend"] == "onnxruntime"
    for proto in ("grpc", "grpc lean", "http"):
        assert res["ratio"][proto] == pytest.approx(
            res["p50_ms"][proto] / res["p50_ms"]["in-process"]
        )
    json_path, md_path = grpc_overhead.write(res, tmp_path, "g", "cmd")
    assert json.loads(json_path.read_text())["grpc_overhead"]["size"] == 16
    page = md_path.read_text()
    assert "| grpc |" in page and "| http |" in page and "target" in page
    assert "| grpc lean |" in page and "lean client" in page


def test_measure_with_the_native_front_end(hw_onnx, tmp_path):
    from ptx.runtime.server.native import build as native_build

    reason = native_build.missing_tools()
    if reason and not native_build.module_path().exists():
        pytest.skip(f"native gRPC front end: {reason}")
    res = grpc_overhead.measure(hw_onnx, size=16, seconds=0.5, native=True, rounds=2)
    assert res["native"] == "measured"
    native = {
        "native grpc", "native grpc lean", "native grpc c++ lean", "native bare engine c++ lean",
        "native floor lean", "native floor c++ lean", grpc_overhead.ANY_CORE,
    }  # fmt: skip
    assert native <= set(res["p50_ms"])
    assert all(res["requests"][k] >= 2 for k in native)  # every path answered (and checked)
    for path in native - {"native floor lean", "native floor c++ lean"}:
        assert res["ratio"][path] == pytest.approx(
            res["p50_ms"][path] / res["p50_ms"]["in-process"]
        )
    assert set(res["native_own_ms"]) == {"lean", "c++ lean"}
    assert res["native_ptx_ms"] == pytest.approx(
        res["p50_ms"]["native grpc c++ lean"] - res["p50_ms"]["native bare engine c++ lean"]
    )
    assert res["lone_core_ms"] == pytest.approx(
        res["p50_ms"][grpc_overhead.ANY_CORE] - res["p50_ms"]["native bare engine c++ lean"]
    )
    assert all(r > 1 for r in res["native_floor_ratio"].values())
    _, md_path = grpc_overhead.write(res, tmp_path, "g", "cmd")
    page = md_path.read_text()
    assert "| native grpc c++ lean |" in page and "native front end (C++)" in page
    assert "ptx's logic costs" in page and "keeping lone calls on one core saves" in page
