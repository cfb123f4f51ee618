"""A diffusion U-Net level with timestep embedding (Ho et al. 2020; Dhariwal & Nichol 2021).

The integer timestep becomes a sinusoidal embedding (sin and cos of t at geometrically
spaced frequencies, as the Transformer's positions), then a two-layer MLP with SiLU.
ResNet blocks: GroupNorm, SiLU, 3x3 conv, plus a linear projection of the embedding
added per channel, GroupNorm, SiLU, 3x3 conv, plus the input. One level: ResNet block,
stride-2 conv down, a middle ResNet block with self-attention, nearest 2x up + conv,
concatenation with the skip, ResNet block (1x1 skip conv), GroupNorm, SiLU, conv out
to the predicted noise.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from corpus_common import Arch, unit_scale
from torch import nn

STEPS, GROUPS = 1000, 8


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """[sin(t f_i), cos(t f_i)] with f_i = 10000^(-i / (dim/2))."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class ResBlock(nn.Module):
    """GroupNorm, SiLU, conv, + emb projection, GroupNorm, SiLU, conv, + (1x1) skip."""

    def __init__(self, cin: int, cout: int, emb: int) -> None:
        super().__init__()
        self.n1, self.c1 = nn.GroupNorm(GROUPS, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb, cout)
        self.n2, self.c2 = nn.GroupNorm(GROUPS, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """The block with the timestep added per channel."""
        h = self.c1(F.silu(self.n1(x))) + self.emb(F.silu(e))[:, :, None, None]
        return self.skip(x) + self.c2(F.silu(self.n2(h)))


class SelfAttention(nn.Module):
    """Single-head attention over pixels (GroupNorm, 1x1 qkv, softmax, 1x1 out)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.norm, self.qkv, self.out = (
            nn.GroupNorm(GROUPS, c),
            nn.Conv2d(c, 3 * c, 1),
            nn.Conv2d(c, c, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x + attention(x)."""
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).flatten(2).chunk(3, dim=1)
        attn = torch.softmax(q.transpose(1, 2) @ k / math.sqrt(c), dim=-1)
        return x + self.out((v @ attn.transpose(1, 2)).reshape(b, c, h, w))


class UNetLevel(nn.Module):
    """Noisy latent and timestep -> predicted noise."""

    def __init__(self, c: int = 16, emb: int = 32) -> None:
        super().__init__()
        self.emb_dim = emb
        self.t_mlp = nn.Sequential(nn.Linear(emb, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.inp = nn.Conv2d(4, c, 3, padding=1)
        self.r1, self.down = ResBlock(c, c, emb), nn.Conv2d(c, 2 * c, 3, 2, 1)
        self.mid, self.attn = ResBlock(2 * c, 2 * c, emb), SelfAttention(2 * c)
        self.up = nn.Conv2d(2 * c, c, 3, padding=1)
        self.r2 = ResBlock(2 * c, c, emb)
        self.norm, self.out = nn.GroupNorm(GROUPS, c), nn.Conv2d(c, 4, 3, padding=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """eps(x_t, t)."""
        e = self.t_mlp(timestep_embedding(t, self.emb_dim))
        h1 = self.r1(self.inp(x), e)
        h = self.attn(self.mid(self.down(h1), e))
        h = self.up(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.r2(torch.cat([h, h1], 1), e)
        return self.out(F.silu(self.norm(h)))


def make() -> nn.Module:
    """Fixed-seed weights at unit variance."""
    torch.manual_seed(0)
    model = UNetLevel()
    g = torch.Generator().manual_seed(1)
    unit_scale(model, [torch.randn(2, 4, 16, 16, generator=g), torch.tensor([10, 900])])
    return model


ARCH = Arch("Diffusion U-Net level + timestep embedding", make,
            ["x:1x4x16x16", f"t:1:int64:{STEPS}"], {"x": (2, 4, 24, 20), "t": (2,)})  # fmt: skip
