"""What the per-family CPU studies share: a loop over the registry, a fresh auto trial, output.

``cpu_backends`` and ``precision_ladder`` both measure every registered family at a few
batch sizes and write one Markdown page plus its JSON under the results folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ptx import runtime
from ptx.benchmarks.harness.report import results_dir
from ptx.errors import ModelError
from ptx.io import atomic_write_text
from ptx.runtime.backends.auto.cache import CACHE_SUFFIX
from ptx.training.common import registry


def measure_families(
    families: Iterable[str] | None, prefix: str, measure: Callable[[str, Path], list]
) -> tuple[list, list[str]]:
    """``measure(family, work_folder)`` for every family (default: the registry's); skips."""
    cases: list = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        for family in families or registry.names():
            try:
                registry.get(family)
            except (ImportError, ModelError) as exc:  # a family whose module is not written yet
                skipped.append(f"`{family}`: not importable ({exc})")
                continue
            cases += measure(family, Path(tmp))
    return cases, skipped


def fresh_auto(path: Path, work: Path, threads: int, shapes: dict, **options: Any):
    """An ``auto`` engine that pays its trial now: a fresh cache, this study's shape."""
    path.with_name(path.name + CACHE_SUFFIX).unlink(missing_ok=True)
    saved = {k: os.environ.get(k) for k in ("PTX_CACHE_DIR", "PTX_BACKEND")}
    os.environ["PTX_CACHE_DIR"] = str(work / "cache")
    os.environ.pop("PTX_BACKEND", None)  # the study measures auto's own choice
    try:
        return runtime.load(path, threads=threads, backend="auto", trial_shapes=shapes, **options)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def write_study(
    cases: list, meta: dict, markdown: Callable[[list, dict], str], stem: str, out: Any
) -> Path:
    """<out>/<host>-<stem>.md and .json (cases need ``to_dict``); the Markdown path."""
    md = results_dir(out) / f"{meta['host']}-{stem}.md"
    atomic_write_text(md, markdown(cases, meta))
    doc = {"meta": meta, "cases": [c.to_dict() for c in cases]}
    atomic_write_text(md.with_suffix(".json"), json.dumps(doc, indent=2) + "\n")
    return md


def load_average() -> str:
    """The 1/5/15-minute load averages, or '?' where the OS has none."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"
