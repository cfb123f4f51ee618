"""Build libptx, install it into a temp prefix and build the test hosts against it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from ptx.spec import ImageConvention, ModelSpec, TensorSpec, embed_in_onnx

ROOT = Path(__file__).resolve().parents[2]
NCHW = ["batch", 3, "height", "width"]


@dataclass
class Built:
    """Where the session's libptx build, install prefix and host programs live."""

    build: Path
    prefix: Path
    hosts: Path
    models: Path

    @property
    def lib(self) -> Path:
        """The installed libptx shared library."""
        return next((self.prefix / "lib").glob("libptx.so*"))

    def env(self) -> dict[str, str]:
        """The environment host programs run in."""
        return host_env()

    def run(self, cmd: list, **kw) -> subprocess.CompletedProcess:
        """Run a host program in the host environment (see ``host_env``)."""
        kw.setdefault("env", host_env())
        return run(cmd, **kw)

    def check(self, cmd: list, **kw) -> str:
        """Run a host program that must succeed; its stdout."""
        kw.setdefault("env", host_env())
        return check(cmd, **kw)


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    """Run a command, capturing text; its stderr is shown when a test fails."""
    kw.setdefault("timeout", 300)
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)


def check(cmd: list, **kw) -> str:
    """Run a command that must succeed; returns its stdout."""
    r = run(cmd, **kw)
    assert r.returncode == 0, f"{cmd}: rc {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout


def host_env() -> dict[str, str]:
    """The environment of a host program: no Python variables, so discovery is tested."""
    drop = ("PYTHONPATH", "PYTHONHOME", "PTX_PYTHON", "VIRTUAL_ENV", "PTX_BACKEND")
    return {k: v for k, v in os.environ.items() if k not in drop}


def affine_model(path: Path, block: int = 1, task: str = "enhance") -> Path:
    """out = image * 0.5 + 0.25 (dynamic N/H/W), a 0..1 RGB enhance spec."""
    nodes = [
        helper.make_node("Mul", ["image", "s"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["out"]),
    ]
    inits = [
        numpy_helper.from_array(np.array(0.5, np.float32), "s"),
        numpy_helper.from_array(np.array(0.25, np.float32), "b"),
    ]
    if block > 1:  # a model that only takes H, W multiple of block: the spec pads
        nodes.append(helper.make_node("SpaceToDepth", ["out"], ["s2d"], blocksize=block))
        nodes.append(helper.make_node("DepthToSpace", ["s2d"], ["y"], blocksize=block))
    out = "y" if block > 1 else "out"
    graph = helper.make_graph(
        nodes,
        "affine",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, NCHW)],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, NCHW)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    spec = ModelSpec(
        task=task,
        family="test",
        inputs=[TensorSpec("image", "float32", NCHW)],
        outputs=[TensorSpec(out, "float32", NCHW)],
        image=ImageConvention(multiple_of=block),
    )
    embed_in_onnx(model, spec)
    onnx.save(model, str(path))
    return path


def generator_model(path: Path, latent: int = 6, side: int = 8) -> Path:
    """tanh(z @ W) as a [batch, 3, side, side] image: a generator without labels."""
    w = np.random.default_rng(0).normal(0, 0.5, (latent, 3 * side * side)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["z", "w"], ["zw"]),
            helper.make_node("Tanh", ["zw"], ["t"]),
            helper.make_node("Reshape", ["t", "shape"], ["image"]),
        ],
        "gen",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", latent])],
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, side, side])],
        [numpy_helper.from_array(w, "w"),
         numpy_helper.from_array(np.array([-1, 3, side, side], np.int64), "shape")],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    spec = ModelSpec(
        task="generate",
        family="gan",
        inputs=[TensorSpec("z", "float32", ["batch", latent])],
        outputs=[TensorSpec("image", "float32", ["batch", 3, side, side])],
        image=ImageConvention(range=(-1.0, 1.0)),
        latent_size=latent,
    )
    embed_in_onnx(model, spec)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Built:
    """libptx configured with this interpreter, installed, and the hosts built against it."""
    for tool in ("cmake", "cc", "c++"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not found: the C ABI tests need cmake and a C/C++ compiler")
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file():
        pytest.skip("no Python.h for this interpreter: libptx embeds Python (install python3-dev)")
    if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        pytest.skip("this Python has no shared libpython: libptx embeds it (--enable-shared)")
    tmp = tmp_path_factory.mktemp("capi")
    b = Built(tmp / "build", tmp / "prefix", tmp / "hosts", tmp / "models")
    jobs = ["-j", "2"]
    check(["cmake", "-S", ROOT / "capi", "-B", b.build, f"-DPython_EXECUTABLE={sys.executable}",
           "-DCMAKE_BUILD_TYPE=Release"])  # fmt: skip
    check(["cmake", "--build", b.build, *jobs])
    check(["cmake", "--install", b.build, "--prefix", b.prefix])
    check(["cmake", "-S", ROOT / "tests" / "capi" / "hosts", "-B", b.hosts,
           f"-DCMAKE_PREFIX_PATH={b.prefix}", "-DCMAKE_BUILD_TYPE=Release"])  # fmt: skip
    check(["cmake", "--build", b.hosts, *jobs])
    b.models.mkdir()
    affine_model(b.models / "affine.onnx")
    affine_model(b.models / "blocks.onnx", block=8)
    affine_model(b.models / "style.onnx", task="stylize")
    generator_model(b.models / "gen.onnx")
    (b.models / "corrupt.onnx").write_bytes(b"\x08\x01garbage, not a protobuf" * 4)
    return b
