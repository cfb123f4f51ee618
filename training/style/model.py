"""The "style" family: a Johnson et al. feed-forward style transformer, any H x W.

This module imports torch; the registry imports it lazily.

Reflection padding (no dark borders), instance norm (per-image contrast
normalisation: the trick that makes fast style transfer work), two stride-2
downsampling convs, residual blocks, and nearest-neighbour upsampling followed
by a conv instead of a transposed conv (no checkerboard artefacts). Each
upsample resizes to the matching encoder tensor's exact size, so odd sizes need
no padding or cropping and the output always has the input's H x W.
With ``residual`` (the default) the output is ``clamp(input + tail)`` and the
last conv starts at zero: the net begins as the identity, so a short CPU budget
moves a product photo toward the style instead of first relearning the photo.

The smallest input: the first 9x9 conv reflect-pads by 4, and a reflection pad
must be smaller than the side it pads, so H and W must be at least 5; every
deeper stage then still has >= 2 pixels for its own 1-pixel reflection pad.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ptx.spec import ModelSpec
from ptx.training.common import registry

DEFAULT_CONFIG: dict[str, Any] = {"width": 16, "blocks": 3, "residual": 1}
TEST_CONFIG: dict[str, Any] = {"width": 4, "blocks": 1, "residual": 1}
EDGE_KERNEL = 9  # first and last conv
OPT_SIDE, MAX_SIDE, MAX_BATCH = 256, 1024, 8


def min_side() -> int:
    """The smallest H or W the network accepts: the 9x9 conv's reflection pad needs pad < side."""
    return EDGE_KERNEL // 2 + 1


class ConvLayer(nn.Module):
    """Reflection pad -> conv (-> instance norm -> ReLU unless ``last``)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, last: bool = False):
        super().__init__()
        self.pad = nn.ReflectionPad2d(kernel // 2)
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride)
        self.norm = None if last else nn.InstanceNorm2d(cout, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(self.pad(x))
        return y if self.norm is None else F.relu(self.norm(y))


class ResidualBlock(nn.Module):
    """Two 3x3 conv + instance norm layers with an identity skip."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.a = ConvLayer(ch, ch, 3)
        self.pad = nn.ReflectionPad2d(1)
        self.conv = nn.Conv2d(ch, ch, 3)
        self.norm = nn.InstanceNorm2d(ch, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.norm(self.conv(self.pad(self.a(x))))


class StyleNet(nn.Module):
    """NCHW RGB in [0, 1] -> stylised NCHW RGB in [0, 1], same H x W (H, W >= min_side())."""

    def __init__(self, width: int = 16, blocks: int = 3, residual: int = 1) -> None:
        super().__init__()
        w = width
        self.residual = bool(residual)
        self.head = ConvLayer(3, w, EDGE_KERNEL)
        self.down1 = ConvLayer(w, 2 * w, 3, stride=2)
        self.down2 = ConvLayer(2 * w, 4 * w, 3, stride=2)
        self.res = nn.Sequential(*[ResidualBlock(4 * w) for _ in range(blocks)])
        self.up1 = ConvLayer(4 * w, 2 * w, 3)
        self.up2 = ConvLayer(2 * w, w, 3)
        self.tail = ConvLayer(w, 3, EDGE_KERNEL, last=True)
        if self.residual:  # zero last conv: start as the identity, short budgets keep the product
            nn.init.zeros_(self.tail.conv.weight)
            nn.init.zeros_(self.tail.conv.bias)

    @staticmethod
    def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=like.shape[-2:], mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = self.head(x)
        s1 = self.down1(s0)
        y = self.res(self.down2(s1))
        y = self.up1(self._up(y, s1))
        y = self.up2(self._up(y, s0))
        if self.residual:
            return torch.clamp(x + self.tail(y), 0.0, 1.0)
        return torch.sigmoid(self.tail(y))


def build(config: dict[str, Any]) -> Any:
    """The StyleNet for ``config`` (other keys, e.g. the texture net's, are ignored)."""
    cfg = {**DEFAULT_CONFIG, **(config or {})}
    return StyleNet(**{k: int(cfg[k]) for k in DEFAULT_CONFIG})


def make_spec(config: dict[str, Any]) -> ModelSpec:
    """Spec: image -> stylized, both [batch, 3, height, width] RGB in [0, 1]."""
    cfg = {**DEFAULT_CONFIG, **(config or {}), "min_side": min_side()}
    sides = (min_side(), OPT_SIDE, MAX_SIDE)
    return registry.image_to_image_spec("stylize", "style", "stylized", cfg, sides, MAX_BATCH)


FAMILY = registry.register(
    registry.Family(
        name="style",
        task="stylize",
        build=build,
        make_spec=make_spec,
        example_inputs=registry.random_images,
        default_config=dict(DEFAULT_CONFIG),
        test_config=dict(TEST_CONFIG),
    )
)
