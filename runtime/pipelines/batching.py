"""Shared folder-run plumbing: input listing, decode-ahead, same-size batches, atomic saves."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ptx.errors import ImageError, InputError
from ptx.io import (
    IMAGE_SUFFIXES,
    WRITE_FORMATS,
    atomic_write_bytes,
    atomic_write_text,
    encode_for,
    list_images,
    read_image_alpha,
)

OUTPUT_MARK = ".ptx-output"  # hidden file marking a folder run's --out (never listed as input)


@dataclass
class RunSummary:
    """What a folder run did: counts, speed (model load excluded), skipped files and why."""

    images: int
    failed: int
    seconds: float
    images_per_s: float
    backend: str
    out: str
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def line(self) -> str:
        """The one-line summary the CLI prints."""
        return (
            f"{self.images} images, {self.failed} failed, {self.images_per_s:.2f} images/s "
            f"({self.seconds:.2f} s, {self.backend}) -> {self.out}"
        )

    def to_dict(self) -> dict:
        """JSON-able dict (skipped as [{path, reason}])."""
        d = asdict(self)
        d["skipped"] = [{"path": p, "reason": r} for p, r in self.skipped]
        return d


@dataclass
class Item:
    """One input file on its way through the pipeline."""

    source: Path
    dest: Path
    image: np.ndarray | None = None
    x: np.ndarray | None = None  # the model's input, prepared off the engine's thread
    alpha: np.ndarray | None = None  # the input's transparency, given back to its output


def output_path(out_dir: Path, rel: Path, suffix: str | None = None) -> Path:
    """Where ``rel`` is written: same name and format (or ``suffix``), PNG where Pillow cannot."""
    from PIL import features

    if suffix is not None:
        return out_dir / rel.with_suffix(suffix)
    fmt = WRITE_FORMATS.get(rel.suffix.lower())
    if fmt is None or (fmt == "WEBP" and not features.check("webp")):
        rel = rel.with_suffix(".png")
    return out_dir / rel


def _key(path: Path) -> str:
    return str(path).casefold()  # a.PNG and a.png are one file on macOS and Windows


def _disambiguate(items: list[Item]) -> None:
    """Give colliding outputs (a.jpg and a.gif -> a.png) distinct names: a.gif.png."""
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(_key(item.dest), []).append(item)
    for group in groups.values():
        if len(group) < 2:
            continue
        for item in group:
            if item.source.name.casefold() != item.dest.name.casefold():
                item.dest = item.dest.with_name(item.source.name + item.dest.suffix)
    seen: set[str] = set()
    for item in items:
        base, n = item.dest, 1
        while _key(item.dest) in seen:
            n += 1
            item.dest = base.with_name(f"{base.stem}_{n}{base.suffix}")
        seen.add(_key(item.dest))


def mark_output(source: str | Path, out_dir: str | Path) -> None:
    """Mark an ``out_dir`` inside the input folder as ptx's (a rerun may overwrite it)."""
    out = Path(out_dir)
    inside = Path(source).resolve() in out.resolve().parents
    if inside and not (out / OUTPUT_MARK).is_file():
        atomic_write_text(out / OUTPUT_MARK, "images written by ptx run; safe to overwrite\n")


def plan_items(source: str | Path, out_dir: str | Path, suffix: str | None = None) -> list[Item]:
    """Every image under ``source`` (a file or a folder, recursive) with its output path.

    Refused (one line, nothing written) when an output could overwrite an input: ``--out``
    is the input folder, or lies inside it and holds images that are not earlier outputs.
    """
    src, out = Path(source), Path(out_dir)
    if not src.exists():
        raise InputError(f"{src}: no such file or folder")
    if src.is_file():
        inputs = [src]
        items = [Item(src, output_path(out, Path(src.name), suffix))]
    else:
        inputs = list_images(src)
        files = inputs
        dest = out.resolve()
        if dest == src.resolve():
            raise InputError(
                f"{out}: --out is the input folder, so outputs would overwrite the inputs; "
                f"pick another folder"
            )
        if src.resolve() in dest.parents:  # --out inside --input: never read outputs back
            files = [f for f in inputs if dest not in f.resolve().parents]
            held = [f for f in inputs if dest in f.resolve().parents]
            if held and not (out / OUTPUT_MARK).is_file():
                raise InputError(
                    f"{out}: --out is inside the input folder and holds {len(held)} input "
                    f"images (e.g. {held[0]}) that outputs could overwrite; pick an --out "
                    f"outside {src}"
                )
            inputs = files
        items = [Item(f, output_path(out, f.relative_to(src), suffix)) for f in files]
    if not items:
        raise InputError(f"{src}: no images found (looked for {', '.join(IMAGE_SUFFIXES)})")
    _disambiguate(items)
    sources = {_key(f.resolve()): f for f in inputs}
    for item in items:
        hit = sources.get(_key(item.dest.resolve()))
        if hit is not None:
            raise InputError(
                f"{hit}: --out would overwrite the input (the output of {item.source}); "
                f"pick another folder"
            )
    return items


def read_into(item: Item) -> None:
    """Decode ``item.source`` into ``item.image`` and ``item.alpha`` (decode_ahead's default)."""
    item.image, item.alpha = read_image_alpha(item.source)


def decode_ahead(
    pool: ThreadPoolExecutor,
    items: list[Item],
    lookahead: int,
    on_error,
    prepare: Callable[[Item], None] = read_into,
) -> Iterator[Item]:
    """Yield items once ``prepare`` (decode, by default) ran on them, in order.

    At most ``lookahead`` items are in flight or waiting (bounded memory); an item
    whose decode fails goes to ``on_error`` with the one-line reason.
    """
    queue: deque[tuple[Item, Future]] = deque()
    todo = iter(items)
    for item in todo:
        queue.append((item, pool.submit(prepare, item)))
        if len(queue) >= lookahead:
            break
    while queue:
        item, future = queue.popleft()
        nxt = next(todo, None)
        if nxt is not None:
            queue.append((nxt, pool.submit(prepare, nxt)))
        try:
            future.result()
        except (ImageError, InputError) as exc:
            item.image = item.x = None
            on_error(item, str(exc))
            continue
        yield item


def same_size_batches(items: Iterable[Item], batch: int) -> Iterator[list[Item]]:
    """Group consecutive items of one image size, at most ``batch`` each (sizes never mix)."""
    group: list[Item] = []
    for item in items:
        if group and (len(group) == batch or item.image.shape != group[0].image.shape):
            yield group
            group = []
        group.append(item)
    if group:
        yield group


def save_image(
    dest: Path, rgb: np.ndarray, alpha: np.ndarray | None = None, source: Path | None = None
) -> None:
    """Encode in the format of ``dest``'s suffix and write it atomically: with ``alpha``
    where the format holds one, and a JPEG ``source``'s tables for a JPEG (ptx.io.encode_for)."""
    atomic_write_bytes(dest, encode_for(dest, rgb, alpha=alpha, source=source))
