"""The "cutout" family: a compact U-Net with a whole-image context branch -> soft alpha.

This module imports torch; the registry imports it lazily.

NCHW RGB in [0, 1] -> (N, 1, H, W) alpha in [0, 1]. A four-level U-Net sees edges
and local structure; a context branch looks at a fixed-size thumbnail of the
whole image (what is the product, what is backdrop) and its features join the
bottleneck, so the decision does not depend on the local receptive field alone.
Plain ONNX ops only (Conv, BatchNormalization in eval form, LeakyRelu, Resize,
Add, Concat, Sigmoid), dynamic batch/H/W: FP16 and TensorRT friendly. Decoder
stages resize to their skip's exact size, so any H x W works without padding.
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

DEFAULT_CONFIG: dict[str, Any] = {
    "width": 16,  # channels at full resolution (x2 at 1/2, x4 from 1/4 down)
    "context": 64,  # thumbnail side of the whole-image context branch
    "work_side": 192,  # the runtime runs the net with the long side at most this (then upsamples)
    # the runtime averages the alpha with its mirror image's (a batch of two): measured on
    # held-out renders +0.001..+0.012 IoU for ~1.7x the net's time
    "flip_average": True,
    # the runtime refines the alpha with one GrabCut seeded by it (runtime/pipelines/
    # cutout_refine.py): validation renders +0.004 IoU, real photo backdrops +0.08
    "refine": "grabcut",
    # channels of the full-resolution edge refiner (RefinedCutoutNet); 0: none. With it
    # the coarse net runs at half the work side.
    "refiner": 0,
}
TEST_CONFIG: dict[str, Any] = {"width": 4, "context": 16, "work_side": 64}
REFINED_TEST_CONFIG: dict[str, Any] = {**TEST_CONFIG, "refiner": 4}
MIN_SIDE, OPT_SIDE, MAX_SIDE, MAX_BATCH = 32, 256, 1024, 8
TASK = "cutout"


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    # BatchNorm: without it this depth barely learns in a CPU budget (measured: IoU ~0 vs
    # ~0.4 after 60 steps); in eval mode it is a per-channel affine that export folds.
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.LeakyReLU(0.1, inplace=True),
    )


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    # To the skip's exact size: odd sides need no padding or cropping.
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class ContextBranch(nn.Module):
    """A fixed-size thumbnail of the whole image -> a small feature map of global context."""

    def __init__(self, side: int, width: int) -> None:
        super().__init__()
        self.side = side
        self.net = nn.Sequential(
            _conv(3, width, 2), _conv(width, 2 * width, 2), _conv(2 * width, 2 * width, 2)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = F.interpolate(x, size=(self.side, self.side), mode="bilinear", align_corners=False)
        return self.net(t)


class CutoutNet(nn.Module):
    """NCHW RGB in [0, 1] -> (N, 1, H, W) alpha in [0, 1], any H x W."""

    def __init__(self, width: int = 16, context: int = 64) -> None:
        super().__init__()
        w = width
        self.enc0 = _conv(3, w)
        self.enc1 = nn.Sequential(_conv(w, 2 * w, 2), _conv(2 * w, 2 * w))
        self.enc2 = nn.Sequential(_conv(2 * w, 4 * w, 2), _conv(4 * w, 4 * w))
        self.enc3 = nn.Sequential(_conv(4 * w, 4 * w, 2), _conv(4 * w, 4 * w))
        self.enc4 = nn.Sequential(_conv(4 * w, 4 * w, 2), _conv(4 * w, 4 * w))
        self.context = ContextBranch(context, 2 * w)
        self.mid = nn.Sequential(_conv(4 * w + 4 * w, 4 * w), _conv(4 * w, 4 * w))
        self.dec3 = _conv(4 * w, 4 * w)
        self.dec2 = _conv(4 * w, 4 * w)
        self.dec1 = _conv(2 * w, 2 * w)
        self.red1 = nn.Conv2d(4 * w, 2 * w, 1)
        self.dec0 = _conv(w + 3, w)
        self.red0 = nn.Conv2d(2 * w, w, 1)
        self.head = nn.Conv2d(w, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x)[0])

    def logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(alpha logit (N, 1, H, W), last decoder features (N, width, H, W))."""
        s0 = self.enc0(x)
        s1 = self.enc1(s0)
        s2 = self.enc2(s1)
        s3 = self.enc3(s2)
        s4 = self.enc4(s3)
        g = _up(self.context(x), s4)
        b = self.mid(torch.cat([s4, g], dim=1))
        d3 = self.dec3(s3 + _up(b, s3))
        d2 = self.dec2(s2 + _up(d3, s2))
        d1 = self.dec1(s1 + self.red1(_up(d2, s1)))
        # The raw pixels again at the end: the finest edge detail is in the input itself.
        d0 = self.dec0(torch.cat([s0 + self.red0(_up(d1, s0)), x], dim=1))
        return self.head(d0), d0


class RefinedCutoutNet(nn.Module):
    """The CutoutNet at half resolution, then a full-resolution edge refiner.

    The coarse net decides what is product from a 2x2-averaged image (an exact area
    downscale, the scale it trained at); the refiner sees the full-resolution pixels with
    the coarse logit and last features upsampled, and adds a correction to that logit, so
    edges land where the full-resolution pixels put them. Its last layer starts at zero:
    before training it returns the coarse net's alpha, upsampled. The coarse net stays
    frozen (eval mode, no gradients) while the refiner trains, unless ``unfreeze``d.
    """

    def __init__(self, width: int = 16, context: int = 64, refiner: int = 16) -> None:
        super().__init__()
        self.coarse = CutoutNet(width, context)
        r = refiner
        act = nn.LeakyReLU(0.1, inplace=True)
        self.refiner = nn.Sequential(
            nn.Conv2d(3 + 1 + width, r, 3, padding=1), act,
            nn.Conv2d(r, r, 3, padding=1), act,
            nn.Conv2d(r, r, 3, padding=1), act,
        )  # fmt: skip
        self.head = nn.Conv2d(r, 1, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.frozen = True
        self.coarse.requires_grad_(False)

    def unfreeze(self) -> RefinedCutoutNet:
        """Let the coarse net train too (end-to-end fine-tuning)."""
        self.frozen = False
        self.coarse.requires_grad_(True)
        return self

    def train(self, mode: bool = True) -> RefinedCutoutNet:
        """Train mode; a frozen coarse net stays in eval mode (keeps its BatchNorm stats)."""
        super().train(mode)
        if self.frozen:
            self.coarse.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logit, feats = self.coarse.logits(F.avg_pool2d(x, 2))
        logit, feats = _up(logit, x), _up(feats, x)
        r = self.refiner(torch.cat([x, logit, feats], dim=1))
        return torch.sigmoid(logit + self.head(r))


def build(config: dict[str, Any]) -> Any:
    """The CutoutNet for ``config``, under an edge refiner if it asks (missing keys: defaults)."""
    cfg = {**DEFAULT_CONFIG, **(config or {})}
    width, context, refiner = int(cfg["width"]), int(cfg["context"]), int(cfg["refiner"])
    if refiner > 0:
        return RefinedCutoutNet(width, context, refiner)
    return CutoutNet(width=width, context=context)


def make_spec(config: dict[str, Any]) -> ModelSpec:
    """The ModelSpec of a cutout model: NCHW RGB in [0, 1] -> (N, 1, H, W) alpha in [0, 1]."""
    cfg = {**DEFAULT_CONFIG, **(config or {})}
    return ModelSpec(
        task=TASK,
        family="cutout",
        inputs=[TensorSpec("image", "float32", ["batch", 3, "height", "width"])],
        outputs=[TensorSpec("alpha", "float32", ["batch", 1, "height", "width"])],
        image=ImageConvention(range=(0.0, 1.0)),
        profile=ShapeProfile(
            min={"image": [1, 3, MIN_SIDE, MIN_SIDE]},
            opt={"image": [1, 3, OPT_SIDE, OPT_SIDE]},
            max={"image": [MAX_BATCH, 3, MAX_SIDE, MAX_SIDE]},
        ),
        config=cfg,
        producer=producer_versions("torch", "numpy"),
    )


FAMILY = registry.register(
    registry.Family(
        name="cutout",
        task=TASK,
        build=build,
        make_spec=make_spec,
        example_inputs=registry.random_images,
        default_config=dict(DEFAULT_CONFIG),
        test_config=dict(TEST_CONFIG),
    )
)
