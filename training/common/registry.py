"""A small registry of model families (one family per module, as timm).

A family knows how to build its ``nn.Module`` from a config dict, what its
ModelSpec looks like, and which example inputs export should trace with. Every
registered family gets the export → FP16 → build parity tests for free.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ptx.errors import ModelError
from ptx.spec import ImageConvention, ModelSpec, ShapeProfile, TensorSpec, producer_versions

# family name -> module that registers it on import (kept lazy: modules import torch)
KNOWN = {
    "enhance": "ptx.training.enhance.model",
    "gan": "ptx.training.gan.model",
    "vae-encoder": "ptx.training.vae.model",
    "vae-decoder": "ptx.training.vae.model",
    "style": "ptx.training.style.model",
    "cutout": "ptx.training.cutout.model",
    "tryon": "ptx.training.tryon.model",
}


@dataclass
class Family:
    """How to build, describe and trace one model family."""

    name: str
    task: str
    build: Callable[[dict[str, Any]], Any]  # config -> nn.Module
    make_spec: Callable[[dict[str, Any]], ModelSpec]  # config -> ModelSpec (no weights hash)
    example_inputs: Callable[[ModelSpec, int, int, int], tuple]  # spec, batch, h, w -> tensors
    default_config: dict[str, Any] = field(default_factory=dict)
    test_config: dict[str, Any] = field(default_factory=dict)  # tiny, for CI

    def config(self, **overrides: Any) -> dict[str, Any]:
        """The default config with overrides applied."""
        return {**self.default_config, **overrides}


_REGISTRY: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add a family (called at import time by the family's module)."""
    _REGISTRY[family.name] = family
    return family


def get(name: str) -> Family:
    """The family called ``name``, importing its module on first use."""
    if name not in _REGISTRY and name in KNOWN:
        importlib.import_module(KNOWN[name])
    if name not in _REGISTRY:
        raise ModelError(f"unknown model family '{name}' (known: {', '.join(sorted(KNOWN))})")
    return _REGISTRY[name]


def names() -> list[str]:
    """Every built-in family name."""
    return sorted(KNOWN)


def image_to_image_spec(
    task: str,
    family: str,
    output: str,
    config: dict[str, Any],
    sides: tuple[int, int, int],
    max_batch: int,
) -> ModelSpec:
    """The spec of a fully convolutional image → image family: NCHW RGB in [0, 1] both ways.

    ``sides`` = (min, opt, max) H and W of the optimisation profile.
    """
    lo, mid, hi = sides
    shape = ["batch", 3, "height", "width"]
    return ModelSpec(
        task=task,
        family=family,
        inputs=[TensorSpec("image", "float32", list(shape))],
        outputs=[TensorSpec(output, "float32", list(shape))],
        image=ImageConvention(range=(0.0, 1.0)),
        profile=ShapeProfile(
            min={"image": [1, 3, lo, lo]},
            opt={"image": [1, 3, mid, mid]},
            max={"image": [max_batch, 3, hi, hi]},
        ),
        config=config,
        producer=producer_versions("torch", "numpy"),
    )


def random_images(spec: ModelSpec, batch: int, h: int, w: int) -> tuple:
    """Example inputs for an image family: a random batch in [0, 1] of the given size."""
    import torch

    return (torch.rand(batch, 3, h, w),)
