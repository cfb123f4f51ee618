"""The "enhance" family: a global tone/colour branch plus a local residual denoiser.

This module imports torch; the registry imports it lazily.

Global colour, exposure and contrast errors are global, so a small MLP looks
at statistics of a fixed-size, noise-averaged thumbnail (per-channel mean, std
and a soft CDF, all computed inside the graph) and predicts a monotone tone
curve per
channel together with a "needs a tone correction" probability: a classifier,
trained on its own loss (clean vs degraded tones). The curve is applied only
where that probability is clearly high (a ramp from TRUST_FROM to TRUST_FULL),
so a photo whose statistics look normal comes back with its tones unchanged
("do no harm"), even when the curve itself would have changed it; and a curve never takes
white below white (a product on a pure-white backdrop keeps its backdrop). A small
two-level conv net removes noise and JPEG blocks as a residual on the tone-corrected
image, where the photo's quieter blocks carry noise. Every op is plain ONNX (AveragePool,
Resize, Conv, Sigmoid, Clip, ReduceMean, ReduceSum, Relu, Slice, a fixed Pad) with dynamic
batch, height and width, and friendly to FP16 and TensorRT: no sort, no TopK, no
data-dependent padding. The encoder's stride-2 convs
take any size and the decoder resizes back to the skip's exact size, so the network
accepts any H x W without padding.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ptx.spec import ModelSpec
from ptx.training.common import registry

DEFAULT_CONFIG: dict[str, Any] = {
    "width": 16,  # local branch channels at full resolution (x2 at 1/2 and 1/4)
    "thumb": 48,  # thumbnail side the statistics are computed on
    "levels": 16,  # soft-CDF thresholds per channel
    "knots": 12,  # segments of each channel's piecewise-linear tone curve
    "hidden": 96,  # MLP width
    # The local residual's noise gate, in 0..255 levels of estimated noise (see NoiseGate):
    # off below noise_from, full from noise_full; noise_full 0 turns the gate off.
    "noise_from": 4.5,
    "noise_full": 6.5,
    # > 0: the gate reads that quantile of 16x16-block noise estimates, not the whole image's
    # mean (see NoiseGate); 0: the mean, as models exported before it.
    "noise_quiet": 0.25,
    # 1: the tone curve never takes white below white (see GlobalBranch.parts); 0: it may.
    "keep_white": 1,
}
TEST_CONFIG: dict[str, Any] = {
    "width": 8, "thumb": 16, "levels": 4, "knots": 4, "hidden": 16,
    "noise_from": 4.5, "noise_full": 6.5, "noise_quiet": 0.25, "keep_white": 1,
}  # fmt: skip
INT_KEYS = ("width", "thumb", "levels", "knots", "hidden", "keep_white")

MIN_SIDE, OPT_SIDE, MAX_SIDE, MAX_BATCH = 32, 256, 1024, 16


SOFT_CDF_TAU = 0.03  # width of the sigmoid step; smooth enough to give gradients
# The statistics see a 4x4-averaged image: noise and JPEG blocks must not look like a tone
# problem (with full-resolution statistics the classifier fired on noisy photos, and the
# curve undid the denoiser's gain).
STATS_POOL = 4
# Not fed: the colour of highlights and shadows. It tells a blue cast from a blue box on
# white in renders, but real photos under warm or cool light have tinted highlights, and
# the classifier trained with it read a warm cat photo as a cast (19.5 dB on a clean photo).
N_GATES = 1  # the tone curve's confidence (a learned local-residual gate starved its learning)
# The classifier's probability -> how much of the curve is applied: nothing below TRUST_FROM
# (a conservative threshold: when in doubt, leave the photo), all of it from TRUST_FULL.
TRUST_FROM, TRUST_FULL = 0.65, 0.95
DETAIL_POOL = 7  # the local residual loses its mean over 7x7 windows: detail only, no tone


def trust(logit: torch.Tensor) -> torch.Tensor:
    """The share of the tone curve applied for a classifier logit (0 when unsure)."""
    p = torch.sigmoid(logit)
    return torch.clamp((p - TRUST_FROM) / (TRUST_FULL - TRUST_FROM), 0.0, 1.0)


class GlobalBranch(nn.Module):
    """Image statistics -> MLP -> one monotone tone curve per channel plus its confidence."""

    def __init__(
        self, thumb: int, levels: int, knots: int, hidden: int, keep_white: int = 1
    ) -> None:
        super().__init__()
        self.thumb = thumb
        self.knots = knots
        if keep_white not in (0, 1):
            raise ValueError(f"keep_white: need 0 or 1, got {keep_white}")
        self.keep_white = bool(keep_white)
        self.register_buffer(
            "thresholds",
            (torch.arange(levels, dtype=torch.float32) + 0.5) / levels,
            persistent=False,
        )
        n_in = 3 * (2 + levels)
        self.mlp = nn.Sequential(
            nn.Linear(n_in, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, 3 * (1 + knots)),
        )
        # Its own head (not a slice of the curve head: a sliced output pins the batch at export).
        self.gate = nn.Linear(hidden, N_GATES)
        # Zero last layer: the curve starts as the identity and the local residual's tail is
        # zero, so training starts from "no change" whatever the confidences are.
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)
        nn.init.zeros_(self.gate.weight)
        nn.init.zeros_(self.gate.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Per-channel mean, std and soft CDF of the noise-averaged thumbnail: (N, 3*(2+levels))."""
        # avg_pool2d floors odd sides: any H x W >= STATS_POOL works, with no padding op.
        t = F.avg_pool2d(x, STATS_POOL)
        t = F.interpolate(t, size=(self.thumb, self.thumb), mode="bilinear", align_corners=False)
        t = t.flatten(2)  # N, 3, P
        mean = t.mean(dim=2)
        std = (t - mean.unsqueeze(2)).pow(2).mean(dim=2).add(1e-6).sqrt()
        # A sigmoid step instead of sort/quantile: exports as elementwise ops, no TopK.
        steps = torch.sigmoid((self.thresholds.view(1, 1, -1, 1) - t.unsqueeze(2)) / SOFT_CDF_TAU)
        cdf = steps.mean(dim=3)  # N, 3, levels
        return torch.cat([mean, std, cdf.flatten(1)], dim=1)

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Curve start (N, 3), non-negative segment rises (N, 3, knots), "needs it" logit (N, 1)."""
        h = self.mlp[:-1](self.features(x))
        logit = self.gate(h)
        p = self.mlp[-1](h).view(-1, 3, 1 + self.knots)
        start = 0.1 * p[:, :, 0]
        # softplus(0) = ln 2, so zero logits give rises of 1/knots: the identity curve.
        rises = F.softplus(p[:, :, 1:]) / (self.knots * 0.6931471805599453)
        return start, rises, logit

    def parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x through the full curve, x moved toward it by trust, the classifier's logit)."""
        start, rises, logit = self.predict(x)
        y = start.view(-1, 3, 1, 1).expand_as(x)
        xk = x * self.knots
        # Unrolled over knots (not a K-times-larger broadcast) to keep memory at one image.
        for k in range(self.knots):
            y = y + rises[:, :, k].view(-1, 3, 1, 1) * torch.clamp(xk - k, 0.0, 1.0)
        if self.keep_white:
            # A curve that would take white below white is lifted by a ramp in x, so 1 -> 1:
            # a pure-white backdrop stays pure white (product shots on white looked
            # "brightened" to the classifier and came back grey), blacks keep their place.
            short = F.relu(1.0 - start - rises.sum(dim=2))  # 1 - curve(1), when positive
            y = y + short.view(-1, 3, 1, 1) * x
        share = trust(logit[:, 0:1])[:, :, None, None]
        return y, x + share * (y - x), logit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` moved toward its tone curve by the classifier's trust."""
        return self.parts(x)[1]


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.LeakyReLU(0.1, inplace=True)
    )


class LocalBranch(nn.Module):
    """A tiny two-level U-Net predicting a residual; works at any H x W.

    Almost all of its work runs at 1/2 and 1/4 resolution: CPU training budgets
    are small, and noise and 8x8 JPEG blocks need context more than full-res depth.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        w = width
        self.head = _conv(6, w)
        self.down1 = nn.Sequential(_conv(w, 2 * w, 2), _conv(2 * w, 2 * w))
        self.down2 = nn.Sequential(_conv(2 * w, 2 * w, 2), _conv(2 * w, 2 * w))
        self.mid = _conv(2 * w, 2 * w)
        self.proj = nn.Conv2d(2 * w, w, 1)
        self.tail = nn.Conv2d(w, 3, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    @staticmethod
    def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        # Resize to the skip's exact size, so odd sizes need no padding or cropping.
        return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = self.head(x)
        s1 = self.down1(s0)
        s2 = self.down2(s1)
        u1 = self.mid(s1 + self._up(s2, s1))
        u0 = F.leaky_relu(s0 + self._up(self.proj(u1), s0), 0.1)
        r = self.tail(u0)
        # High-pass the residual (an AveragePool, same size at any H x W): noise, JPEG blocks
        # and blur are local, tone and colour are the gated curve's job. Without this the
        # local branch learned "brighten" too, and no gate stopped it on good photos.
        k = DETAIL_POOL
        return r - F.avg_pool2d(r, k, stride=1, padding=k // 2, count_include_pad=False)


class NoiseGate(nn.Module):
    """Immerkaer's noise estimate of the input (0..255 levels) -> how much denoising to apply.

    Why: a denoiser also softens hard, dithered edges that merely look like noise (clip art
    lost 5.5 dB to it). Below the noise a clean photo carries it changes nothing: the
    validation photos and the training renders (catalogue and scenes) estimate at most 4.7
    levels clean. Computed per image (per tile) inside the graph: a fixed 3x3 Conv, Abs,
    ReduceMean.

    ``quiet`` > 0 reads the noise of the photo's quieter blocks instead of its mean: the
    ``quiet`` quantile of 16x16-block estimates, blocks near black or white left out
    (clipped noise reads as none). Noise covers a photo evenly, fine detail does not: a
    clean photo sharpened (unsharp mask, as catalogues do) or resized without filtering
    estimates 8-9 levels on the whole image and was softened (coffee: 32 dB), while its
    quieter quarter reads under 3. The quantile is a soft CDF (Sigmoid, ReduceSum): no sort.
    """

    BLOCK = 16  # block side of the local estimates, in pixels
    STEPS = 8  # noise levels the soft quantile is read at, spread over the gate's ramp
    SIGMA_TAU = 0.25  # levels: width of a block's soft step
    SHARE_TAU = 0.02  # width of the step at the quantile
    EDGE = 6.0 / 255.0  # blocks with a mean this close to black or white are left out

    def __init__(self, start: float, full: float, quiet: float = 0.0) -> None:
        super().__init__()
        if full and not 0.0 <= start < full:
            raise ValueError(f"noise gate: need 0 <= noise_from < noise_full, got {start}, {full}")
        if not 0.0 <= quiet < 1.0:
            raise ValueError(f"noise gate: need 0 <= noise_quiet < 1, got {quiet}")
        self.start, self.full, self.quiet = float(start), float(full), float(quiet)
        lap = torch.tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])
        # Summed over the three channels / 3: the estimate of the grey (mean) image.
        self.register_buffer("kernel", (lap / 3.0).expand(1, 3, 3, 3).clone(), persistent=False)
        steps = (torch.arange(self.STEPS, dtype=torch.float32) + 0.5) / self.STEPS
        self.register_buffer("levels", start + (full - start) * steps, persistent=False)

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        """|Laplacian-difference| of the grey image, in 0..255 noise levels: (N, 1, H-2, W-2)."""
        return F.conv2d(x, self.kernel).abs() * (255.0 * 0.20888568955258338)  # sqrt(pi/2)/6

    def sigma(self, x: torch.Tensor) -> torch.Tensor:
        """Estimated noise standard deviation per image, 0..255 levels: (N, 1, 1, 1)."""
        return self._residual(x).mean(dim=(1, 2, 3), keepdim=True)

    def _quiet_gate(self, x: torch.Tensor) -> torch.Tensor:
        """The ramp read at the ``quiet`` quantile of the block estimates: (N, 1, 1, 1)."""
        b = self.BLOCK
        res = self._residual(x)
        grey = x[:, :, 1:-1, 1:-1].mean(dim=1, keepdim=True)
        # Padded right and bottom by a block less one (a fixed Pad): the last, partial blocks
        # count, and an image under a block's side still has one. The pad's zeros are left
        # out by dividing by each block's share of real pixels, which also weighs its vote.
        pad = (0, b - 1, 0, b - 1)
        real = F.avg_pool2d(F.pad(torch.ones_like(res), pad), b)  # N, 1, Hb, Wb
        sig = F.avg_pool2d(F.pad(res, pad), b) / real
        grey = F.avg_pool2d(F.pad(grey, pad), b) / real
        keep = torch.clamp(grey / self.EDGE - 1.0, 0.0, 1.0)
        keep = keep * torch.clamp((1.0 - grey) / self.EDGE - 1.0, 0.0, 1.0) * real
        keep = keep.flatten(1).unsqueeze(1)  # N, 1, B
        sig = sig.flatten(1).unsqueeze(1)  # N, 1, B
        below = torch.sigmoid((self.levels.view(1, -1, 1) - sig) / self.SIGMA_TAU)  # N, STEPS, B
        # Share of kept blocks at or below each level; with no block kept, 1: no denoising.
        share = ((below * keep).sum(dim=2) + 1e-3) / (keep.sum(dim=2) + 1e-3)  # N, STEPS
        on = torch.sigmoid((self.quiet - share) / self.SHARE_TAU)  # quantile above the level
        return on.mean(dim=1).view(-1, 1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.full:
            return torch.ones_like(x[:, :1, :1, :1])
        if self.quiet:
            return self._quiet_gate(x)
        return torch.clamp((self.sigma(x) - self.start) / (self.full - self.start), 0.0, 1.0)


class EnhanceNet(nn.Module):
    """NCHW RGB in [0, 1] -> enhanced NCHW RGB in [0, 1], any H x W."""

    def __init__(
        self,
        width: int = 16,
        thumb: int = 48,
        levels: int = 16,
        knots: int = 12,
        hidden: int = 96,
        noise_from: float = 5.0,
        noise_full: float = 7.0,
        keep_white: int = 1,
        noise_quiet: float = 0.0,
    ) -> None:
        super().__init__()
        self.globe = GlobalBranch(thumb, levels, knots, hidden, keep_white)
        self.local = LocalBranch(width)
        self.noise = NoiseGate(noise_from, noise_full, noise_quiet)

    def forward_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(full tone curve, final output, "needs a tone correction" logit): all supervised."""
        curve, g, logit = self.globe.parts(x)
        out = g + self.noise(x) * self.local(torch.cat([x, g], dim=1))
        return curve, torch.clamp(out, 0.0, 1.0), logit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_parts(x)[1]


def build(config: dict[str, Any]) -> Any:
    """The EnhanceNet for ``config`` (missing keys take the defaults)."""
    cfg = {**DEFAULT_CONFIG, **(config or {})}
    return EnhanceNet(
        **{k: int(cfg[k]) for k in INT_KEYS},
        noise_from=float(cfg["noise_from"]),
        noise_full=float(cfg["noise_full"]),
        noise_quiet=float(cfg["noise_quiet"]),
    )


def make_spec(config: dict[str, Any]) -> ModelSpec:
    """The ModelSpec of an enhance model (image in, image out, both NCHW RGB in [0, 1])."""
    cfg = {**DEFAULT_CONFIG, **(config or {})}
    sides = (MIN_SIDE, OPT_SIDE, MAX_SIDE)
    return registry.image_to_image_spec("enhance", "enhance", "enhanced", cfg, sides, MAX_BATCH)


FAMILY = registry.register(
    registry.Family(
        name="enhance",
        task="enhance",
        build=build,
        make_spec=make_spec,
        example_inputs=registry.random_images,
        default_config=dict(DEFAULT_CONFIG),
        test_config=dict(TEST_CONFIG),
    )
)
