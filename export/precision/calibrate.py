"""Calibration feeds for an ONNX model, and ONNX Runtime runs that expose every tensor.

Shared by FP16 conversion (activation ranges per node) and the FP16 check (per-node
error between the FP32 and FP16 graphs). Shapes and values follow the one example-input
rule of ``ptx.inputs`` (the spec's profile, then open batch -> 1 and other open dims ->
64; images in the spec's convention, other floats standard normal, integers inside
their vocabulary). Each feed holds one item (the profile's smallest batch) where every
batch axis is open, which keeps calibration cheap. Images are synthetic product-like
pictures, or the photos of a ``--calib`` folder. An integer input that indexes an
embedding table (a Gather on an initializer) stays below the table's row count, so a
foreign model's labels are valid too. Generic ONNX helpers (load, graph inputs, tensor
types) live in ``ptx.formats.onnx``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ptx.errors import InputError, ModelError
from ptx.export.precision.graph import float_types
from ptx.formats.onnx import graph_io
from ptx.inputs import example_inputs, label_high, resolve_shapes
from ptx.io import SkipLog, iter_images
from ptx.spec import ModelSpec
from ptx.tensors import FLOAT_ONNX, TensorInfo


def session(model: Any, threads: int | None = None) -> Any:
    """A CPU ONNX Runtime session for an in-memory ModelProto."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    # Keep tensors as the graph names them: fusions would hide the intermediates we read.
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        return ort.InferenceSession(
            model.SerializeToString(), opts, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"ONNX Runtime cannot load the model: {first}") from exc


def vocab_sizes(model: Any) -> dict[str, int]:
    """Integer input -> rows of the embedding table it indexes (a Gather on an initializer)."""
    from onnx import numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    sizes: dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type == "Gather" and node.input[0] in inits and len(node.input) > 1:
            axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
            rows = numpy_helper.to_array(inits[node.input[0]]).shape[axis]
            sizes[node.input[1]] = min(rows, sizes.get(node.input[1], rows))
    return sizes


def _int_high(model: Any, tensors: list[TensorInfo], spec: ModelSpec | None) -> dict[str, int]:
    """Bound per integer input: valid for the embedding table and the spec's vocabulary both."""
    sizes = vocab_sizes(model)
    ints = [t for t in tensors if t.dtype.kind in "iu" and t.dtype != np.uint8]
    for t in ints:
        vocab = label_high(spec, t.name, len(ints))
        if vocab is not None:
            sizes[t.name] = min(vocab, sizes.get(t.name, vocab))
    return sizes


def _batch(tensors: list[TensorInfo], spec: ModelSpec | None) -> int | None:
    """Calibrate one item at a time (the smallest the profile allows) where every batch is open."""
    if not tensors or not all(t.shape and t.is_dynamic(0) for t in tensors):
        return None
    prof = spec.profile if spec is not None else None
    lows = [prof.min[t.name][0] for t in tensors if prof is not None and prof.min.get(t.name)]
    return max([1, *lows])


def _calib_images(folder: Path, count: int) -> list[np.ndarray]:
    skips = SkipLog()
    images = [rgb for _, (_, rgb) in zip(range(count), iter_images(folder, skips), strict=False)]
    if not images:
        raise InputError(f"--calib {folder}: no readable images (skipped {len(skips)})")
    return images


def representative_inputs(
    model: Any,
    spec: ModelSpec | None,
    count: int,
    seed: int = 0,
    calib: Path | None = None,
) -> list[dict[str, np.ndarray]]:
    """``count`` feeds in the value ranges the model expects (images, labels, other floats)."""
    tensors, _ = graph_io(model)
    shapes = resolve_shapes(tensors, spec, batch=_batch(tensors, spec), where="calibration")
    pictures = _calib_images(Path(calib), count) if calib is not None else "pictures"
    high = _int_high(model, tensors, spec)
    return [
        example_inputs(tensors, spec, shapes, seed, pictures=pictures, int_high=high, index=k)
        for k in range(count)
    ]


def expose_all(model: Any, names: list[str] | None = None) -> tuple[Any, list[str]]:
    """A copy of ``model`` whose float intermediates (or ``names``) are graph outputs too."""
    import onnx
    from onnx import helper

    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    types = float_types(model)
    present = {o.name for o in exposed.graph.output}
    produced = [o for n in model.graph.node for o in n.output if o]
    wanted = names if names is not None else produced
    added = []
    for name in wanted:
        if name in present or types.get(name) not in FLOAT_ONNX:
            continue
        exposed.graph.output.append(helper.make_tensor_value_info(name, types[name], None))
        present.add(name)
        added.append(name)
    return exposed, [o.name for o in exposed.graph.output]


def run_all(
    model: Any, feeds: list[dict[str, np.ndarray]], names: list[str] | None = None
) -> Iterator[dict[str, np.ndarray]]:
    """Yield, per feed, every float tensor of the run (name -> array)."""
    exposed, outputs = expose_all(model, names)
    sess = session(exposed)
    for feed in feeds:
        yield dict(zip(outputs, sess.run(outputs, feed), strict=True))
