"""MobileNetV3 with the LR-ASPP segmentation head (Howard et al. 2019), small widths.

Backbone: a 3x3 stride-2 stem with hard-swish, then inverted residual blocks (1x1
expansion, depthwise kxk, optional squeeze-and-excite with hard-sigmoid gating, 1x1
linear projection, residual when shapes match), BatchNorm after every conv. LR-ASPP:
on the 1/16 features a 1x1 conv + BN + ReLU branch times a global-pool -> 1x1 conv ->
sigmoid branch, bilinear upsampling to 1/8, a classifier on it plus a classifier on
the 1/8 features, then bilinear upsampling to the input size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from corpus_common import Arch, picture, unit_scale, warm_batchnorm
from torch import nn

CLASSES = 5


def cbn(cin: int, cout: int, k: int = 1, s: int = 1, groups: int = 1) -> list[nn.Module]:
    """Conv + BatchNorm."""
    return [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]


class SqueezeExcite(nn.Module):
    """Global pool, 1x1 reduce, ReLU, 1x1 expand, hard-sigmoid, scale."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.f = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c // 4, 1), nn.ReLU(),
                               nn.Conv2d(c // 4, c, 1), nn.Hardsigmoid())  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x * gate(x)."""
        return x * self.f(x)


class Bneck(nn.Module):
    """Inverted residual: expand, depthwise, (SE), project."""

    def __init__(self, cin: int, exp: int, cout: int, k: int, s: int, se: bool) -> None:
        super().__init__()
        layers = [*cbn(cin, exp), nn.Hardswish(), *cbn(exp, exp, k, s, exp), nn.Hardswish()]
        if se:
            layers.append(SqueezeExcite(exp))
        self.body = nn.Sequential(*layers, *cbn(exp, cout))
        self.residual = s == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block, plus x when shapes match."""
        return x + self.body(x) if self.residual else self.body(x)


class LRASPPNet(nn.Module):
    """Backbone to 1/8 (low) and 1/16 (high) features, then the LR-ASPP head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(*cbn(3, 8, 3, 2), nn.Hardswish())
        self.to8 = nn.Sequential(Bneck(8, 16, 8, 3, 2, False), Bneck(8, 24, 16, 5, 2, True))
        self.to16 = nn.Sequential(Bneck(16, 48, 24, 5, 2, True), Bneck(24, 64, 24, 5, 1, True))
        self.cbr = nn.Sequential(*cbn(24, 16), nn.ReLU())
        self.scale = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(24, 16, 1), nn.Sigmoid())
        self.low_cls, self.high_cls = nn.Conv2d(16, CLASSES, 1), nn.Conv2d(16, CLASSES, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Image in [0, 1] -> per-pixel class logits at the input size."""
        low = self.to8(self.stem(x))
        high = self.to16(low)
        y = self.cbr(high) * self.scale(high)
        y = F.interpolate(y, size=low.shape[-2:], mode="bilinear", align_corners=False)
        y = self.low_cls(low) + self.high_cls(y)
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


def make() -> nn.Module:
    """Fixed-seed weights at unit variance, BatchNorm statistics from a few passes."""
    torch.manual_seed(0)
    model = LRASPPNet()
    x = picture((4, 3, 64, 64), seed=1)
    unit_scale(model, [x])
    return warm_batchnorm(model, [x])


ARCH = Arch("MobileNetV3 + LR-ASPP seg head", make, ["x:1x3x64x64"], {"x": (2, 3, 96, 80)})
