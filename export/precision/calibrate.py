"""Representative inputs for an ONNX model and ONNX Runtime runs that expose every tensor.

Shared by FP16 conversion (activation ranges per node) and the FP16 check (per-node
error between the FP32 and FP16 graphs). Inputs come from the ModelSpec when there is
one, a folder of images, or the ONNX file itself for a foreign model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ptx.errors import InputError, ModelError
from ptx.spec import ImageConvention, ModelSpec

FLOAT_TYPES = {1: np.float32, 10: np.float16, 11: np.float64}  # onnx TensorProto codes
INT_TYPES = {6: np.int32, 7: np.int64, 2: np.uint8, 3: np.int8}
FOREIGN_DYNAMIC = 64  # H/W used for a dynamic dim nothing else sizes (a multiple of 8, 16, 32)


def load_onnx(path: str | Path) -> Any:
    """Load an ONNX model, turning a missing, truncated or non-ONNX file into one ModelError."""
    import onnx

    p = Path(path)
    if not p.is_file():
        raise ModelError(f"{p}: no such ONNX file")
    try:
        model = onnx.load(str(p))
    except Exception as exc:  # protobuf DecodeError, OSError, ValueError variants
        raise ModelError(
            f"{p}: not a readable ONNX model ({type(exc).__name__}); re-export it with ptx export"
        ) from exc
    if not model.graph.node:
        raise ModelError(f"{p}: ONNX file has an empty graph (truncated or not ONNX?)")
    return model


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


def tensor_types(model: Any) -> dict[str, int]:
    """Tensor name -> ONNX elem type for every typed tensor (after shape inference)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    types = {t.name: t.data_type for t in g.initializer}
    for vi in [*g.input, *g.value_info, *g.output]:
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
            types[vi.name] = vi.type.tensor_type.elem_type
    return types


def _dims(vi: Any) -> list[int | str]:
    return [
        d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
        for d in vi.type.tensor_type.shape.dim
    ]


def graph_inputs(model: Any) -> list[Any]:
    """Real graph inputs (initializers listed as inputs in old opsets left out)."""
    inits = {t.name for t in model.graph.initializer}
    return [vi for vi in model.graph.input if vi.name not in inits]


def input_shapes(model: Any, spec: ModelSpec | None, batch: int = 1) -> dict[str, list[int]]:
    """Concrete shape per input: the spec profile's opt H×W (batch ``batch``), else ONNX dims."""
    shapes: dict[str, list[int]] = {}
    for vi in graph_inputs(model):
        dims = _dims(vi)
        if spec is not None and spec.profile is not None and vi.name in spec.profile.opt:
            opt = list(spec.profile.opt[vi.name])
            if len(opt) == len(dims):
                if isinstance(dims[0], str) and dims[0]:
                    opt[0] = min(opt[0], batch)
                shapes[vi.name] = opt
                continue
        shapes[vi.name] = [
            d if isinstance(d, int) and d > 0 else (batch if i == 0 else FOREIGN_DYNAMIC)
            for i, d in enumerate(dims)
        ]
    return shapes


def _vocab_sizes(model: Any) -> dict[str, int]:
    """int input -> rows of the embedding table it indexes (Gather on an initializer)."""
    from onnx import numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    sizes: dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type == "Gather" and node.input[0] in inits and len(node.input) > 1:
            axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
            rows = numpy_helper.to_array(inits[node.input[0]]).shape[axis]
            sizes[node.input[1]] = min(rows, sizes.get(node.input[1], rows))
    return sizes


def _image_value_range(conv: ImageConvention | None) -> tuple[np.ndarray, np.ndarray]:
    conv = conv or ImageConvention()
    lo, hi = conv.range
    mean, std = np.asarray(conv.mean), np.asarray(conv.std)
    return (lo - mean) / std, (hi - mean) / std


def _synthetic_image(rng: np.random.Generator, k: int, h: int, w: int) -> np.ndarray:
    """A unit-range RGB HWC picture: product-on-white, flat black, gradient or noise."""
    kind = k % 4
    if kind == 0:  # the common product shot: a coloured blob on pure white
        img = np.ones((h, w, 3))
        yy, xx = np.mgrid[:h, :w]
        blob = ((yy - h / 2) ** 2 + (xx - w / 2) ** 2) < (min(h, w) / 3) ** 2
        img[blob] = rng.uniform(0, 1, 3)
        return img
    if kind == 1:
        return np.zeros((h, w, 3))
    if kind == 2:
        ramp = np.linspace(0, 1, w)[None, :, None]
        return np.broadcast_to(ramp * rng.uniform(0.3, 1, 3), (h, w, 3)).copy()
    return rng.uniform(0, 1, (h, w, 3))


def _to_tensor(rgb01: np.ndarray, conv: ImageConvention | None, dtype: np.dtype) -> np.ndarray:
    """Unit-range RGB HWC -> one image in the spec's convention (CHW or HWC)."""
    conv = conv or ImageConvention()
    lo, hi = conv.range
    x = rgb01 * (hi - lo) + lo
    x = (x - np.asarray(conv.mean)) / np.asarray(conv.std)
    if conv.channel_order == "BGR":
        x = x[..., ::-1]
    if conv.layout == "NCHW":
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x, dtype=dtype)


def _is_image(shape: list[int], conv: ImageConvention | None) -> bool:
    if len(shape) != 4:
        return False
    return shape[3] == 3 if conv is not None and conv.layout == "NHWC" else shape[1] == 3


def _calib_images(folder: Path, count: int) -> list[np.ndarray]:
    from ptx.io import SkipLog, iter_images

    skips = SkipLog()
    images = [rgb for _, (_, rgb) in zip(range(count), iter_images(folder, skips), strict=False)]
    if not images:
        raise InputError(f"--calib {folder}: no readable images (skipped {len(skips)})")
    return images


def _resize01(rgb: np.ndarray, h: int, w: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).resize((w, h), Image.BILINEAR), dtype=np.float64) / 255


def representative_inputs(
    model: Any,
    spec: ModelSpec | None,
    count: int,
    seed: int = 0,
    calib: Path | None = None,
) -> list[dict[str, np.ndarray]]:
    """``count`` feeds in the value ranges the model expects (images, labels, other floats)."""
    rng = np.random.default_rng(seed)
    conv = spec.image if spec is not None else None
    shapes = input_shapes(model, spec)
    vocab = _vocab_sizes(model)
    if spec is not None:
        vocab.update({k: len(v) for k, v in spec.labels.items() if v})
    pictures = _calib_images(Path(calib), count) if calib is not None else None
    lo, hi = _image_value_range(conv)
    feeds: list[dict[str, np.ndarray]] = []
    for k in range(count):
        feed: dict[str, np.ndarray] = {}
        for vi in graph_inputs(model):
            shape, code = shapes[vi.name], vi.type.tensor_type.elem_type
            if code in FLOAT_TYPES and _is_image(shape, conv):
                h, w = (shape[2], shape[3]) if not conv or conv.layout == "NCHW" else shape[1:3]
                batch = []
                for b in range(shape[0]):
                    if pictures is not None:
                        rgb = _resize01(pictures[(k * shape[0] + b) % len(pictures)], h, w)
                    else:
                        rgb = _synthetic_image(rng, k + b, h, w)
                    batch.append(_to_tensor(rgb, conv, FLOAT_TYPES[code]))
                feed[vi.name] = np.stack(batch)
            elif code in FLOAT_TYPES:
                span = (float(lo.min()), float(hi.max()))
                feed[vi.name] = rng.uniform(*span, shape).astype(FLOAT_TYPES[code])
            elif code in INT_TYPES:
                feed[vi.name] = rng.integers(0, max(1, vocab.get(vi.name, 2)), shape).astype(
                    INT_TYPES[code]
                )
            elif code == 9:  # bool
                feed[vi.name] = rng.integers(0, 2, shape).astype(bool)
            else:
                raise InputError(f"input '{vi.name}': cannot make data of ONNX type {code}")
        feeds.append(feed)
    return feeds


def expose_all(model: Any, names: list[str] | None = None) -> tuple[Any, list[str]]:
    """A copy of ``model`` whose float intermediates (or ``names``) are graph outputs too."""
    import onnx
    from onnx import helper

    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    types = tensor_types(model)
    present = {o.name for o in exposed.graph.output}
    produced = [o for n in model.graph.node for o in n.output if o]
    wanted = names if names is not None else produced
    added = []
    for name in wanted:
        if name in present or types.get(name) not in FLOAT_TYPES:
            continue
        exposed.graph.output.append(helper.make_tensor_value_info(name, types[name], None))
        present.add(name)
        added.append(name)
    return exposed, [o.name for o in exposed.graph.output]


def run_all(model: Any, feeds: list[dict[str, np.ndarray]], names: list[str] | None = None):
    """Yield, per feed, every float tensor of the run (name -> array)."""
    exposed, outputs = expose_all(model, names)
    sess = session(exposed)
    for feed in feeds:
        yield dict(zip(outputs, sess.run(outputs, feed), strict=True))
