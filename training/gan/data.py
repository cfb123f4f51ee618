"""Labelled image arrays for the conditional GAN, its classifier and their metrics (NumPy only).

One decoded, square-resized copy of a folder's images plus integer label ids
per key (category, colour), with the vocabularies they index. A folder without
a colour column gets the one-word colour vocabulary ``["any"]``, so a user's
ImageFolder with category sub-folders trains the same generator.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptx.errors import InputError
from ptx.training.data.folders import CLASS_KEYS, ImageFolder

ANY = "any"  # the vocabulary of a label key the folder does not have


@dataclass
class LabelledSet:
    """uint8 images [N, H, W, 3] with label ids per key and the vocabularies they index."""

    images: np.ndarray
    ids: dict[str, np.ndarray]
    vocab: dict[str, list[str]]
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.images)

    def pair_index(self) -> dict[tuple[int, int], np.ndarray]:
        """(category id, colour id) -> indices of the images with that label pair."""
        keys = self.ids["category"] * len(self.vocab["color"]) + self.ids["color"]
        out = {}
        for key in np.unique(keys):
            c, k = divmod(int(key), len(self.vocab["color"]))
            out[(c, k)] = np.flatnonzero(keys == key)
        return out


def has_split(data: Path, split: str) -> bool:
    """True when ``data/labels.csv`` has rows of ``split``."""
    path = Path(data) / "labels.csv"
    if not path.is_file():
        return False
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return any((row.get("split") or "").strip() == split for row in csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error):
        return False  # ImageFolder reports the unreadable file with its own message


def load_labelled(
    data: str | Path,
    size: int,
    split: str | None = None,
    vocab: dict[str, list[str]] | None = None,
    progress: bool = False,
) -> LabelledSet:
    """Images of ``data`` (only ``split`` when labels.csv has it) resized to size x size.

    ``vocab`` fixes the vocabularies (a trained model's); images whose labels are
    outside it are skipped and counted. Without it the folder's own are used.
    """
    data = Path(data)
    use_split = split if split is not None and has_split(data, split) else None
    folder = ImageFolder(data, size=size, split=use_split, progress=progress)
    if "category" not in folder.classes:
        raise InputError(
            f"{data}: no category labels; use category sub-folders (DATA/mug/*.png) "
            "or a labels.csv with a 'category' column"
        )
    if vocab is None:
        vocab = {k: list(folder.classes.get(k, [ANY])) for k in CLASS_KEYS}
    lookup = {k: {v: i for i, v in enumerate(vocab[k])} for k in CLASS_KEYS}
    images, ids, skipped = [], {k: [] for k in CLASS_KEYS}, len(folder.skipped)
    for i in range(len(folder)):
        rgb, labels = folder[i]
        got = {k: lookup[k].get(labels.get(k, ANY)) for k in CLASS_KEYS}
        if any(v is None for v in got.values()):
            skipped += 1
            continue
        images.append(rgb)
        for k in CLASS_KEYS:
            ids[k].append(got[k])
    if not images:
        raise InputError(
            f"{data}: no image has labels in the model's vocabularies "
            f"(category: {', '.join(vocab['category'])}; color: {', '.join(vocab['color'])})"
        )
    return LabelledSet(
        images=np.stack(images),
        ids={k: np.asarray(v, dtype=np.int64) for k, v in ids.items()},
        vocab={k: list(v) for k, v in vocab.items()},
        skipped=skipped,
    )
