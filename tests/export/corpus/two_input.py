"""A two-input generator: image inpainting from an image and its hole mask.

In the manner of the context encoder / partial-conv inpainting nets (Pathak et al.
2016; Liu et al. 2018): the masked image and the mask are concatenated, an encoder of
stride-2 convs with gated activations (feature * sigmoid(gate), as in gated convolution,
Yu et al. 2019) and a dilated middle conv, a decoder with nearest upsampling and skips,
and the output composited: known pixels from the input, holes from the network.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from corpus_common import Arch, picture, unit_scale
from torch import nn


class GatedConv(nn.Module):
    """conv for features and conv for a gate: ELU(f) * sigmoid(g)."""

    def __init__(self, cin: int, cout: int, s: int = 1, d: int = 1) -> None:
        super().__init__()
        self.f = nn.Conv2d(cin, cout, 3, s, d, dilation=d)
        self.g = nn.Conv2d(cin, cout, 3, s, d, dilation=d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Gated activation."""
        return F.elu(self.f(x)) * torch.sigmoid(self.g(x))


class Inpainter(nn.Module):
    """(image, mask) -> image with the masked pixels filled in."""

    def __init__(self, c: int = 16) -> None:
        super().__init__()
        self.e1, self.e2 = GatedConv(4, c), GatedConv(c, 2 * c, s=2)
        self.mid = GatedConv(2 * c, 2 * c, d=2)
        self.d1, self.out = GatedConv(3 * c, c), nn.Conv2d(c, 3, 3, padding=1)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """mask is 1 in the holes; the result keeps the known pixels exactly."""
        x = torch.cat([image * (1 - mask), mask], 1)
        h1 = self.e1(x)
        h = self.mid(self.e2(h1))
        h = self.d1(torch.cat([F.interpolate(h, scale_factor=2.0, mode="nearest"), h1], 1))
        fill = torch.sigmoid(self.out(h))
        return image * (1 - mask) + fill * mask


def make() -> nn.Module:
    """Fixed-seed weights at unit variance."""
    torch.manual_seed(0)
    model = Inpainter()
    mask = (torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(2)) > 0.7).float()
    return unit_scale(model, [picture((2, 3, 32, 32), seed=1), mask])


ARCH = Arch("Two-input inpainting generator (image + mask)", make,
            ["image:1x3x32x32", "mask:1x1x32x32"],
            {"image": (2, 3, 48, 40), "mask": (2, 1, 48, 40)}, span=1.0,
            masks=("mask",))  # fmt: skip
