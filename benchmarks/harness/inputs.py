"""Benchmark inputs: ptx.inputs's one rule, plus the note a bench report carries.

Shapes and values come from ``ptx.inputs`` (``--shapes`` first, then static dims,
then the spec profile's ``opt``; open batch -> 1, other open dims -> 64), as for
export's calibration and the runtime's ``auto`` trial. What the bench adds: a note
naming each input whose non-batch dims that rule filled, so a report measured at
an assumed size says so. The studies, which take one ``--size`` for every image
side, size open dims with ``sized_shapes``. ``onnx_shapes`` gives the same shapes
from the ONNX file alone, before any engine loads: the size ``--backend auto``'s trial
must run at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptx.formats.onnx import graph_io, load_onnx
from ptx.inputs import (
    TensorLike,
    check_profile,
    defaulted,
    example_inputs,
    open_dims,
    resolve_shapes,
)
from ptx.spec import ModelSpec, spec_from_onnx
from ptx.tensors import NamedShape, Shape, format_shape, parse_int_list


@dataclass
class BenchInputs:
    """Every input's shape, one feed of them, and the notes for the report."""

    shapes: dict[str, Shape]
    feeds: dict[str, np.ndarray]
    notes: list[str]


def parse_batches(text: str | None) -> list[int | None]:
    """``--batch 1,8,32`` -> [1, 8, 32]; none given -> [None] (batch from shapes or the spec)."""
    return list(parse_int_list(text, "--batch") or [None])


def bench_inputs(
    where: str,
    tensors: Sequence[TensorLike],
    spec: ModelSpec | None,
    given: Sequence[NamedShape] = (),
    batch: int | None = None,
    seed: int = 0,
) -> BenchInputs:
    """Shapes by ptx.inputs's rule, a feed of them, and a note per input the rule sized."""
    shapes = resolve_shapes(tensors, spec, given, batch, where=where)
    feeds = example_inputs(tensors, spec, shapes, seed)
    return BenchInputs(shapes, feeds, default_notes(tensors, spec, given, shapes))


def default_notes(
    tensors: Sequence[TensorLike],
    spec: ModelSpec | None,
    given: Sequence[NamedShape],
    shapes: dict[str, Shape],
) -> list[str]:
    """One line per input whose non-batch open dims were filled (no --shapes, no profile)."""
    names = {g.name for g in given}
    sized = set(defaulted(tensors, spec, {n: None for n in names}))
    notes = []
    for t in tensors:
        if t.name in sized and any(axis > 0 for axis in open_dims(t)):
            example = "x".join(str(d) if isinstance(d, int) else "N" for d in t.shape)
            notes.append(
                f"note: input '{t.name}' has open dims and no spec profile; measured at "
                f"{format_shape(shapes[t.name])} (choose with --shapes {t.name}:{example})"
            )
    return notes


def sized_shapes(
    tensors: Sequence[TensorLike],
    spec: ModelSpec | None,
    batch: int,
    side: int,
    where: str = "model",
) -> dict[str, Shape]:
    """A study's shapes: batch ``batch``, every other open dim ``side`` (its ``--size``).

    The spec's profile still bounds them; its ``opt`` does not pick them.
    """
    shapes = resolve_shapes(tensors, None, batch=batch, side=side, where=where)
    for name, shape in shapes.items():
        check_profile(spec, name, shape, where)
    return shapes


def onnx_shapes(
    path: str | Path, given: Sequence[NamedShape] = (), batch: int | None = None
) -> dict[str, Shape]:
    """The shapes bench_inputs will measure ``path`` at, read from the ONNX file (no session)."""
    model = load_onnx(path, external_data=False)  # the graph's IO and metadata only
    tensors, _ = graph_io(model)
    return resolve_shapes(tensors, spec_from_onnx(model), given, batch, where=str(path))
