"""CycleGAN ResNet generator (Zhu et al. 2017, appendix 7.2), small widths.

c7s1-k (reflection pad 3, 7x7 conv, InstanceNorm, ReLU), two stride-2 3x3 downsamplings,
residual blocks of two reflection-padded 3x3 convs with InstanceNorm, two stride-2
fractionally strided convs (ConvTranspose, output_padding 1) and a final c7s1-3 with tanh.
"""

from __future__ import annotations

import torch
from corpus_common import Arch
from torch import nn


def _norm(ch: int) -> nn.Module:
    return nn.InstanceNorm2d(ch, affine=True)


class ResBlock(nn.Module):
    """Two reflection-padded 3x3 conv + InstanceNorm layers with an identity skip."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), _norm(ch), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), _norm(ch),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x + F(x)."""
        return x + self.body(x)


class Generator(nn.Module):
    """c7s1-k, d2k, d4k, R4k x blocks, u2k, uk, c7s1-3 (tanh)."""

    def __init__(self, ngf: int = 16, blocks: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), _norm(ngf), nn.ReLU(True),
        ]  # fmt: skip
        ch = ngf
        for _ in range(2):
            layers += [nn.Conv2d(ch, ch * 2, 3, 2, 1), _norm(ch * 2), nn.ReLU(True)]
            ch *= 2
        layers += [ResBlock(ch) for _ in range(blocks)]
        for _ in range(2):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 3, 2, 1, output_padding=1),
                _norm(ch // 2), nn.ReLU(True),
            ]  # fmt: skip
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, 3, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Image in [-1, 1] -> image in [-1, 1]."""
        return self.net(x)


def make_generator() -> nn.Module:
    """The generator with fixed-seed weights (init as the paper: N(0, 0.02))."""
    torch.manual_seed(0)
    model = Generator()
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)
    return model.eval()


def make() -> nn.Module:
    """The corpus entry: PyTorch's default init (instance norm makes the scale moot)."""
    torch.manual_seed(0)
    return Generator(ngf=16, blocks=3).eval()


ARCH = Arch(
    "CycleGAN ResNet generator", make, ["x:1x3x64x64"], {"x": (2, 3, 96, 80)},
    span=2.0, image_range=(-1.0, 1.0),
)  # fmt: skip
