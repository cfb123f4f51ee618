"""The CPU precision ladder: which reduced precisions this processor can run, and the gate.

A reduced precision is a rung only where the CPU has the units for it (bf16:
AVX512-BF16 or AMX-BF16; fp16: AVX512-FP16 or AMX-FP16; int8: AVX512-VNNI,
AVX-VNNI or AMX-INT8, from /proc/cpuinfo via ptx.runtime.cpu) and OpenVINO
reports the matching capability for its CPU device; nothing is assumed from the
processor's name. INT8 runs a separate model file: ``m.int8.onnx`` beside
``m.onnx``, written by ``ptx convert --precision int8`` (NNCF post-training
quantization, Q/DQ ONNX) with the sha256 of the exact source it was made from,
so a copy made from another version of ``m.onnx`` is stale and never run. A rung is kept only when
its output passes the parity gate against FP32 ONNX Runtime on the spec's
example pictures: image outputs PSNR >= 45 dB on pixels (``spec.image.to_pixels``),
other outputs relative L2 <= 1e-2. Decisions are cached with the capability
fingerprint (CPU model, matrix and vector flags, OpenVINO version), so a cache
written on another processor is measured again rather than trusted.
``PTX_PRECISIONS=fp32`` (a comma list) masks the reduced rungs on a machine.
"""

from __future__ import annotations

import functools
import math
import os
from importlib import metadata
from pathlib import Path

import numpy as np

from ptx.errors import InputError, ModelError
from ptx.formats.onnx import load_onnx
from ptx.inputs import is_image
from ptx.runtime.backends.auto.cache import model_digest
from ptx.runtime.cpu import cpu_capabilities
from ptx.spec import ModelSpec

PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
REDUCED = ("bf16", "fp16", "int8")
_ALIASES = {"f32": "fp32", "f16": "fp16", "float32": "fp32", "float16": "fp16", "i8": "int8"}
OV_PRECISION = {"fp32": "f32", "bf16": "bf16", "fp16": "f16", "int8": "i8"}  # OpenVINO's spelling
UNITS = {
    "bf16": ("avx512_bf16", "amx_bf16"),
    "fp16": ("avx512_fp16", "amx_fp16"),
    "int8": ("avx512_vnni", "avx_vnni", "amx_int8"),  # int8 dot products: without them no gain
}
OV_CAPABILITY = {"bf16": "BF16", "fp16": "FP16", "int8": "INT8"}
INT8_SUFFIX = ".int8.onnx"
INT8_SOURCE_KEY = "ptx.int8.source_sha256"  # ONNX metadata_props: sha256 of the source model
QUANTIZE_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul"})
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


def allowed() -> str:
    """$PTX_PRECISIONS: the precisions an operator lets this machine use ("" when unset)."""
    return os.environ.get("PTX_PRECISIONS", "").strip().lower()


def unsupported(precision: str) -> str | None:
    """Why this processor cannot run ``precision`` (None when it can)."""
    if precision not in UNITS:
        return None
    mask = allowed()
    if mask and precision not in {_ALIASES.get(p.strip(), p.strip()) for p in mask.split(",")}:
        return f"masked: PTX_PRECISIONS={mask}"
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


def int8_path(src: str | Path) -> Path:
    """Where the INT8 copy of ``src`` lives: beside it, ``m.onnx`` -> ``m.int8.onnx``."""
    src = Path(src)
    return src.with_name(src.stem + INT8_SUFFIX)


def _onnx_facts(path: Path) -> tuple[bool, str | None]:
    """(holds quantize ops, the source sha256 it records) of an ONNX file (read once)."""
    try:
        st = path.stat()
    except OSError as exc:
        raise ModelError(f"{path}: no such ONNX file") from exc
    return _read_facts(str(path.resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _read_facts(path: str, size: int, mtime_ns: int) -> tuple[bool, str | None]:
    model = load_onnx(path, external_data=False)
    ops = {n.op_type for n in model.graph.node}
    meta = {p.key: p.value for p in model.metadata_props}
    return bool(ops & QUANTIZE_OPS), meta.get(INT8_SOURCE_KEY)


def int8_status(src: str | Path) -> tuple[Path | None, str]:
    """(the INT8 model to run for ``src``, "") or (None, why there is none)."""
    src = Path(src)
    if src.name.endswith(INT8_SUFFIX) or _onnx_facts(src)[0]:
        return src, ""  # already quantized: it is its own INT8 model
    dst = int8_path(src)
    make = f"make it with: ptx convert --precision int8 {src}"
    if not dst.is_file():
        return None, f"no INT8 model {dst.name} beside {src.name} ({make})"
    try:
        quantized, source = _onnx_facts(dst)
    except ModelError as exc:
        return None, f"{dst.name} is unreadable ({exc}); {make}"
    if not quantized:
        return None, f"{dst.name} holds no quantized ops; {make}"
    if source != model_digest(src):
        return None, f"{dst.name} was quantized from another version of {src.name}; {make}"
    return dst, ""


def int8_model(src: str | Path) -> Path:
    """The INT8 model file for ``src`` (itself when quantized); one InputError line when none."""
    found, why = int8_status(src)
    if found is None:
        raise InputError(f"precision int8: {why}")
    return found
