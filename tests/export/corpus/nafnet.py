"""NAFNet (Chen et al. 2022): activation-free blocks with SimpleGate and channel attention.

A NAFBlock: LayerNorm2d (per pixel, over channels), 1x1 conv to 2C, 3x3 depthwise conv,
SimpleGate (split channels in two halves, multiply), simplified channel attention
(global average pool -> 1x1 conv -> multiply), 1x1 conv, a learnt beta residual; then
LayerNorm2d, 1x1 conv to 2C, SimpleGate, 1x1 conv, a learnt gamma residual. A small
U-shaped net: intro conv, an encoder block, stride-2 down, a middle block,
PixelShuffle up, a decoder block, ending conv, plus the input image.
"""

from __future__ import annotations

import torch
from corpus_common import Arch, picture, unit_scale
from torch import nn


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of each pixel (mean, variance, affine)."""

    def __init__(self, ch: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight, self.bias = nn.Parameter(torch.ones(ch)), nn.Parameter(torch.zeros(ch))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(x - mean_c) / sqrt(var_c + eps) * w + b."""
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        y = (x - mu) / (var + self.eps).sqrt()
        return self.weight.view(1, -1, 1, 1) * y + self.bias.view(1, -1, 1, 1)


class SimpleGate(nn.Module):
    """Split channels in two halves and multiply them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x1 * x2."""
        a, b = x.chunk(2, dim=1)
        return a * b


class NAFBlock(nn.Module):
    """The NAFNet block (see the module docstring)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = LayerNorm2d(c), LayerNorm2d(c)
        self.conv1 = nn.Conv2d(c, 2 * c, 1)
        self.dw = nn.Conv2d(2 * c, 2 * c, 3, padding=1, groups=2 * c)
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c, 1))
        self.conv3 = nn.Conv2d(c, c, 1)
        self.ffn1, self.ffn2 = nn.Conv2d(c, 2 * c, 1), nn.Conv2d(c, c, 1)
        self.gate = SimpleGate()
        self.beta = nn.Parameter(torch.full((1, c, 1, 1), 0.5))
        self.gamma = nn.Parameter(torch.full((1, c, 1, 1), 0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attention-free mixing, then the gated feed-forward."""
        y = self.gate(self.dw(self.conv1(self.norm1(x))))
        y = self.conv3(y * self.sca(y))
        x = x + self.beta * y
        y = self.ffn2(self.gate(self.ffn1(self.norm2(x))))
        return x + self.gamma * y


class NAFNet(nn.Module):
    """intro, enc block, down, middle block, up, dec block (+ skip), ending, + image."""

    def __init__(self, w: int = 8) -> None:
        super().__init__()
        self.intro, self.ending = nn.Conv2d(3, w, 3, padding=1), nn.Conv2d(w, 3, 3, padding=1)
        self.enc, self.down = NAFBlock(w), nn.Conv2d(w, 2 * w, 2, 2)
        self.mid = NAFBlock(2 * w)
        self.up = nn.Sequential(nn.Conv2d(2 * w, 4 * w, 1, bias=False), nn.PixelShuffle(2))
        self.dec = NAFBlock(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Noisy image in [0, 1] -> restored image."""
        e = self.enc(self.intro(x))
        d = self.dec(self.up(self.mid(self.down(e))) + e)
        return x + self.ending(d)


def make() -> nn.Module:
    """Fixed-seed weights at unit variance; a small residual on the image."""
    torch.manual_seed(0)
    model = NAFNet()
    unit_scale(model, [picture((2, 3, 32, 32), seed=1)])
    with torch.no_grad():
        model.ending.weight.mul_(0.1)
        model.ending.bias.mul_(0.1)
    return model


ARCH = Arch("NAFNet (SimpleGate, LayerNorm2d, SCA)", make, ["x:1x3x32x32"],
            {"x": (2, 3, 48, 40)}, span=1.0)  # fmt: skip
