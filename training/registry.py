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
from ptx.spec import ModelSpec

# family name -> module that registers it on import (kept lazy: modules import torch)
KNOWN = {
    "enhance": "ptx.training.enhance_model",
    "gan": "ptx.training.gan_model",
    "vae-encoder": "ptx.training.vae_model",
    "vae-decoder": "ptx.training.vae_model",
    "style": "ptx.training.style_model",
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
