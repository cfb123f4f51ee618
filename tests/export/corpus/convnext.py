"""ConvNeXt (Liu et al. 2022) blocks in a small classifier.

Patchify stem (4x4 stride-4 conv + LayerNorm over channels); each block: 7x7 depthwise
conv, LayerNorm (channels-last), Linear to 4C, GELU, Linear back to C, a learnt
per-channel layer scale, plus the input; a downsampling layer (LayerNorm + 2x2 stride-2
conv) between stages; global average pooling, LayerNorm and a linear head.
"""

from __future__ import annotations

import torch
from corpus_common import Arch, picture, unit_scale
from torch import nn


class ChannelsFirstNorm(nn.Module):
    """LayerNorm over C of an NCHW tensor."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(c, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise each pixel's channels."""
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class Block(nn.Module):
    """dwconv 7x7, LN, Linear 4C, GELU, Linear C, layer scale, residual."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(c, 4 * c), nn.GELU(), nn.Linear(4 * c, c))
        self.gamma = nn.Parameter(torch.full((c,), 0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x + gamma * MLP(LN(dwconv(x)))."""
        y = self.mlp(self.norm(self.dw(x).permute(0, 2, 3, 1))) * self.gamma
        return x + y.permute(0, 3, 1, 2)


class ConvNeXt(nn.Module):
    """stem, stage (2 blocks), down, stage (2 blocks), pool, LN, head."""

    def __init__(self, c: int = 16, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, c, 4, 4), ChannelsFirstNorm(c))
        self.s1 = nn.Sequential(Block(c), Block(c))
        self.down = nn.Sequential(ChannelsFirstNorm(c), nn.Conv2d(c, 2 * c, 2, 2))
        self.s2 = nn.Sequential(Block(2 * c), Block(2 * c))
        self.norm, self.head = nn.LayerNorm(2 * c, eps=1e-6), nn.Linear(2 * c, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Image -> class logits."""
        y = self.s2(self.down(self.s1(self.stem(x))))
        return self.head(self.norm(y.mean(dim=(2, 3))))


def make() -> nn.Module:
    """Fixed-seed weights at unit variance."""
    torch.manual_seed(0)
    model = ConvNeXt()
    return unit_scale(model, [picture((2, 3, 64, 64), seed=1)])


ARCH = Arch("ConvNeXt blocks (classifier)", make, ["x:1x3x64x64"], {"x": (2, 3, 96, 80)})
