"""A Restormer transformer block (Zamir et al. 2022): transposed attention and a gated FFN.

MDTA: LayerNorm over channels, 1x1 conv to q, k, v then 3x3 depthwise convs, heads split
over channels, q and k L2-normalised along the pixels, attention = softmax(q k^T *
temperature) as a C/heads x C/heads map (across channels, not pixels), out = attn v,
1x1 projection. GDFN: LayerNorm, 1x1 expansion, 3x3 depthwise, GELU(x1) * x2, 1x1.
Wrapped as an image restorer: 3x3 conv in, two blocks, 3x3 conv out, plus the input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from corpus_common import Arch, picture, unit_scale
from torch import nn


class ChannelNorm(nn.Module):
    """LayerNorm over channels at every pixel (Restormer's WithBias_LayerNorm)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise NCHW over C."""
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class MDTA(nn.Module):
    """Multi-Dconv head transposed attention."""

    def __init__(self, c: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(c, 3 * c, 1, bias=False)
        self.dw = nn.Conv2d(3 * c, 3 * c, 3, padding=1, groups=3 * c, bias=False)
        self.proj = nn.Conv2d(c, c, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attention across channels: a (C/h x C/h) map per head."""
        b, c, h, w = x.shape
        q, k, v = self.dw(self.qkv(x)).chunk(3, dim=1)
        q, k, v = (t.reshape(b, self.heads, c // self.heads, h * w) for t in (q, k, v))
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        attn = torch.softmax(q @ k.transpose(-2, -1) * self.temperature, dim=-1)
        return self.proj((attn @ v).reshape(b, c, h, w))


class GDFN(nn.Module):
    """Gated-Dconv feed-forward network."""

    def __init__(self, c: int, expand: float = 2.0) -> None:
        super().__init__()
        hidden = int(c * expand)
        self.inp = nn.Conv2d(c, 2 * hidden, 1, bias=False)
        self.dw = nn.Conv2d(2 * hidden, 2 * hidden, 3, padding=1, groups=2 * hidden, bias=False)
        self.out = nn.Conv2d(hidden, c, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """GELU(x1) * x2 after expansion and depthwise conv."""
        a, b = self.dw(self.inp(x)).chunk(2, dim=1)
        return self.out(F.gelu(a) * b)


class Block(nn.Module):
    """x + MDTA(LN(x)), then x + GDFN(LN(x))."""

    def __init__(self, c: int, heads: int) -> None:
        super().__init__()
        self.n1, self.attn = ChannelNorm(c), MDTA(c, heads)
        self.n2, self.ffn = ChannelNorm(c), GDFN(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Two pre-norm residuals."""
        x = x + self.attn(self.n1(x))
        return x + self.ffn(self.n2(x))


class Restorer(nn.Module):
    """conv in, two transformer blocks, conv out, plus the input image."""

    def __init__(self, c: int = 16, heads: int = 2) -> None:
        super().__init__()
        self.inp, self.out = nn.Conv2d(3, c, 3, padding=1), nn.Conv2d(c, 3, 3, padding=1)
        self.blocks = nn.Sequential(Block(c, heads), Block(c, heads))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Degraded image in [0, 1] -> restored image."""
        return x + self.out(self.blocks(self.inp(x)))


def make() -> nn.Module:
    """Fixed-seed weights at unit variance; a small residual on the image."""
    torch.manual_seed(0)
    model = Restorer()
    unit_scale(model, [picture((2, 3, 32, 32), seed=1)])
    with torch.no_grad():
        model.out.weight.mul_(0.1)
        model.out.bias.mul_(0.1)
    return model


ARCH = Arch("Restormer transposed attention", make, ["x:1x3x32x32"],
            {"x": (2, 3, 48, 40)}, span=1.0)  # fmt: skip
