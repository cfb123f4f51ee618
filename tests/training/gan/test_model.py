"""The "gan" family: spec, conditioning, discriminator, export with no random op, FP16 + build."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from ptx.errors import InputError
from ptx.spec import ModelSpec, spec_from_onnx
from ptx.training.common import registry
from ptx.training.common.checkpoint import save_checkpoint
from ptx.training.gan import model as gan_model

HAS_BUILDER = any(importlib.util.find_spec(m) for m in ("tensorrt", "tensorrt_rtx"))
RANDOM_OPS = {
    "RandomNormal",
    "RandomNormalLike",
    "RandomUniform",
    "RandomUniformLike",
    "Multinomial",
}


@pytest.fixture(scope="module")
def family() -> registry.Family:
    return registry.get("gan")


def _perturbed(family: registry.Family, seed: int = 0) -> torch.nn.Module:
    """A test-sized generator with non-zero conditional gains (zero-init would hide the labels)."""
    torch.manual_seed(seed)
    model = family.build(family.test_config)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def test_registered_as_a_generate_family(family) -> None:
    assert family.name == "gan" and family.task == "generate"
    assert "gan" in registry.names()


def test_spec_carries_io_labels_latent_and_range(family) -> None:
    cfg = family.config(**family.test_config)
    spec = ModelSpec.from_json(family.make_spec(cfg).to_json())
    assert [(t.name, t.dtype) for t in spec.inputs] == [
        ("z", "float32"),
        ("category", "int64"),
        ("color", "int64"),
    ]
    assert spec.inputs[0].shape == ["batch", cfg["latent"]] and spec.latent_size == cfg["latent"]
    assert spec.outputs[0].shape == ["batch", 3, cfg["size"], cfg["size"]]
    assert spec.labels == {"category": cfg["categories"], "color": cfg["colors"]}
    assert spec.image.range == (-1.0, 1.0)
    assert spec.profile.max["z"] == [gan_model.MAX_BATCH, cfg["latent"]]
    assert family.build(spec.config)(*family.example_inputs(spec, 2, 0, 0)).shape[0] == 2


def test_output_shape_range_and_label_conditioning(family) -> None:
    model = _perturbed(family)
    side = family.test_config["size"]
    z = torch.randn(4, family.test_config["latent"])
    cat0, cat1 = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)
    col = torch.tensor([0, 1, 0, 1])
    with torch.no_grad():
        a, b = model(z, cat0, col), model(z, cat1, col)
    assert a.shape == (4, 3, side, side)
    assert float(a.abs().max()) < 1.0  # tanh
    assert float((a - b).abs().mean()) > 1e-3  # the category changes the image


@pytest.mark.parametrize("z_every_layer", [True, False])
def test_z_changes_the_image(family, z_every_layer) -> None:
    torch.manual_seed(0)
    model = family.build({**family.test_config, "z_every_layer": z_every_layer})
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        labels = (torch.zeros(2, dtype=torch.long), torch.zeros(2, dtype=torch.long))
        out = model.eval()(torch.randn(2, family.test_config["latent"]), *labels)
    assert float((out[0] - out[1]).abs().mean()) > 1e-3
    width = model.norm0.gain.in_features
    assert width == 2 * family.test_config["embed"] + z_every_layer * family.test_config["latent"]


def test_size_option_adds_a_stage() -> None:
    assert len(gan_model.stage_channels(128, 8)) == len(gan_model.stage_channels(64, 8)) + 1
    g = gan_model.build({"size": 128, "width": 2, "latent": 4, "embed": 2})
    with torch.no_grad():
        assert g.eval()(torch.randn(1, 4), torch.zeros(1).long(), torch.zeros(1).long()).shape == (
            1, 3, 128, 128,
        )  # fmt: skip
    with pytest.raises(InputError, match="power of two"):
        gan_model.stage_channels(48, 8)


def test_discriminator_is_spectral_normed_and_projects_labels(family) -> None:
    torch.manual_seed(0)
    disc = gan_model.build_discriminator(family.config(**family.test_config)).eval()
    normed = [n for n, m in disc.named_modules() if hasattr(m, "parametrizations")]
    assert "stem" in normed and "proj_category" in normed and "linear" in normed
    with torch.no_grad():
        for p in disc.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    side = family.test_config["size"]
    x = torch.randn(2, 3, side, side)
    col = torch.zeros(2, dtype=torch.long)
    with torch.no_grad():
        a = disc(x, torch.tensor([0, 0]), col)[0]
        b = disc(x, torch.tensor([1, 1]), col)[0]
    assert a.shape == (2,) and not torch.allclose(a, b)


@pytest.fixture(scope="module")
def exported(family, tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    from ptx.export.pytorch.export import export_checkpoint

    folder = tmp_path_factory.mktemp("gan")
    model = _perturbed(family, seed=1)
    ckpt = save_checkpoint(folder / "ckpt", model, family.make_spec(family.test_config))
    export_checkpoint(ckpt, folder / "gan.onnx")
    return folder / "gan.onnx", model


def test_export_has_no_random_op_and_matches_torch(exported) -> None:
    import onnxruntime as ort

    path, model = exported
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert not ops & RANDOM_OPS and "Gather" in ops  # labels are embedded, z is an input
    spec = spec_from_onnx(path)
    rng = np.random.default_rng(0)
    feeds = {
        "z": rng.standard_normal((5, spec.latent_size), dtype=np.float32),
        "category": rng.integers(0, len(spec.labels["category"]), 5).astype(np.int64),
        "color": rng.integers(0, len(spec.labels["color"]), 5).astype(np.int64),
    }
    (got,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    with torch.no_grad():
        want = model(*(torch.from_numpy(feeds[k]) for k in ("z", "category", "color"))).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)


@pytest.mark.tensorrt
@pytest.mark.skipif(not HAS_BUILDER, reason="no TensorRT builder: pip install tensorrt-rtx-cu13")
def test_fp16_export_builds_a_plan(exported) -> None:
    from ptx.export.precision.convert import convert_fp16
    from ptx.export.trt import build_engine

    path, _ = exported
    half = path.with_name("gan16.onnx")
    report = convert_fp16(path, half, samples=2)
    assert report.check["passed"] and report.fp16_nodes > 0
    plan = build_engine(half, path.with_name("gan.plan"), opt_level=0)
    assert Path(plan.plan).stat().st_size > 0
    latent = spec_from_onnx(path).latent_size
    assert plan.profiles["z"]["max"] == [gan_model.MAX_BATCH, latent]  # from the spec's profile
    assert plan.profiles["category"]["min"] == [1]
    assert spec_from_onnx(half).labels == spec_from_onnx(path).labels
