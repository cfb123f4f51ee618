"""Shared pieces of the public-architecture corpus: the entry type and trained-like weights.

Random weights with PyTorch's default init shrink activations layer by layer, which
hides the FP16 range problems a trained model has. ``unit_scale`` rescales every conv
and linear layer in forward order so its output has a chosen standard deviation on an
example (LSUV, Mishkin & Matas 2016), and ``warm_batchnorm`` gives BatchNorm running
statistics from a few training-mode passes, as a trained network carries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Arch:
    """One corpus entry: how to build it, its export example and its parity check."""

    name: str
    make: Callable[[], nn.Module]
    inputs: Sequence[str]  # `ptx export --input` strings: the export example
    check: dict[str, tuple[int, ...]]  # a different shape per input for the parity check
    dynamic_hw: bool = True
    span: float | None = None  # image output value span (PSNR), None: relative L2
    image_range: tuple[float, float] = (0.0, 1.0)  # of 3-channel image inputs
    masks: tuple[str, ...] = ()  # inputs that hold 0/1 masks


def picture(shape: Sequence[int], lo: float = 0.0, hi: float = 1.0, seed: int = 0) -> torch.Tensor:
    """Photo-like NCHW images: smooth colour fields with edges and fine texture, in [lo, hi]."""
    g = torch.Generator().manual_seed(seed)
    n, c, h, w = shape
    coarse = torch.rand(n, c, 4, 4, generator=g)
    img = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    disc = ((yy - 0.2) ** 2 + (xx + 0.1) ** 2 < 0.3).float()
    img = img * (1 - 0.5 * disc) + 0.5 * disc * torch.rand(n, c, 1, 1, generator=g)
    img = img + 0.05 * torch.randn(n, c, h, w, generator=g)
    return (img.clamp(0, 1) * (hi - lo) + lo).float()


@torch.no_grad()
def unit_scale(model: nn.Module, inputs: Sequence[torch.Tensor], gain: float = 1.0) -> nn.Module:
    """Scale each Conv/Linear so its output std on ``inputs`` is ``gain`` (forward order)."""
    model.eval()
    layers = [
        m for m in model.modules()
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear)
    ]  # fmt: skip
    for layer in layers:
        seen: list[torch.Tensor] = []
        hook = layer.register_forward_hook(lambda _m, _i, o, seen=seen: seen.append(o))
        model(*inputs)
        hook.remove()
        std = float(torch.cat([s.flatten() for s in seen]).std()) if seen else 0.0
        if std > 1e-8:
            layer.weight.mul_(gain / std)
            if layer.bias is not None:
                layer.bias.mul_(gain / std)
    return model


@torch.no_grad()
def warm_batchnorm(model: nn.Module, inputs: Sequence[torch.Tensor], passes: int = 4) -> nn.Module:
    """Give BatchNorm layers running statistics from training-mode passes, then eval()."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the passes
    model.train()
    for _ in range(passes):
        model(*inputs)
    return model.eval()
