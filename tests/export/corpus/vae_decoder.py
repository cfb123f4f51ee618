"""A Stable-Diffusion-style VAE decoder (Rombach et al. 2022; the VQGAN/LDM decoder), small.

conv_in from the 4-channel latent, a mid block (ResNet block, single-head self-attention
over all pixels, ResNet block), an up block (ResNet block, nearest 2x upsampling + 3x3
conv), then GroupNorm, SiLU and conv_out to RGB. ResNet blocks are GroupNorm -> SiLU ->
3x3 conv, twice, with a residual.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from corpus_common import Arch, unit_scale
from torch import nn

GROUPS = 8


class ResBlock(nn.Module):
    """GroupNorm, SiLU, conv, GroupNorm, SiLU, conv, plus the input."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.n1, self.c1 = nn.GroupNorm(GROUPS, ch), nn.Conv2d(ch, ch, 3, padding=1)
        self.n2, self.c2 = nn.GroupNorm(GROUPS, ch), nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x + F(x)."""
        h = self.c1(F.silu(self.n1(x)))
        return x + self.c2(F.silu(self.n2(h)))


class Attention(nn.Module):
    """Single-head self-attention over the H*W positions (1x1 q, k, v and projection)."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(GROUPS, ch)
        self.q, self.k, self.v, self.proj = (nn.Conv2d(ch, ch, 1) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x + softmax(q k^T / sqrt(C)) v."""
        b, c, h, w = x.shape
        n = self.norm(x)
        q = self.q(n).flatten(2).transpose(1, 2)
        k, v = self.k(n).flatten(2), self.v(n).flatten(2).transpose(1, 2)
        attn = torch.softmax(q @ k / c**0.5, dim=-1)
        return x + self.proj((attn @ v).transpose(1, 2).reshape(b, c, h, w))


class Decoder(nn.Module):
    """Latent (4 x h x w) -> RGB (3 x 2h x 2w)."""

    def __init__(self, ch: int = 32) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(4, ch, 3, padding=1)
        self.mid = nn.Sequential(ResBlock(ch), Attention(ch), ResBlock(ch))
        self.up_res = ResBlock(ch)
        self.up_conv = nn.Conv2d(ch, ch, 3, padding=1)
        self.norm_out, self.conv_out = nn.GroupNorm(GROUPS, ch), nn.Conv2d(ch, 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Decode a latent to an image (roughly [-1, 1])."""
        h = self.mid(self.conv_in(z))
        h = self.up_conv(F.interpolate(self.up_res(h), scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


def make() -> nn.Module:
    """Fixed-seed weights at unit variance; the output scaled to an image's range."""
    torch.manual_seed(0)
    model = Decoder()
    z = torch.randn(2, 4, 16, 16, generator=torch.Generator().manual_seed(1))
    unit_scale(model, [z])
    with torch.no_grad():
        model.conv_out.weight.mul_(0.5)
        model.conv_out.bias.mul_(0.5)
    return model


ARCH = Arch(
    "SD-style VAE decoder (GroupNorm, attention, upsampling)", make, ["z:1x4x16x16"],
    {"z": (2, 4, 24, 20)}, span=2.0,
)  # fmt: skip
