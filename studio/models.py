"""The studio's model steps, each a plain function over images, run through ptx.runtime.

Enhance and cut-out (the models that ship with ptx by default, or the user's) and style
(a ptx style model, applied to ad backgrounds only). Each model is loaded once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ptx.runtime import load
from ptx.runtime.backends import quiet_pool
from ptx.runtime.pipelines.cutout import SHIPPED_MODEL as SHIPPED_CUTOUT
from ptx.runtime.pipelines.cutout import cutout_alpha, load_cutout
from ptx.runtime.pipelines.enhance import SHIPPED_MODEL as SHIPPED_ENHANCER
from ptx.runtime.pipelines.enhance import enhance_arrays
from ptx.runtime.pipelines.stylize import stylize_arrays
from ptx.studio.ad import StyleFn
from ptx.studio.products import AlphaFn, EnhanceFn


def shipped_enhancer() -> Path:
    """The enhancer that ships with ptx (runtime/models/enhance.onnx)."""
    return SHIPPED_ENHANCER


def shipped_cutout() -> Path:
    """The cut-out model that ships with ptx (runtime/models/cutout.onnx)."""
    return SHIPPED_CUTOUT


def model_alpha(
    model: str | Path, threads: int | None = None, refine: bool | None = None
) -> AlphaFn:
    """An AlphaFn running a ptx cut-out model (loaded once, when a product first needs it).

    ``refine``: GrabCut refinement on or off (None: as the model's spec says).
    """
    engines = []  # RGBA inputs never need it: no load, no backend trial for them

    def run(images: list[np.ndarray]) -> list[np.ndarray]:
        if not engines:
            engines.append(load_cutout(model, threads=threads))
        return cutout_alpha(engines[0], images, refine=refine)

    return run


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
