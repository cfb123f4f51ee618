"""The native gRPC front end: batching with HTTP, choosing a front end, the extension itself.

The protocol behaviour both front ends share (values, metadata, errors, token, drain)
is tested in test_grpc.py on each of them.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from ptx.errors import InputError
from ptx.runtime.server.app import create_app
from ptx.runtime.server.config import ServerConfig
from ptx.runtime.server.native import build as native_build
from ptx.runtime.server.run import BackgroundServer

grpcclient = pytest.importorskip("tritonclient.grpc")


def _start(models, frontend: str, **options) -> BackgroundServer:
    config = ServerConfig(models=models, port=0, grpc_port=0, grpc_frontend=frontend, **options)
    return BackgroundServer(create_app(config)).start()


def _infer_grpc(url: str, x: np.ndarray) -> np.ndarray:
    c = grpcclient.InferenceServerClient(url)
    tensor = grpcclient.InferInput("image", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    try:
        return c.infer("affine", [tensor]).as_numpy("out")
    finally:
        c.close()


@pytest.mark.parametrize("frontend", ["python", "native"])
def test_grpc_and_http_requests_merge_into_one_batch(model_files, srv, native, frontend):
    server = _start(
        {"affine": model_files["affine"]}, frontend, max_batch=4, max_delay_us=30_000_000
    )
    batcher = server.server.config.app.state.ptx.models["affine"].batcher
    batcher.enter()  # one more request "on its way": the batch waits until it is full
    try:
        xs = [np.full((1, 3, 5, 5), k / 8, np.float32) for k in range(4)]

        def over_http(x):
            body = srv.infer_json("image", x)
            r = httpx.post(server.url + "/v2/models/affine/infer", content=body, timeout=60)
            assert r.status_code == 200, r.text
            return np.asarray(r.json()["outputs"][0]["data"], np.float32).reshape(x.shape)

        calls = [_infer_grpc, over_http, _infer_grpc, over_http]
        with ThreadPoolExecutor(4) as pool:
            futures = [
                pool.submit(fn, server.grpc_url, x) if fn is _infer_grpc else pool.submit(fn, x)
                for fn, x in zip(calls, xs, strict=True)
            ]
            answers = [f.result(timeout=60) for f in futures]
    finally:
        batcher.leave()
    try:
        for x, y in zip(xs, answers, strict=True):
            np.testing.assert_allclose(y, x * 0.5 + 0.25, rtol=1e-6)
        stats = server.server.config.app.state.ptx.models["affine"].stats.to_dict()
        assert [(b["batch_size"], b["compute_infer"]["count"]) for b in stats["batch_stats"]] == [
            (4, 1)
        ]
        text = httpx.get(server.url + "/metrics").text
        assert srv.metric(text, "ptx_requests_total", model="affine", route="grpc") == 2
    finally:
        server.stop()


def test_choosing_a_front_end(monkeypatch, caplog):
    monkeypatch.setattr(native_build, "module_path", lambda: Path("/nonexistent/_ptx_grpc.so"))
    with pytest.raises(InputError, match="not built; run `make grpc-native`"):
        native_build.choose("native")
    with caplog.at_level(logging.INFO, logger="ptx.serve"):
        assert native_build.choose("auto") == "python"
    assert "the python front end" in caplog.text
    assert native_build.choose("python") == "python"
    with pytest.raises(InputError, match="--grpc-frontend must be one of"):
        native_build.choose("rust")


def test_the_config_refuses_an_unknown_front_end_in_one_line(model_files):
    with pytest.raises(InputError) as err:
        ServerConfig(models={"affine": model_files["affine"]}, grpc_frontend="rust")
    assert str(err.value) == "--grpc-frontend must be one of auto, native, python, got 'rust'"
    assert ServerConfig(models={"affine": model_files["affine"]}).grpc_frontend == "auto"


def test_auto_is_native_once_built(native):
    assert native_build.choose("auto") == "native" and native_build.up_to_date()


def test_native_asked_for_but_not_built_is_one_line_and_exit_2(model_files, monkeypatch):
    from click.testing import CliRunner

    from ptx.cli import main, register

    monkeypatch.setattr(native_build, "module_path", lambda: Path("/nonexistent/_ptx_grpc.so"))
    register("serve", "ptx.runtime.cli.serve:serve")
    args = ["serve", "--model", f"affine={model_files['affine']}", "--grpc-port", "0",
            "--grpc-frontend", "native"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "the native front end is not built; run `make grpc-native`" in result.output


# The extension reports a callable's escaped exception as unraisable (to the server log).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_raw_inputs_reach_python_as_read_only_views_and_errors_as_statuses(native):
    """The extension alone: what the callable sees and how its answers travel."""
    seen = {}

    def infer(model, version, inputs, raw, outputs, authorization, whole):
        seen.update(model=model, inputs=inputs, outputs=outputs, auth=authorization, raw=raw)
        if model == "boom":
            raise RuntimeError("a bug in the callable")
        if model == "busy":
            return 14, "model 'busy': queue full", None
        x = np.frombuffer(raw[0], "<f4").reshape(inputs[0][2])
        return 0, "", [("y", "FP32", x.shape, x * 2)]

    def call(method, body, authorization):
        return 12, f"{method} is not here", None

    handle, port = native.start("127.0.0.1:0", 1 << 20, infer, call)
    try:
        c = grpcclient.InferenceServerClient(f"127.0.0.1:{port}")
        x = np.arange(6, dtype=np.float32).reshape(1, 6)
        tensor = grpcclient.InferInput("x", [1, 6], "FP32")
        tensor.set_data_from_numpy(x)
        out = [grpcclient.InferRequestedOutput("y")]
        got = c.infer("m", [tensor], outputs=out, headers={"authorization": "Bearer t0ken-123"})
        np.testing.assert_array_equal(got.as_numpy("y"), x * 2)
        assert seen["inputs"] == (("x", "FP32", (1, 6)),) and seen["outputs"] == ("y",)
        assert seen["auth"] == b"Bearer t0ken-123"
        view = seen["raw"][0]
        assert isinstance(view, memoryview) and view.readonly and view.nbytes == 24
        assert type(view.obj).__name__ == "Blob"  # the request's own buffer, not a copy
        np.testing.assert_array_equal(np.frombuffer(view, "<f4"), x.ravel())  # still valid
        for model, status, text in (
            ("busy", "UNAVAILABLE", "queue full"),
            ("boom", "INTERNAL", "internal server error; see the server log"),
        ):
            with pytest.raises(grpcclient.InferenceServerException) as err:
                c.infer(model, [tensor])
            assert str(err.value.status()) == f"StatusCode.{status}"
            assert text in err.value.message()
        with pytest.raises(grpcclient.InferenceServerException) as err:
            c.is_server_live()
        assert "ServerLive is not here" in err.value.message()
        c.close()
    finally:
        native.shutdown(handle, 1.0)


def test_the_lean_cpp_client_against_the_native_front_end(model_files, native):
    server = _start({"affine": model_files["affine"]}, "native")
    try:
        assert server.server.config.app.state.grpc.frontend == "native"
        cmd = [str(native_build.lean_client_path()), server.grpc_url, "affine", "image", "out",
               "1,3,8,8", "0.2"]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        micros = [float(v) for v in done.stdout.split()]
        assert micros and all(v > 0 for v in micros)
        stats = server.server.config.app.state.ptx.models["affine"].stats.to_dict()
        assert stats["inference_stats"]["success"]["count"] == len(micros) + 10  # + warm-up
    finally:
        server.stop()


def test_shutdown_waits_for_an_in_flight_call(native):
    """SIGTERM's path: shutdown(grace) returns only after a running call has answered."""
    release, entered = threading.Event(), threading.Event()

    def infer(*request):
        entered.set()
        release.wait(10)
        return 0, "", [("y", "FP32", (1,), np.ones(1, np.float32))]

    handle, port = native.start("127.0.0.1:0", 1 << 20, infer, lambda *a: (12, "no", None))
    c = grpcclient.InferenceServerClient(f"127.0.0.1:{port}")
    tensor = grpcclient.InferInput("x", [1], "FP32")
    tensor.set_data_from_numpy(np.ones(1, np.float32))
    with ThreadPoolExecutor(2) as pool:
        answer = pool.submit(c.infer, "m", [tensor])
        assert entered.wait(10)
        stopping = pool.submit(native.shutdown, handle, 10.0)
        time.sleep(0.3)
        assert not stopping.done()  # the held call has not answered yet
        release.set()
        assert answer.result(timeout=20).as_numpy("y").tolist() == [1.0]
        stopping.result(timeout=20)
    c.close()


def test_metrics_held_off_the_hot_path_are_all_in_the_next_scrape(monkeypatch):
    from ptx.runtime.server import metrics as metrics_mod

    m = metrics_mod.Metrics()
    child = m.latency.labels("m", "grpc")
    m.later(child.observe, 0.002)
    assert m.registry.get_sample_value(
        "ptx_request_seconds_count", {"model": "m", "route": "grpc"}
    ) in (None, 0.0)  # held
    assert b'ptx_request_seconds_count{model="m",route="grpc"} 1.0' in m.exposition()
    monkeypatch.setattr(metrics_mod, "LATER_MAX", 3)

    def count() -> float:
        labels = {"model": "m", "route": "grpc"}
        return m.registry.get_sample_value("ptx_request_seconds_count", labels)

    for _ in range(3):  # up to the cap: all held
        m.later(child.observe, 0.001)
    assert count() == 1.0 and len(m._later) == 3
    for i in range(4):  # past it each call applies the oldest one: bounded, no burst
        m.later(child.observe, 0.001)
        assert count() == 2.0 + i and len(m._later) == 3
    m.exposition()
    assert count() == 8.0 and len(m._later) == 0
