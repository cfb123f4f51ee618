"""`tritonclient.grpc` (Triton's own client) against `ptx serve --grpc-port`, on both
gRPC front ends: ``python`` (grpc.aio) and ``native`` (C++; built once, cached; skipped
with the reason when libgrpc++/protoc-grpc are not installed)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from ptx.errors import InputError
from ptx.runtime.server.app import create_app
from ptx.runtime.server.config import ServerConfig
from ptx.runtime.server.native import build as native_build
from ptx.runtime.server.run import BackgroundServer

grpcclient = pytest.importorskip("tritonclient.grpc")
from tritonclient.utils import InferenceServerException  # noqa: E402

TOKEN = "s3cret-token"
SERVE = "import sys; from ptx.runtime.cli.serve import serve; serve(sys.argv[1:])"


@pytest.fixture(scope="module", params=["python", "native"])
def frontend(request) -> str:
    """Each gRPC front end in turn (the native one built here if it is not yet)."""
    if request.param == "native":
        reason = native_build.missing_tools()
        if reason and not native_build.module_path().exists():
            pytest.skip(f"native gRPC front end: {reason}")
        native_build.build()
    return request.param


def start(models, frontend: str, **options) -> BackgroundServer:
    """A started server whose gRPC port runs ``frontend``."""
    config = ServerConfig(models=models, port=0, grpc_port=0, grpc_frontend=frontend, **options)
    server = BackgroundServer(create_app(config)).start()
    assert server.server.config.app.state.grpc.frontend == frontend
    return server


@pytest.fixture(scope="module")
def server(model_files, frontend):
    s = start(model_files, frontend, max_batch=8, max_delay_us=2000)
    yield s
    s.stop()


@pytest.fixture
def client(server):
    c = grpcclient.InferenceServerClient(server.grpc_url)
    yield c
    c.close()


def _inputs(arrays: dict[str, np.ndarray]):
    out = []
    for name, arr in arrays.items():
        datatype = {np.float32: "FP32", np.float16: "FP16", np.int64: "INT64"}[arr.dtype.type]
        tensor = grpcclient.InferInput(name, list(arr.shape), datatype)
        tensor.set_data_from_numpy(arr)
        out.append(tensor)
    return out


def _status(exc: InferenceServerException) -> str:
    return str(exc.status()).removeprefix("StatusCode.")


def test_fp32_infer_raw(client):
    x = np.random.default_rng(1).random((2, 3, 5, 7), dtype=np.float32)
    out = [grpcclient.InferRequestedOutput("out")]
    result = client.infer("affine", _inputs({"image": x}), outputs=out, request_id="r-1")
    y = result.as_numpy("out")
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, x * 0.5 + 0.25, rtol=1e-6)
    assert result.get_response().id == "r-1" and result.get_response().model_name == "affine"


def test_typed_contents_and_int64_inputs(client, srv):
    """The generator's FP32 and INT64 inputs sent as typed contents, not raw bytes."""
    pb = grpcclient.service_pb2
    z = np.random.default_rng(3).standard_normal((3, srv.LATENT)).astype(np.float32)
    cat, col = np.array([0, 2, 1], np.int64), np.array([1, 0, 1], np.int64)
    request = pb.ModelInferRequest(model_name="gen")
    for name, arr, field, dt in (
        ("z", z, "fp32_contents", "FP32"),
        ("category", cat, "int64_contents", "INT64"),
        ("color", col, "int64_contents", "INT64"),
    ):
        tensor = request.inputs.add(name=name, datatype=dt, shape=list(arr.shape))
        getattr(tensor.contents, field).extend(arr.ravel().tolist())
    response = client._client_stub.ModelInfer(request)
    result = grpcclient.InferResult(response)
    image = result.as_numpy("image")
    np.testing.assert_allclose(image, srv.generator_reference(z, cat, col), atol=1e-5)


def test_fp16_raw(client):
    x = np.random.default_rng(2).random((1, 3, 4, 4)).astype(np.float16)
    y = client.infer("fp16", _inputs({"image": x})).as_numpy("out")
    assert y.dtype == np.float16
    np.testing.assert_allclose(y.astype(np.float32), x.astype(np.float32) * 0.5 + 0.25, atol=2e-3)


def test_health_and_metadata(client, model_files):
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("affine") and not client.is_model_ready("nope")
    server = client.get_server_metadata()
    assert server.name == "ptx" and "statistics" in server.extensions
    meta = client.get_model_metadata("gen")
    assert meta.name == "gen" and meta.platform == "onnxruntime_onnx"
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.inputs] == [
        ("z", "FP32", [-1, 8]),
        ("category", "INT64", [-1]),
        ("color", "INT64", [-1]),
    ]
    assert [(t.name, list(t.shape)) for t in meta.outputs] == [("image", [-1, 3, 8, 8])]
    config = client.get_model_config("affine").config
    assert config.max_batch_size == 8 and list(config.input[0].dims) == [3, -1, -1]
    assert config.dynamic_batching.max_queue_delay_microseconds == 2000
    with pytest.raises(InferenceServerException) as err:
        client.get_model_metadata("nope")
    assert _status(err.value) == "NOT_FOUND" and "unknown model 'nope'" in err.value.message()


def test_statistics_count_grpc_infers(client, server):
    before = client.get_inference_statistics("style").model_stats[0]
    x = np.random.default_rng(4).random((1, 3, 6, 6), dtype=np.float32)
    for _ in range(3):
        y = client.infer("style", _inputs({"image": x})).as_numpy("out")
        np.testing.assert_allclose(y, 1 - x, rtol=1e-6)
    after = client.get_inference_statistics("style").model_stats[0]
    assert after.name == "style" and after.version == "1"
    assert after.inference_stats.success.count - before.inference_stats.success.count == 3
    assert after.inference_count - before.inference_count == 3
    everything = client.get_inference_statistics()
    assert {s.name for s in everything.model_stats} == {"affine", "fp16", "gen", "style"}
    # the same Prometheus counters as HTTP, under route "grpc"
    text = httpx.get(server.url + "/metrics").text
    assert "ptx_requests_total" in text
    lines = [
        line
        for line in text.splitlines()
        if line.startswith("ptx_requests_total")
        and 'model="style"' in line
        and 'route="grpc"' in line
        and 'code="OK"' in line
    ]
    assert lines and float(lines[0].split()[-1]) >= 3


@pytest.mark.parametrize(
    ("arrays", "needle"),
    [
        ({"image": np.ones((1, 3, 2, 2), np.int64)}, "datatype 'INT64' given"),
        ({"image": np.ones((3, 2, 2), np.float32)}, "does not fit the model's"),
        ({"pixels": np.ones((1, 3, 2, 2), np.float32)}, "unknown input 'pixels'"),
        ({"image": np.ones((1, 3, 0, 2), np.float32)}, "holds no values"),
    ],
    ids=["wrong-dtype", "wrong-rank", "wrong-name", "empty"],
)
def test_bad_request_is_invalid_argument(client, arrays, needle):
    with pytest.raises(InferenceServerException) as err:
        client.infer("affine", _inputs(arrays))
    assert _status(err.value) == "INVALID_ARGUMENT"
    assert needle in err.value.message()


def test_raw_size_mismatch_and_label_range(client, srv):
    pb = grpcclient.service_pb2
    request = pb.ModelInferRequest(model_name="affine")
    request.inputs.add(name="image", datatype="FP32", shape=[1, 3, 2, 2])
    request.raw_input_contents.append(b"\0" * 10)
    with pytest.raises(Exception) as err:  # the raw stub raises grpc.RpcError
        client._client_stub.ModelInfer(request)
    assert "raw contents hold 10 bytes" in err.value.details()
    z = np.zeros((1, srv.LATENT), np.float32)
    arrays = {"z": z, "category": np.array([7], np.int64), "color": np.array([0], np.int64)}
    with pytest.raises(InferenceServerException) as bad:
        client.infer("gen", _inputs(arrays))
    assert _status(bad.value) == "INVALID_ARGUMENT" and "label id 7" in bad.value.message()


def test_token_refused_without_bearer_probes_still_answer(model_files, frontend):
    server = start({"affine": model_files["affine"]}, frontend, token=TOKEN)
    try:
        c = grpcclient.InferenceServerClient(server.grpc_url)
        x = np.ones((1, 3, 2, 2), np.float32)
        assert c.is_server_live() and c.is_server_ready()  # probes need no token
        for headers in (None, {"authorization": "Bearer wrong-token"}):
            with pytest.raises(InferenceServerException) as err:
                c.infer("affine", _inputs({"image": x}), headers=headers)
            assert _status(err.value) == "UNAUTHENTICATED" and "bearer token" in str(err.value)
        with pytest.raises(InferenceServerException):
            c.get_model_metadata("affine")
        good = {"authorization": f"Bearer {TOKEN}"}
        y = c.infer("affine", _inputs({"image": x}), headers=good).as_numpy("out")
        np.testing.assert_allclose(y, x * 0.5 + 0.25)
        with pytest.raises(InferenceServerException) as err:  # the same request, no token
            c.infer("affine", _inputs({"image": x}))
        assert _status(err.value) == "UNAUTHENTICATED"
        c.close()
    finally:
        server.stop()


def test_a_repeated_request_header_still_checks_what_changes(client, srv):
    """A header answered before (the native front end keeps its checks) is checked again
    where a call can differ: raw sizes and label ids."""
    pb = grpcclient.service_pb2
    request = pb.ModelInferRequest(model_name="affine")
    request.inputs.add(name="image", datatype="FP32", shape=[1, 3, 2, 2])
    request.raw_input_contents.append(np.full(12, 0.5, np.float32).tobytes())
    answer = client._client_stub.ModelInfer(request)
    np.testing.assert_allclose(np.frombuffer(answer.raw_output_contents[0], "<f4"), 0.5)
    request.raw_input_contents[0] = b"\0" * 10
    with pytest.raises(Exception) as err:  # the raw stub raises grpc.RpcError
        client._client_stub.ModelInfer(request)
    assert "raw contents hold 10 bytes" in err.value.details()
    z = np.zeros((1, srv.LATENT), np.float32)
    for category, color in ((1, 0), (7, 0), (0, -1)):
        arrays = {"z": z, "category": np.array([category], np.int64)}
        arrays["color"] = np.array([color], np.int64)
        if category < 7 and color >= 0:
            assert client.infer("gen", _inputs(arrays)).as_numpy("image") is not None
            continue
        with pytest.raises(InferenceServerException) as bad:
            client.infer("gen", _inputs(arrays))
        assert _status(bad.value) == "INVALID_ARGUMENT"
        assert f"label id {category if category == 7 else color}" in bad.value.message()


def test_queue_full_is_unavailable(model_files, srv, frontend):
    """A batch waits to fill (a request counted in but never sent), so the queue cannot drain."""
    server = start(
        {"affine": model_files["affine"]},
        frontend,
        instances=1,
        queue=2,
        max_batch=8,
        max_delay_us=60_000_000,
        timeout_s=60.0,
    )
    batcher = server.server.config.app.state.ptx.models["affine"].batcher
    url = server.url
    batcher.enter()  # as an accepted HTTP request would: a forming batch waits for it
    held = True
    try:

        def state(forming: int, depth: int):
            def reached() -> bool:
                text = httpx.get(url + "/metrics").text
                return (
                    srv.metric(text, "ptx_batch_forming", model="affine") == forming
                    and srv.metric(text, "ptx_queue_depth", model="affine") == depth
                )

            return reached

        c = grpcclient.InferenceServerClient(server.grpc_url)
        # Shapes differ, so nothing merges: one waits in the forming batch, two fill the queue.
        xs = [np.full((1, 3, k, k), k / 10, np.float32) for k in (2, 3, 4)]

        def call(x):
            return c.infer("affine", _inputs({"image": x})).as_numpy("out")

        with ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(call, xs[0])]
            srv.wait_for(state(1, 0), timeout_s=30, what="one request in the forming batch")
            futures += [pool.submit(call, x) for x in xs[1:]]
            srv.wait_for(state(1, 2), timeout_s=30, what="queue depth 2")
            assert c.is_server_ready()
            with pytest.raises(InferenceServerException) as err:
                call(np.zeros((1, 3, 5, 5), np.float32))
            assert _status(err.value) == "UNAVAILABLE" and "queue full" in err.value.message()
            batcher.leave()  # the awaited request "ends": the batch stops waiting
            held = False
            done = [f.result(timeout=60) for f in futures]
        for x, y in zip(xs, done, strict=True):
            np.testing.assert_allclose(y, x * 0.5 + 0.25, rtol=1e-6)
        text = httpx.get(url + "/metrics").text
        assert srv.metric(text, "ptx_rejected_total", model="affine", reason="overload") == 1
        assert srv.metric(text, "ptx_requests_total", model="affine", code="UNAVAILABLE") == 1
        assert srv.metric(text, "ptx_requests_total", model="affine", route="grpc") == 4
        c.close()
    finally:
        if held:
            batcher.leave()
        server.stop()


def test_a_client_that_gives_up_while_queued_is_counted_cancelled(model_files, srv, frontend):
    """A client deadline passes while its request waits for a batch: CANCELLED in metrics."""
    server = start(
        {"affine": model_files["affine"]}, frontend, max_batch=8, max_delay_us=60_000_000
    )
    batcher = server.server.config.app.state.ptx.models["affine"].batcher
    batcher.enter()  # as an accepted HTTP request would: a forming batch waits for it
    try:
        c = grpcclient.InferenceServerClient(server.grpc_url)
        x = np.ones((1, 3, 4, 4), np.float32)
        with pytest.raises(InferenceServerException) as err:
            c.infer("affine", _inputs({"image": x}), client_timeout=0.5)
        assert _status(err.value) == "DEADLINE_EXCEEDED"  # the client's own view

        def counted() -> bool:
            text = httpx.get(server.url + "/metrics").text
            return srv.metric(text, "ptx_requests_total", model="affine", code="CANCELLED") == 1

        srv.wait_for(counted, timeout_s=30, what="the call counted CANCELLED")
        text = httpx.get(server.url + "/metrics").text
        assert srv.metric(text, "ptx_request_failures_total", code="CANCELLED") == 1
        stats = server.server.config.app.state.ptx.models["affine"].stats.to_dict()
        assert stats["inference_stats"]["fail"]["count"] == 1
        c.close()
    finally:
        batcher.leave()
        server.stop()


def test_grpc_port_checks():
    with pytest.raises(InputError, match="--grpc-port must be 0..65535"):
        ServerConfig(grpc_port=70000)
    with pytest.raises(InputError, match="is the HTTP --port too"):
        ServerConfig(port=8100, grpc_port=8100)


def test_sigterm_drains_grpc_and_http_then_exits_cleanly(model_files, srv, frontend):
    """`ptx serve --grpc-port`: an in-flight gRPC infer (batched with a held HTTP one) is
    answered after SIGTERM, then both listeners close and the process exits 0."""
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    port, grpc_port = ports
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-c", SERVE, "--model", f"affine={model_files['affine']}",
           "--port", str(port), "--grpc-port", str(grpc_port), "--log-level", "warning",
           "--json", "--max-delay-us", "60000000", "--grpc-frontend", frontend]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started = json.loads(proc.stdout.readline())
        assert started["grpc"] == f"127.0.0.1:{grpc_port}"
        c = grpcclient.InferenceServerClient(started["grpc"])
        srv.wait_for(lambda: _ready(c) or proc.poll() is not None, 30, "server start")
        assert proc.poll() is None, proc.stderr.read()
        x = np.full((1, 3, 2, 2), 0.5, np.float32)
        held = srv.SlowClient(port, "/v2/models/affine/infer", srv.infer_json("image", x))
        srv.wait_for(lambda: _metric(url, "ptx_requests_in_flight") == 1, what="HTTP in flight")
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(lambda: c.infer("affine", _inputs({"image": x})))
            srv.wait_for(lambda: _metric(url, "ptx_batch_forming") == 1, what="gRPC batched")
            proc.send_signal(signal.SIGTERM)
            srv.wait_for(lambda: not _ready(c), 10, "gRPC ready turns false on SIGTERM")
            assert proc.poll() is None  # still draining
            status, _ = held.finish()
            assert status == 200
            np.testing.assert_allclose(answer.result(timeout=30).as_numpy("out"), x * 0.5 + 0.25)
        assert proc.wait(timeout=30) == 0, proc.stderr.read()
        with pytest.raises(InferenceServerException):
            c.is_server_live()
        c.close()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _ready(c) -> bool:
    try:
        return c.is_server_ready()
    except InferenceServerException:
        return False


def _metric(url: str, name: str) -> float:
    text = httpx.get(url + "/metrics").text
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith(name + "{") and 'model="affine"' in line
    )


def test_message_and_byte_budgets_are_resource_exhausted(model_files, frontend):
    server = start(
        {"affine": model_files["affine"]}, frontend, max_body_mb=0.01, max_request_mb=0.001
    )
    try:
        c = grpcclient.InferenceServerClient(server.grpc_url)
        big = np.zeros((1, 3, 64, 64), np.float32)  # 48 KiB > the 10 KiB message limit
        with pytest.raises(InferenceServerException) as err:
            c.infer("affine", _inputs({"image": big}))
        assert _status(err.value) == "RESOURCE_EXHAUSTED"
        small = np.zeros((1, 3, 8, 8), np.float32)  # fits the message, not the 1 KiB budget
        with pytest.raises(InferenceServerException) as err:
            c.infer("affine", _inputs({"image": small}))
        assert _status(err.value) == "RESOURCE_EXHAUSTED"
        assert "per-request budget" in err.value.message()
        c.close()
    finally:
        server.stop()


def test_a_taken_grpc_port_is_one_line_and_exit_2(model_files):
    from click.testing import CliRunner

    from ptx.cli import main, register

    register("serve", "ptx.runtime.cli.serve:serve")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["serve", "--model", f"affine={model_files['affine']}", "--grpc-port", str(port)]
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert f"cannot listen for gRPC (--grpc-port) on 127.0.0.1:{port}" in result.output
