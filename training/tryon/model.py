"""The "tryon" family: a pix2pix-style U-Net, (garment, mannequin) -> the mannequin wearing it.

This module imports torch; the registry imports it lazily.

Two named inputs, ``garment`` (the flat product image) and ``mannequin`` (the
pose template), both NCHW RGB in [0, 1] of one size, concatenated inside the
graph (a plain Concat). The encoder's stride-2 convs take any size, and each
decoder stage resizes to its skip's exact size (nearest), so any H x W works
without padding; the model is trained at ``side`` and the runtime fits inputs
to it. The output is ``clamp(mannequin + residual)`` with a zero-initialised
last conv: training starts from "the bare mannequin" and only has to learn
the garment region. Ops: Conv, InstanceNormalization, LeakyRelu/Relu,
Resize, Concat, Add, Clip: plain ONNX, FP16 and TensorRT friendly.

``build_discriminator`` is the PatchGAN critic training uses: (garment,
mannequin, image) -> a map of real/fake logits, one per ~30 px patch.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ptx.spec import (
    ImageConvention,
    ModelSpec,
    ShapeProfile,
    TensorSpec,
    producer_versions,
)
from ptx.training.common import registry

DEFAULT_CONFIG: dict[str, Any] = {"width": 16, "depth": 4, "side": 64}
TEST_CONFIG: dict[str, Any] = {"width": 4, "depth": 2, "side": 24}
INPUTS = ("garment", "mannequin")
MIN_SIDE, MAX_SIDE, MAX_BATCH = 16, 512, 16
TASK = "tryon"


def _block(cin: int, cout: int, stride: int = 1, norm: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride=stride, padding=1)]
    if norm:
        layers.append(nn.InstanceNorm2d(cout, affine=True))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


def _widths(width: int, depth: int) -> list[int]:
    """Channels at full resolution and after each stride-2 stage (capped at 4 x width)."""
    return [width * min(2**i, 4) for i in range(depth + 1)]


class TryOnNet(nn.Module):
    """(garment, mannequin) NCHW RGB in [0, 1] -> the dressed mannequin, same H x W."""

    def __init__(self, width: int = 16, depth: int = 4) -> None:
        super().__init__()
        ws = _widths(width, depth)
        self.head = _block(6, ws[0], norm=False)
        self.down = nn.ModuleList(_block(ws[i], ws[i + 1], stride=2) for i in range(depth))
        self.mid = _block(ws[-1], ws[-1])
        self.up = nn.ModuleList(_block(ws[i + 1] + ws[i], ws[i]) for i in reversed(range(depth)))
        self.tail = nn.Conv2d(ws[0], 3, 3, padding=1)
        nn.init.zeros_(self.tail.weight)  # start as the bare mannequin
        nn.init.zeros_(self.tail.bias)

    def forward(self, garment: torch.Tensor, mannequin: torch.Tensor) -> torch.Tensor:
        x = self.head(torch.cat([garment, mannequin], dim=1))
        skips = [x]
        for stage in self.down:
            x = stage(x)
            skips.append(x)
        x = self.mid(x)
        for stage, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
            x = stage(torch.cat([x, skip], dim=1))
        return torch.clamp(mannequin + self.tail(x), 0.0, 1.0)


class PatchDiscriminator(nn.Module):
    """PatchGAN: (garment, mannequin, image) -> N x 1 x h x w real/fake logits."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(9, w, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1),
            nn.InstanceNorm2d(2 * w, affine=True),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(2 * w, 4 * w, 4, stride=1, padding=1),
            nn.InstanceNorm2d(4 * w, affine=True),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(4 * w, 1, 4, stride=1, padding=1),
        )

    def forward(self, garment: torch.Tensor, mannequin: torch.Tensor, image: torch.Tensor):
        return self.net(torch.cat([garment, mannequin, image], dim=1))


def _config(config: dict[str, Any] | None) -> dict[str, Any]:
    cfg = {**DEFAULT_CONFIG, **(config or {})}
    return {**cfg, **{k: int(cfg[k]) for k in DEFAULT_CONFIG}}


def build(config: dict[str, Any]) -> Any:
    """The TryOnNet for ``config`` (missing keys take the defaults)."""
    cfg = _config(config)
    return TryOnNet(cfg["width"], cfg["depth"])


def build_discriminator(config: dict[str, Any]) -> Any:
    """The PatchGAN critic matching ``config``'s width."""
    return PatchDiscriminator(_config(config)["width"])


def make_spec(config: dict[str, Any]) -> ModelSpec:
    """Spec: garment + mannequin -> tryon, each [batch, 3, height, width] RGB in [0, 1]."""
    cfg = _config(config)
    shape = ["batch", 3, "height", "width"]
    side = cfg["side"]
    return ModelSpec(
        task=TASK,
        family="tryon",
        inputs=[TensorSpec(name, "float32", list(shape)) for name in INPUTS],
        outputs=[TensorSpec("tryon", "float32", list(shape))],
        image=ImageConvention(range=(0.0, 1.0), fit="letterbox"),
        profile=ShapeProfile(
            min={k: [1, 3, MIN_SIDE, MIN_SIDE] for k in INPUTS},
            opt={k: [1, 3, side, side] for k in INPUTS},
            max={k: [MAX_BATCH, 3, MAX_SIDE, MAX_SIDE] for k in INPUTS},
        ),
        config=cfg,
        producer=producer_versions("torch", "numpy"),
    )


def example_inputs(spec: ModelSpec, batch: int, h: int, w: int) -> tuple:
    """A random garment and mannequin batch in [0, 1] of the given size."""
    return torch.rand(batch, 3, h, w), torch.rand(batch, 3, h, w)


FAMILY = registry.register(
    registry.Family(
        name="tryon",
        task=TASK,
        build=build,
        make_spec=make_spec,
        example_inputs=example_inputs,
        default_config=dict(DEFAULT_CONFIG),
        test_config=dict(TEST_CONFIG),
    )
)
