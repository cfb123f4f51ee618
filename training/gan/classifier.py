"""A small two-head CNN (category, colour) trained from scratch on real images: the GAN's judge.

Nothing is downloaded: the metrics for generated images come from this
network, trained on the training split and scored on the held-out test split.
A classifier folder holds ``classifier.safetensors`` and ``classifier.json``
(input size, vocabularies, config, held-out accuracy, weights' sha256), each
written atomically, the JSON last.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ptx.errors import InputError, ModelError
from ptx.io import atomic_path, atomic_write_text, sha256_file
from ptx.spec import ImageConvention
from ptx.training.common.loop import LoopState, TrainLoop
from ptx.training.common.schedule import cosine_at
from ptx.training.common.threads import ThreadTuner
from ptx.training.data.folders import CLASS_KEYS
from ptx.training.gan.data import LabelledSet, has_split, load_labelled

WEIGHTS = "classifier.safetensors"
META = "classifier.json"
DEFAULT_WIDTH = 16
# The classifier's own input convention (it has no ModelSpec): the generator's range, so
# generated and real images meet it the same way.
INPUT = ImageConvention(range=(-1.0, 1.0))


def build_classifier(n_categories: int, n_colors: int, width: int = DEFAULT_WIDTH) -> Any:
    """The CNN: NCHW RGB in [-1, 1] -> (category logits, colour logits, features)."""
    import torch
    from torch import nn

    def block(cin: int, cout: int, pool: bool) -> list:
        layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        return layers + ([nn.MaxPool2d(2)] if pool else [])

    class TwoHeadNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            w = width
            self.body = nn.Sequential(
                nn.Conv2d(3, w, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(),
                *block(w, w, True),
                *block(w, 2 * w, True),
                *block(2 * w, 3 * w, True),
                *block(3 * w, 4 * w, False),
            )
            self.drop = nn.Dropout(0.2)
            self.category = nn.Linear(4 * w, n_categories)
            self.color = nn.Linear(4 * w, n_colors)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            f = self.body(x).mean(dim=(2, 3))
            g = self.drop(f)
            return self.category(g), self.color(g), f

    return TwoHeadNet()


def predict(
    model: Any, images: np.ndarray, size: int | None = None, batch: int = 256
) -> dict[str, np.ndarray]:
    """Category/colour predictions and features for uint8 NHWC images.

    ``size``: the classifier's input side; other sizes are area-resized to it first.
    """
    import torch
    import torch.nn.functional as F

    model.eval()
    cats, cols, feats = [], [], []
    with torch.no_grad():
        for s in range(0, len(images), batch):
            xb = torch.from_numpy(INPUT.to_model(images[s : s + batch]))
            if size is not None and tuple(xb.shape[-2:]) != (size, size):
                xb = F.adaptive_avg_pool2d(xb, size)
            c, k, f = model(xb)
            cats.append(c.argmax(1).numpy())
            cols.append(k.argmax(1).numpy())
            feats.append(f.numpy())
    return {
        "category": np.concatenate(cats),
        "color": np.concatenate(cols),
        "features": np.concatenate(feats),
    }


def accuracy(model: Any, data: LabelledSet) -> dict[str, float]:
    """Accuracy per label key on a LabelledSet."""
    pred = predict(model, data.images, size=data.images.shape[1])
    return {f"{k}_accuracy": float(np.mean(pred[k] == data.ids[k])) for k in CLASS_KEYS}


def _augment(u8: np.ndarray, rng: np.random.Generator, shift: int) -> np.ndarray:
    """Random mirror and a random shift of up to ``shift`` px (edge-padded): label-preserving."""
    n, h, w, _ = u8.shape
    flip = rng.random(n) < 0.5
    u8 = u8.copy()
    u8[flip] = u8[flip, :, ::-1]
    padded = np.pad(u8, ((0, 0), (shift, shift), (shift, shift), (0, 0)), mode="edge")
    dy, dx = rng.integers(0, 2 * shift + 1, size=(2, n))
    return np.stack([padded[i, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])


def train_classifier(
    data: Path,
    out: Path,
    steps: int = 1500,
    batch: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    size: int = 64,
    width: int = DEFAULT_WIDTH,
    time_budget_s: float | None = None,
    progress: bool = True,
    threads: int | None = None,
) -> dict[str, Any]:
    """Train on the train split, score the test split (else val, else train), save to ``out``.

    AdamW with cosine decay over the step or time budget, whichever ends first.
    ``threads`` fixes torch's thread count; None times all cores against one (ThreadTuner).
    """
    import torch
    import torch.nn.functional as F

    if steps < 1 or batch < 2 or lr <= 0:
        raise InputError(f"need steps >= 1, batch >= 2, lr > 0; got {steps}, {batch}, {lr}")
    data, out = Path(data), Path(out)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train = load_labelled(data, size, split="train", progress=progress)
    held_split = next((s for s in ("test", "val") if has_split(data, s)), None)
    held = load_labelled(data, size, split=held_split, vocab=train.vocab) if held_split else train
    model = build_classifier(len(train.vocab["category"]), len(train.vocab["color"]), width)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    model.train()

    def step_fn(at: LoopState) -> dict[str, float]:
        idx = rng.integers(0, len(train), size=batch)
        x = torch.from_numpy(INPUT.to_model(_augment(train.images[idx], rng, size // 16)))
        c, k, _ = model(x)
        loss = F.cross_entropy(c, torch.from_numpy(train.ids["category"][idx]))
        loss = loss + F.cross_entropy(k, torch.from_numpy(train.ids["color"][idx]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": float(loss.detach())}

    def summarise(at: LoopState) -> dict[str, Any]:
        return {
            **accuracy(model, held),
            "held_out_split": held_split or "train (no held-out split)",
            "held_out_images": len(held),
            "train_images": len(train),
            "steps": at.step,
            "train_seconds": round(at.seconds, 1),
            "train_loss": at.averages.get("loss", float("nan")),
        }

    def checkpoint(at: LoopState, metrics: dict[str, Any] | None) -> None:
        if metrics is not None:  # no resume state: only the final classifier is saved
            config = {"size": size, "width": width, "vocab": train.vocab}
            save_classifier(out, model, config, metrics)

    result = TrainLoop(
        steps,
        label="train classifier",
        time_budget_s=time_budget_s,
        lr=lambda frac: cosine_at(frac, lr),
        optimizers=[opt],
        tuner=ThreadTuner.for_training(threads, fewer=1),
        checkpoint=checkpoint,
        summarise=summarise,
        progress=progress,
        postfix=lambda at: {"loss": f"{at.averages['loss']:.3f}"},
    ).run(step_fn)
    return dict(result.metrics) | {"keys": list(CLASS_KEYS)}


def save_classifier(out: Path, model: Any, config: dict, metrics: dict) -> Path:
    """Write weights then the JSON (with the weights' sha256), both atomically."""
    from safetensors.torch import save_file

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / WEIGHTS) as tmp:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
    meta = {**config, "metrics": metrics, "sha256": sha256_file(out / WEIGHTS)}
    atomic_write_text(out / META, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return out


def load_classifier(folder: str | Path) -> tuple[Any, dict[str, Any]]:
    """(model in eval mode, its metadata) from a folder written by train_classifier."""
    from safetensors.torch import load_file

    folder = Path(folder)
    if not (folder / META).is_file() or not (folder / WEIGHTS).is_file():
        raise ModelError(
            f"{folder}: not a classifier folder (needs {META} and {WEIGHTS}); "
            "train one with `ptx train classifier --data DIR --out DIR`"
        )
    try:
        meta = json.loads((folder / META).read_text())
        vocab = meta["vocab"]
        model = build_classifier(len(vocab["category"]), len(vocab["color"]), int(meta["width"]))
        model.load_state_dict(load_file(str(folder / WEIGHTS)))
    except (ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(
            f"{folder}: classifier files are unreadable or mismatched ({exc})"
        ) from exc
    model.eval()
    return model, meta
