"""ptx.runtime: load a model and run it. Never imports torch (not even transitively)."""

from __future__ import annotations

import os
from pathlib import Path

from ptx.errors import InputError, ModelError
from ptx.runtime.backends import BACKENDS, backend_options, engine_class
from ptx.runtime.backends.auto import precision as ladder
from ptx.runtime.backends.auto.select import load_auto
from ptx.runtime.engine import Engine, EngineOptions
from ptx.tensors import TensorInfo

__all__ = ["BACKENDS", "Engine", "EngineOptions", "TensorInfo", "engine_class", "load"]

ONNX_SUFFIXES = (".onnx",)
PLAN_SUFFIXES = (".plan", ".engine", ".trt")
TORCH_SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors")


def _check_file(p: Path) -> None:
    if not p.exists():
        raise ModelError(f"{p}: no such model file; check the path (or export the model first)")
    if p.is_dir():
        raise ModelError(f"{p}: is a folder; give a .onnx or .plan file")
    if p.stat().st_size == 0:
        raise ModelError(f"{p}: empty file (0 bytes); re-export or rebuild it")


def pick_backend(path: str | Path, backend: str = "auto") -> str:
    """The backend that will run ``path``: by suffix for ``auto``, else the one named."""
    p = Path(path)
    suffix = p.suffix.lower()
    if backend == "auto":
        if suffix in ONNX_SUFFIXES:
            return "onnxruntime"
        if suffix in PLAN_SUFFIXES:
            return "tensorrt"
        hint = " (a PyTorch file? export it to ONNX first)" if suffix in TORCH_SUFFIXES else ""
        raise ModelError(f"{p}: unknown model type '{suffix}' (expected .onnx or .plan){hint}")
    if backend not in BACKENDS:
        raise InputError(f"unknown backend '{backend}' (use auto or {', '.join(BACKENDS)})")
    if backend in ("onnxruntime", "openvino") and suffix in PLAN_SUFFIXES:
        raise ModelError(f"{p}: a TensorRT plan cannot run on {backend}; give the .onnx")
    return backend


def requested_backend(path: str | Path, backend: str = "auto") -> str:
    """``backend``, or $PTX_BACKEND in place of ``auto`` for an .onnx (skips auto's trial)."""
    env = os.environ.get("PTX_BACKEND", "").strip()
    if backend != "auto" or env in ("", "auto") or Path(path).suffix.lower() not in ONNX_SUFFIXES:
        return backend
    if env not in BACKENDS:
        raise InputError(f"PTX_BACKEND={env}: unknown backend (use auto or {', '.join(BACKENDS)})")
    return env


def load(
    path: str | Path,
    device: str | None = None,
    threads: int | None = None,
    backend: str = "auto",
    trial_shapes: dict[str, tuple[int, ...]] | None = None,
    precision: str = "auto",
    **options: object,
) -> Engine:
    """Load ``.onnx`` (ONNX Runtime / OpenVINO) or ``.plan`` (TensorRT) and return an Engine.

    ``threads`` = intra-op threads (default: physical cores); ``options`` are the
    backend's declared options (onnxruntime: ``spin``; openvino: ``hint``,
    ``precision``, ``cache``, ``static_after``; tensorrt: ``contexts``,
    ``allow_chunking``, ``cuda_graph``, ``stream``), checked by the rule in
    ptx.runtime.backends. ``auto`` on the CPU picks the faster installed backend by a
    cached timed trial (ptx.runtime.backends.auto.select; ``trial_shapes`` sets its
    input shapes); $PTX_BACKEND or a named backend skips it. ``precision`` (auto, fp32,
    bf16, fp16): ``auto`` with ``backend="auto"`` on the CPU adds the reduced precisions
    this processor has units for to that trial, each kept only when it passes the parity
    gate against FP32 (ptx.runtime.backends.auto.precision); with a named backend it is
    that backend's fp32. bf16/fp16 run on OpenVINO; one the CPU or backend cannot run is
    one InputError line. ``device`` defaults to
    ``cuda`` for a plan and ``cpu`` otherwise; a plan on ``cpu`` is one InputError line.
    Any unusable file raises one ModelError line.
    """
    p = Path(path)
    asked = backend
    precision = ladder.normalise(precision)
    backend = requested_backend(p, backend)
    if backend == "auto" and precision in ladder.REDUCED and p.suffix.lower() in ONNX_SUFFIXES:
        backend = "openvino"  # the CPU backend that runs reduced precisions
    name = pick_backend(p, backend)
    ladder.check_explicit(precision, name)
    _check_file(p)
    if device is None:
        device = "cuda" if name == "tensorrt" else "cpu"
    if name == "tensorrt" and device.partition(":")[0] not in ("cuda", "gpu"):
        raise InputError(
            f"{p}: a TensorRT plan runs on an NVIDIA GPU, not device '{device}'; "
            "use device='cuda' (or cuda:N), or load the .onnx to run on the CPU"
        )
    if backend == "auto" and name == "onnxruntime" and device == "cpu":
        return load_auto(p, threads=threads, shapes=trial_shapes, precision=precision, **options)
    if name == "openvino":
        options = {**options, "precision": ladder.OV_PRECISION.get(precision, "f32")}
    try:
        cls = engine_class(name)
    except ModelError as exc:
        raise ModelError(f"{p}: {exc}") from exc
    settings = backend_options(name, options, auto=asked == "auto")
    return cls(p, device=device, threads=threads, options=settings)
