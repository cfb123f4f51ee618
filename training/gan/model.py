"""The "gan" family: a class-conditional generator (z + category + colour -> RGB image).

This module imports torch; the registry imports it lazily.

Generator: the labels' embeddings are concatenated to z for the first linear
layer and drive every batch norm's gain and bias (conditional batch norm).
``z_every_layer`` also feeds z to every conditional batch norm (as BigGAN
does); measured on 2 CPU cores it learned the labels more slowly for no gain
in diversity, so it is off by default. Nearest upsample + 3x3 conv per stage
(no transposed conv), tanh output in (-1, 1).
The exported graph takes ``z`` as an input, so it has no random op; batch
norms run on their stored statistics.

Discriminator (training only, never exported): spectrally normalised convs,
sum-pooled features, and a projection term <embed(label), features> per label
key (the projection discriminator of Miyato & Koyama, ICLR 2018).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ptx.errors import InputError
from ptx.spec import ImageConvention, ModelSpec, ShapeProfile, TensorSpec, producer_versions
from ptx.training.common import registry
from ptx.training.data.catalogue import CATEGORIES, COLORS
from ptx.training.data.folders import CLASS_KEYS  # the generator's integer inputs, in order

DEFAULT_CONFIG: dict[str, Any] = {
    "size": 64,  # output side: 64 or 128 (any power of two from 8)
    "latent": 64,  # length of z
    "width": 8,  # channels at full resolution; doubled per halving, capped at 8x
    "embed": 32,  # embedding length per label key
    "z_every_layer": False,  # z also drives every conditional batch norm (else the first only)
    "categories": sorted(CATEGORIES),
    "colors": sorted(COLORS),
}
TEST_CONFIG: dict[str, Any] = {
    "size": 16,
    "latent": 8,
    "width": 4,
    "embed": 4,
    "categories": ["bottle", "mug", "watch"],
    "colors": ["blue", "red"],
}
MAX_BATCH, OPT_BATCH = 64, 16
MAX_WIDTH_MULT = 8


def stage_channels(size: int, width: int) -> list[int]:
    """Channels at resolutions 4, 8, ..., size: wider at low resolution, where it is cheap."""
    if size < 8 or size & (size - 1):
        raise InputError(f"GAN size must be a power of two >= 8 (64, 128), got {size}")
    out, r = [], 4
    while r <= size:
        out.append(width * min(MAX_WIDTH_MULT, size // r))
        r *= 2
    return out


def vocab_sizes(config: dict[str, Any]) -> tuple[int, int]:
    """(number of categories, number of colours) of ``config``."""
    return len(config["categories"]), len(config["colors"])


class CondBatchNorm(nn.Module):
    """Batch norm whose gain and bias come from the label embedding (gain starts at 1)."""

    def __init__(self, channels: int, cond: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(cond, channels)
        self.bias = nn.Linear(cond, channels)
        nn.init.zeros_(self.gain.weight)
        nn.init.zeros_(self.gain.bias)
        nn.init.zeros_(self.bias.weight)
        nn.init.zeros_(self.bias.bias)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        g = 1.0 + self.gain(y)
        b = self.bias(y)
        return self.bn(x) * g[:, :, None, None] + b[:, :, None, None]


class UpBlock(nn.Module):
    """x2 nearest upsample -> 3x3 conv -> conditional BN -> ReLU."""

    def __init__(self, cin: int, cout: int, cond: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.norm = CondBatchNorm(cout, cond)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return F.relu(self.norm(self.conv(x), y))


class Generator(nn.Module):
    """(z [N, latent], category [N], color [N] int64) -> image [N, 3, size, size] in (-1, 1)."""

    def __init__(
        self,
        size: int,
        latent: int,
        width: int,
        embed: int,
        n_categories: int,
        n_colors: int,
        z_every_layer: bool = False,
    ) -> None:
        super().__init__()
        chans = stage_channels(size, width)
        cond = 2 * embed + (latent if z_every_layer else 0)
        self.latent, self.ch0, self.z_every_layer = latent, chans[0], z_every_layer
        self.embed_category = nn.Embedding(n_categories, embed)
        self.embed_color = nn.Embedding(n_colors, embed)
        self.fc = nn.Linear(2 * embed + latent, chans[0] * 16)
        self.norm0 = CondBatchNorm(chans[0], cond)
        self.blocks = nn.ModuleList(
            UpBlock(a, b, cond) for a, b in zip(chans[:-1], chans[1:], strict=True)
        )
        self.to_rgb = nn.Conv2d(chans[-1], 3, 3, padding=1)

    def forward(self, z: torch.Tensor, category: torch.Tensor, color: torch.Tensor) -> torch.Tensor:
        y = torch.cat([self.embed_category(category), self.embed_color(color)], dim=1)
        h = self.fc(torch.cat([z, y], dim=1)).view(-1, self.ch0, 4, 4)
        if self.z_every_layer:
            y = torch.cat([y, z], dim=1)
        h = F.relu(self.norm0(h, y))
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.to_rgb(h))


class Discriminator(nn.Module):
    """Projection discriminator: image + labels -> one real/fake logit per sample.

    ``aux`` adds linear label classifiers on the pooled features (AC-GAN style),
    an optional extra signal that sharpens conditioning in short runs.
    """

    def __init__(self, size: int, width: int, n_categories: int, n_colors: int) -> None:
        super().__init__()
        sn = spectral_norm
        chans = list(reversed(stage_channels(size, width)))  # size, size/2, ..., 4
        self.stem = sn(nn.Conv2d(3, chans[0], 3, padding=1))
        self.down = nn.ModuleList(
            sn(nn.Conv2d(a, b, 4, stride=2, padding=1))
            for a, b in zip(chans[:-1], chans[1:], strict=True)
        )
        feat = chans[-1]
        self.head = sn(nn.Conv2d(feat, feat, 3, padding=1))
        self.linear = sn(nn.Linear(feat, 1))
        self.proj_category = sn(nn.Embedding(n_categories, feat))
        self.proj_color = sn(nn.Embedding(n_colors, feat))
        self.aux_category = nn.Linear(feat, n_categories)
        self.aux_color = nn.Linear(feat, n_colors)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Sum-pooled features [N, C] of an image batch."""
        h = F.leaky_relu(self.stem(x), 0.2)
        for conv in self.down:
            h = F.leaky_relu(conv(h), 0.2)
        return F.leaky_relu(self.head(h), 0.2).sum(dim=(2, 3))

    def forward(
        self, x: torch.Tensor, category: torch.Tensor, color: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logit [N], category logits, colour logits)."""
        h = self.features(x)
        out = self.linear(h).squeeze(1)
        out = out + (self.proj_category(category) * h).sum(1) + (self.proj_color(color) * h).sum(1)
        return out, self.aux_category(h), self.aux_color(h)


def _config(config: dict[str, Any] | None) -> dict[str, Any]:
    cfg = {**DEFAULT_CONFIG, **(config or {})}
    for k in ("size", "latent", "width", "embed"):
        cfg[k] = int(cfg[k])
    cfg["z_every_layer"] = bool(cfg["z_every_layer"])
    cfg["categories"] = [str(v) for v in cfg["categories"]]
    cfg["colors"] = [str(v) for v in cfg["colors"]]
    return cfg


def build(config: dict[str, Any]) -> Any:
    """The Generator for ``config`` (missing keys take the defaults)."""
    cfg = _config(config)
    nc, nk = vocab_sizes(cfg)
    return Generator(
        cfg["size"], cfg["latent"], cfg["width"], cfg["embed"], nc, nk, cfg["z_every_layer"]
    )


def build_discriminator(config: dict[str, Any]) -> Any:
    """The Discriminator matching the generator of ``config``."""
    cfg = _config(config)
    nc, nk = vocab_sizes(cfg)
    return Discriminator(cfg["size"], cfg["width"], nc, nk)


def make_spec(config: dict[str, Any]) -> ModelSpec:
    """The ModelSpec: z + integer labels in, NCHW RGB in (-1, 1) out, vocabularies included."""
    cfg = _config(config)
    side, lat = cfg["size"], cfg["latent"]
    return ModelSpec(
        task="generate",
        family="gan",
        inputs=[
            TensorSpec("z", "float32", ["batch", lat]),
            *(TensorSpec(k, "int64", ["batch"]) for k in CLASS_KEYS),
        ],
        outputs=[TensorSpec("image", "float32", ["batch", 3, side, side])],
        image=ImageConvention(range=(-1.0, 1.0)),
        labels={"category": list(cfg["categories"]), "color": list(cfg["colors"])},
        latent_size=lat,
        profile=ShapeProfile(
            min={"z": [1, lat], **{k: [1] for k in CLASS_KEYS}},
            opt={"z": [OPT_BATCH, lat], **{k: [OPT_BATCH] for k in CLASS_KEYS}},
            max={"z": [MAX_BATCH, lat], **{k: [MAX_BATCH] for k in CLASS_KEYS}},
        ),
        config=cfg,
        producer=producer_versions("torch", "numpy"),
    )


def example_inputs(spec: ModelSpec, batch: int, h: int, w: int) -> tuple:
    """Standard normal z and random valid labels (h and w are ignored: the size is fixed)."""
    gen = torch.Generator().manual_seed(0)
    lat = int(spec.latent_size or spec.config.get("latent", DEFAULT_CONFIG["latent"]))
    labels = tuple(
        torch.randint(0, max(1, len(spec.labels.get(k, [])) or 1), (batch,), generator=gen)
        for k in CLASS_KEYS
    )
    return (torch.randn(batch, lat, generator=gen), *labels)


def param_count(module: nn.Module) -> int:
    """Number of parameters (for logs and reports)."""
    return sum(p.numel() for p in module.parameters())


FAMILY = registry.register(
    registry.Family(
        name="gan",
        task="generate",
        build=build,
        make_spec=make_spec,
        example_inputs=example_inputs,
        default_config=dict(DEFAULT_CONFIG),
        test_config=dict(TEST_CONFIG),
    )
)
