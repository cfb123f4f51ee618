"""What this machine can run — CPU units, GPU, driver, CUDA, TensorRT, ONNX Runtime, OpenVINO,
NVRTC (``ptx doctor``).

Every probe reports what it found or why not; none raises, so a machine without a
GPU gets a clean report ("no GPU") instead of a traceback. It also compiles every
kernel for every target and reports each as ok or failed. The command itself is
ptx.runtime.cli.doctor.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
from typing import Any

from ptx import __version__
from ptx.errors import MissingDependency, PtxError
from ptx.formats.tensorrt import MODULES, installed
from ptx.runtime.backends.auto import precision as ladder
from ptx.runtime.cpu import cpu_capabilities
from ptx.runtime.cuda.api import device_count, device_info, runtime
from ptx.runtime.kernels.compile import compile_all, nvrtc_version


def _nvidia_smi() -> dict[str, Any]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return {"found": False, "reason": "nvidia-smi not on PATH"}
    query = "name,driver_version,memory.total,compute_cap"
    try:
        out = subprocess.run(
            [exe, f"--query-gpu={query}", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=20, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"found": True, "reason": f"nvidia-smi failed: {exc}"}
    if out.returncode != 0:
        return {"found": True, "reason": (out.stderr or out.stdout).strip()[:200]}
    gpus = []
    for line in out.stdout.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 4:
            gpus.append(
                dict(zip(("name", "driver", "memory_mib", "compute_cap"), parts, strict=True))
            )
    return {"found": True, "gpus": gpus}


def gpu_report() -> dict[str, Any]:
    """GPUs through the CUDA runtime, driver and runtime versions, and nvidia-smi's view."""
    report: dict[str, Any] = {"count": 0, "devices": [], "nvidia_smi": _nvidia_smi()}
    try:
        rt = runtime()
        err, version = rt.cudaRuntimeGetVersion()
        report["cuda_runtime"] = _cuda_version(version) if int(err) == 0 else None
        err, version = rt.cudaDriverGetVersion()
        report["cuda_driver"] = _cuda_version(version) if int(err) == 0 and version else None
        report["count"] = device_count()
        report["devices"] = [device_info(i).to_dict() for i in range(report["count"])]
    except PtxError as exc:  # no cuda-python, or a CUDA call failed
        report["reason"] = str(exc)
    if report["count"] == 0 and "reason" not in report:
        report["reason"] = (
            "no NVIDIA driver" if not report.get("cuda_driver") else "driver found, but no GPU"
        )
    return report


def _cuda_version(v: int) -> str:
    return f"{v // 1000}.{(v % 1000) // 10}"


def tensorrt_report() -> dict[str, Any]:
    """Installed TensorRT flavours and versions (through ptx.formats.tensorrt)."""
    found = installed()
    return {
        "flavours": {MODULES[k]: v for k, v in found.items()},
        "note": None if found else "no TensorRT: pip install 'ptx[tensorrt-rtx]' (RTX GPUs)",
    }


def onnxruntime_report() -> dict[str, Any]:
    """ONNX Runtime's version and execution providers."""
    try:
        import onnxruntime as ort
    except ImportError:
        return {"version": None, "providers": [], "note": "onnxruntime not installed"}
    providers = list(ort.get_available_providers())
    return {
        "version": ort.__version__,
        "providers": providers,
        "cuda": "CUDAExecutionProvider" in providers,
    }


def _type_name(value: Any) -> str:
    """An OpenVINO element type as its short name (``bf16``), whatever the binding returns."""
    return value.to_string() if hasattr(value, "to_string") else str(value)


def cpu_report() -> dict[str, Any]:
    """The CPU's matrix/vector units, and what OpenVINO reports for its CPU device."""
    report: dict[str, Any] = dict(cpu_capabilities())
    try:
        import openvino as ov  # optional: the openvino extra
    except ImportError:
        report["openvino"] = {"note": "openvino not installed"}
        report["ladder"] = ladder_report()
        return report
    try:
        core = ov.Core()
        report["openvino"] = {
            "version": ov.get_version().split("-")[0],
            "capabilities": list(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")),
            "default_precision": _type_name(core.get_property("CPU", "INFERENCE_PRECISION_HINT")),
        }
    except Exception as exc:  # a plugin that fails to start must not fail the report
        report["openvino"] = {"note": f"OpenVINO's CPU plugin did not answer: {exc}"}
    report["ladder"] = ladder_report()
    return report


def ladder_report() -> dict[str, str]:
    """Each reduced precision of the CPU ladder: "yes", or why this machine cannot run it."""
    return {p: ladder.unsupported(p) or "yes" for p in ladder.REDUCED}


def nvrtc_report(cache: bool = True) -> dict[str, Any]:
    """NVRTC's version and every kernel compiled for every target."""
    try:
        version = nvrtc_version()
    except MissingDependency as exc:
        return {"available": False, "reason": str(exc), "kernels": []}
    kernels = compile_all(cache=cache)
    return {
        "available": True,
        "version": version,
        "kernels": kernels,
        "all_ok": all(k["ok"] for k in kernels),
    }


def collect(cache: bool = True) -> dict[str, Any]:
    """The whole report as a JSON-able dict."""
    return {
        "ptx": __version__,
        "python": platform.python_version(),
        "cpu": cpu_report(),
        "gpu": gpu_report(),
        "tensorrt": tensorrt_report(),
        "onnxruntime": onnxruntime_report(),
        "nvrtc": nvrtc_report(cache),
    }


def render(report: dict[str, Any]) -> str:
    """The report for people, a few lines."""
    gpu = report["gpu"]
    cpu = report["cpu"]
    units = ", ".join(cpu["matrix"] + cpu["vector"]) or "none reported"
    lines = [
        f"cpu: {cpu['model']}, {cpu['physical_cores']} cores; units: {units}"
        + ("" if cpu["matrix"] else " (no AMX)")
    ]
    ov_cpu = cpu["openvino"]
    if "capabilities" in ov_cpu:
        lines.append(
            f"openvino {ov_cpu['version']} cpu: {', '.join(ov_cpu['capabilities'])}; "
            f"default precision {ov_cpu['default_precision']}"
        )
    if cpu.get("ladder"):
        rungs = [f"{p} {why}" if why == "yes" else f"{p} no ({why})"
                 for p, why in cpu["ladder"].items()]  # fmt: skip
        lines.append(
            f"cpu precision ladder (--precision auto also tries): {'; '.join(rungs)}"
            + (
                "; int8 runs NAME.int8.onnx from ptx convert --precision int8"
                if cpu["ladder"].get("int8") == "yes"
                else ""
            )  # fmt: skip
        )
    if gpu["count"]:
        for d in gpu["devices"]:
            lines.append(
                f"gpu {d['index']}: {d['name']}, compute {d['compute_capability']}, "
                f"{d['memory_gib']} GiB, {d['multiprocessors']} SMs"
            )
    else:
        lines.append(f"gpu: none ({gpu.get('reason', 'not found')})")
    lines.append(
        f"cuda: driver {gpu.get('cuda_driver') or '-'}, runtime {gpu.get('cuda_runtime') or '-'}"
    )
    trt = report["tensorrt"]["flavours"]
    lines.append("tensorrt: " + (", ".join(f"{k} {v}" for k, v in trt.items()) or "none"))
    ort = report["onnxruntime"]
    lines.append(f"onnxruntime: {ort['version']} ({', '.join(ort['providers'])})")
    nv = report["nvrtc"]
    if not nv["available"]:
        lines.append(f"nvrtc: not available ({nv['reason']})")
    else:
        lines.append(f"nvrtc: {nv['version']}")
        for k in nv["kernels"]:
            state = "ok" if k["ok"] else f"FAILED: {k['error']}"
            lines.append(f"  {k['kernel']:<12} {k['target']:<11} {state}")
    return "\n".join(lines)
