"""The "vae-encoder" and "vae-decoder" families: a convolutional VAE for square RGB images.

This module imports torch; the registry imports it lazily.

Encoder and decoder are two families so each exports as its own ONNX file with
its own spec: the encoder maps an image batch to ``mean`` and ``logvar``, the
decoder maps ``z`` to an image. Sampling (mean + exp(logvar/2) * eps) happens in
the training loop and in the NumPy runtime, never in a graph, so both graphs are
deterministic and need no random op. Both specs carry ``latent_size`` and the
image convention (NCHW RGB in [0, 1], ``fit="crop"``: a photo is centre-cropped
to a square and resized to the encoder's side, in training and in the runtime
alike); the runtime uses the first to refuse a mismatched pair and the second
to pre/post-process. Batch norm after the inner
convs (folded into them at export) reached a given held-out PSNR in a fraction
of the steps a plain conv stack needed, which is what matters on a CPU budget.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ptx.errors import InputError
from ptx.spec import ImageConvention, ModelSpec, ShapeProfile, TensorSpec, producer_versions
from ptx.training.common import registry

DEFAULT_CONFIG: dict[str, Any] = {
    "image_size": 64,  # square side; a multiple of 16 (four stride-2 stages)
    "latent": 128,
    "width": 16,  # channels of the first stage (x2 per stage, 8x at 4x4)
}
TEST_CONFIG: dict[str, Any] = {"image_size": 16, "latent": 8, "width": 4}
STAGES = 4  # stride-2 stages: 64 -> 4
MAX_BATCH = 64


def _cfg(config: dict[str, Any] | None) -> dict[str, int]:
    cfg = {**DEFAULT_CONFIG, **(config or {})}
    out = {k: int(cfg[k]) for k in DEFAULT_CONFIG}
    if out["image_size"] % (2**STAGES) or out["image_size"] < 2**STAGES:
        raise InputError(
            f"vae image_size must be a positive multiple of {2**STAGES}, got {out['image_size']}"
        )
    return out


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


class VaeEncoder(nn.Module):
    """NCHW RGB in [0, 1] of the configured size -> (mean, logvar), each (N, latent)."""

    def __init__(self, image_size: int = 64, latent: int = 128, width: int = 32) -> None:
        super().__init__()
        chans = [3] + [width * 2**i for i in range(STAGES)]
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip(chans[:-1], chans[1:], strict=True)):
            layers.append(nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=i == 0))
            if i:  # batch norm (folded into the conv at export) speeds training up a lot
                layers.append(nn.BatchNorm2d(cout))
            layers.append(_act())
        self.features = nn.Sequential(*layers)
        side = image_size // 2**STAGES
        self.head = nn.Linear(chans[-1] * side * side, 2 * latent)
        self.latent = latent

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.head(torch.flatten(self.features(x), 1))
        mean, logvar = h[:, : self.latent], h[:, self.latent :]
        # A bounded log-variance keeps exp() finite in FP16 and early in training.
        return mean, torch.clamp(logvar, -12.0, 6.0)


class VaeDecoder(nn.Module):
    """(N, latent) -> NCHW RGB in [0, 1] of the configured size."""

    def __init__(self, image_size: int = 64, latent: int = 128, width: int = 32) -> None:
        super().__init__()
        self.side = image_size // 2**STAGES
        self.top = width * 2 ** (STAGES - 1)
        self.fc = nn.Linear(latent, self.top * self.side * self.side)
        chans = [width * 2**i for i in reversed(range(STAGES))] + [width]
        layers: list[nn.Module] = [nn.BatchNorm2d(self.top), _act()]
        for cin, cout in zip(chans[:-1], chans[1:], strict=True):
            up = nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False)
            layers += [up, nn.BatchNorm2d(cout), _act()]
        layers += [nn.Conv2d(width, 3, 3, padding=1), nn.Sigmoid()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(-1, self.top, self.side, self.side)
        return self.body(h)


def build_encoder(config: dict[str, Any]) -> Any:
    """The VaeEncoder for ``config`` (missing keys take the defaults)."""
    return VaeEncoder(**_cfg(config))


def build_decoder(config: dict[str, Any]) -> Any:
    """The VaeDecoder for ``config`` (missing keys take the defaults)."""
    return VaeDecoder(**_cfg(config))


def _image_profile(size: int) -> ShapeProfile:
    return ShapeProfile(
        min={"image": [1, 3, size, size]},
        opt={"image": [8, 3, size, size]},
        max={"image": [MAX_BATCH, 3, size, size]},
    )


def encoder_spec(config: dict[str, Any]) -> ModelSpec:
    """Spec of the encoder: image [batch, 3, S, S] -> mean, logvar [batch, latent]."""
    cfg = _cfg(config)
    s, k = cfg["image_size"], cfg["latent"]
    return ModelSpec(
        task="vae-encode",
        family="vae-encoder",
        inputs=[TensorSpec("image", "float32", ["batch", 3, s, s])],
        outputs=[
            TensorSpec("mean", "float32", ["batch", k]),
            TensorSpec("logvar", "float32", ["batch", k]),
        ],
        image=ImageConvention(range=(0.0, 1.0), fit="crop"),
        latent_size=k,
        profile=_image_profile(s),
        config=cfg,
        producer=producer_versions("torch", "numpy"),
    )


def decoder_spec(config: dict[str, Any]) -> ModelSpec:
    """Spec of the decoder: z [batch, latent] -> image [batch, 3, S, S]."""
    cfg = _cfg(config)
    s, k = cfg["image_size"], cfg["latent"]
    return ModelSpec(
        task="vae-decode",
        family="vae-decoder",
        inputs=[TensorSpec("z", "float32", ["batch", k])],
        outputs=[TensorSpec("image", "float32", ["batch", 3, s, s])],
        image=ImageConvention(range=(0.0, 1.0), fit="crop"),
        latent_size=k,
        profile=ShapeProfile(min={"z": [1, k]}, opt={"z": [8, k]}, max={"z": [MAX_BATCH, k]}),
        config=cfg,
        producer=producer_versions("torch", "numpy"),
    )


def encoder_inputs(spec: ModelSpec, batch: int, h: int, w: int) -> tuple:
    """A random image batch at the encoder's fixed size (h and w are ignored: it is static)."""
    s = int(spec.config.get("image_size", DEFAULT_CONFIG["image_size"]))
    return (torch.rand(batch, 3, s, s),)


def decoder_inputs(spec: ModelSpec, batch: int, h: int, w: int) -> tuple:
    """A standard-normal latent batch (h and w are ignored)."""
    k = int(spec.latent_size or spec.config.get("latent", DEFAULT_CONFIG["latent"]))
    return (torch.randn(batch, k),)


ENCODER = registry.register(
    registry.Family(
        name="vae-encoder",
        task="vae-encode",
        build=build_encoder,
        make_spec=encoder_spec,
        example_inputs=encoder_inputs,
        default_config=dict(DEFAULT_CONFIG),
        test_config=dict(TEST_CONFIG),
    )
)
DECODER = registry.register(
    registry.Family(
        name="vae-decoder",
        task="vae-decode",
        build=build_decoder,
        make_spec=decoder_spec,
        example_inputs=decoder_inputs,
        default_config=dict(DEFAULT_CONFIG),
        test_config=dict(TEST_CONFIG),
    )
)
