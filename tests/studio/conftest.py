"""Studio test material: tiny product images (RGBA and plain photos) and tiny real ONNX models.

The models are built with onnx.helper (no torch) and run through ptx.runtime like any
exported model: a cut-out model that keys out a white backdrop (alpha = sigmoid of
the distance from white), and a style model that inverts and tints (never identity).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from ptx.io import write_image
from ptx.spec import ImageConvention, ModelSpec, TensorSpec, embed_in_onnx

NCHW = ["batch", 3, "height", "width"]
ALPHA = ["batch", 1, "height", "width"]


def _save(nodes, inits, out_shape, path: Path, spec: ModelSpec) -> Path:
    graph = helper.make_graph(
        nodes,
        path.stem,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, NCHW)],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, out_shape)],
        [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    embed_in_onnx(model, spec)
    onnx.save(model, str(path))
    return path


def cutout_model(path: Path) -> Path:
    """alpha = sigmoid(80 * (max_c |1 - x_c| - 0.12)): a product on white gets alpha ~1."""
    nodes = [
        helper.make_node("Sub", ["one", "image"], ["d"]),
        helper.make_node("Abs", ["d"], ["a"]),
        helper.make_node("ReduceMax", ["a"], ["m"], axes=[1], keepdims=1),
        helper.make_node("Sub", ["m", "t"], ["c"]),
        helper.make_node("Mul", ["c", "k"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["out"]),
    ]
    spec = ModelSpec(
        task="custom",
        family="cutout",
        inputs=[TensorSpec("image", "float32", NCHW)],
        outputs=[TensorSpec("out", "float32", ALPHA)],
        image=ImageConvention(),
        config={"work_side": 64},
    )
    return _save(nodes, {"one": 1.0, "t": 0.12, "k": 80.0}, ALPHA, path, spec)


def style_model(path: Path) -> Path:
    """out = 0.9 - 0.6 * x: a visible change everywhere (a style model never sees the product)."""
    nodes = [
        helper.make_node("Mul", ["image", "s"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["out"]),
    ]
    spec = ModelSpec(
        task="stylize",
        family="style",
        inputs=[TensorSpec("image", "float32", NCHW)],
        outputs=[TensorSpec("out", "float32", NCHW)],
        image=ImageConvention(),
        config={"min_side": 5},
    )
    return _save(nodes, {"s": -0.6, "b": 0.9}, NCHW, path, spec)


def disc_rgba(h: int, w: int, colour: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """An RGBA product: a textured ellipse of ``colour`` with a soft edge on transparency."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot((yy - (h - 1) / 2) / (h / 2), (xx - (w - 1) / 2) / (w / 2))
    alpha = np.clip((1.0 - r) * min(h, w) / 3, 0, 1)
    rng = np.random.default_rng(seed)
    rgb = np.clip(np.asarray(colour) + rng.integers(-20, 21, (h, w, 3)), 0, 255)
    return np.dstack([rgb, np.rint(alpha * 255)]).astype(np.uint8)


def save_rgba(path: Path, rgba: np.ndarray) -> Path:
    """Write an RGBA PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgba, "RGBA").save(path)
    return path


def photo_on_white(h: int, w: int, colour: tuple[int, int, int]) -> np.ndarray:
    """A plain photo (no alpha): a coloured box on a white backdrop, box in the middle half."""
    img = np.full((h, w, 3), 255, np.uint8)
    img[h // 4 : h - h // 4, w // 4 : w - w // 4] = colour
    return img


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny cut-out and style models."""
    root = tmp_path_factory.mktemp("studio-models")
    return {
        "cutout": cutout_model(root / "cutout.onnx"),
        "style": style_model(root / "style.onnx"),
    }


@pytest.fixture()
def products(tmp_path: Path) -> dict[str, Path]:
    """Three RGBA products of different sizes and one plain photo."""
    root = tmp_path / "products"
    photo = root / "photo.jpg"
    write_image(photo, photo_on_white(48, 64, (30, 90, 200)))
    return {
        "red": save_rgba(root / "red.png", disc_rgba(40, 30, (200, 40, 40), 1)),
        "green": save_rgba(root / "green.png", disc_rgba(20, 50, (40, 160, 60), 2)),
        "blue": save_rgba(root / "blue.png", disc_rgba(60, 60, (40, 60, 200), 3)),
        "photo": photo,
    }
