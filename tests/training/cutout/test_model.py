"""The cutout network: any H x W, alpha in [0, 1], registered like every family."""

from __future__ import annotations

import numpy as np
import torch

from ptx.training.common import registry
from ptx.training.cutout.metrics import alpha_iou, alpha_mae, mean_scores
from ptx.training.cutout.model import REFINED_TEST_CONFIG, TEST_CONFIG, build, make_spec


def test_any_size_gives_a_one_channel_alpha_in_range() -> None:
    model = build(TEST_CONFIG).eval()
    with torch.no_grad():
        for h, w in [(32, 32), (37, 53), (64, 40)]:
            y = model(torch.rand(2, 3, h, w))
            assert y.shape == (2, 1, h, w)
            assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


def test_the_context_branch_sees_the_whole_image() -> None:
    """A change far from a pixel moves its alpha: the thumbnail branch spans the frame."""
    torch.manual_seed(0)
    model = build(TEST_CONFIG).eval()
    x = torch.rand(1, 3, 128, 128, requires_grad=True)
    # A gradient, not a difference of two outputs: at init the far corner's effect is a few
    # ULPs, which a difference can round to 0 under another thread count (seen in CI).
    model(x)[0, 0, :8, :8].sum().backward()
    far = x.grad[..., 96:, 96:].abs()
    assert float(far.max()) > 0.0  # a path from the far corner exists


def test_registered_with_a_spec() -> None:
    fam = registry.get("cutout")
    spec = make_spec(fam.config())
    assert spec.family == "cutout" and spec.outputs[0].name == "alpha"
    assert spec.outputs[0].shape == ["batch", 1, "height", "width"]
    assert spec.config["work_side"] == 192
    assert spec.profile.min["image"][2] <= 32


def test_metrics() -> None:
    t = np.zeros((10, 10), np.float32)
    t[:5] = 1.0
    p = t.copy()
    p[5] = 1.0  # one extra row
    assert alpha_iou(p, t) == 50 / 60
    assert abs(alpha_mae(p, t) - 0.1) < 1e-9
    assert alpha_iou(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0
    s = mean_scores([(t, t), (p, t)])
    assert abs(s["iou"] - (1 + 50 / 60) / 2) < 1e-9


def test_the_refined_net_starts_as_its_coarse_net_upsampled() -> None:
    """Zero head: before training, the refined net is the coarse net at half size, upsampled."""
    import torch.nn.functional as F

    torch.manual_seed(0)
    model = build(REFINED_TEST_CONFIG).eval()
    x = torch.rand(2, 3, 37, 52)
    with torch.no_grad():
        got = model(x)
        logit = model.coarse.logits(F.avg_pool2d(x, 2))[0]  # upsampled as a logit
        want = torch.sigmoid(F.interpolate(logit, size=(37, 52), mode="bilinear"))
    assert got.shape == (2, 1, 37, 52)
    assert torch.allclose(got, want, atol=1e-6)


def test_the_refiners_coarse_net_stays_frozen_in_train_mode() -> None:
    """Only the refiner learns; the coarse net keeps eval-mode BatchNorm and its weights."""
    from ptx.training.cutout.train import loss_fn

    torch.manual_seed(0)
    model = build(REFINED_TEST_CONFIG).train()
    assert not model.coarse.training and model.refiner.training
    before = {k: v.clone() for k, v in model.coarse.state_dict().items()}
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    x, a = torch.rand(2, 3, 32, 32), (torch.rand(2, 1, 32, 32) > 0.5).float()
    for _ in range(2):
        opt.zero_grad()
        loss_fn(model(x), a).backward()
        opt.step()
    for k, v in model.coarse.state_dict().items():
        assert torch.equal(v, before[k]), k  # running stats included
    assert float(model.head.weight.abs().sum()) > 0.0
