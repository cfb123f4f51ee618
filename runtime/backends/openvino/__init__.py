"""OpenVINO backend (CPU): the same .onnx, read directly. Needs ``pip install 'ptx[openvino]'``."""

from ptx.runtime.backends.openvino.engine import OpenVINOEngine, openvino_version

__all__ = ["OpenVINOEngine", "openvino_version"]
