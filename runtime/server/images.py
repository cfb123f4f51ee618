"""Image routes' work (run off the event loop): decode → model batch → PNG/JPEG; generate feeds."""

from __future__ import annotations

import base64
import io
import math

import numpy as np

from ptx.errors import InputError, ModelError
from ptx.image import postprocess, preprocess
from ptx.io import decode_image, encode_image
from ptx.runtime.engine import Engine
from ptx.runtime.server.http import HTTPError
from ptx.spec import ImageConvention


def image_pixels(data: bytes) -> int | None:
    """Width × height from the image header alone (None when Pillow cannot read it)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            w, h = img.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    return w * h


def image_model(engine: Engine, route: str) -> tuple[str, np.dtype, ImageConvention]:
    """(input name, dtype, convention) of a one-image-input model fit for ``route``."""
    from ptx.runtime.pipelines.enhance import image_convention, image_input

    spec = engine.spec
    if spec is not None and spec.task not in (route, "custom"):
        raise InputError(f"this is a '{spec.task}' model; /{route} serves {route} models")
    info = image_input(engine)
    return info.name, info.dtype, image_convention(engine)


def decode_for_model(
    data: bytes, max_pixels: int, name: str, dtype: np.dtype, conv: ImageConvention
) -> tuple[dict[str, np.ndarray], tuple[int, int]]:
    """Image bytes → ({input: 1×… batch}, (h, w)); 413 over the pixel limit, 400 unreadable."""
    pixels = image_pixels(data)
    if pixels is not None and pixels > max_pixels:
        raise HTTPError(
            413, f"image has {pixels / 1e6:.1f} MP, over the {max_pixels / 1e6:g} MP limit"
        )
    rgb = decode_image(data, "request body", limit=max_pixels)
    return {name: preprocess([rgb], conv, dtype=dtype)}, rgb.shape[:2]


def encode_output(
    outputs: dict[str, np.ndarray], conv: ImageConvention, size: tuple[int, int], fmt: str
) -> bytes:
    """The model's first output (one image) → encoded bytes, cropped back to ``size``."""
    batch = next(iter(outputs.values()))
    return encode_image(postprocess(batch, conv, size=size)[0], fmt)


# -- generate ---------------------------------------------------------------------------
def _label_inputs(engine: Engine, keys: list[str]) -> dict[str, list[str]]:
    """Integer input name → the label keys it takes (one per input, or all in one [N, K])."""
    ints = [t for t in engine.inputs if t.dtype.kind in "iu"]
    by_name = {}
    for t in ints:
        stem = t.name.removeprefix("label_").removesuffix("_id").removesuffix("_ids")
        if stem in keys:
            by_name[t.name] = [stem]
    if len(by_name) == len(keys) == len(ints):
        return by_name
    width = ints[0].shape[1] if len(ints) == 1 and len(ints[0].shape) == 2 else -1
    if keys and (width == len(keys) or not isinstance(width, int)):
        return {ints[0].name: keys}
    if not keys and not ints:
        return {}
    raise ModelError(
        f"cannot match the model's integer inputs {[t.name for t in ints]} "
        f"to its spec labels {keys}"
    )


def generate_plan(engine: Engine) -> tuple[str, int, dict[str, list[str]], dict[str, list[str]]]:
    """(z input, latent size, label vocabularies, int input → label keys) of a generator."""
    spec = engine.spec
    if spec is None or spec.task != "generate":
        task = spec.task if spec else "foreign (no ModelSpec)"
        raise InputError(f"this is a {task} model; /generate serves 'generate' models")
    floats = [t for t in engine.inputs if t.dtype.kind == "f"]
    if len(floats) != 1 or len(floats[0].shape) != 2:
        raise ModelError("a generator needs one 2-D float input z [batch, latent]")
    z = floats[0]
    latent = spec.latent_size or (z.shape[1] if isinstance(z.shape[1], int) else None)
    if not latent:
        raise ModelError("the generator's spec gives no latent_size and z has no fixed width")
    vocab = {k: list(v) for k, v in spec.labels.items()}
    return z.name, int(latent), vocab, _label_inputs(engine, list(vocab))


def generate_feeds(
    engine: Engine, labels: dict[str, str], n: int, seed: int
) -> tuple[dict[str, np.ndarray], list[dict[str, str]]]:
    """Inputs for ``n`` samples: z ~ N(0, 1) from ``seed``, labels given or drawn per sample.

    Draw order (reproducible for a given seed): z as one (n, latent) float32 draw,
    then for each label key in spec order either the given value or n integer draws.
    """
    z_name, latent, vocab, mapping = generate_plan(engine)
    unknown = sorted(set(labels) - set(vocab))
    if unknown:
        raise InputError(f"unknown label(s) {unknown}; this model takes {sorted(vocab)}")
    rng = np.random.default_rng(seed)
    feeds = {z_name: rng.standard_normal((n, latent), dtype=np.float32)}
    ids: dict[str, np.ndarray] = {}
    for key, values in vocab.items():
        if key in labels:
            if labels[key] not in values:
                raise InputError(f"label {key}='{labels[key]}' is not one of {values}")
            ids[key] = np.full(n, values.index(labels[key]), dtype=np.int64)
        else:
            ids[key] = rng.integers(0, len(values), n, dtype=np.int64)
    dtypes = {t.name: (t.dtype, len(t.shape)) for t in engine.inputs}
    for name, keys in mapping.items():
        dtype, rank = dtypes[name]
        cols = np.stack([ids[k] for k in keys], axis=1) if rank == 2 else ids[keys[0]]
        feeds[name] = cols.astype(dtype)
    per_sample = [{k: vocab[k][int(ids[k][i])] for k in vocab} for i in range(n)]
    return feeds, per_sample


def chunk_feeds(feeds: dict[str, np.ndarray], size: int) -> list[dict[str, np.ndarray]]:
    """Split along the batch axis into pieces of at most ``size`` samples."""
    n = next(iter(feeds.values())).shape[0]
    return [{k: v[i : i + size] for k, v in feeds.items()} for i in range(0, n, size)]


def grid(images: list[np.ndarray], gap: int = 2) -> np.ndarray:
    """Tile same-size uint8 RGB images into a near-square grid on white."""
    n = len(images)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    h, w = images[0].shape[:2]
    out = np.full((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = img
    return out


def generated_images(parts: list[dict[str, np.ndarray]], conv: ImageConvention) -> list[np.ndarray]:
    """Each chunk's first output → uint8 RGB images, in order."""
    out: list[np.ndarray] = []
    for outputs in parts:
        out.extend(postprocess(next(iter(outputs.values())), conv))
    return out


def encode_generated(
    images: list[np.ndarray], labels: list[dict[str, str]], as_json: bool, fmt: str
) -> tuple[bytes, str]:
    """(body, media type): a JSON list of base64 PNGs with their labels, or one grid image."""
    if as_json:
        import json

        doc = {
            "images": [
                {"png": base64.b64encode(encode_image(img, "PNG")).decode(), "labels": lab}
                for img, lab in zip(images, labels, strict=True)
            ]
        }
        return json.dumps(doc).encode(), "application/json"
    media = "image/jpeg" if fmt == "JPEG" else "image/png"
    return encode_image(grid(images), fmt), media
