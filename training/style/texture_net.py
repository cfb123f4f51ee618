"""Texture statistics for style transfer without downloaded weights.

A FIXED, SEEDED random-weight multi-scale conv net stands in for VGG: Gram
matrices of random-filter features capture texture well enough to synthesise it
(Ustyuzhaninov et al., ICLR 2017; He et al., NeurIPS 2016). The net is a small
VGG-like stack (3x3 conv + ReLU, average pooling between scales); the same seed
gives the same filters on any machine, so training and `ptx eval style` measure
on one network. ``vgg16_features`` builds VGG16's feature layers for a user who
has a local torchvision-style state dict (torchvision itself is not needed).

Gram matrices are normalised by C*H*W, and the style loss of each layer is
divided by the squared norm of the style's Gram, so the layers weigh alike and
the loss is a scale-free ratio (0 = same statistics as the style image).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ptx.errors import InputError, ModelError

RANDOM_WIDTHS = (32, 64, 128, 128)  # one scale each: 1, 1/2, 1/4, 1/8
VGG_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512)
VGG_TAPS = (3, 8, 15, 22)  # relu1_2, relu2_2, relu3_3, relu4_3 in torchvision's numbering
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class TextureNet(nn.Module):
    """Frozen features at several scales; ``content_layer`` indexes the content feature."""

    def __init__(self, layers: nn.Sequential, taps: tuple[int, ...], content_layer: int) -> None:
        super().__init__()
        self.layers = layers
        self.taps = taps
        self.content_layer = content_layer
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Features at each tap of an NCHW RGB batch in [0, 1]."""
        h = (x - self.mean) / self.std
        out = []
        last = max(self.taps)
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i in self.taps:
                out.append(h)
            if i == last:
                break
        return out


def random_texture_net(seed: int = 0, widths: tuple[int, ...] = RANDOM_WIDTHS) -> TextureNet:
    """The seeded random-filter net: conv3x3+ReLU per scale, 2x2 average pooling between."""
    gen = torch.Generator().manual_seed(int(seed))
    layers: list[nn.Module] = []
    taps = []
    cin = 3
    for i, cout in enumerate(widths):
        if i:
            layers.append(nn.AvgPool2d(2))
        conv = nn.Conv2d(cin, cout, 3, padding=1, padding_mode="reflect")
        with torch.no_grad():
            # Zero-mean filters with He scaling: activations keep their variance at every
            # scale, so no layer's Gram dwarfs the others.
            w = torch.randn(conv.weight.shape, generator=gen)
            w -= w.mean(dim=(1, 2, 3), keepdim=True)
            conv.weight.copy_(w * (2.0 / (cin * 9)) ** 0.5)
            conv.bias.zero_()
        layers += [conv, nn.ReLU()]
        taps.append(len(layers) - 1)
        cin = cout
    return TextureNet(nn.Sequential(*layers), tuple(taps), content_layer=1)


def vgg16_features(weights: str | Path) -> TextureNet:
    """VGG16's conv layers up to relu4_3 with a local torchvision-style state dict."""
    path = Path(weights)
    if not path.is_file():
        raise InputError(f"--vgg-weights {path}: no such file (a VGG16 state dict, .pth)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"{path}: not a readable PyTorch state dict ({exc})") from exc
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    layers: list[nn.Module] = []
    cin = 3
    for v in VGG_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
            continue
        layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU()]
        cin = int(v)
    seq = nn.Sequential(*layers)
    want = seq.state_dict()
    picked = {}
    for key in want:
        src = state.get(f"features.{key}", state.get(key))
        if src is None or tuple(src.shape) != tuple(want[key].shape):
            raise ModelError(
                f"{path}: no VGG16 tensor 'features.{key}' of shape {list(want[key].shape)}; "
                "give torchvision's vgg16 state dict"
            )
        picked[key] = src
    seq.load_state_dict(picked)
    return TextureNet(seq, VGG_TAPS, content_layer=1)


def texture_net(seed: int = 0, vgg_weights: str | Path | None = None) -> TextureNet:
    """VGG16 features when ``vgg_weights`` is given, else the seeded random net."""
    return vgg16_features(vgg_weights) if vgg_weights else random_texture_net(seed)


def gram(features: torch.Tensor) -> torch.Tensor:
    """(N, C, C) Gram matrices of (N, C, H, W) features, normalised by C*H*W."""
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def style_targets(net: TextureNet, style: torch.Tensor) -> list[torch.Tensor]:
    """The (1, C, C) Gram of each layer of one style image (1, 3, H, W)."""
    with torch.no_grad():
        return [gram(f) for f in net(style)]


def style_loss(feats: list[torch.Tensor], targets: list[torch.Tensor]) -> torch.Tensor:
    """Per-image style loss (N,): mean over layers of |G - G_style|^2 / |G_style|^2."""
    terms = []
    for f, t in zip(feats, targets, strict=True):
        g = gram(f)
        terms.append((g - t).pow(2).sum(dim=(1, 2)) / t.pow(2).sum().clamp_min(1e-12))
    return torch.stack(terms).mean(dim=0)


def content_loss(feats: list[torch.Tensor], ref: list[torch.Tensor], layer: int) -> torch.Tensor:
    """Per-image content loss (N,): relative squared error of one layer's features."""
    a, b = feats[layer], ref[layer]
    err = (a - b).pow(2).flatten(1).sum(dim=1)
    return err / b.pow(2).flatten(1).sum(dim=1).clamp_min(1e-12)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Per-image mean absolute difference of neighbouring pixels (N,)."""
    dh = (x[:, :, 1:] - x[:, :, :-1]).abs().flatten(1).mean(1)
    dw = (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().flatten(1).mean(1)
    return dh + dw
