"""The exported graph's names and ModelSpec: dynamic dims named, IO and profile from the graph."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ptx.errors import ExportError
from ptx.export.pytorch.factory import InputDecl
from ptx.formats.onnx import dims, graph_inputs
from ptx.io import sha256_file
from ptx.spec import ModelSpec, ShapeProfile, TensorSpec, producer_versions
from ptx.tensors import DTYPES, INT_DTYPES, SPEC_DTYPES

BATCH, HEIGHT, WIDTH = "batch", "height", "width"
MAX_LABELS_IN_SPEC = 10_000


# -- dynamic axes -------------------------------------------------------------------
def dynamic_axes(
    decls: Sequence[InputDecl],
    spec: ModelSpec | None = None,
    dynamic_batch: bool = True,
    dynamic_hw: bool = False,
) -> dict[str, dict[int, str]]:
    """Input → axis → name of each dynamic axis (the spec's names, else batch/height/width)."""
    spec_inputs = {t.name: t for t in spec.inputs} if spec is not None else {}
    hw_axes = (1, 2) if spec is not None and spec.image and spec.image.layout == "NHWC" else (2, 3)
    out: dict[str, dict[int, str]] = {}
    for d in decls:
        if d.name in spec_inputs and len(spec_inputs[d.name].shape) == len(d.shape):
            named = spec_inputs[d.name].dynamic_dims
        else:
            named = {0: BATCH} if d.shape else {}
            if len(d.shape) == 4:
                named.update({hw_axes[0]: HEIGHT, hw_axes[1]: WIDTH})
        keep = {a: n for a, n in named.items() if n != BATCH or dynamic_batch}
        out[d.name] = {a: n for a, n in keep.items() if n not in (HEIGHT, WIDTH) or dynamic_hw}
    return out


# -- the graph and its spec ---------------------------------------------------------
def tensor_spec(vi: Any) -> TensorSpec:
    """A ValueInfo as a TensorSpec (unnamed dynamic dims get NAME_dimK)."""
    elem = vi.type.tensor_type.elem_type
    names = {DTYPES[n].onnx: n for n in SPEC_DTYPES}
    if elem not in names:
        raise ExportError(f"'{vi.name}' has ONNX element type {elem}, which ModelSpec cannot hold")
    shape = [f"{vi.name}_dim{i}" if d is None else d for i, d in enumerate(dims(vi))]
    return TensorSpec(vi.name, names[elem], shape)


def name_input_dims(graph: Any, dynamic: dict[str, dict[int, str]]) -> None:
    """Name each dynamic input axis (batch/height/width) everywhere its symbol appears.

    Every axis asked to be dynamic must be dynamic in the graph, else say which was fixed.
    """
    rename: dict[str, str] = {}
    for vi in graph_inputs(graph):
        shape = vi.type.tensor_type.shape.dim
        for axis, name in dynamic.get(vi.name, {}).items():
            if axis < len(shape) and shape[axis].HasField("dim_value"):
                raise ExportError(
                    f"the exporter fixed input '{vi.name}' axis {axis} ({name}) to "
                    f"{shape[axis].dim_value}: the model's code specialises on it; export with "
                    f"{'--no-dynamic-batch' if name == BATCH else '--static-hw'}"
                )
            if axis < len(shape):
                rename[shape[axis].dim_param] = name
    for vi in [*graph.input, *graph.output, *graph.value_info]:
        for dim in vi.type.tensor_type.shape.dim:
            if dim.HasField("dim_param") and dim.dim_param in rename:
                dim.dim_param = rename[dim.dim_param]


def name_output_dims(graph: Any, spec: ModelSpec) -> None:
    """Give symbolic output dims readable names: an input's dim name, the spec's, or NAME_dimK."""
    known = {d.dim_param for vi in graph_inputs(graph) for d in vi.type.tensor_type.shape.dim}
    wanted = {t.name: t.shape for t in spec.outputs}
    for vi in graph.output:
        want = wanted.get(vi.name, [])
        for axis, dim in enumerate(vi.type.tensor_type.shape.dim):
            if dim.HasField("dim_value") or (dim.dim_param and dim.dim_param in known):
                continue
            spec_dim = want[axis] if axis < len(want) else None
            # Trust the family's name: exporters spell e.g. "pad then crop" as Min(height, ...).
            dim.dim_param = spec_dim if isinstance(spec_dim, str) else f"{vi.name}_dim{axis}"


def _default_profile(inputs: list[TensorSpec], decls: Sequence[InputDecl]) -> ShapeProfile | None:
    """min/opt/max around the example: batch 1..max(8, b), other dims example..2x example."""
    example = {d.name: d.shape for d in decls}
    lo, mid, hi = {}, {}, {}
    for t in inputs:
        if not t.dynamic_dims or t.name not in example:
            continue
        ex = list(example[t.name])
        lo[t.name] = [1 if t.shape[i] == BATCH else v for i, v in enumerate(ex)]
        mid[t.name] = ex
        hi[t.name] = [
            (max(8, v) if t.shape[i] == BATCH else 2 * v) if isinstance(t.shape[i], str) else v
            for i, v in enumerate(ex)
        ]
    return ShapeProfile(min=lo, opt=mid, max=hi) if mid else None


def _fix_static_profile(profile: ShapeProfile, inputs: list[TensorSpec]) -> None:
    """Pin profile dims that the graph made static (e.g. --static-hw) to their value."""
    for t in inputs:
        for i, d in enumerate(t.shape):
            for table in (profile.min, profile.opt, profile.max):
                if isinstance(d, int) and t.name in table and i < len(table[t.name]):
                    table[t.name][i] = d


def final_spec(graph: Any, spec: ModelSpec, decls: Sequence[InputDecl]) -> ModelSpec:
    """The spec with IO as the graph has it (names, dtypes, named dynamic dims), fp32, producers."""
    out = copy.deepcopy(spec)
    out.inputs = [tensor_spec(vi) for vi in graph_inputs(graph)]
    out.outputs = [tensor_spec(vi) for vi in graph.output]
    out.precision = "fp32"
    out.producer = {**out.producer, **producer_versions("torch", "onnx", "onnxscript")}
    if out.profile is None:
        out.profile = _default_profile(out.inputs, decls)
    else:
        _fix_static_profile(out.profile, out.inputs)
    return out


def custom_spec(
    decls: Sequence[InputDecl], config: dict[str, Any] | None = None, weights: Path | None = None
) -> ModelSpec:
    """A "custom" ModelSpec for a user model (IO is filled from the exported graph)."""
    labels = {
        d.name: [str(i) for i in range(d.high)]
        for d in decls
        if d.dtype in INT_DTYPES and d.high and d.high <= MAX_LABELS_IN_SPEC
    }
    return ModelSpec(
        task="custom",
        family="custom",
        labels=labels,
        config=dict(config or {}),
        producer=producer_versions("torch", "onnx"),
        source_hash=sha256_file(weights) if weights is not None else None,
    )
