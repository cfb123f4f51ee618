"""Honest GAN metrics without Inception: conditional accuracy and same-label diversity.

- Conditional accuracy: a classifier trained here on real images (its held-out
  accuracy reported beside) labels each generated sample; the score is how often
  it names the category and colour the sample was generated for.
- Diversity: the mean pairwise L2 distance among samples generated for the same
  (category, colour) pair, averaged over pairs, divided by the same figure for
  real images of those pairs. A collapsed generator scores ~0, a faithful one ~1.
  It is measured in two spaces and the smaller ratio is the headline:
  * pixels of 16x16 area-averaged thumbnails: blurring drops pixel noise and
    fine texture, so the distance follows pose, shape, pattern, background and
    shade, what mode collapse removes; and noise alone cannot inflate it much;
  * the classifier's pooled features: a learned space, less tied to exact
    pixel alignment (a shifted copy of one image scores as nearly the same).
  LPIPS would need downloaded weights, so it is not used.

The generator runs through ``ptx.runtime`` (its ONNX file), not torch.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ptx.errors import InputError, ModelError
from ptx.runtime import load
from ptx.runtime.pipelines.generate import latent_size, sample
from ptx.training.data.folders import CLASS_KEYS
from ptx.training.gan.classifier import load_classifier, predict
from ptx.training.gan.data import LabelledSet, load_labelled

THUMB = 16
REAL_PER_PAIR = 32  # real images per label pair for the diversity reference


def mean_pairwise_distance(x: np.ndarray) -> float:
    """Mean L2 distance over all pairs i < j of the rows of ``x`` (nan with fewer than 2)."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    n = len(x)
    if n < 2:
        return float("nan")
    sq = (x * x).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0)
    iu = np.triu_indices(n, k=1)
    return float(np.sqrt(d2[iu]).mean())


def diversity(groups: dict[Any, np.ndarray]) -> float:
    """Mean over groups (with 2+ rows) of each group's mean pairwise distance."""
    values = [mean_pairwise_distance(g) for g in groups.values() if len(g) >= 2]
    return float(np.mean(values)) if values else float("nan")


def thumbnails(u8: np.ndarray, side: int = THUMB) -> np.ndarray:
    """uint8 [N, H, W, 3] -> float [N, side*side*3] in [0, 1], area-averaged."""
    n, h, w, _ = u8.shape
    if h % side or w % side:
        from PIL import Image

        u8 = np.stack(
            [np.asarray(Image.fromarray(im).resize((side, side), Image.BOX)) for im in u8]
        )
        return u8.reshape(n, -1).astype(np.float32) / 255.0
    a = u8.reshape(n, side, h // side, side, w // side, 3).astype(np.float32).mean(axis=(2, 4))
    return a.reshape(n, -1) / 255.0


def conditional_accuracy(
    predicted: dict[str, np.ndarray], requested: dict[str, np.ndarray]
) -> dict[str, float]:
    """Per-key and joint share of samples whose predicted label equals the requested one."""
    hits = {k: np.asarray(predicted[k]) == np.asarray(requested[k]) for k in requested}
    out = {f"{k}_accuracy": float(v.mean()) for k, v in hits.items()}
    out["joint_accuracy"] = float(np.logical_and.reduce(list(hits.values())).mean())
    return out


def group_by_pair(values: np.ndarray, ids: dict[str, np.ndarray]) -> dict[tuple, np.ndarray]:
    """Rows of ``values`` grouped by their (category, colour) ids."""
    keys = list(zip(*(ids[k].tolist() for k in CLASS_KEYS), strict=True))
    groups: dict[tuple, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    return {k: values[v] for k, v in groups.items()}


def diversity_report(
    gen_u8: np.ndarray,
    gen_feats: np.ndarray,
    gen_ids: dict[str, np.ndarray],
    real_u8: np.ndarray,
    real_feats: np.ndarray,
    real_ids: dict[str, np.ndarray],
) -> dict[str, float]:
    """Same-label diversity of generated vs real, in thumbnail pixels and classifier features."""
    out: dict[str, float] = {}
    for space, g, r in (
        ("pixel", thumbnails(gen_u8), thumbnails(real_u8)),
        ("feature", gen_feats, real_feats),
    ):
        dg, dr = diversity(group_by_pair(g, gen_ids)), diversity(group_by_pair(r, real_ids))
        out[f"diversity_{space}_generated"] = dg
        out[f"diversity_{space}_real"] = dr
        out[f"diversity_{space}_ratio"] = dg / dr if dr > 0 else float("nan")
    out["diversity_ratio"] = min(out["diversity_pixel_ratio"], out["diversity_feature_ratio"])
    return out


def balanced_requests(
    pairs: list[tuple[int, int]], n: int, latent: int, seed: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """z (standard normal from seed) and label ids cycling over ``pairs``, n samples."""
    rng = np.random.default_rng(seed)
    order = [pairs[i % len(pairs)] for i in range(n)]
    ids = {k: np.array([p[i] for p in order], np.int64) for i, k in enumerate(CLASS_KEYS)}
    return rng.standard_normal((n, latent), dtype=np.float32), ids


def _diverse_pairs(real: Any, n: int, seed: int) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Label pairs to sample (2+ real images each; at most n // 2 of them, so each gets 2+
    samples, a seeded subset), and up to REAL_PER_PAIR real image indices per pair."""
    index = {p: rows[:REAL_PER_PAIR] for p, rows in real.pair_index().items() if len(rows) >= 2}
    if not index:
        raise InputError(
            "diversity needs at least 2 real images of some (category, colour) pair; "
            "point --data at a larger labelled folder"
        )
    pairs = sorted(index)
    if len(pairs) > n // 2:
        pick = np.random.default_rng(seed).choice(len(pairs), n // 2, replace=False)
        pairs = [pairs[i] for i in sorted(pick)]
    return pairs, np.sort(np.concatenate([index[p] for p in pairs]))


def _classifier_ids(names: list[str], clf_vocab: list[str], key: str) -> np.ndarray:
    """Map the generator's vocabulary onto the classifier's ids (same words, any order)."""
    missing = [v for v in names if v not in clf_vocab]
    if missing:
        raise ModelError(
            f"the classifier does not know {key} {', '.join(missing)} (it knows "
            f"{', '.join(clf_vocab)}); train it on the generator's data"
        )
    return np.array([clf_vocab.index(v) for v in names], np.int64)


def evaluate_gan(
    model: str | Path,
    classifier: str | Path,
    data: str | Path,
    n: int = 400,
    seed: int = 0,
    backend: str = "onnxruntime",
    progress: bool = True,
) -> dict[str, Any]:
    """Conditional accuracy and diversity of an exported generator against real images."""
    if n < 2:
        raise InputError(f"--n must be at least 2 (diversity needs pairs), got {n}")
    clf, meta = load_classifier(classifier)
    bar = tqdm(total=3, desc="eval gan", disable=not progress, file=sys.stderr)
    with bar, load(model, backend=backend) as engine:
        if engine.spec is None or set(engine.spec.labels) != set(CLASS_KEYS):
            raise ModelError(f"{model}: not a ptx conditional generator (no category/color labels)")
        vocab = engine.spec.labels
        size = int(meta["size"])
        real = load_labelled(data, size, vocab=vocab)  # diversity: every split
        held = load_labelled(data, size, split="test", vocab=vocab)  # sanity: held-out accuracy
        pairs, keep = _diverse_pairs(real, n, seed)
        real = LabelledSet(real.images[keep], {k: v[keep] for k, v in real.ids.items()}, vocab)
        z, ids = balanced_requests(pairs, n, latent_size(engine), seed)
        bar.set_postfix_str("generate")
        images = np.stack(sample(engine, z, ids))
        bar.update()
        bar.set_postfix_str("classify")
        to_clf = {k: _classifier_ids(vocab[k], meta["vocab"][k], k) for k in CLASS_KEYS}
        gen_pred = predict(clf, images, size=size)
        real_pred = predict(clf, real.images, size=size)
        held_pred = predict(clf, held.images, size=size)
        bar.update()
        bar.set_postfix_str("diversity")
        wanted = {k: to_clf[k][ids[k]] for k in ids}
        report: dict[str, Any] = {
            "model": str(model),
            "samples": n,
            "label_pairs": len(pairs),
            "real_images": len(real),
            "seed": seed,
            **conditional_accuracy(gen_pred, wanted),
            **{
                f"real_{k}": v
                for k, v in conditional_accuracy(
                    held_pred, {k: to_clf[k][held.ids[k]] for k in held.ids}
                ).items()
            },
            **diversity_report(
                images, gen_pred["features"], ids, real.images, real_pred["features"], real.ids
            ),
            "classifier": {"path": str(classifier), **meta.get("metrics", {})},
            "generator": engine.spec.metrics,
        }
        bar.update()
    return report
