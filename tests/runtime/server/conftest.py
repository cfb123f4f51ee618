"""Servers on ephemeral loopback ports, tiny onnx.helper models, and a slow-client helper."""

from __future__ import annotations

import json
import re
import socket
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from ptx.runtime.server.app import create_app
from ptx.runtime.server.config import ServerConfig
from ptx.runtime.server.native import build as native_build
from ptx.runtime.server.run import BackgroundServer
from ptx.spec import ImageConvention, ModelSpec, TensorSpec, embed_in_onnx

LATENT = 8
LABELS = {"category": ["mug", "shoe", "lamp"], "color": ["red", "green"]}
GEN_SIZE = 8  # generated images are GEN_SIZE x GEN_SIZE


def _save(graph, path: Path, spec: ModelSpec) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    embed_in_onnx(model, spec)
    onnx.save(model, str(path))
    return path


def generator_model(path: Path) -> Path:
    """A conditional 'generator': z [N, 8] FP32 + category, color INT64 [N] → [N, 3, 8, 8] in -1..1.

    out = tanh(reshape(z @ W) + 0.5 * category - 0.5 * color), W fixed and seeded.
    """
    w = np.random.default_rng(7).standard_normal((LATENT, 3 * GEN_SIZE * GEN_SIZE)) * 0.3
    nodes = [
        helper.make_node("MatMul", ["z", "w"], ["zw"]),
        helper.make_node("Reshape", ["zw", "shape"], ["img"]),
        helper.make_node("Cast", ["category"], ["cf"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["color"], ["kf"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["cf", "kf"], ["d"]),  # 0.5 (cat - col) = 0.5 cat - 0.5 col
        helper.make_node("Mul", ["d", "half"], ["dh"]),
        helper.make_node("Reshape", ["dh", "col4"], ["d4"]),
        helper.make_node("Add", ["img", "d4"], ["pre"]),
        helper.make_node("Tanh", ["pre"], ["image"]),
    ]
    inits = [
        numpy_helper.from_array(w.astype(np.float32), "w"),
        numpy_helper.from_array(np.array([-1, 3, GEN_SIZE, GEN_SIZE], np.int64), "shape"),
        numpy_helper.from_array(np.array([-1, 1, 1, 1], np.int64), "col4"),
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
    ]
    graph = helper.make_graph(
        nodes,
        "gen",
        [
            helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", LATENT]),
            helper.make_tensor_value_info("category", TensorProto.INT64, ["batch"]),
            helper.make_tensor_value_info("color", TensorProto.INT64, ["batch"]),
        ],
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        inits,
    )
    spec = ModelSpec(
        task="generate",
        family="test-gan",
        inputs=[
            TensorSpec("z", "float32", ["batch", LATENT]),
            TensorSpec("category", "int64", ["batch"]),
            TensorSpec("color", "int64", ["batch"]),
        ],
        outputs=[TensorSpec("image", "float32", ["batch", 3, GEN_SIZE, GEN_SIZE])],
        image=ImageConvention(range=(-1.0, 1.0)),
        labels=LABELS,
        latent_size=LATENT,
    )
    return _save(graph, path, spec)


def generator_reference(z: np.ndarray, category: np.ndarray, color: np.ndarray) -> np.ndarray:
    """The generator's output computed with NumPy (float64)."""
    w = np.random.default_rng(7).standard_normal((LATENT, 3 * GEN_SIZE * GEN_SIZE)) * 0.3
    w = w.astype(np.float32).astype(np.float64)
    img = (z.astype(np.float64) @ w).reshape(-1, 3, GEN_SIZE, GEN_SIZE)
    return np.tanh(img + 0.5 * (category - color).reshape(-1, 1, 1, 1))


def stylize_model(path: Path) -> Path:
    """A 'style' model: out = 1 - image (colour inversion), task stylize, dynamic H×W."""
    shape = ["batch", 3, "height", "width"]
    graph = helper.make_graph(
        [helper.make_node("Sub", ["one", "image"], ["out"])],
        "invert",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, shape)],
        [numpy_helper.from_array(np.array(1.0, np.float32), "one")],
    )
    spec = ModelSpec(
        task="stylize",
        family="test-style",
        inputs=[TensorSpec("image", "float32", shape)],
        outputs=[TensorSpec("out", "float32", shape)],
        image=ImageConvention(),
    )
    return _save(graph, path, spec)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory, helpers) -> dict[str, Path]:
    """affine (FP32 enhance), fp16 (FP16 enhance), gen (generate, INT64 labels), style."""
    d = tmp_path_factory.mktemp("served")
    return {
        "affine": helpers.affine_model(d / "affine.onnx"),
        "fp16": helpers.affine_model(d / "fp16.onnx", dtype=TensorProto.FLOAT16),
        "gen": generator_model(d / "gen.onnx"),
        "style": stylize_model(d / "style.onnx"),
    }


@pytest.fixture(scope="module")
def native():
    """The built extension module (built here once if needed; skipped when it cannot be)."""
    reason = native_build.missing_tools()
    if reason and not native_build.module_path().exists():
        pytest.skip(f"native gRPC front end: {reason}")
    native_build.build()
    from ptx.runtime.server import grpc_native

    return grpc_native.load()


@pytest.fixture(scope="session")
def srv():
    """This module: server starters and client helpers (conftest is not importable)."""
    return sys.modules[__name__]


def start(models: dict[str, Path], **options) -> BackgroundServer:
    """A started server for ``models`` with ServerConfig ``options`` (stop it when done)."""
    config = ServerConfig(models=models, port=0, **options)
    return BackgroundServer(create_app(config)).start()


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples ``name`` in Prometheus text whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:]+)(\{.*\})? (\S+)$", line)
        if m and m.group(1) == name:
            have = m.group(2) or ""
            if all(f'{k}="{v}"' in have for k, v in labels.items()):
                total += float(m.group(3))
    return total


class SlowClient:
    """A raw request whose body is withheld: it stays in flight until ``finish``."""

    def __init__(self, port: int, path: str, body: bytes, headers: dict[str, str] | None = None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.body = body
        lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body[:1])

    def finish(self) -> tuple[int, bytes]:
        """Send the rest of the body; (status, response body)."""
        self.sock.sendall(self.body[1:])
        data = b""
        while b"\r\n\r\n" not in data:
            data += self.sock.recv(65536)
        head, _, rest = data.partition(b"\r\n\r\n")
        status = int(head.split()[1])
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        self.sock.close()
        return status, rest


def infer_json(name: str, arr: np.ndarray, datatype: str = "FP32") -> bytes:
    """A JSON-only KServe v2 infer body for one input."""
    doc = {
        "inputs": [
            {
                "name": name,
                "shape": list(arr.shape),
                "datatype": datatype,
                "data": arr.ravel().tolist(),
            }
        ]
    }
    return json.dumps(doc).encode()


def wait_for(check, timeout_s: float = 10.0, what: str = "condition") -> None:
    """Poll ``check()`` every 20 ms until true (bounded)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
