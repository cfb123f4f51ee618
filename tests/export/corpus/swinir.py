"""A SwinIR residual Swin block (Liang et al. 2021; Swin, Liu et al. 2021), small.

Swin layers: LayerNorm, multi-head self-attention inside non-overlapping 8x8 windows
with a learnt relative position bias (a table indexed by the offset between two
positions), LayerNorm, MLP (GELU); every second layer shifts the windows by half a
window (a cyclic roll) and masks attention between pixels that were not neighbours.
SwinIR wraps them in a residual Swin transformer block (layers, then a 3x3 conv, plus
the input) between a shallow 3x3 conv and a 3x3 reconstruction conv. The window
partition and the shift mask are laid out for one image size, so H x W is fixed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from corpus_common import Arch, picture, unit_scale
from torch import nn

WIN, SIDE = 8, 32


def _relative_index(win: int) -> torch.Tensor:
    coords = torch.stack(torch.meshgrid(torch.arange(win), torch.arange(win), indexing="ij"))
    flat = coords.flatten(1)
    rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0) + (win - 1)
    return rel[..., 0] * (2 * win - 1) + rel[..., 1]


def _shift_mask(side: int, win: int, shift: int) -> torch.Tensor:
    """-100 where two positions of a shifted window came from different image regions."""
    region = torch.zeros(side, side)
    cuts = (slice(0, -win), slice(-win, -shift), slice(-shift, None))
    for i, hs in enumerate(cuts):
        for j, ws in enumerate(cuts):
            region[hs, ws] = 3 * i + j
    ids = region.view(side // win, win, side // win, win).permute(0, 2, 1, 3).reshape(-1, win * win)
    diff = ids[:, None, :] - ids[:, :, None]
    return torch.where(diff == 0, 0.0, -100.0)


class SwinLayer(nn.Module):
    """(Shifted) window attention with relative position bias, then the MLP."""

    def __init__(self, c: int, heads: int, shift: int) -> None:
        super().__init__()
        self.heads, self.shift = heads, shift
        self.n1, self.n2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.qkv, self.proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
        self.mlp = nn.Sequential(nn.Linear(c, 2 * c), nn.GELU(), nn.Linear(2 * c, c))
        self.table = nn.Parameter(torch.randn((2 * WIN - 1) ** 2, heads) * 0.5)
        self.register_buffer("index", _relative_index(WIN), persistent=False)
        mask = _shift_mask(SIDE, WIN, shift) if shift else torch.zeros(1, WIN * WIN, WIN * WIN)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: B x H x W x C."""
        b, h, w, c = x.shape
        y = self.n1(x)
        if self.shift:
            y = torch.roll(y, (-self.shift, -self.shift), (1, 2))
        win = y.view(b, h // WIN, WIN, w // WIN, WIN, c).permute(0, 1, 3, 2, 4, 5)
        win = win.reshape(-1, WIN * WIN, c)
        q, k, v = (
            self.qkv(win).view(win.shape[0], WIN * WIN, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        )
        bias = self.table[self.index].permute(2, 0, 1)
        attn = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5 + bias
        attn = attn.view(b, -1, self.heads, WIN * WIN, WIN * WIN) + self.mask[None, :, None]
        attn = torch.softmax(attn.view(-1, self.heads, WIN * WIN, WIN * WIN), dim=-1)
        out = self.proj((attn @ v).transpose(1, 2).reshape(-1, WIN * WIN, c))
        out = out.view(b, h // WIN, w // WIN, WIN, WIN, c).permute(0, 1, 3, 2, 4, 5)
        out = out.reshape(b, h, w, c)
        if self.shift:
            out = torch.roll(out, (self.shift, self.shift), (1, 2))
        x = x + out
        return x + self.mlp(self.n2(x))


class SwinIR(nn.Module):
    """Shallow conv, one residual Swin block (regular + shifted layer, conv), reconstruction."""

    def __init__(self, c: int = 16, heads: int = 2) -> None:
        super().__init__()
        self.shallow, self.recon = nn.Conv2d(3, c, 3, padding=1), nn.Conv2d(c, 3, 3, padding=1)
        self.layers = nn.ModuleList([SwinLayer(c, heads, 0), SwinLayer(c, heads, WIN // 2)])
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Image in [0, 1] -> restored image."""
        f = self.shallow(x)
        y = f.permute(0, 2, 3, 1)
        for layer in self.layers:
            y = layer(y)
        f = f + self.conv(y.permute(0, 3, 1, 2))
        return x + self.recon(F.leaky_relu(f, 0.2))


def make() -> nn.Module:
    """Fixed-seed weights at unit variance; a small residual on the image."""
    torch.manual_seed(0)
    model = SwinIR()
    unit_scale(model, [picture((2, 3, SIDE, SIDE), seed=1)])
    with torch.no_grad():
        model.recon.weight.mul_(0.1)
        model.recon.bias.mul_(0.1)
    return model


ARCH = Arch("SwinIR window attention (shifted, rel. bias)", make, [f"x:1x3x{SIDE}x{SIDE}"],
            {"x": (3, 3, SIDE, SIDE)}, dynamic_hw=False, span=1.0)  # fmt: skip
