"""Generate product images with a conditional generator (NumPy only, never torch).

The generator contract, coded once for `ptx run generate`, the server's /generate
route and the GAN evaluation:

- inputs: one 2-D float latent input [batch, latent] of any name (``z`` by
  convention), and the label inputs: one integer [batch] input per label key of
  the spec, matched by name (``category``, ``label_category``, ``category_id``),
  or a single integer [batch, K] input taking all K keys in spec order; a
  generator without labels has no integer inputs;
- the latent size is the spec's ``latent_size``, else the latent input's fixed width;
- the output (the first) is an image batch in the spec's image convention
  (``ImageConvention()``'s defaults when the spec gives none);
- draw order for a seed (``numpy.random.default_rng(seed)``): z as one (n, latent)
  float32 standard-normal draw, then for each label key in spec order either the
  given value or n integer draws. The graph has no random op, so the same seed
  gives the same images on every backend and through every caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ptx.errors import InputError, ModelError
from ptx.image import grid
from ptx.io import write_image
from ptx.runtime.engine import Engine
from ptx.spec import ImageConvention
from ptx.tensors import TensorInfo

__all__ = [
    "GeneratorPlan",
    "chunks",
    "draw",
    "feeds_for",
    "generate",
    "generate_feeds",
    "generator_plan",
    "grid",
    "label_ids",
    "latent_size",
    "sample",
    "to_images",
    "write_images",
]

MAX_CHUNK = 64  # the family's profile max batch; larger n runs in chunks


@dataclass(frozen=True)
class GeneratorPlan:
    """How to feed one generator and read it: latent input and size, labels, convention."""

    latent_input: TensorInfo
    latent: int
    vocab: dict[str, list[str]]
    label_inputs: dict[str, list[str]]  # integer input name -> the label keys it takes
    dtypes: dict[str, tuple[np.dtype, int]]  # input name -> (dtype, rank)
    conv: ImageConvention


def _label_inputs(engine: Engine, keys: list[str]) -> dict[str, list[str]]:
    """Integer input name -> the label keys it takes (one per input, or all in one [N, K])."""
    ints = [t for t in engine.inputs if t.dtype.kind in "iu"]
    if not keys and not ints:
        return {}
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
    raise ModelError(
        f"{engine.path.name}: cannot match the generator's integer inputs "
        f"{[t.name for t in ints]} to its spec labels {keys}"
    )


def generator_plan(engine: Engine) -> GeneratorPlan:
    """The generator contract (module docstring) applied to ``engine``, or one error line."""
    spec = engine.spec
    if spec is None or spec.task not in ("generate", "custom"):
        what = f"a '{spec.task}' model" if spec else "a model without a ModelSpec"
        raise InputError(
            f"{engine.path.name}: {what}, not a generator; pass a generator exported from "
            "its checkpoint (task 'generate')"
        )
    floats = [t for t in engine.inputs if t.dtype.kind == "f"]
    if len(floats) != 1 or len(floats[0].shape) != 2:
        io = ", ".join(f"{t.name}{list(t.shape)}" for t in engine.inputs)
        raise ModelError(
            f"{engine.path.name}: a generator needs one 2-D float latent input [batch, latent], "
            f"it has: {io}"
        )
    z = floats[0]
    latent = spec.latent_size or (z.shape[1] if isinstance(z.shape[1], int) else None)
    if not latent:
        raise ModelError(
            f"{engine.path.name}: latent size unknown (no latent_size in the spec, "
            f"and '{z.name}' has no fixed width)"
        )
    vocab = {k: list(v) for k, v in spec.labels.items()}
    return GeneratorPlan(
        latent_input=z,
        latent=int(latent),
        vocab=vocab,
        label_inputs=_label_inputs(engine, list(vocab)),
        dtypes={t.name: (t.dtype, len(t.shape)) for t in engine.inputs},
        conv=spec.image or ImageConvention(),
    )


def latent_size(engine: Engine) -> int:
    """The length of the latent vector (the spec's latent_size, else the input's width)."""
    return generator_plan(engine).latent


def label_ids(
    vocab: Mapping[str, list[str]],
    labels: Mapping[str, str] | None,
    n: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """int64 ids per key in vocabulary order: the given value for every sample, else n draws."""
    labels = dict(labels or {})
    unknown = sorted(set(labels) - set(vocab))
    if unknown:
        raise InputError(
            f"unknown label '{unknown[0]}' (this model has: {', '.join(vocab) or 'no labels'})"
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
            out[key] = rng.integers(0, len(values), size=n, dtype=np.int64)
    return out


def draw(
    plan: GeneratorPlan, labels: Mapping[str, str] | None, n: int, seed: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(z, label ids) for ``n`` samples in the contract's draw order."""
    if n < 1:
        raise InputError(f"the number of images must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, plan.latent), dtype=np.float32)
    return z, label_ids(plan.vocab, labels, n, rng)


def feeds_for(
    plan: GeneratorPlan, z: np.ndarray, ids: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The engine's inputs from latent vectors and label ids (keyed by label)."""
    zt = plan.latent_input
    feeds = {zt.name: np.asarray(z).astype(zt.dtype, copy=False)}
    for name, keys in plan.label_inputs.items():
        dtype, rank = plan.dtypes[name]
        cols = np.stack([ids[k] for k in keys], axis=1) if rank == 2 else ids[keys[0]]
        feeds[name] = np.asarray(cols).astype(dtype, copy=False)
    return feeds


def generate_feeds(
    plan: GeneratorPlan, labels: Mapping[str, str] | None, n: int, seed: int
) -> tuple[dict[str, np.ndarray], list[dict[str, str]]]:
    """The feeds for ``n`` samples from ``seed`` and the labels each sample was made for."""
    z, ids = draw(plan, labels, n, seed)
    per_sample = [{k: plan.vocab[k][int(ids[k][i])] for k in plan.vocab} for i in range(n)]
    return feeds_for(plan, z, ids), per_sample


def chunks(feeds: Mapping[str, np.ndarray], size: int) -> list[dict[str, np.ndarray]]:
    """``feeds`` split along the batch axis into pieces of at most ``size`` samples."""
    n = next(iter(feeds.values())).shape[0]
    return [{k: v[i : i + size] for k, v in feeds.items()} for i in range(0, n, size)]


def to_images(plan: GeneratorPlan, parts: list[Mapping[str, np.ndarray]]) -> list[np.ndarray]:
    """Each chunk's first output -> uint8 HWC RGB images, in order."""
    out: list[np.ndarray] = []
    for outputs in parts:
        out.extend(plan.conv.to_pixels(np.asarray(next(iter(outputs.values())))))
    return out


def sample(
    engine: Engine,
    z: np.ndarray,
    ids: Mapping[str, np.ndarray],
    conv: ImageConvention | None = None,
) -> list[np.ndarray]:
    """Run the generator on given z and label ids (keyed by label), in chunks; uint8 images.

    ``conv`` replaces the spec's image convention (a foreign generator's output range).
    """
    plan = generator_plan(engine)
    if conv is not None:
        plan = replace(plan, conv=conv)
    feeds = feeds_for(plan, z, ids)
    return to_images(plan, [engine.run(part) for part in chunks(feeds, MAX_CHUNK)])


def generate(
    engine: Engine, labels: Mapping[str, str] | None = None, n: int = 16, seed: int = 0
) -> tuple[list[np.ndarray], list[dict[str, str]]]:
    """n uint8 RGB images and the labels each was generated for (z and free labels from seed)."""
    plan = generator_plan(engine)
    feeds, per_sample = generate_feeds(plan, labels, n, seed)
    return to_images(plan, [engine.run(part) for part in chunks(feeds, MAX_CHUNK)]), per_sample


def write_images(
    images: list[np.ndarray], labels: list[dict[str, str]], out: str | Path
) -> list[Path]:
    """Write each image atomically as OUT/NNNN_<category>_<color>.png; the paths written."""
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
