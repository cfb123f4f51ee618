"""Image routes' work (run off the event loop): decode → model batch → PNG/JPEG; sheets."""

from __future__ import annotations

import base64
import json

import numpy as np

from ptx.errors import InputError
from ptx.image import blend, grid
from ptx.io import JpegTables, decode_image_alpha, encode_image, image_header
from ptx.runtime.engine import Engine
from ptx.runtime.pipelines.enhance import image_convention, image_input
from ptx.runtime.server.http import HTTPError
from ptx.spec import ImageConvention, ModelSpec

MEDIA = {"PNG": "image/png", "JPEG": "image/jpeg"}  # answer format -> media type


def image_size(data: bytes, max_pixels: int, what: str = "request body") -> tuple[int, int]:
    """(height, width) from the header alone (allowed formats only); 413 over ``max_pixels``."""
    w, h, _ = image_header(data, what)  # ptx.io's limits, never Pillow's bomb error
    if w * h > max_pixels:
        raise HTTPError(
            413, f"{what}: image has {w * h / 1e6:.1f} MP, over the {max_pixels / 1e6:g} MP limit"
        )
    return h, w


def check_task(spec: ModelSpec | None, route: str) -> None:
    """InputError (400) when the model's task is not the one ``/route`` serves."""
    if spec is not None and spec.task not in (route, "custom"):
        raise InputError(f"this is a '{spec.task}' model; /{route} serves {route} models")


def image_model(engine: Engine, route: str) -> tuple[str, np.dtype, ImageConvention]:
    """(input name, dtype, convention) of a one-image-input model fit for ``route``."""
    check_task(engine.spec, route)
    info = image_input(engine)
    return info.name, info.dtype, image_convention(engine)


def _decode(data: bytes, max_pixels: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(RGB composited on white, its alpha or None); 413 over the pixel limit, 400 unreadable."""
    image_size(data, max_pixels)
    return decode_image_alpha(data, "request body", limit=max_pixels)


def decode_for_model(
    data: bytes, max_pixels: int, name: str, dtype: np.dtype, conv: ImageConvention
) -> tuple[dict[str, np.ndarray], tuple[int, int], np.ndarray | None]:
    """Image bytes → ({input: 1×… batch}, (h, w), the image's alpha or None)."""
    rgb, alpha = _decode(data, max_pixels)
    return {name: conv.to_model([rgb], dtype)}, rgb.shape[:2], alpha


def parse_strength(raw: str | None) -> float:
    """The ``?strength=`` of /enhance: 1.0 when absent, else a number in 0..1 (400 otherwise)."""
    if raw is None:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise InputError(f"strength must be a number in 0..1, got '{raw[:40]}'")
    return value


def decode_rgb(
    data: bytes, max_pixels: int
) -> tuple[dict[str, np.ndarray], tuple[int, int], np.ndarray | None]:
    """Image bytes → ({"rgb": 1×H×W×3 uint8}, (h, w), alpha) for the GPU pipeline."""
    rgb, alpha = _decode(data, max_pixels)
    return {"rgb": np.ascontiguousarray(rgb)[None]}, rgb.shape[:2], alpha


def decode_keep(
    data: bytes, max_pixels: int, name: str, dtype: np.dtype, conv: ImageConvention
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None]:
    """As decode_for_model, but returns the decoded image too (a strength blend needs it)."""
    rgb, alpha = _decode(data, max_pixels)
    return {name: conv.to_model([rgb], dtype)}, rgb, alpha


def encode_rgb(
    outputs: dict[str, np.ndarray],
    fmt: str,
    source: np.ndarray | None = None,
    strength: float = 1.0,
    alpha: np.ndarray | None = None,
    tables: JpegTables | None = None,
) -> bytes:
    """The GPU pipeline's output (one uint8 image, already cropped) → encoded bytes.

    Given ``source`` (the decoded request), ``strength`` of the edit is applied; given
    ``alpha`` (the request's), a PNG answer has it back (ptx.alpha); given ``tables``
    (a JPEG request's), a JPEG answer is written with them.
    """
    out = outputs["rgb"][0]
    out = out if source is None else blend(source, out, strength)
    return encode_image(out, fmt, alpha=alpha, tables=tables)


def encode_output(
    outputs: dict[str, np.ndarray],
    conv: ImageConvention,
    size: tuple[int, int],
    fmt: str,
    source: np.ndarray | None = None,
    strength: float = 1.0,
    alpha: np.ndarray | None = None,
    tables: JpegTables | None = None,
) -> bytes:
    """The model's first output (one image) → encoded bytes, cropped back to ``size``.

    ``source``, ``strength``, ``alpha`` and ``tables`` as in encode_rgb.
    """
    batch = next(iter(outputs.values()))
    out = conv.to_pixels(batch, size=size)[0]
    out = out if source is None else blend(source, out, strength)
    return encode_image(out, fmt, alpha=alpha, tables=tables)


# -- generate (the contract itself is ptx.runtime.pipelines.generate's) ---------------
def encode_generated(
    images: list[np.ndarray],
    labels: list[dict[str, str]],
    as_json: bool,
    fmt: str,
    extra: dict | None = None,
) -> tuple[bytes, str]:
    """(body, media type): a JSON list of base64 PNGs with their labels, or one grid image.

    ``extra`` (a profile's name, groups and notes) goes into the JSON beside the images.
    """
    if as_json:
        doc = {
            **(extra or {}),
            "images": [
                {"png": base64.b64encode(encode_image(img, "PNG")).decode(), "labels": lab}
                for img, lab in zip(images, labels, strict=True)
            ],
        }
        return json.dumps(doc).encode(), "application/json"
    return encode_image(grid(images), fmt), MEDIA[fmt]
