"""Tiny real ONNX models built with onnx.helper, so runtime tests need no torch."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from ptx.io import write_image
from ptx.spec import ImageConvention, ModelSpec, TensorSpec, embed_in_onnx

NCHW = ["batch", 3, "height", "width"]


def _save(graph, path: Path, spec: ModelSpec | None) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    if spec is not None:
        embed_in_onnx(model, spec)
    onnx.save(model, str(path))
    return path


def _spec(conv: ImageConvention | None, dtype: str = "float32", shape=None) -> ModelSpec:
    shape = shape or NCHW
    return ModelSpec(
        task="enhance",
        family="test",
        inputs=[TensorSpec("image", dtype, shape)],
        outputs=[TensorSpec("out", dtype, shape)],
        image=conv,
    )


def affine_model(
    path: Path,
    scale: float = 0.5,
    bias: float = 0.25,
    conv=None,
    spec=True,
    dtype=TensorProto.FLOAT,
    shape=None,
) -> Path:
    """out = image * scale + bias, dynamic batch/H/W unless ``shape`` fixes them."""
    shape = shape or NCHW
    np_dtype = helper.tensor_dtype_to_np_dtype(dtype)
    nodes = [
        helper.make_node("Mul", ["image", "s"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["out"]),
    ]
    inits = [
        numpy_helper.from_array(np.array(scale, dtype=np_dtype), "s"),
        numpy_helper.from_array(np.array(bias, dtype=np_dtype), "b"),
    ]
    graph = helper.make_graph(
        nodes,
        "affine",
        [helper.make_tensor_value_info("image", dtype, shape)],
        [helper.make_tensor_value_info("out", dtype, shape)],
        inits,
    )
    name = "float16" if dtype == TensorProto.FLOAT16 else "float32"
    meta = _spec(conv or ImageConvention(), name, shape) if spec else None
    return _save(graph, path, meta)


def swap_blocks_model(path: Path, block: int = 8, conv=None) -> Path:
    """Reverse the channels with a 1x1 Conv, through SpaceToDepth/DepthToSpace(block).

    The Space/Depth pair only accepts H and W that are multiples of ``block``, so the
    model fails unless the runtime pads to ``multiple_of``.
    """
    c = 3 * block * block
    perm = np.zeros((c, c, 1, 1), dtype=np.float32)
    for i in range(c):  # SpaceToDepth channel = offset * 3 + colour; reverse the colour
        offset, colour = divmod(i, 3)
        perm[offset * 3 + (2 - colour), i] = 1.0
    nodes = [
        helper.make_node("SpaceToDepth", ["image"], ["s2d"], blocksize=block),
        helper.make_node("Conv", ["s2d", "w"], ["mixed"]),
        helper.make_node("DepthToSpace", ["mixed"], ["out"], blocksize=block, mode="DCR"),
    ]
    graph = helper.make_graph(
        nodes,
        "swap",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, NCHW)],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, NCHW)],
        [numpy_helper.from_array(perm, "w")],
    )
    conv = conv or ImageConvention(multiple_of=block)
    return _save(graph, path, _spec(conv))


def invert_nhwc_model(path: Path) -> Path:
    """A foreign NHWC model (no spec) working in 0..255: out = 255 - image."""
    shape = ["batch", "height", "width", 3]
    nodes = [helper.make_node("Sub", ["k", "image"], ["out"])]
    graph = helper.make_graph(
        nodes,
        "invert",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, shape)],
        [numpy_helper.from_array(np.array(255.0, dtype=np.float32), "k")],
    )
    return _save(graph, path, None)


def two_input_model(path: Path) -> Path:
    """out = a + b with a fixed [1, 3, 8, 8] shape (for check_feeds errors)."""
    shape = [1, 3, 8, 8]
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["out"])],
        "two",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, shape),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, shape),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, shape)],
    )
    return _save(graph, path, None)


def random_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A reproducible uint8 RGB test image."""
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def expected_affine(img: np.ndarray, scale: float = 0.5, bias: float = 0.25) -> np.ndarray:
    """Ground truth of affine_model on a 0..1 RGB convention, in float64."""
    return np.clip(np.rint((img / 255.0 * scale + bias) * 255.0), 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def helpers():
    """This module: the model builders and image helpers (conftest is not importable)."""
    return sys.modules[__name__]


@pytest.fixture
def models(tmp_path_factory) -> dict[str, Path]:
    """Every test model, written once per test into a fresh folder."""
    d = tmp_path_factory.mktemp("models")
    return {
        "affine": affine_model(d / "affine.onnx"),
        "swap": swap_blocks_model(d / "swap.onnx"),
        "invert": invert_nhwc_model(d / "invert.onnx"),
        "two": two_input_model(d / "two.onnx"),
        "fp16": affine_model(d / "fp16.onnx", dtype=TensorProto.FLOAT16),
        "foreign": affine_model(d / "foreign.onnx", spec=False),
    }


@pytest.fixture
def photo_folder(tmp_path) -> Path:
    """Mixed sizes, a nested folder, a corrupt and a zero-byte file, a non-image."""
    root = tmp_path / "photos"
    write_image(root / "a.png", random_image(16, 24, 1))
    write_image(root / "b.png", random_image(16, 24, 2))
    write_image(root / "c.png", random_image(20, 12, 3))
    write_image(root / "sub" / "d.png", random_image(16, 24, 4))
    write_image(root / "sub" / "deeper" / "e.bmp", random_image(9, 7, 5))
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (root / "empty.jpg").write_bytes(b"")
    (root / "notes.txt").write_text("not an image, not listed")
    return root
