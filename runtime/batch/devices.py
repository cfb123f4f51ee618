"""Which device a `ptx batch` actor's engine runs on: the CPU, or the GPU Ray assigned it.

Ray gives an actor with ``num_gpus`` its GPU ids (``ray.get_gpu_ids()``) and sets
CUDA_VISIBLE_DEVICES to them before the actor starts, so inside the actor the first
assigned GPU is usually CUDA device 0. The index is taken as Ray Train's
``get_devices`` takes it: the id's position in CUDA_VISIBLE_DEVICES, or the id itself
when Ray was told not to set it (RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ptx.errors import InputError, ModelError
from ptx.runtime import PLAN_SUFFIXES

GPU_BACKENDS = ("onnxruntime", "tensorrt")  # the backends that run a model on an NVIDIA GPU


def check_gpu_request(gpus_per_worker: float, backend: str, model: Path) -> None:
    """One InputError line for a GPU share, backend and model that cannot go together."""
    if not math.isfinite(gpus_per_worker) or gpus_per_worker < 0:
        raise InputError(f"--gpus-per-worker must be >= 0, got {gpus_per_worker:g}")
    plan = model.suffix.lower() in PLAN_SUFFIXES
    if gpus_per_worker > 0 and backend not in ("auto", *GPU_BACKENDS):
        raise InputError(
            f"--backend {backend} runs on the CPU; with --gpus-per-worker use auto, "
            f"{' or '.join(GPU_BACKENDS)}"
        )
    if gpus_per_worker == 0 and plan:
        raise InputError(
            f"{model.name}: a TensorRT plan runs on a GPU; give --gpus-per-worker "
            "(e.g. 1), or the .onnx to run on the CPU"
        )


def gpu_backend(model: Path, backend: str) -> str:
    """The backend an actor on a GPU loads: ``auto`` is TensorRT for a plan, else ONNX Runtime.

    Resolved here rather than by ``load``'s auto, which on an .onnx may follow
    $PTX_BACKEND to a CPU-only backend.
    """
    if backend != "auto":
        return backend
    return "tensorrt" if model.suffix.lower() in PLAN_SUFFIXES else "onnxruntime"


def check_cluster_gpus(
    resources: Mapping[str, float], gpus_per_worker: float, workers: int
) -> None:
    """One InputError line when the cluster cannot hold every actor's GPU share.

    Ray would otherwise wait for the GPUs forever with no word said; this runs on the
    driver after ``ray.init``, with ``ray.cluster_resources()``.
    """
    if gpus_per_worker <= 0:
        return
    have = float(resources.get("GPU", 0.0))
    need = gpus_per_worker * workers
    if have <= 0:
        raise InputError(
            f"--gpus-per-worker {gpus_per_worker:g}: the Ray cluster has no GPUs "
            "(none detected on this machine, or none in the cluster at --address); "
            "drop the flag to run on the CPU"
        )
    if need > have + 1e-9:
        raise InputError(
            f"--gpus-per-worker {gpus_per_worker:g} x --workers {workers} needs {need:g} GPUs; "
            f"the Ray cluster has {have:g}: use fewer workers or a smaller share"
        )


def actor_device(gpu_ids: Sequence[int | str], environ: Mapping[str, str] | None = None) -> str:
    """The CUDA device (``cuda`` or ``cuda:N``) of the first GPU Ray assigned this actor."""
    if not gpu_ids:
        raise ModelError("ptx batch: Ray assigned this worker no GPU (asked with num_gpus > 0)")
    env = os.environ if environ is None else environ
    first = str(gpu_ids[0])
    visible = [v.strip() for v in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    if visible:
        if first not in visible:
            raise ModelError(
                f"ptx batch: Ray assigned GPU {first} but CUDA_VISIBLE_DEVICES is "
                f"{','.join(visible)}"
            )
        index = visible.index(first)
    else:
        index = int(first)
    return "cuda" if index == 0 else f"cuda:{index}"


def worker_device(gpus_per_worker: float) -> str:
    """In a Ray actor: ``cpu``, or the device of the GPU Ray assigned it."""
    if gpus_per_worker <= 0:
        return "cpu"
    import ray  # lazy: heavy, and only ever called inside a Ray actor

    return actor_device(ray.get_gpu_ids())


__all__ = [
    "GPU_BACKENDS", "actor_device", "check_cluster_gpus", "check_gpu_request", "gpu_backend",
    "worker_device",
]  # fmt: skip
