"""The tone gate's labels, the weighted loss, and warm starts from an exported model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptx.errors import InputError, ModelError
from ptx.spec import embed_in_onnx
from ptx.training.common import registry
from ptx.training.common.checkpoint import load_checkpoint, load_state
from ptx.training.enhance.train import _loss, need_labels
from ptx.training.enhance.warm_start import warm_start


def _images(n: int = 4, side: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    base = torch.rand(n, 3, side // 8, side // 8, generator=g) * 0.6 + 0.2
    return base.repeat_interleave(8, 2).repeat_interleave(8, 3)


def test_need_labels_flag_tone_errors_not_noise() -> None:
    """Noise and an unchanged image need no tone correction; a cast or a darkening does."""
    clean = _images()
    g = torch.Generator().manual_seed(1)
    noisy = clean + 0.05 * torch.randn(clean.shape, generator=g)
    cast = clean * torch.tensor([1.2, 1.0, 0.85]).view(1, 3, 1, 1)
    assert need_labels(clean, clean).tolist() == [0.0] * 4
    assert need_labels(noisy, clean).tolist() == [0.0] * 4
    assert need_labels(cast, clean).tolist() == [1.0] * 4
    assert need_labels(clean * 0.7, clean).tolist() == [1.0] * 4


def test_weighted_loss_counts_heavier_samples_more() -> None:
    clean = _images(2)
    pred = clean.clone()
    pred[1] += 0.1  # only the second sample is wrong
    plain = _loss(pred, clean)
    heavy_wrong = _loss(pred, clean, torch.tensor([1.0, 4.0]))
    heavy_right = _loss(pred, clean, torch.tensor([4.0, 1.0]))
    assert float(heavy_right) < float(plain) < float(heavy_wrong)
    assert torch.isclose(_loss(pred, clean, torch.ones(2)), plain)


def _onnx_like(model: torch.nn.Module, spec, path) -> None:
    """An ONNX file holding ``model``'s weights as named initializers, with ``spec`` embedded."""
    import onnx
    from onnx import helper, numpy_helper

    inits = [numpy_helper.from_array(v.numpy(), k) for k, v in model.state_dict().items()]
    graph = helper.make_graph([], "g", [], [], initializer=inits)
    proto = helper.make_model(graph)
    embed_in_onnx(proto, spec)
    onnx.save(proto, str(path))


def test_warm_start_carries_the_weights_and_starts_at_step_0(tmp_path) -> None:
    fam = registry.get("enhance")
    torch.manual_seed(0)
    model = fam.build(fam.test_config)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    _onnx_like(model, fam.make_spec(fam.test_config), tmp_path / "m.onnx")
    warm_start(tmp_path / "m.onnx", tmp_path / "ck", seed=3)
    again, spec = load_checkpoint(tmp_path / "ck", family="enhance")
    state = load_state(tmp_path / "ck")
    assert state["step"] == 0 and state["seed"] == 3 and state["schedule"] == 0.0
    x = torch.rand(1, 3, 40, 36)
    with torch.no_grad():
        assert torch.allclose(again.eval()(x), model.eval()(x), atol=1e-6)
    assert spec.config["width"] == fam.test_config["width"]


def test_warm_start_only_local_takes_the_denoiser_from_another_global_branch(tmp_path) -> None:
    """``only="local."``: the local weights come over, the reshaped global branch starts fresh."""
    fam = registry.get("enhance")
    torch.manual_seed(0)
    old = fam.build({**fam.test_config, "levels": 6})  # as if the global inputs had changed
    _onnx_like(old, fam.make_spec(fam.test_config), tmp_path / "m.onnx")
    with pytest.raises(ModelError, match="shapes differ"):
        warm_start(tmp_path / "m.onnx", tmp_path / "ck")
    with pytest.raises(InputError, match="no parameter"):
        warm_start(tmp_path / "m.onnx", tmp_path / "ck", only="nothing.")
    warm_start(tmp_path / "m.onnx", tmp_path / "ck", only="local.")
    again, spec = load_checkpoint(tmp_path / "ck", family="enhance")
    for k, v in again.state_dict().items():
        if k.startswith("local."):
            assert torch.equal(v, old.state_dict()[k]), k
    assert spec.config["levels"] == fam.test_config["levels"]


def test_warm_start_refuses_other_models(tmp_path) -> None:
    with pytest.raises(InputError, match="no such ONNX"):
        warm_start(tmp_path / "nope.onnx", tmp_path / "ck")
    fam = registry.get("enhance")
    model = fam.build(fam.test_config)
    spec = fam.make_spec(fam.test_config)
    bigger = fam.make_spec({**fam.test_config, "width": 12})
    _onnx_like(model, bigger, tmp_path / "shape.onnx")
    with pytest.raises(ModelError, match="shapes differ"):
        warm_start(tmp_path / "shape.onnx", tmp_path / "ck")
    spec.family = "vae"
    _onnx_like(model, spec, tmp_path / "vae.onnx")
    with pytest.raises(ModelError, match="not an enhance model"):
        warm_start(tmp_path / "vae.onnx", tmp_path / "ck")
    assert not np.any([p.exists() for p in (tmp_path / "ck").glob("*.safetensors")])


def test_local_branch_cannot_shift_tones() -> None:
    """A constant residual (a brightening or a cast) is high-passed away: tone is the gate's."""
    fam = registry.get("enhance")
    torch.manual_seed(0)
    model = fam.build(fam.test_config).eval()
    with torch.no_grad():
        for p in model.local.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        x = torch.rand(1, 3, 45, 38)
        busy = model.local(torch.cat([x, x], dim=1))
        model.local.tail.weight.zero_()
        model.local.tail.bias.copy_(torch.tensor([0.3, -0.2, 0.1]))
        flat = model.local(torch.cat([x, x], dim=1))
    assert float(busy.abs().mean()) > 1e-3  # it does change detail
    assert float(flat.abs().max()) < 1e-5


def test_whole_image_crops_show_the_whole_photo() -> None:
    """Some crops are the whole image scaled down: the gate sees whole photos at run time."""
    from PIL import Image

    from ptx.training.enhance.data import _crop

    rng = np.random.default_rng(0)
    img = (rng.random((96, 96, 3)) * 255).astype(np.uint8)
    whole = np.asarray(Image.fromarray(img).resize((32, 32), Image.Resampling.BILINEAR))
    flips = {whole.tobytes(), whole[:, ::-1].tobytes(), whole[::-1].tobytes()}
    flips.add(whole[::-1, ::-1].tobytes())
    crops = [_crop(img, 32, np.random.default_rng(s)) for s in range(40)]
    hits = sum(c.tobytes() in flips for c in crops)
    assert 3 <= hits <= 20, hits


def test_extra_global_pairs_teach_the_gate_which_photos_need_it() -> None:
    """Overfitting a few steps: the classifier's logit rises on darkened crops, not clean ones."""
    from ptx.training.enhance.train import _train_step

    torch.manual_seed(0)
    torch.set_num_threads(1)
    fam = registry.get("enhance")
    model = fam.build(fam.test_config).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    clean = _images(8).numpy()
    dark = clean.copy()
    dark[4:] *= 0.6  # the second half needs a tone correction, the first half does not
    small = clean[:, :, ::2, ::2].copy()
    small_dark = dark[:, :, ::2, ::2].copy()
    losses = [_train_step(model, opt, (dark, clean), (small_dark, small)) for _ in range(30)]
    assert losses[-1] < losses[0]
    with torch.no_grad():
        _, _, logit = model.globe.parts(torch.from_numpy(dark))
    assert float(logit[4:].min()) > float(logit[:4].max())
