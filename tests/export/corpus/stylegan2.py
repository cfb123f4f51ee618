"""StyleGAN2 synthesis layers (Karras et al. 2020): modulated convolution with noise inputs.

A mapping MLP turns z into w; each synthesis layer computes a per-sample style s =
affine(w), modulates the 3x3 weights by s and demodulates them (divides each output
filter by its L2 norm). Written in the paper's equivalent form that scales activations
instead of weights (x * s, a shared conv, then x the demodulation coefficients), which
keeps the batch dynamic (the grouped-conv form folds the batch into the groups). Then
per-pixel noise scaled by a learnt strength, a bias and leaky ReLU x sqrt(2). toRGB
is a modulated 1x1 conv without demodulation. The noise images are graph inputs, so
their H x W follows the feature map's.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from corpus_common import Arch
from torch import nn

W_DIM = 32


class ModConv(nn.Module):
    """Modulated (and optionally demodulated) convolution."""

    def __init__(self, cin: int, cout: int, k: int, demod: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.affine = nn.Linear(W_DIM, cin)
        nn.init.ones_(self.affine.bias)  # styles start around 1, as in the paper
        self.demod, self.pad = demod, k // 2
        self.scale = 1 / math.sqrt(cin * k * k)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """conv(x * s) * demod: the per-sample modulated conv without per-sample weights."""
        s = self.affine(w)
        out = F.conv2d(x * s[:, :, None, None], self.weight * self.scale, padding=self.pad)
        if self.demod:
            wsq = (self.weight * self.scale).pow(2).sum(dim=(2, 3))  # cout x cin
            d = torch.rsqrt(s.pow(2) @ wsq.t() + 1e-8)  # b x cout
            out = out * d[:, :, None, None]
        return out


class Layer(nn.Module):
    """ModConv, + noise * strength, + bias, leaky ReLU x sqrt(2)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = ModConv(cin, cout, 3)
        self.strength = nn.Parameter(torch.tensor(0.1))
        self.bias = nn.Parameter(torch.zeros(1, cout, 1, 1))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """One synthesis layer."""
        y = self.conv(x, w) + self.strength * noise + self.bias
        return F.leaky_relu(y, 0.2) * math.sqrt(2)


class Synthesis(nn.Module):
    """Mapping MLP, two synthesis layers at the input's resolution, toRGB."""

    def __init__(self, c: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(3):
            layers += [nn.Linear(W_DIM, W_DIM), nn.LeakyReLU(0.2)]
        self.mapping = nn.Sequential(*layers)
        self.l1, self.l2 = Layer(c, c), Layer(c, c)
        self.rgb = ModConv(c, 3, 1, demod=False)

    def forward(
        self, x: torch.Tensor, z: torch.Tensor, noise1: torch.Tensor, noise2: torch.Tensor
    ) -> torch.Tensor:
        """Features x (from the previous resolution), latent z, two noise images -> RGB."""
        w = self.mapping(F.normalize(z, dim=1) * math.sqrt(W_DIM))
        y = self.l2(self.l1(x, w, noise1), w, noise2)
        return self.rgb(y, w)


def make() -> nn.Module:
    """Fixed-seed weights (StyleGAN2 keeps weights N(0, 1) and scales them at run time)."""
    torch.manual_seed(0)
    return Synthesis().eval()


ARCH = Arch(
    "StyleGAN2 modulated conv + noise inputs", make,
    ["x:1x16x16x16", "z:1x32", "noise1:1x1x16x16", "noise2:1x1x16x16"],
    {"x": (2, 16, 24, 20), "z": (2, 32), "noise1": (2, 1, 24, 20), "noise2": (2, 1, 24, 20)},
)  # fmt: skip
