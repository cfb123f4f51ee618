"""ESRGAN generator (Wang et al. 2018): Residual-in-Residual Dense Blocks and PixelShuffle.

Each dense block has five 3x3 convs, each fed the concatenation of the block input and
all earlier outputs (LeakyReLU 0.2 except the last), scaled by beta = 0.2 into the
residual; an RRDB nests three dense blocks in another beta-scaled residual. A trunk conv
closes the RRDB chain, then 2x sub-pixel upsampling (conv to 4C, PixelShuffle) and two
convs to RGB.
"""

from __future__ import annotations

import torch
from corpus_common import Arch, picture, unit_scale
from torch import nn

BETA = 0.2


class DenseBlock(nn.Module):
    """Five densely connected 3x3 convs; the block's output is scaled by beta."""

    def __init__(self, ch: int, growth: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(ch + i * growth, growth if i < 4 else ch, 3, padding=1) for i in range(5)
        )
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x + beta * dense(x)."""
        feats = [x]
        for i, conv in enumerate(self.convs):
            y = conv(torch.cat(feats, 1))
            feats.append(self.act(y) if i < 4 else y)
        return x + BETA * feats[-1]


class RRDB(nn.Module):
    """Three dense blocks in a beta-scaled residual."""

    def __init__(self, ch: int, growth: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*(DenseBlock(ch, growth) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x + beta * body(x)."""
        return x + BETA * self.body(x)


class Generator(nn.Module):
    """conv_first, RRDBs, trunk conv (+ skip), x2 PixelShuffle, two convs to RGB."""

    def __init__(self, ch: int = 16, growth: int = 8, blocks: int = 1) -> None:
        super().__init__()
        self.first = nn.Conv2d(3, ch, 3, padding=1)
        self.trunk = nn.Sequential(*(RRDB(ch, growth) for _ in range(blocks)))
        self.trunk_conv = nn.Conv2d(ch, ch, 3, padding=1)
        self.up = nn.Sequential(nn.Conv2d(ch, 4 * ch, 3, padding=1), nn.PixelShuffle(2),
                                nn.LeakyReLU(0.2))  # fmt: skip
        self.hr = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1), nn.LeakyReLU(0.2))
        self.last = nn.Conv2d(ch, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Low-res image in [0, 1] -> 2x image."""
        f = self.first(x)
        f = f + self.trunk_conv(self.trunk(f))
        return self.last(self.hr(self.up(f)))


def make() -> nn.Module:
    """Fixed-seed weights at unit variance (a trained ESRGAN's features are O(1) to O(10))."""
    torch.manual_seed(0)
    model = Generator()
    unit_scale(model, [picture((2, 3, 32, 32), seed=1)])
    with torch.no_grad():
        model.last.weight.mul_(0.3)
        model.last.bias.mul_(0.3)
    return model


ARCH = Arch("ESRGAN RRDB + PixelShuffle", make, ["x:1x3x32x32"], {"x": (2, 3, 48, 40)}, span=1.0)
