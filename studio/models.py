"""The studio's model steps, each a plain function over images, run through ptx.runtime.

Enhance (the shipped enhancer by default), cut-out (a ptx cutout model) and style
(a ptx style model, applied to ad backgrounds only). Each model is loaded once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import ptx.runtime
from ptx.runtime import load
from ptx.runtime.backends import quiet_pool
from ptx.runtime.pipelines.cutout import cutout_alpha, load_cutout
from ptx.runtime.pipelines.enhance import enhance_arrays
from ptx.runtime.pipelines.stylize import stylize_arrays
from ptx.studio.ad import StyleFn
from ptx.studio.products import AlphaFn, EnhanceFn


def shipped_enhancer() -> Path:
    """The enhancer that ships with ptx (runtime/models/enhance.onnx)."""
    return Path(ptx.runtime.__file__).parent / "models" / "enhance.onnx"


def model_alpha(model: str | Path, threads: int | None = None) -> AlphaFn:
    """An AlphaFn running a ptx cut-out model (loaded once)."""
    engine = load_cutout(model, threads=threads)
    return lambda images: cutout_alpha(engine, images)


def model_enhance(
    model: str | Path, threads: int | None = None, strength: float = 1.0
) -> EnhanceFn:
    """An EnhanceFn running an enhance model (loaded once)."""
    engine = load(model, threads=threads, **quiet_pool("auto"))
    return lambda images: enhance_arrays(engine, images, strength=strength)


def model_style(model: str | Path, threads: int | None = None) -> StyleFn:
    """A StyleFn running a ptx style model (loaded once); refuses a model of another task."""
    engine = load(model, threads=threads, **quiet_pool("auto"))

    def run(rgb: np.ndarray) -> np.ndarray:
        return stylize_arrays(engine, [rgb])[0]

    return run
