"""Where a benchmark ran: host, CPU, GPU (when nvidia-smi answers) and package versions.

Versions are read from package metadata, never by importing torch or TensorRT,
so capturing the environment costs nothing and works on a bare install.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import subprocess
from importlib import metadata

from ptx import __version__
from ptx.runtime.cpu import cpu_model

PACKAGES = (
    "numpy",
    "onnx",
    "onnxruntime",
    "onnxruntime-gpu",
    "torch",
    "tensorrt",
    "tensorrt_rtx",
    "tensorrt-rtx-cu13",
    "cuda-python",
)
GPU_QUERY = "name,driver_version,clocks.sm,clocks.mem,clocks.max.sm,memory.total,compute_cap"


def usable_cores() -> int:
    """CPU cores this process may run on (affinity-aware)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def gpus(timeout_s: float = 5.0) -> list[dict[str, str]]:
    """One dict per GPU from nvidia-smi (name, driver, clocks, memory), or [] without one."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        proc = subprocess.run(
            [exe, f"--query-gpu={GPU_QUERY}", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if proc.returncode != 0:
        return []
    keys = GPU_QUERY.split(",")
    rows = []
    for line in proc.stdout.strip().splitlines():
        values = [v.strip() for v in line.split(",")]
        if len(values) == len(keys):
            rows.append(dict(zip(keys, values, strict=True)))
    return rows


def cuda_version(timeout_s: float = 5.0) -> str | None:
    """The CUDA version the driver reports (nvidia-smi header), or None."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe], capture_output=True, text=True, timeout=timeout_s).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    marker = "CUDA Version:"
    if marker in out:
        return out.split(marker, 1)[1].split()[0].strip(" |")
    return None


def host_name() -> str:
    """This host's name, safe as a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", socket.gethostname()) or "host"


def versions() -> dict[str, str]:
    """Installed versions of ptx and the packages that decide benchmark figures."""
    out = {"ptx": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def capture() -> dict:
    """The environment block of a benchmark report."""
    gpu_list = gpus()
    return {
        "hostname": socket.gethostname(),
        "os": platform.platform(),
        "cpu": cpu_model(),
        "cpu_cores": usable_cores(),
        "cpu_count": os.cpu_count(),
        "gpus": gpu_list,
        "cuda": cuda_version() if gpu_list else None,
        "versions": versions(),
    }
