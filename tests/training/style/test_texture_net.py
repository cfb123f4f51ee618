"""Texture statistics: Gram math, a seeded random net, the style/content losses, VGG16 keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ptx.errors import InputError, ModelError
from ptx.training.style import texture_net as tn


def test_gram_of_known_features() -> None:
    # Two channels over a 1x2 image: f0 = [1, 2], f1 = [3, 4]; normalised by C*H*W = 4.
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    want = torch.tensor([[[1 + 4, 3 + 8], [3 + 8, 9 + 16]]]) / 4.0
    torch.testing.assert_close(tn.gram(f), want)


def test_gram_is_symmetric_and_batched() -> None:
    f = torch.randn(3, 5, 4, 6, generator=torch.Generator().manual_seed(0))
    g = tn.gram(f)
    assert g.shape == (3, 5, 5)
    torch.testing.assert_close(g, g.transpose(1, 2))
    torch.testing.assert_close(g[1], f[1].reshape(5, -1) @ f[1].reshape(5, -1).T / (5 * 24))


def test_random_net_is_deterministic_per_seed() -> None:
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    a, b, c = tn.random_texture_net(0), tn.random_texture_net(0), tn.random_texture_net(1)
    fa, fb, fc = a(x), b(x), c(x)
    assert len(fa) == len(tn.RANDOM_WIDTHS)
    assert [f.shape[1] for f in fa] == list(tn.RANDOM_WIDTHS)
    assert [f.shape[-1] for f in fa] == [32, 16, 8, 4]  # one scale per layer
    for u, v in zip(fa, fb, strict=True):
        assert torch.equal(u, v)
    assert not torch.allclose(fa[0], fc[0])
    assert not any(p.requires_grad for p in a.parameters())


def test_style_loss_is_zero_on_the_style_itself_and_drops_toward_it() -> None:
    net = tn.random_texture_net(0)
    gen = torch.Generator().manual_seed(2)
    style = torch.rand(1, 3, 32, 32, generator=gen)
    other = torch.full((1, 3, 32, 32), 0.5) + 0.01 * torch.rand(1, 3, 32, 32, generator=gen)
    targets = tn.style_targets(net, style)
    assert float(tn.style_loss(net(style), targets)[0]) == pytest.approx(0.0, abs=1e-6)
    far = float(tn.style_loss(net(other), targets)[0])
    halfway = float(tn.style_loss(net(0.5 * other + 0.5 * style), targets)[0])
    assert far > halfway > 0


def test_content_loss_is_relative() -> None:
    f = [torch.ones(2, 3, 4, 4), 2 * torch.ones(2, 3, 4, 4)]
    same = tn.content_loss(f, f, 1)
    assert torch.equal(same, torch.zeros(2))
    twice = tn.content_loss([x * 2 for x in f], f, 1)
    torch.testing.assert_close(twice, torch.ones(2))


def test_vgg16_features_from_a_local_state_dict(tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(3)
    state, cin, i = {}, 3, 0
    for v in (*tn.VGG_CFG, "M", 512, 512, 512, "M"):  # the full torchvision feature stack
        if v == "M":
            i += 1
            continue
        state[f"features.{i}.weight"] = 0.05 * torch.randn(v, cin, 3, 3, generator=gen)
        state[f"features.{i}.bias"] = torch.zeros(v)
        cin, i = v, i + 2
    state["classifier.0.weight"] = torch.zeros(2, 2)  # the rest of VGG is ignored
    path = tmp_path / "vgg16.pth"
    torch.save(state, path)
    net = tn.texture_net(vgg_weights=path)
    feats = net(torch.rand(1, 3, 32, 32))
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512]
    torch.testing.assert_close(net.layers[0].weight, state["features.0.weight"])

    del state["features.10.weight"]
    torch.save(state, path)
    with pytest.raises(ModelError, match="features.10.weight"):
        tn.texture_net(vgg_weights=path)
    with pytest.raises(InputError, match="no such file"):
        tn.texture_net(vgg_weights=tmp_path / "missing.pth")
