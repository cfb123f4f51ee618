"""What a batch run reads: a folder, a list file (one path a line) or a Parquet table of paths."""

from __future__ import annotations

import os
from pathlib import Path

from ptx.errors import InputError
from ptx.runtime.pipelines.batching import Item, output_path, plan_items

LIST_SUFFIXES = (".txt", ".lst", ".list")
PARQUET_SUFFIXES = (".parquet", ".pq")
PATH_COLUMNS = ("path", "input", "image", "file")


def _key(path: Path) -> str:
    return str(path.resolve()).casefold()


def read_list(path: Path) -> list[Path]:
    """Paths from a list file, one a line (blank lines and ``#`` comments skipped).

    A relative path is taken relative to the list file's folder.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    names = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    return [p if p.is_absolute() else path.parent / p for p in map(Path, names)]


def read_parquet(path: Path) -> list[Path]:
    """Paths from a Parquet table: its ``path`` (or input/image/file) column, else its only one."""
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - comes with ray[data]
        from ptx.errors import MissingDependency

        raise MissingDependency("pyarrow", "batch", "a Parquet input") from exc
    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds
        raise InputError(f"{path}: not a readable Parquet table ({exc})") from exc
    names = [c for c in PATH_COLUMNS if c in table.column_names]
    if not names and len(table.column_names) != 1:
        raise InputError(
            f"{path}: no 'path' column (has {', '.join(table.column_names)}); "
            "name the column of image paths 'path'"
        )
    column = table.column(names[0] if names else table.column_names[0]).to_pylist()
    paths = [Path(str(v)) for v in column if v]
    return [p if p.is_absolute() else path.parent / p for p in paths]


def _root(paths: list[Path]) -> Path:
    """The deepest folder holding every path (names under it are kept in the output)."""
    return Path(os.path.commonpath([str(p.resolve().parent) for p in paths]))


def plan_listed(paths: list[Path], out_dir: str | Path, what: str) -> list[Item]:
    """Items for listed paths: names relative to their common folder; outputs never on inputs."""
    if not paths:
        raise InputError(f"{what}: lists no images")
    out = Path(out_dir)
    root = _root(paths)
    if out.resolve() == root:
        raise InputError(
            f"{out}: --out is the folder of the listed images, so outputs could overwrite "
            "the inputs; pick another folder"
        )
    items, seen = [], set()
    for p in paths:
        if _key(p) in seen:
            continue  # a path listed twice is run once
        seen.add(_key(p))
        items.append(Item(p, output_path(out, p.resolve().relative_to(root))))
    sources = {_key(p) for p in paths}
    dests: set[str] = set()
    for item in items:
        key = _key(item.dest)
        if key in sources:
            raise InputError(
                f"{item.dest}: --out would overwrite an input (the output of {item.source}); "
                "pick another folder"
            )
        if key in dests:
            raise InputError(
                f"{item.dest}: two inputs would write this output (e.g. {item.source}); "
                "rename one of them"
            )
        dests.add(key)
    return items


def plan_batch(source: str | Path, out_dir: str | Path) -> list[Item]:
    """Every input with its output path; a folder follows `ptx run`'s rules (plan_items)."""
    src = Path(source)
    if src.is_file() and src.suffix.lower() in LIST_SUFFIXES:
        return plan_listed(read_list(src), out_dir, str(src))
    if src.is_file() and src.suffix.lower() in PARQUET_SUFFIXES:
        return plan_listed(read_parquet(src), out_dir, str(src))
    return plan_items(src, out_dir)
