"""Zero-DCE curve estimation (Guo et al. 2020), small widths.

DCE-Net: seven 3x3 convs (ReLU) with symmetric skip concatenations (layer 5 takes 3 and
4, layer 6 takes 2 and 5, layer 7 takes 1 and 6); the last gives 24 tanh maps, eight
iterations of per-pixel RGB curve parameters. Each iteration applies the light-
enhancement curve LE(x) = x + a * x * (1 - x).
"""

from __future__ import annotations

import torch
from corpus_common import Arch, picture, unit_scale
from torch import nn

ITERATIONS = 8


class DCENet(nn.Module):
    """Curve parameter estimation and the iterated quadratic curve."""

    def __init__(self, w: int = 8) -> None:
        super().__init__()

        def conv(cin: int, cout: int) -> nn.Conv2d:
            return nn.Conv2d(cin, cout, 3, padding=1)

        self.c1, self.c2, self.c3, self.c4 = conv(3, w), conv(w, w), conv(w, w), conv(w, w)
        self.c5, self.c6 = conv(2 * w, w), conv(2 * w, w)
        self.c7 = conv(2 * w, 3 * ITERATIONS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Low-light image in [0, 1] -> enhanced image."""
        r = torch.relu
        x1 = r(self.c1(x))
        x2 = r(self.c2(x1))
        x3 = r(self.c3(x2))
        x4 = r(self.c4(x3))
        x5 = r(self.c5(torch.cat([x3, x4], 1)))
        x6 = r(self.c6(torch.cat([x2, x5], 1)))
        curves = torch.tanh(self.c7(torch.cat([x1, x6], 1)))
        for a in torch.split(curves, 3, dim=1):
            x = x + a * (x * x - x) * -1.0
        return x


def make() -> nn.Module:
    """Fixed-seed weights at unit variance; curve maps kept moderate (|a| ~ 0.3)."""
    torch.manual_seed(0)
    model = DCENet()
    unit_scale(model, [picture((2, 3, 64, 64), 0.0, 0.4, seed=1)])
    with torch.no_grad():
        model.c7.weight.mul_(0.3)
        model.c7.bias.mul_(0.3)
    return model


ARCH = Arch(
    "Zero-DCE curve estimation", make, ["x:1x3x64x64"], {"x": (2, 3, 96, 80)},
    span=1.0, image_range=(0.0, 0.4),
)  # fmt: skip
