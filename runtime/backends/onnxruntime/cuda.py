"""ONNX Runtime's CUDA execution provider with IOBinding, behind the Engine interface.

Needs onnxruntime-gpu. ``run`` takes NumPy like the CPU engine; ``run_device`` binds
GPU arrays (torch, CuPy, ptx buffers) as inputs and outputs without copies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ptx.errors import InputError, ModelError
from ptx.runtime.backends.onnxruntime.engine import OnnxRuntimeEngine, OnnxRuntimeOptions
from ptx.runtime.cuda import Stream, as_device_array, parse_device, stream_handle

ORT_GPU_HINT = "the CUDA execution provider needs onnxruntime-gpu (pip install onnxruntime-gpu)"


class OnnxRuntimeCudaEngine(OnnxRuntimeEngine):
    """An ONNX Runtime session on one GPU, with zero-copy device IO through IOBinding."""

    backend = "onnxruntime-cuda"
    device_arrays = True

    def __init__(
        self,
        path: str | Path,
        device: str = "cuda",
        threads: int | None = None,
        options: OnnxRuntimeOptions | None = None,
        **kwargs: object,
    ) -> None:
        import onnxruntime as ort

        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ModelError(f"{Path(path).name}: {ORT_GPU_HINT}")
        self.device_id = parse_device(device)
        super().__init__(path, device="cuda", threads=threads, options=options, **kwargs)
        self.device = f"cuda:{self.device_id}"
        self.session.set_providers(
            ["CUDAExecutionProvider", "CPUExecutionProvider"],
            [{"device_id": self.device_id}, {}],
        )

    def run_device(
        self, feeds: dict[str, Any], outputs: dict[str, Any] | None = None, stream: Any = None
    ) -> dict[str, Any]:
        """Run on device arrays; ``outputs`` given are written in place, others allocated.

        ORT runs on its own stream: with ``stream`` given, that stream is synchronised
        first so the inputs are complete, and the call returns with the outputs ready.
        """
        handle = stream_handle(stream)
        if handle is not None:
            Stream(handle).synchronize()
        binding = self.session.io_binding()
        for t in self.inputs:
            if t.name not in feeds:
                raise InputError(f"{self.path.name}: input '{t.name}' missing")
            arr = as_device_array(feeds[t.name], f"input '{t.name}'")
            if arr.dtype != t.dtype:
                raise InputError(
                    f"{self.path.name}: input '{t.name}' needs {t.dtype.name}, got {arr.dtype.name}"
                )
            binding.bind_input(
                t.name, "cuda", self.device_id, arr.dtype.type, list(arr.shape), arr.ptr
            )
        given = {k: as_device_array(v, f"output '{k}'") for k, v in (outputs or {}).items()}
        for t in self.outputs:
            if t.name in given:
                arr = given[t.name]
                binding.bind_output(
                    t.name, "cuda", self.device_id, arr.dtype.type, list(arr.shape), arr.ptr
                )
            else:
                binding.bind_output(t.name, "cuda", self.device_id)
        try:
            self.session.run_with_iobinding(binding)
        except Exception as exc:  # ORT's own exception classes
            raise ModelError(f"{self.path.name}: ONNX Runtime (CUDA) failed: {exc}") from exc
        binding.synchronize_outputs()
        produced = dict(zip([t.name for t in self.outputs], binding.get_outputs(), strict=True))
        return {k: given.get(k, _OrtValueArray(v)) for k, v in produced.items()}


class _OrtValueArray:
    """An OrtValue on the GPU seen through ``__cuda_array_interface__`` (it owns the memory)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        """Shape, dtype and pointer of the OrtValue."""
        dtype = np.dtype(self.value.element_type())
        shape = tuple(self.value.shape())
        return {
            "shape": shape,
            "typestr": dtype.str,
            "data": (self.value.data_ptr(), False),
            "strides": None,
            "version": 3,
        }
