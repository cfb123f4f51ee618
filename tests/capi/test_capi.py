"""libptx (the C ABI) and ptx.hpp, driven through real C/C++ host programs."""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from ptx.runtime import load
from ptx.runtime.pipelines.generate import generate


def lines(out: str) -> dict[str, str]:
    """'key rest' lines as a dict."""
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def test_error_codes_and_messages(built) -> None:
    out = lines(built.check([built.hosts / "host", "errors", built.models / "affine.onnx",
                       built.models]))  # fmt: skip
    assert out["missing"].startswith("model | ") and "no such model file" in out["missing"]
    assert out["corrupt"].startswith("model | ") and "corrupt.onnx" in out["corrupt"]
    assert out["badjson"].startswith("input | options JSON")
    assert out["badoption"].startswith("input | ") and "warp" in out["badoption"]
    assert out["rank"].startswith("input | ") and "rank 4" in out["rank"]
    assert out["dtype"].startswith("input | ") and "float32" in out["dtype"]
    assert out["dtype"].count("int32") >= 1
    assert out["name"].startswith("input | ")
    assert out["small"].startswith("buffer too small | ") and "240 bytes" in out["small"]
    assert out["small_nbytes"] == "240"
    assert out["ok"] == "ok | "
    assert out["sigint"] == "host"  # install_signal_handlers = 0: the host keeps its signals
    assert out["input"] == "image 1 -1 3 -1 -1"
    assert json.loads(out["spec"])["task"] == "enhance"
    # RGBA through the spec's convention: RGB = x * 0.5 + 0.25 in 0..1, alpha kept
    assert out["stylize"].startswith("model | ") and "not a style model" in out["stylize"]
    assert out["stride"].startswith("input | ")
    assert out["image"] == "ok | "
    assert out["pixels"].split() == ["64", "64", "64", "7", "191", "191", "191", "9",
                                     "69", "74", "79", "11"]  # fmt: skip


def test_cpp_header_raii_and_exceptions(built) -> None:
    models = [built.models / "affine.onnx", built.models / "gen.onnx"]
    out = lines(built.check([built.hosts / "host_cpp", *models]))
    assert out["generate"] == "2 8 8 3"
    assert out["missing"].startswith("model | ")
    assert out["run"] == "out 0.75 0.75 rank 4 inputs 1"
    assert out["rank"].startswith("input | ")


def test_eight_threads_all_correct(built) -> None:
    model = built.models / "affine.onnx"
    out = built.check([built.hosts / "host", "threads", model, 2000], timeout=600)
    assert out.strip() == "threads 8 runs 2000 bad 0"


def test_rss_growth_under_2mb_over_20000_calls(built) -> None:
    model = built.models / "affine.onnx"
    out = lines(built.check([built.hosts / "host", "rss", model, 20000], timeout=600))
    fields = out["rss"].split()
    figures = dict(zip(fields[0::2], fields[1::2], strict=True))
    assert figures["calls"] == "20000" and figures["bad"] == "0"
    assert int(figures["growth_kb"]) < 2048, out["rss"]


def test_thread_states_freed_when_host_threads_exit(built) -> None:
    out = lines(built.check([built.hosts / "host", "churn", built.models / "affine.onnx", 2000]))
    fields = out["churn"].split()
    figures = dict(zip(fields[0::2], fields[1::2], strict=True))
    assert figures["threads"] == "2000" and figures["bad"] == "0"
    assert int(figures["growth_kb"]) < 2048, out["churn"]


def test_host_dlopens_rtld_local(built) -> None:
    out = built.check([built.hosts / "dlopen_host", built.lib, built.models / "affine.onnx"])
    assert out.strip() == "dlopen RTLD_LOCAL y0 0.25"


def test_fork_then_exec_child(built) -> None:
    out = built.check([built.hosts / "host", "fork", built.models / "affine.onnx"],
                timeout=120)  # fmt: skip
    assert out.strip() == "fork child_status 7 parent_bad 0"


def test_missing_model_in_c_example(built) -> None:
    r = built.run([built.build / "ptx_hello", built.models / "nope.onnx"])
    assert r.returncode == 1
    assert "error (model):" in r.stderr and "no such model file" in r.stderr
    out = built.check([built.build / "ptx_hello", built.models / "affine.onnx"])
    assert "input image dtype 1 shape [-1, 3, -1, -1]" in out
    assert "y[0] = 0.75" in out


def test_wrong_python_is_one_line(built) -> None:
    env = {**os.environ, "PTX_PYTHON": "/nonexistent/bin/python"}
    r = built.run([built.build / "ptx_hello", built.models / "affine.onnx"], env=env)
    assert r.returncode == 1
    assert "error (missing dependency): cannot import ptx.runtime.capi" in r.stderr
    assert "PTX_PYTHON" in r.stderr


PYTHON_HOST = """
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
m = ctypes.c_void_p()
lib.ptx_last_error.restype = ctypes.c_char_p
rc = lib.ptx_model_load(sys.argv[2].encode(), b"onnxruntime", None, ctypes.byref(m))
print("load", rc, lib.ptx_last_error().decode())
lib.ptx_model_free(m)
rc = lib.ptx_model_load(b"/nonexistent.onnx", b"onnxruntime", None, ctypes.byref(m))
print("missing", rc)
"""


def test_python_host_through_ctypes(built) -> None:
    """A host that already runs Python (ctypes) shares its interpreter (PyGILState path)."""
    out = built.check([sys.executable, "-c", PYTHON_HOST, built.lib, built.models / "affine.onnx"])
    assert out.splitlines() == ["load 0 ", "missing 2"]


def test_generate_helper_equals_the_pipeline(built) -> None:
    model = built.models / "gen.onnx"
    out = lines(built.check([built.hosts / "host", "generate", model]))
    images, _ = generate(load(model, backend="onnxruntime"), {}, 3, 5)
    want = np.stack(images)
    assert out["generate"] == "ok | "
    assert out["images"] == f"3 8 8 3 sum {int(want.astype(np.int64).sum())}"
    assert out["label"].startswith("input | ") and "unknown label 'category'" in out["label"]
