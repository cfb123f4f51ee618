"""INT8 through NNCF post-training quantization, checked against the CPU ladder's gate.

NNCF (its ONNX backend) calibrates activation ranges on representative inputs
(synthetic catalogue pictures in the spec's convention, or the photos of a
``--calibration`` folder, through ptx.inputs' one rule) and writes a Q/DQ ONNX
model: OpenVINO runs its quantized ops as INT8 (VNNI / AMX-INT8), ONNX Runtime
runs it too. The result must pass the precision ladder's gate
(ptx.runtime.backends.auto.precision: images PSNR >= 45 dB on pixels, other
outputs rel L2 <= 1e-2) against FP32 on fresh pictures, run on OpenVINO (the
backend that runs it fast). When plain quantization fails, NNCF's accuracy
control keeps the layers that cost most in FP32 until the gate holds (its metric
is the gate's margin in dB); a model that still fails is refused with one line
and nothing is written. The copy lands beside the source (``m.int8.onnx``) with
the ModelSpec (precision ``int8``) and the sha256 of the source it was made
from, which is how the runtime knows it is current.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ptx import runtime
from ptx.errors import ExportError, InputError, require
from ptx.export.precision.calibrate import representative_inputs, session
from ptx.export.precision.graph import FLOAT16, float_types
from ptx.formats.onnx import load_onnx
from ptx.inputs import is_image
from ptx.io import atomic_path, sha256_file
from ptx.runtime.backends.auto import precision as ladder
from ptx.spec import ModelSpec, embed_in_onnx, producer_versions, spec_from_onnx

CAP_DB = 50.0  # the gate margin an exact copy scores (NNCF needs a finite metric)
# NNCF keeps layers FP32 until initial - quantized <= max_drop; the initial (an exact copy)
# scores CAP_DB, so max_drop = CAP_DB - MARGIN_DB asks for a margin of MARGIN_DB over the gate.
MARGIN_DB = 1.0  # accuracy control aims this far above the gate: the check runs on OpenVINO
CHECK_SAMPLES = 4
REL_L2_DB = -20.0 * math.log10(ladder.REL_L2_MAX)  # rel L2 1e-2 as a "dB" bar: 40


@dataclass
class Int8Report:
    """What quantize_int8 did: quantizers, what accuracy control kept FP32, the gate."""

    src: str
    dst: str
    samples: int
    calibration: str
    quantizers: int  # QuantizeLinear nodes in the result
    quantizers_plain: int  # ... after plain quantization, before accuracy control
    restored: bool  # accuracy control ran (plain quantization failed the gate)
    parity: str  # the gate figure on OpenVINO (worst output, worst check picture)
    parity_plain: str
    checked_on: str
    nncf: str
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)

    def summary(self) -> str:
        """One line for people."""
        kept = self.quantizers_plain - self.quantizers
        how = (
            f"; plain INT8 failed the gate ({self.parity_plain}), accuracy control kept "
            f"{kept} of {self.quantizers_plain} quantizers' layers FP32"
            if self.restored
            else ""
        )
        return (
            f"{self.dst}: INT8 (NNCF, {self.quantizers} quantizers, {self.samples} calibration "
            f"inputs from {self.calibration}); parity on {self.checked_on} {self.parity}{how}"
        )


def _count(model: Any) -> int:
    return sum(1 for n in model.graph.node if n.op_type == "QuantizeLinear")


def _margin_db(spec: ModelSpec | None, ref: dict, out: dict) -> float:
    """How far ``out`` is above the gate, in dB (negative: it fails), capped at CAP_DB."""
    conv = spec.image if spec is not None else None
    worst = CAP_DB
    for name, want in ref.items():
        got = np.asarray(out[name], np.float32)
        if conv is not None and is_image(np.shape(want), conv):
            pix = np.stack(conv.to_pixels(got))
            db = ladder.psnr(pix, np.stack(conv.to_pixels(np.asarray(want, np.float32))))
            margin = db - ladder.PSNR_MIN_DB
        else:
            err = ladder.relative_l2(got, want)
            margin = (-20.0 * math.log10(err) if err > 0 else math.inf) - REL_L2_DB
        worst = min(worst, margin if np.isfinite(got).all() else -CAP_DB)
    return worst


def _check(path: Path, spec: ModelSpec | None, items: list[dict]) -> tuple[bool, str, str]:
    """(passes, worst gate figure, backend) of the model file at ``path`` on the check items."""
    backend = "openvino" if ladder.openvino_capabilities() is not None else "onnxruntime"
    opts = {"cache": False} if backend == "openvino" else {}
    worst: tuple[float, bool, str] | None = None
    with runtime.load(path, backend=backend, precision="fp32", **opts) as engine:
        for item in items:
            out = engine.run(item["feed"])
            ok, figure = ladder.gate(spec, item["ref"], out)
            margin = _margin_db(spec, item["ref"], out) if ok else -math.inf
            if worst is None or margin < worst[0]:
                worst = (margin, ok, figure)
    assert worst is not None  # CHECK_SAMPLES >= 1
    return worst[1], worst[2], backend


def _check_model(model: Any, spec: ModelSpec | None, items: list[dict]) -> tuple[bool, str, str]:
    """_check of an in-memory model (saved to a temporary file: OpenVINO reads files)."""
    import onnx

    with tempfile.TemporaryDirectory(prefix="ptx-int8-") as tmp:
        path = Path(tmp) / "candidate.onnx"
        onnx.save(model, str(path))
        return _check(path, spec, items)


def quantize_int8(
    src: str | Path,
    dst: str | Path | None = None,
    calibration: str | Path | None = None,
    samples: int = 16,
    restore: bool = True,
    seed: int = 0,
) -> Int8Report:
    """Write an NNCF INT8 copy of ``src`` (beside it by default) that passes the ladder's gate."""
    import onnx

    nncf = require("nncf", "openvino", "INT8 quantization (ptx convert --precision int8)")
    if samples < 1:
        raise InputError(f"samples must be at least 1, got {samples}")
    start = time.perf_counter()
    src = Path(src)
    dst = Path(dst) if dst is not None else ladder.int8_path(src)
    if dst.resolve() == src.resolve():
        raise InputError(f"{dst}: the INT8 copy would overwrite its source; name another file")
    model = load_onnx(src)
    spec = spec_from_onnx(model)
    if any(n.op_type in ladder.QUANTIZE_OPS for n in model.graph.node):
        raise ExportError(f"{src}: already quantized; quantize the FP32 model instead")
    if any(code == FLOAT16 for code in float_types(model).values()):
        raise ExportError(f"{src}: has FP16 tensors; quantize the FP32 model instead")
    feeds = representative_inputs(model, spec, samples, seed, calibration)
    reference = session(model)  # no graph rewrites: an exact copy scores CAP_DB, as NNCF needs
    names = [o.name for o in reference.get_outputs()]
    checks = representative_inputs(model, spec, CHECK_SAMPLES, seed + 1000)
    items = [{"feed": f, "ref": dict(zip(names, reference.run(names, f), strict=True))}
             for f in checks]  # fmt: skip

    def validate(candidate: Any, data: Any) -> tuple[float, None]:
        sess = session(candidate)
        scores = [
            _margin_db(spec, d["ref"], dict(zip(names, sess.run(names, d["feed"]), strict=True)))
            for d in data
        ]
        return float(min(scores)), None

    calib = nncf.Dataset(feeds)
    # Ranges from the extremes of every calibration input, not NNCF's default mean of
    # per-input extremes: with a few dozen pictures a dark one halves the mean maximum and
    # clips every bright pixel (PSNR 13 dB on the enhancer). Asymmetric (u8) activations
    # keep the full 8 bits for non-negative pixels; VNNI multiplies u8 by s8 natively.
    settings = {
        "subset_size": len(feeds),
        "preset": nncf.QuantizationPreset.MIXED,
        "advanced_parameters": _advanced(),
    }
    # NNCF draws progress bars on stdout: keep stdout for the command's own line or --json.
    with contextlib.redirect_stdout(sys.stderr), _quiet_nncf():
        quantized = nncf.quantize(model, calib, **settings)
    plain_n = _count(quantized)
    ok, plain, backend = _check_model(quantized, spec, items)
    figure, restored = plain, not ok and restore
    if restored:
        with contextlib.redirect_stdout(sys.stderr), _quiet_nncf():
            quantized = nncf.quantize_with_accuracy_control(
                model, calib, nncf.Dataset(items, lambda d: d["feed"]), validate,
                max_drop=CAP_DB - MARGIN_DB, drop_type=nncf.DropType.ABSOLUTE,
                subset_size=len(feeds), preset=settings["preset"],
                advanced_quantization_parameters=settings["advanced_parameters"],
            )  # fmt: skip
        ok, figure, backend = _check_model(quantized, spec, items)
        if ok and _count(quantized) == 0:  # every layer back in FP32: that is no INT8 model
            ok, figure = False, f"{plain} and only with every layer FP32"
    if not ok:
        tried = "plain and with accuracy control" if restore else "plain (--no-debug-precision)"
        raise ExportError(
            f"{src.name}: INT8 fails the parity gate on {backend}: {figure} "
            f"({ladder.gate_line()}; tried {tried}); nothing written, keep fp32 or bf16"
        )
    _with_spec(quantized, spec, sha256_file(src))
    with atomic_path(dst) as tmp:
        onnx.save(quantized, str(tmp))
    return Int8Report(
        src=str(src), dst=str(dst), samples=len(feeds),
        calibration=str(calibration) if calibration else ("spec pictures" if spec else "random"),
        quantizers=_count(quantized), quantizers_plain=plain_n, restored=restored,
        parity=figure, parity_plain=plain, checked_on=backend,
        nncf=getattr(nncf, "__version__", "?"), seconds=round(time.perf_counter() - start, 3),
    )  # fmt: skip


def _advanced() -> Any:
    """NNCF's advanced parameters: activation ranges from the min and max over all inputs."""
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    return AdvancedQuantizationParameters(
        activations_range_estimator_params=RangeEstimatorParametersSet.MINMAX
    )


@contextlib.contextmanager
def _quiet_nncf() -> Any:
    """NNCF's INFO lines (one per node it skips) only at DEBUG in ptx's own log."""
    logger = logging.getLogger("nncf")
    old = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(old)


def _with_spec(model: Any, spec: ModelSpec | None, source_sha: str) -> None:
    """The ModelSpec with the quantizer's versions, and the sha256 of the source model.

    spec.precision stays as it was: ModelSpec knows fp32/fp16/mixed only, and the
    float tensors around the quantized ops are what it describes.
    """
    if spec is not None:
        spec.producer.update(producer_versions("nncf", "onnx", "onnxruntime"))
        embed_in_onnx(model, spec)
    keep = [p for p in model.metadata_props if p.key != ladder.INT8_SOURCE_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    entry = model.metadata_props.add()
    entry.key, entry.value = ladder.INT8_SOURCE_KEY, source_sha
