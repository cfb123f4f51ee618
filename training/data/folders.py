"""A user's image folder as a plain sequence of (uint8 RGB, labels) for training (no torch).

Labels come from ``labels.csv`` at the root when present (the catalogue's layout:
``path`` relative to the root plus label columns and an optional ``split``), else from
each file's first sub-folder name. Every file is decoded once at construction, so bad
files are skipped and counted up front ("1,000 images, 3 skipped").
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import overload

import numpy as np
from tqdm import tqdm

from ptx.errors import ImageError, InputError
from ptx.image import fit
from ptx.io import SkipLog, list_images, read_image

# The label keys a conditional model embeds, in the order its integer inputs take them.
CLASS_KEYS = ("category", "color")
CACHE_BYTES = 512 << 20  # keep decoded images in memory up to this much


def fit_square(rgb: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop to a square and resize to size x size: ``ptx.image.fit``'s "crop" rule.

    The rule a fixed-size model's spec records as ``fit="crop"`` (the VAE), so a
    folder read for training meets the model as the runtime's images do.
    """
    if size < 1:
        raise InputError(f"size must be at least 1 px, got {size}")
    return fit(rgb, size, size, "crop")


def read_labels_csv(root: Path) -> list[tuple[Path, dict[str, str], str | None]]:
    """Rows of ``root/labels.csv`` as (file, labels, split); paths must stay inside root."""
    path = root / "labels.csv"
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames or []
            if "path" not in fields:
                raise InputError(
                    f"{path}: no 'path' column (found: {', '.join(fields) or 'nothing'}); "
                    "the first line must name the columns, e.g. path,category,color,split"
                )
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: cannot read ({exc}); fix or delete it") from exc
    out = []
    base = root.resolve()
    for line, row in enumerate(rows, start=2):
        rel = (row.get("path") or "").strip()
        file = (root / rel).resolve()
        if not rel or Path(rel).is_absolute() or not file.is_relative_to(base):
            raise InputError(
                f"{path}:{line}: path '{rel}' must be relative and inside {root}; fix that row"
            )
        labels = {
            k: v for k, v in row.items() if k not in ("path", "split") and k and v is not None
        }
        out.append((root / rel, labels, (row.get("split") or "").strip() or None))
    return out


def folder_labels(root: Path, file: Path) -> dict[str, str]:
    """``{"category": first sub-folder}``, or no labels for files directly under root."""
    parts = file.relative_to(root).parts
    return {"category": parts[0]} if len(parts) > 1 else {}


class ImageFolder(Sequence):
    """Readable images under ``root`` with labels; ``.skipped`` counts the files left out."""

    def __init__(
        self,
        root: str | Path,
        size: int | None = None,
        split: str | None = None,
        progress: bool = False,
        cache: bool | None = None,
        workers: int = 4,
    ) -> None:
        self.root = Path(root)
        self.size = size
        self.skipped = SkipLog()
        if size is not None and size < 1:
            raise InputError(f"size must be at least 1 px, got {size}")
        entries = self._entries(split)
        # cache=None: keep decoded images when they are resized and fit the budget.
        if cache is None:
            cache = size is not None and len(entries) * size * size * 3 <= CACHE_BYTES
        self.paths: list[Path] = []
        self.labels: list[dict[str, str]] = []
        self._cache: list[np.ndarray] | None = [] if cache else None
        self._load(entries, progress, workers)
        if not self.paths:
            raise InputError(
                f"{self.root}: no readable images ({len(self.skipped)} skipped); "
                "point at a folder of jpg/png/webp files"
            )
        self.classes: dict[str, list[str]] = {
            k: sorted({lab[k] for lab in self.labels if lab.get(k)})
            for k in CLASS_KEYS
            if any(lab.get(k) for lab in self.labels)
        }

    def _entries(self, split: str | None) -> list[tuple[Path, dict[str, str]]]:
        """(file, labels) to load, from labels.csv or the folder tree, filtered by split."""
        if not self.root.exists():
            raise InputError(f"{self.root}: no such folder")
        if self.root.is_dir() and (self.root / "labels.csv").is_file():
            rows = read_labels_csv(self.root)
            if split is not None:
                present = sorted({s for _, _, s in rows if s})
                rows = [r for r in rows if r[2] == split]
                if not rows:
                    raise InputError(
                        f"{self.root}/labels.csv: no rows with split '{split}' "
                        f"(splits present: {', '.join(present) or 'none'})"
                    )
            return [(file, labels) for file, labels, _ in rows]
        if split is not None:
            raise InputError(
                f"{self.root}: --split needs a labels.csv with a 'split' column (none found)"
            )
        files = list_images(self.root)
        if not files:
            raise InputError(f"{self.root}: no images found (jpg/png/webp/bmp/tiff)")
        if self.root.is_file():
            return [(files[0], {})]
        return [(f, folder_labels(self.root, f)) for f in files]

    def _read(self, path: Path) -> np.ndarray:
        rgb = read_image(path)
        return fit_square(rgb, self.size) if self.size is not None else rgb

    def _try(self, path: Path) -> np.ndarray | str:
        try:
            return self._read(path)
        except ImageError as exc:
            return str(exc)

    def _load(self, entries: list[tuple[Path, dict[str, str]]], progress: bool, workers: int):
        """Decode every entry once (threads: Pillow decodes without the GIL); skip bad ones."""
        bar = tqdm(
            total=len(entries), unit="img", desc="scan", disable=not progress, file=sys.stderr
        )
        with ThreadPoolExecutor(max(workers, 1)) as pool:
            for (path, labels), result in zip(
                entries, pool.map(self._try, [p for p, _ in entries]), strict=True
            ):
                bar.update(1)
                if isinstance(result, str):
                    self.skipped.add(path, result)
                    continue
                self.paths.append(path)
                self.labels.append(labels)
                if self._cache is not None:
                    self._cache.append(result)
        bar.close()

    def __len__(self) -> int:
        return len(self.paths)

    @overload
    def __getitem__(self, i: int) -> tuple[np.ndarray, dict[str, str]]: ...
    @overload
    def __getitem__(self, i: slice) -> list[tuple[np.ndarray, dict[str, str]]]: ...

    def __getitem__(self, i):
        """(uint8 HxWx3 RGB, labels) of image ``i``."""
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        rgb = self._cache[i] if self._cache is not None else self._read(self.paths[i])
        return rgb, dict(self.labels[i])

    def describe(self) -> dict[str, object]:
        """Counts and vocabularies, JSON-ready."""
        return {
            "root": str(self.root),
            "images": len(self),
            "skipped": len(self.skipped),
            "classes": self.classes,
        }
