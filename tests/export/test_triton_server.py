"""A real tritonserver (nvidia-pytriton's, in .venv-triton) loads what `ptx triton` writes.

The venv is made once by scripts/triton-venv.sh (cached by its stamp); the test is
skipped with the reason when it cannot be made (no network, no glibc 2.35...).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from ptx.benchmarks.serving import triton_compare as tc
from ptx.benchmarks.serving.triton_server import TritonServer, make_venv
from ptx.cli import main
from ptx.errors import ModelError
from ptx.runtime import load
from ptx.runtime.pipelines.enhance import enhance_arrays

grpcclient = pytest.importorskip("tritonclient.grpc")
httpclient = pytest.importorskip("tritonclient.http")
pytest.importorskip("torch")  # the tiny GAN is exported from its PyTorch module

PROTOCOLS = {"http": httpclient, "grpc": grpcclient}


@pytest.fixture(scope="session")
def triton_venv():
    try:
        return make_venv()
    except ModelError as exc:
        pytest.skip(f"no Triton venv: {exc}")


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """The enhancer through `ptx triton --python --ensemble`, the tiny GAN through --python."""
    work = tmp_path_factory.mktemp("triton-real")
    models = work / "models"
    models.mkdir()
    enh = models / "enhance.onnx"
    shutil.copyfile(tc.SHIPPED_ENHANCER, enh)
    gan = tc.tiny_gan(models / "gan.onnx")
    repo = work / "repo"
    runner = CliRunner()
    for name, path, flags in (("enhance", enh, ["--ensemble"]), ("gan", gan, [])):
        args = ["triton", "--model", str(path), "--repo", str(repo), "--name", name]
        result = runner.invoke(main, [*args, "--kind", "cpu", "--python", *flags, "--json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["platform"] == "onnxruntime_onnx"  # the native entry is still written
        assert f"{name}_python" in report["python"]["entries"]
    return {"repo": repo, "enhance": enh, "gan": gan}


@pytest.fixture(scope="module")
def triton(triton_venv, repo):
    with TritonServer(repo["repo"], tc.ENTRIES, venv=triton_venv) as server:
        yield server


def test_tritonserver_loads_every_python_entry(triton):
    client = httpclient.InferenceServerClient(triton.http_url)
    states = {m["name"]: m.get("state") for m in client.get_model_repository_index()}
    client.close()
    assert all(states[e] == "READY" for e in tc.ENTRIES), states
    assert {"enhance", "gan"} <= set(states)  # native entries listed (not loaded here)


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_tensor_answers_equal_in_process(triton, repo, protocol):
    module = PROTOCOLS[protocol]
    url = triton.http_url if protocol == "http" else triton.grpc_url
    for entry, path, feeds in (
        ("enhance_python", repo["enhance"], tc.enhancer_feeds(40, seed=1)),
        ("gan_python", repo["gan"], tc.gan_feeds(batch=3, seed=2)),
    ):
        engine = load(path, backend="onnxruntime")
        try:
            name = engine.outputs[0].name
            want = engine.run(feeds)[name]
        finally:
            engine.close()
        got = tc.infer(module, url, entry, tc.triton_feeds(feeds), [name])[name]
        assert got.dtype == want.dtype and got.shape == want.shape
        assert tc.max_diff(got, want) <= 1e-5, entry


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_image_ensemble_equals_ptx_run_enhance(triton, repo, protocol):
    module = PROTOCOLS[protocol]
    url = triton.http_url if protocol == "http" else triton.grpc_url
    rgb = tc.photo(size=37, seed=3)  # odd sizes: the model pads, the ensemble crops back
    engine = load(repo["enhance"], backend="onnxruntime")
    try:
        want = enhance_arrays(engine, [rgb])[0]
    finally:
        engine.close()
    got = tc.ensemble_png(module, url, rgb)
    assert got.shape == rgb.shape
    assert tc.max_diff(got, want) <= 1  # uint8 rounding of float sums; identical here


def test_a_bad_image_fails_its_request_only(triton):
    blob = np.array([[b"not an image"]], dtype=np.object_)
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    tensor = grpcclient.InferInput("IMAGE", [1, 1], "BYTES")
    tensor.set_data_from_numpy(blob)
    with pytest.raises(Exception, match="(?i)image"):
        client.infer("enhance_image", [tensor])
    client.close()
    rgb = tc.photo(size=16)  # the server lives on and answers the next request
    assert tc.ensemble_png(grpcclient, triton.grpc_url, rgb).shape == rgb.shape


def test_concurrent_requests_each_get_their_own_answer(triton, repo):
    """Triton may hand the python model several requests at once (dynamic batching): merged
    into one engine run, each must still get its own rows back."""
    from concurrent.futures import ThreadPoolExecutor

    engine = load(repo["gan"], backend="onnxruntime")
    try:
        feeds = [tc.gan_feeds(batch=1 + k % 3, seed=10 + k) for k in range(12)]
        want = [engine.run(f)["image"] for f in feeds]
    finally:
        engine.close()
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    try:

        def ask(f):
            return tc.infer_with(grpcclient, client, "gan_python", tc.triton_feeds(f), ["image"])

        with ThreadPoolExecutor(6) as pool:
            got = list(pool.map(ask, feeds))
        stats = client.get_inference_statistics("gan_python").model_stats[0]
    finally:
        client.close()
    for g, w in zip(got, want, strict=True):
        assert tc.max_diff(g["image"], w) <= 1e-5
    assert stats.inference_count >= sum(len(f["z"]) for f in feeds)
