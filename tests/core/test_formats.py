"""The shared formats layer: install hints name real packages, sidecar refusals say what to do."""

from __future__ import annotations

import pytest

from ptx.errors import MissingDependency, ModelError
from ptx.formats import tensorrt
from ptx.formats.sidecar import check_compatible


def test_missing_mainline_tensorrt_names_its_own_pip_package(monkeypatch) -> None:
    def absent(name: str) -> None:
        raise ImportError(name)

    monkeypatch.setattr(tensorrt, "_import", absent)
    with pytest.raises(MissingDependency) as err:
        tensorrt.detect("tensorrt")
    assert "pip install tensorrt" in str(err.value) and "ptx[tensorrt]" not in str(err.value)
    with pytest.raises(MissingDependency, match=r"pip install 'ptx\[tensorrt-rtx\]'"):
        tensorrt.detect("rtx")


def test_version_mismatch_names_the_pip_pin() -> None:
    sidecar = {"flavour": "rtx", "trt_version": "1.2.0.3", "onnx": {"path": "m.onnx"}}
    with pytest.raises(ModelError, match=r"pip install tensorrt-rtx-cu13==1\.2\.0\.3, or rebuild"):
        check_compatible("m.plan", sidecar, {"tensorrt": "10.13.0"})
