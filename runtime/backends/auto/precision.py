"""The CPU precision ladder: which reduced precisions this processor can run, and the gate.

A reduced precision is a rung only where the CPU has the units for it (bf16:
AVX512-BF16 or AMX-BF16; fp16: AVX512-FP16 or AMX-FP16, from /proc/cpuinfo via
ptx.runtime.cpu) and OpenVINO reports the matching capability for its CPU
device; nothing is assumed from the processor's name. A rung is kept only when
its output passes the parity gate against FP32 ONNX Runtime on the spec's
example pictures: image outputs PSNR >= 45 dB on pixels (``spec.image.to_pixels``),
other outputs relative L2 <= 1e-2. Decisions are cached with the capability
fingerprint (CPU model, matrix and vector flags, OpenVINO version), so a cache
written on another processor is measured again rather than trusted.
"""

from __future__ import annotations

import functools
import math
from importlib import metadata

import numpy as np

from ptx.errors import InputError
from ptx.inputs import is_image
from ptx.runtime.cpu import cpu_capabilities
from ptx.spec import ModelSpec

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
REDUCED = ("bf16", "fp16")
_ALIASES = {"f32": "fp32", "f16": "fp16", "float32": "fp32", "float16": "fp16"}
OV_PRECISION = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}  # OpenVINO's spelling
UNITS = {"bf16": ("avx512_bf16", "amx_bf16"), "fp16": ("avx512_fp16", "amx_fp16")}
OV_CAPABILITY = {"bf16": "BF16", "fp16": "FP16"}
PSNR_MIN_DB = 45.0
REL_L2_MAX = 1e-2


def normalise(precision: str) -> str:
    """``precision`` in ptx's spelling (f32 -> fp32, f16 -> fp16); one InputError otherwise."""
    p = _ALIASES.get(str(precision).lower(), str(precision).lower())
    if p not in PRECISIONS:
        raise InputError(f"unknown precision '{precision}' (use {', '.join(PRECISIONS)})")
    return p


@functools.lru_cache(maxsize=1)
def openvino_capabilities() -> tuple[str, ...] | None:
    """What OpenVINO reports for its CPU device (OPTIMIZATION_CAPABILITIES); None without it."""
    try:
        import openvino as ov  # lazily: the ladder works (fp32 only) without OpenVINO

        return tuple(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    except Exception:  # not installed, or no CPU plugin
        return None


def openvino_version() -> str:
    """The installed OpenVINO version from its metadata ("" when it is not installed)."""
    try:
        return metadata.version("openvino")
    except metadata.PackageNotFoundError:
        return ""


def fingerprint() -> dict[str, object]:
    """What a ladder decision depends on: CPU model, matrix/vector flags, OpenVINO version."""
    caps = cpu_capabilities()
    return {
        "cpu": caps["model"],
        "matrix": list(caps["matrix"]),
        "vector": list(caps["vector"]),
        "openvino": openvino_version(),
    }


def unsupported(precision: str) -> str | None:
    """Why this processor cannot run ``precision`` (None when it can)."""
    if precision not in UNITS:
        return None
    caps = cpu_capabilities()
    have = set(caps["matrix"]) | set(caps["vector"])
    units = UNITS[precision]
    if not have & set(units):
        return f"this CPU ({caps['model']}) has no {' or '.join(units)}"
    ov_caps = openvino_capabilities()
    if ov_caps is None:
        return "OpenVINO (which runs reduced precisions on the CPU) is not installed"
    if OV_CAPABILITY[precision] not in ov_caps:
        return f"OpenVINO reports no {OV_CAPABILITY[precision]} for this CPU ({', '.join(ov_caps)})"
    return None


def check_explicit(precision: str, backend: str) -> None:
    """One InputError line when ``backend`` or this CPU cannot run the named ``precision``."""
    if precision == "auto" or (precision == "fp32" and backend != "tensorrt"):
        return
    if backend == "tensorrt":
        raise InputError(
            f"precision {precision}: a TensorRT plan's precision is fixed when it is built; "
            "use --precision auto with a .plan"
        )
    if backend == "onnxruntime":
        raise InputError(
            f"precision {precision}: ONNX Runtime runs fp32 on the CPU; "
            "use --backend openvino or auto"
        )
    why = unsupported(precision)
    if why:
        raise InputError(f"precision {precision}: {why}; use --precision fp32 (or auto)")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 pixel arrays (inf when identical)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def relative_l2(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / ||b|| in float64 (0 when both are zero)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    den = float(np.linalg.norm(b))
    num = float(np.linalg.norm(a - b))
    return num / den if den > 0 else num


def gate(
    spec: ModelSpec | None, ref: dict[str, np.ndarray], out: dict[str, np.ndarray]
) -> tuple[bool, str]:
    """(passes, worst figure) of ``out`` against the FP32 reference ``ref``, every output."""
    conv = spec.image if spec is not None else None
    worst_ok, worst = True, ""
    for name, want in ref.items():
        got = out.get(name)
        if got is None or np.shape(got) != np.shape(want):
            return False, f"output '{name}' missing or of another shape"
        if conv is not None and is_image(np.shape(want), conv):
            pix_ref = np.stack(conv.to_pixels(np.asarray(want, np.float32)))
            pix = np.stack(conv.to_pixels(np.asarray(got, np.float32)))
            db = psnr(pix, pix_ref)
            ok, text = db >= PSNR_MIN_DB, f"PSNR {db:.1f} dB"
        else:
            err = relative_l2(got, want)
            ok, text = err <= REL_L2_MAX, f"rel L2 {err:.1e}"
        if worst == "" or (worst_ok and not ok):
            worst_ok, worst = ok, text
        if not ok:
            worst_ok = False
    return worst_ok, worst or "no outputs"


def gate_line() -> str:
    """The gate in words, for reasons and reports."""
    return f"images PSNR >= {PSNR_MIN_DB:g} dB, other outputs rel L2 <= {REL_L2_MAX:g}"
