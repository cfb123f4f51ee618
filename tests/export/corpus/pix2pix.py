"""pix2pix U-Net generator (Isola et al. 2017, appendix 6.1.1), small widths.

Encoder C64-C128-C256-C512 (4x4 stride-2 convs, BatchNorm except the first, LeakyReLU
0.2), decoder of 4x4 stride-2 ConvTransposes with BatchNorm, dropout and ReLU, a skip
connection concatenating each encoder layer i with decoder layer n - i, and tanh.
"""

from __future__ import annotations

import torch
from corpus_common import Arch, picture, unit_scale, warm_batchnorm
from torch import nn


def down(cin: int, cout: int, norm: bool = True) -> nn.Sequential:
    """Ck: 4x4 stride-2 conv, BatchNorm, LeakyReLU(0.2)."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(cout))
    return nn.Sequential(*layers, nn.LeakyReLU(0.2))


def up(cin: int, cout: int, dropout: bool = False) -> nn.Sequential:
    """CDk: 4x4 stride-2 ConvTranspose, BatchNorm, Dropout(0.5), ReLU."""
    layers = [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout)]
    if dropout:
        layers.append(nn.Dropout(0.5))
    return nn.Sequential(*layers, nn.ReLU())


class UNet(nn.Module):
    """Four downs, three ups with skips, and a final ConvTranspose to 3 channels + tanh."""

    def __init__(self, w: int = 8) -> None:
        super().__init__()
        self.d1, self.d2 = down(3, w, norm=False), down(w, 2 * w)
        self.d3, self.d4 = down(2 * w, 4 * w), down(4 * w, 8 * w)
        self.u1, self.u2 = up(8 * w, 4 * w, dropout=True), up(8 * w, 2 * w)
        self.u3 = up(4 * w, w)
        self.out = nn.Sequential(nn.ConvTranspose2d(2 * w, 3, 4, 2, 1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Image in [-1, 1] -> image in [-1, 1]."""
        e1 = self.d1(x)
        e2 = self.d2(e1)
        e3 = self.d3(e2)
        e4 = self.d4(e3)
        y = torch.cat([self.u1(e4), e3], 1)
        y = torch.cat([self.u2(y), e2], 1)
        y = torch.cat([self.u3(y), e1], 1)
        return self.out(y)


def make() -> nn.Module:
    """Fixed-seed weights, unit-variance layers, BatchNorm statistics from a few passes."""
    torch.manual_seed(0)
    model = UNet()
    x = picture((4, 3, 64, 64), -1.0, 1.0, seed=1)
    unit_scale(model, [x])
    return warm_batchnorm(model, [x])


ARCH = Arch(
    "pix2pix U-Net (BatchNorm)", make, ["x:1x3x64x64"], {"x": (2, 3, 96, 80)},
    span=2.0, image_range=(-1.0, 1.0),
)  # fmt: skip
