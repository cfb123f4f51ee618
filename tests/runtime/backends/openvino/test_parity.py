"""OpenVINO vs ONNX Runtime FP32 on every built-in model family (exported as `ptx export` does)."""

from __future__ import annotations

import pytest

pytest.importorskip("openvino")
torch = pytest.importorskip("torch")

from ptx.errors import ModelError  # noqa: E402
from ptx.inputs import example_inputs  # noqa: E402
from ptx.runtime import load  # noqa: E402
from ptx.runtime.backends.auto.select import relative_l2  # noqa: E402
from ptx.training.common import registry  # noqa: E402

PARITY = 1e-4  # relative L2, FP32


@pytest.fixture(scope="module", params=registry.names())
def exported(request, tmp_path_factory):
    """The family's test_config model at random init, exported with dynamic batch and H×W."""
    from ptx.export.pytorch.export import export_checkpoint
    from ptx.training.common.checkpoint import save_checkpoint

    try:
        fam = registry.get(request.param)
    except (ImportError, ModelError) as exc:  # a family whose module is not written yet
        pytest.skip(f"family {request.param} is not importable: {exc}")
    cfg = fam.config(**fam.test_config)
    torch.manual_seed(0)
    module = fam.build(cfg).eval()
    root = tmp_path_factory.mktemp(request.param)
    save_checkpoint(root / "ckpt", module, fam.make_spec(cfg))
    # export's own torch-vs-ORT parity is tested under tests/export; here: OV vs ORT
    export_checkpoint(root / "ckpt", root / "model.onnx", size=(32, 32), check_parity=False)
    return root / "model.onnx"


@pytest.mark.parametrize("shape", [(1, 48, 40), (3, 32, 32)])
def test_openvino_matches_onnxruntime(exported, shape, tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_CACHE_DIR", str(tmp_path))
    ov = load(exported, backend="openvino")
    ort = load(exported, backend="onnxruntime")
    batch, h, w = shape
    sizes = {}
    for t in ort.inputs:  # axis 0 takes the batch; open image sides take h, w; fixed dims stay
        sides = {2: h, 3: w} if len(t.shape) == 4 else {}
        sizes[t.name] = tuple(
            batch if i == 0 else d if isinstance(d, int) else sides.get(i, 1)
            for i, d in enumerate(t.shape)
        )
    feeds = example_inputs(ort.inputs, ort.spec, sizes)  # what the auto trial feeds
    got, want = ov.run(feeds), ort.run(feeds)
    assert list(got) == list(want)
    for name in want:
        assert got[name].shape == want[name].shape
        assert relative_l2(got[name], want[name]) <= PARITY, name
    assert ov.spec == ort.spec and ov.spec is not None
