"""Generate product images with a conditional generator (NumPy only, never torch).

The model takes ``z`` [batch, latent] float32 plus one int64 [batch] input per
label key (``category``, ``color``) and returns an image batch; its ModelSpec
carries the label vocabularies, the latent size and the output's value range.
z is drawn here from the seed (standard normal), so the graph has no random op
and the same seed gives the same images on every backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ptx.errors import InputError, ModelError
from ptx.image import postprocess
from ptx.runtime.engine import Engine
from ptx.spec import ImageConvention

MAX_CHUNK = 64  # the family's profile max batch; larger n runs in chunks


def _vocab(engine: Engine) -> dict[str, list[str]]:
    spec = engine.spec
    if spec is None or not spec.labels:
        raise ModelError(
            f"{engine.path.name}: no label vocabularies in the model's ModelSpec; "
            "export a conditional generator with `ptx export --checkpoint`"
        )
    names = {t.name for t in engine.inputs}
    missing = [k for k in spec.labels if k not in names]
    if missing or "z" not in names:
        raise ModelError(
            f"{engine.path.name}: a generator needs inputs z and {', '.join(spec.labels)}, "
            f"it has {', '.join(sorted(names))}"
        )
    return spec.labels


def latent_size(engine: Engine) -> int:
    """The length of z: the spec's latent_size, else the z input's fixed last dim."""
    if engine.spec is not None and engine.spec.latent_size:
        return int(engine.spec.latent_size)
    z = next(t for t in engine.inputs if t.name == "z")
    if not isinstance(z.shape[-1], int):
        raise ModelError(f"{engine.path.name}: latent size unknown (no spec, z dim dynamic)")
    return int(z.shape[-1])


def label_ids(
    vocab: dict[str, list[str]], labels: dict[str, str] | None, n: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """int64 ids per key: the given value for every sample, else one drawn per sample."""
    labels = dict(labels or {})
    unknown_keys = sorted(set(labels) - set(vocab))
    if unknown_keys:
        raise InputError(
            f"unknown label '{unknown_keys[0]}' (this model has: {', '.join(vocab)}); "
            f"use --label KEY=VALUE with one of those keys"
        )
    out = {}
    for key, values in vocab.items():
        if key in labels:
            if labels[key] not in values:
                raise InputError(
                    f"unknown {key} '{labels[key]}'; valid values: {', '.join(values)}"
                )
            out[key] = np.full(n, values.index(labels[key]), dtype=np.int64)
        else:
            out[key] = rng.integers(0, len(values), size=n).astype(np.int64)
    return out


def sample(
    engine: Engine, z: np.ndarray, ids: dict[str, np.ndarray], conv: ImageConvention | None = None
) -> list[np.ndarray]:
    """Run the generator on given z and label ids, in chunks; uint8 HWC RGB images."""
    if engine.spec is not None and engine.spec.image is not None and conv is None:
        conv = engine.spec.image
    conv = conv or ImageConvention(range=(-1.0, 1.0))
    out_name = engine.outputs[0].name
    images: list[np.ndarray] = []
    for start in range(0, len(z), MAX_CHUNK):
        sl = slice(start, start + MAX_CHUNK)
        feeds = {"z": z[sl], **{k: v[sl] for k, v in ids.items()}}
        images += postprocess(np.asarray(engine.run(feeds)[out_name]), conv)
    return images


def generate(
    engine: Engine, labels: dict[str, str] | None = None, n: int = 16, seed: int = 0
) -> tuple[list[np.ndarray], list[dict[str, str]]]:
    """n uint8 RGB images and the labels each was generated for (z and free labels from seed)."""
    if n < 1:
        raise InputError(f"--n must be at least 1, got {n}")
    vocab = _vocab(engine)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, latent_size(engine)), dtype=np.float32)
    ids = label_ids(vocab, labels, n, rng)
    images = sample(engine, z, ids)
    per_image = [{k: vocab[k][int(ids[k][i])] for k in vocab} for i in range(n)]
    return images, per_image


def grid(images: list[np.ndarray], nrow: int, pad: int = 2) -> np.ndarray:
    """uint8 HWC images -> one uint8 image, ``nrow`` per row, white gutters of ``pad`` px."""
    if not images:
        raise InputError("grid needs at least one image")
    if nrow < 1:
        raise InputError(f"grid needs nrow >= 1, got {nrow}")
    h, w = images[0].shape[:2]
    if any(im.shape[:2] != (h, w) for im in images):
        raise InputError("grid needs images of one size")
    rows = -(-len(images) // nrow)
    out = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, 3), 255, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[y : y + h, x : x + w] = im
    return out


def write_images(
    images: list[np.ndarray], labels: list[dict[str, str]], out: str | Path
) -> list[Path]:
    """Write each image atomically as OUT/NNNN_<category>_<color>.png; the paths written."""
    from ptx.io import write_image

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder; pick another path")
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (im, lab) in enumerate(zip(images, labels, strict=True)):
        tag = "_".join(v.replace("/", "-") for v in lab.values())
        path = out / f"{i:04d}_{tag}.png"
        write_image(path, im)
        paths.append(path)
    return paths
