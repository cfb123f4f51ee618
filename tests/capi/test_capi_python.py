"""ptx.runtime.capi (the Python side libptx calls), exercised directly: no C compiler needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptx.errors import ImageError, InputError, MissingDependency, ModelError
from ptx.runtime import capi

from .conftest import affine_model  # noqa: TID252


@pytest.fixture
def handle(tmp_path: Path) -> capi.Handle:
    """The affine enhance model, loaded as libptx loads it."""
    return capi.load(str(affine_model(tmp_path / "a.onnx")), "onnxruntime", '{"threads": 1}')


def test_run_reads_views_without_copies(handle: capi.Handle) -> None:
    x = np.arange(24, dtype=np.float32) / 32
    outs, codes = handle_run(handle, x)
    assert codes == [1] and outs[0].flags.c_contiguous
    np.testing.assert_array_equal(outs[0].ravel(), x * 0.5 + 0.25)
    arr = capi.view(memoryview(x), 1, [1, 3, 2, 4], "x")
    assert np.shares_memory(arr, x)


def handle_run(h: capi.Handle, x: np.ndarray) -> tuple[list[np.ndarray], list[int]]:
    """One run as the C side calls it."""
    return capi.run(h, [None], [memoryview(x)], [1], [[1, 3, 2, 4]], [None])


def test_info_rows(handle: capi.Handle) -> None:
    ins, outs, spec, backend = handle.info()
    assert ins == [("image", 1, [-1, 3, -1, -1])] and outs[0][0] == "out"
    assert '"task":"enhance"' in spec and backend == "onnxruntime"


def test_stylize_task_and_rgba(tmp_path: Path) -> None:
    h = capi.load(str(affine_model(tmp_path / "s.onnx", task="stylize")), "onnxruntime", None)
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., 3] = 77
    out = capi.run_image(h, 2, memoryview(rgba.ravel()), 3, 2, 4, 12)
    assert out.shape == (2, 3, 4) and (out[..., :3] == 64).all() and (out[..., 3] == 77).all()


def test_error_mapping() -> None:
    assert capi.error(InputError("x")) == (capi.INPUT, "x")
    assert capi.error(ModelError("m"))[0] == capi.MODEL
    assert capi.error(ImageError("i"))[0] == capi.IMAGE
    assert capi.error(MissingDependency("openvino", "openvino", "it"))[0] == capi.MISSING
    assert capi.error(RuntimeError("boom")) == (capi.INTERNAL, "RuntimeError: boom")


def test_bad_options_and_dtype(tmp_path: Path, handle: capi.Handle) -> None:
    with pytest.raises(InputError, match="must be an object"):
        capi.load(str(tmp_path / "a.onnx"), None, "[1]")
    with pytest.raises(InputError, match="unknown dtype code 99"):
        capi.view(memoryview(b"\0" * 4), 99, [1], "x")
    with pytest.raises(InputError, match="1 inputs given|2 inputs given"):
        capi.run(handle, [None, None], [b"", b""], [1, 1], [[0], [0]], [None])


def test_cmakedir_when_not_installed(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(capi.sys, "prefix", str(tmp_path))
    assert capi.main(["--cmakedir"]) == 1
    assert "make capi" in capsys.readouterr().err
    (tmp_path / "lib" / "cmake" / "ptx").mkdir(parents=True)
    (tmp_path / "lib" / "cmake" / "ptx" / "ptxConfig.cmake").write_text("")
    assert capi.main(["--includedir"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "include")
