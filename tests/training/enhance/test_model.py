"""The "enhance" family: any H x W, identity at init, spec, and a real ONNX Runtime round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptx.spec import ModelSpec
from ptx.training.common import registry


@pytest.fixture(scope="module")
def family() -> registry.Family:
    return registry.get("enhance")


def _perturbed(family: registry.Family) -> torch.nn.Module:
    """A test-sized model with non-zero weights everywhere (zero-init heads would hide bugs)."""
    torch.manual_seed(0)
    model = family.build(family.test_config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model


def test_registered_with_known_name(family) -> None:
    assert family.name == "enhance" and family.task == "enhance"
    assert "enhance" in registry.names()


def test_fresh_model_is_the_identity(family) -> None:
    model = family.build(family.test_config).eval()
    x = torch.rand(2, 3, 33, 41)
    with torch.no_grad():
        assert torch.allclose(model(x), x, atol=1e-5)


def test_odd_sizes_keep_their_shape_and_range(family) -> None:
    model = _perturbed(family)
    for h, w in [(37, 53), (32, 32), (61, 40)]:
        with torch.no_grad():
            y = model(torch.rand(1, 3, h, w))
        assert y.shape == (1, 3, h, w)
        assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


def test_tone_curve_is_monotone(family) -> None:
    model = _perturbed(family)
    ramp = torch.linspace(0, 1, 64).view(1, 1, 1, 64).expand(1, 3, 8, 64).contiguous()
    with torch.no_grad():
        curve = model.globe(ramp)[0, :, 0]
    assert bool((curve[:, 1:] - curve[:, :-1] >= -1e-6).all())
    assert float((curve[:, -1] - curve[:, 0]).min()) > 0


def test_spec_describes_dynamic_image_io(family) -> None:
    spec = family.make_spec(family.test_config)
    again = ModelSpec.from_json(spec.to_json())
    assert again.task == "enhance" and again.family == "enhance"
    assert again.inputs[0].name == "image" and again.outputs[0].name == "enhanced"
    assert again.inputs[0].dynamic_dims == {0: "batch", 2: "height", 3: "width"}
    assert again.image.range == (0.0, 1.0)
    assert again.profile.min["image"][2] <= 37 <= again.profile.max["image"][2]
    assert again.config["width"] == family.test_config["width"]
    model = family.build(again.config)  # the spec's config alone rebuilds the module
    assert sum(p.numel() for p in model.parameters()) > 0


def test_onnx_export_runs_in_ort_at_another_size(family, tmp_path) -> None:
    import onnx
    import onnxruntime as ort

    model = _perturbed(family)
    (x,) = family.example_inputs(family.make_spec(family.test_config), 1, 64, 64)
    dims = {
        0: torch.export.Dim("batch", min=1, max=16),
        2: torch.export.Dim("height", min=32, max=1024),
        3: torch.export.Dim("width", min=32, max=1024),
    }
    path = tmp_path / "enhance.onnx"
    torch.onnx.export(
        model,
        (x,),
        str(path),
        dynamo=True,
        dynamic_shapes={"x": dims},
        input_names=["image"],
        output_names=["enhanced"],
        opset_version=18,
    )
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    ops = {n.op_type for n in proto.graph.node}
    assert not ops & {"TopK", "Sort", "Loop", "If", "NonZero"}, ops
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x2 = torch.rand(2, 3, 45, 70)
    got = sess.run(None, {"image": x2.numpy()})[0]
    with torch.no_grad():
        want = model(x2).numpy()
    assert got.shape == (2, 3, 45, 70)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_zero_confidence_gives_back_the_input(family) -> None:
    """The tone curve is scaled by a predicted confidence: at 0 the tones are left alone."""
    model = _perturbed(family)
    x = torch.rand(2, 3, 40, 36)
    with torch.no_grad():
        model.globe.gate.bias.fill_(40.0)  # sure it needs a correction: the whole curve
        curve, gated, _ = model.globe.parts(x)
        assert not torch.allclose(gated, x, atol=1e-2)  # perturbed curves do change it
        assert torch.allclose(gated, curve, atol=1e-5)
        model.globe.gate.bias.fill_(-40.0)
        assert torch.allclose(model.globe(x), x, atol=1e-5)


def test_an_unsure_classifier_leaves_the_tones_alone() -> None:
    """Conservative threshold: below TRUST_FROM nothing of the curve, from TRUST_FULL all of it."""
    from ptx.training.enhance.model import TRUST_FROM, TRUST_FULL, trust

    p = torch.tensor([0.1, TRUST_FROM - 0.01, TRUST_FROM, 0.5 * (TRUST_FROM + TRUST_FULL), 0.99])
    got = trust(torch.logit(p))
    assert got[:3].abs().max() < 1e-6
    assert 0.4 < float(got[3]) < 0.6 and abs(float(got[4]) - 1.0) < 1e-6


def test_tone_statistics_ignore_pixel_noise(family) -> None:
    """Noise must not look like a tone problem: the statistics see a noise-averaged image."""
    model = family.build(family.test_config).eval()
    smooth = torch.linspace(0.2, 0.8, 64).view(1, 1, 1, 64).expand(1, 3, 64, 64).contiguous()
    noisy = smooth + 0.06 * torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        f_smooth, f_noisy = model.globe.features(smooth), model.globe.features(noisy.clamp(0, 1))
    assert float((f_noisy - f_smooth).abs().max()) < 0.05


def _forced_curve(family: registry.Family, rise_logit: float, keep_white: int) -> torch.nn.Module:
    """A test-sized model whose tone curve is sure and has every segment at ``rise_logit``."""
    model = family.build({**family.test_config, "keep_white": keep_white}).eval()
    with torch.no_grad():
        model.globe.gate.bias.fill_(40.0)  # sure: the whole curve applies
        model.globe.mlp[-1].bias.fill_(rise_logit)  # start 0.1*r, rises softplus(r)-scaled
    return model


def test_a_darkening_curve_keeps_white_white(family) -> None:
    """keep_white lifts a curve ending below 1 by a ramp in x: white stays white, black stays."""
    torch.manual_seed(0)
    x = torch.rand(1, 3, 24, 24)
    x[..., :6, :] = 1.0  # a pure-white backdrop strip
    x[..., 6:9, :] = 0.0  # and a black one
    with torch.no_grad():
        # rises of -2: the curve runs -0.2 -> ~0; pinned, it runs -0.2 -> 1 (mid-tones -0.1)
        pinned = _forced_curve(family, -2.0, keep_white=1).globe(x)
        free = _forced_curve(family, -2.0, keep_white=0).globe(x)
    assert float(free[..., :6, :].max()) < 0.9  # the curve alone greys the white backdrop
    white = pinned[..., :6, :]
    assert torch.allclose(white, torch.ones_like(white), atol=1e-6)  # 255 in pixels
    assert torch.allclose(pinned[..., 6:9, :], free[..., 6:9, :])  # blacks where the curve put them
    assert float((pinned - x)[..., 9:, :].mean()) < -0.05  # mid-tones still darkened
    ramp = torch.linspace(0, 1, 64).view(1, 1, 1, 64).expand(1, 3, 8, 64).contiguous()
    with torch.no_grad():
        curve = _forced_curve(family, -2.0, keep_white=1).globe(ramp)[0, :, 0]
    assert bool((curve[:, 1:] - curve[:, :-1] >= -1e-6).all())  # still monotone


def test_a_brightening_curve_is_left_as_it_is(family) -> None:
    x = torch.rand(1, 3, 20, 20)
    with torch.no_grad():
        pinned = _forced_curve(family, 1.0, keep_white=1).globe(x)
        free = _forced_curve(family, 1.0, keep_white=0).globe(x)
    assert torch.equal(pinned, free) and float((pinned - x).mean()) > 0.05
    with pytest.raises(ValueError, match="keep_white"):
        family.build({**family.test_config, "keep_white": 2})
