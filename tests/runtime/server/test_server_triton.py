"""`tritonclient.http` (a real client written elsewhere) against a live ptx server."""

from __future__ import annotations

import numpy as np
import pytest

tritonclient_http = pytest.importorskip("tritonclient.http")


@pytest.fixture(scope="module")
def server(model_files, srv):
    s = srv.start(model_files, max_batch=8, max_delay_us=2000)
    yield s
    s.stop()


@pytest.fixture
def client(server):
    c = tritonclient_http.InferenceServerClient(server.url.removeprefix("http://"))
    yield c
    c.close()


def _infer(client, model, arrays: dict[str, np.ndarray], binary: bool, outputs: list[str]):
    inputs = []
    for name, arr in arrays.items():
        datatype = {np.float32: "FP32", np.float16: "FP16", np.int64: "INT64"}[arr.dtype.type]
        tensor = tritonclient_http.InferInput(name, list(arr.shape), datatype)
        tensor.set_data_from_numpy(arr, binary_data=binary)
        inputs.append(tensor)
    wanted = [tritonclient_http.InferRequestedOutput(o, binary_data=binary) for o in outputs]
    return client.infer(model, inputs, outputs=wanted)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_fp32_infer_json_and_binary(client, binary):
    x = np.random.default_rng(1).random((2, 3, 5, 7), dtype=np.float32)
    result = _infer(client, "affine", {"image": x}, binary, ["out"])
    y = result.as_numpy("out")
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, x * 0.5 + 0.25, rtol=1e-6)
    out = result.get_output("out")
    assert ("parameters" in out and "binary_data_size" in out["parameters"]) == binary


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_fp16_infer_json_and_binary(client, binary):
    x = np.random.default_rng(2).random((1, 3, 4, 4)).astype(np.float16)
    y = _infer(client, "fp16", {"image": x}, binary, ["out"]).as_numpy("out")
    assert y.dtype == np.float16
    expected = x.astype(np.float32) * 0.5 + 0.25
    np.testing.assert_allclose(y.astype(np.float32), expected, atol=2e-3)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_int64_inputs(client, srv, binary):
    z = np.random.default_rng(3).standard_normal((3, srv.LATENT)).astype(np.float32)
    cat, col = np.array([0, 2, 1], np.int64), np.array([1, 0, 1], np.int64)
    arrays = {"z": z, "category": cat, "color": col}
    y = _infer(client, "gen", arrays, binary, ["image"]).as_numpy("image")
    np.testing.assert_allclose(y, srv.generator_reference(z, cat, col), atol=1e-5)


def test_health_metadata_config_and_stats(client):
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("affine") and not client.is_model_ready("missing")
    server = client.get_server_metadata()
    assert server["name"] == "ptx" and "binary_tensor_data" in server["extensions"]
    meta = client.get_model_metadata("gen")
    assert [(t["name"], t["datatype"], t["shape"]) for t in meta["inputs"]] == [
        ("z", "FP32", [-1, 8]),
        ("category", "INT64", [-1]),
        ("color", "INT64", [-1]),
    ]
    assert meta["outputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, 3, 8, 8]}]
    assert meta["parameters"]["backend"] == "onnxruntime"  # which runtime serves it, shown
    assert client.get_model_metadata("fp16")["inputs"][0]["datatype"] == "FP16"
    config = client.get_model_config("affine")
    assert config["max_batch_size"] == 8 and config["input"][0]["dims"] == [3, -1, -1]

    before = client.get_inference_statistics("affine")["model_stats"][0]
    x = np.ones((3, 3, 2, 2), np.float32)
    _infer(client, "affine", {"image": x}, True, ["out"])
    after = client.get_inference_statistics("affine")["model_stats"][0]
    assert after["name"] == "affine"
    assert after["inference_count"] - before["inference_count"] == 3
    assert after["execution_count"] - before["execution_count"] == 1
    stats, prev = after["inference_stats"], before["inference_stats"]
    for key in ("success", "queue", "compute_input", "compute_infer", "compute_output"):
        assert stats[key]["count"] == prev[key]["count"] + 1, key
    assert stats["compute_infer"]["ns"] > prev["compute_infer"]["ns"]
    assert stats["success"]["ns"] > prev["success"]["ns"]
    assert any(b["batch_size"] == 3 for b in after["batch_stats"])
    every = client.get_inference_statistics()["model_stats"]
    assert {m["name"] for m in every} == {"affine", "fp16", "gen", "style"}


def test_versioned_routes_and_unknown_model(client):
    x = np.zeros((1, 3, 2, 2), np.float32)
    tensor = tritonclient_http.InferInput("image", [1, 3, 2, 2], "FP32")
    tensor.set_data_from_numpy(x)
    y = client.infer("affine", [tensor], model_version="1").as_numpy("out")
    np.testing.assert_allclose(y, 0.25)
    from tritonclient.utils import InferenceServerException

    with pytest.raises(InferenceServerException, match="unknown model 'nosuch'"):
        client.infer("nosuch", [tensor])
    with pytest.raises(InferenceServerException, match="no version '2'"):
        client.infer("affine", [tensor], model_version="2")
    with pytest.raises(InferenceServerException, match="datatype 'FP32' given, the model needs"):
        client.infer("fp16", [tensor])


def test_compressed_request_body(client):
    x = np.random.default_rng(4).random((1, 3, 4, 4), dtype=np.float32)
    tensor = tritonclient_http.InferInput("image", [1, 3, 4, 4], "FP32")
    tensor.set_data_from_numpy(x)
    for algorithm in ("gzip", "deflate"):
        result = client.infer("affine", [tensor], request_compression_algorithm=algorithm)
        np.testing.assert_allclose(result.as_numpy("out"), x * 0.5 + 0.25, rtol=1e-6)


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_every_cpu_backend_serves_binary_tensors(model_files, srv, backend):
    """Binary inputs arrive as read-only views of the body; every backend must take them."""
    if backend == "openvino":
        pytest.importorskip("openvino")
    s = srv.start({"affine": model_files["affine"]}, backend=backend)
    c = tritonclient_http.InferenceServerClient(s.url.removeprefix("http://"))
    try:
        assert c.get_model_metadata("affine")["parameters"]["backend"] == backend
        x = np.random.default_rng(4).random((3, 3, 6, 4), dtype=np.float32)
        y = _infer(c, "affine", {"image": x}, True, ["out"]).as_numpy("out")
        np.testing.assert_allclose(y, x * 0.5 + 0.25, rtol=1e-6)
    finally:
        c.close()
        s.stop()
