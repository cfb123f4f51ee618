"""The two torch.onnx exporters behind one call, with a fallback and one-line failures.

Exporter choice (torch 2.13): the torch.export-based exporter (``dynamo=True``) is the
default. It is the maintained path (the TorchScript exporter is deprecated since 2.9),
and its symbolic shapes carry batch/height/width through shape arithmetic (padding to
multiples, resizing to a skip's size) where the TorchScript tracer bakes example sizes
in as constants. Its lowest native opset is 18: asking it for 17 runs the ONNX C-API
down-converter, which has no adapter for e.g. Pad-18 and quietly keeps 18. So opset 18
is the default, ``--opset 17`` uses the TorchScript exporter, and when torch.export
cannot capture a model (data-dependent control flow) "auto" falls back to TorchScript;
the parity check at a new shape then catches anything the tracer baked in.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ptx.errors import ExportError, InputError

DEFAULT_OPSET = 18
EXPORTERS = ("auto", "dynamo", "torchscript")
TORCHSCRIPT_MAX_OPSET = 20


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence exporter chatter (warnings, log lines, prints) so --json stays parseable."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, lvl in zip(loggers, levels, strict=True):
            lg.setLevel(lvl)


def _export_dynamo(module, example, names, out_names, dynamic, opset, dest, external) -> None:
    import torch

    # Dim.DYNAMIC, not a named Dim: torch.export then refines the range itself (a stride-2
    # net needs H >= 3) instead of rejecting the model; the dims get their names afterwards.
    auto = torch.export.Dim.DYNAMIC
    shapes = tuple({a: auto for a in dynamic.get(name, {})} or None for name in names)
    with _quiet():
        program = torch.onnx.export(
            module,
            tuple(example),
            dynamo=True,
            input_names=list(names),
            output_names=list(out_names),
            opset_version=opset,
            dynamic_shapes=shapes if any(s is not None for s in shapes) else None,
            verbose=False,
            optimize=True,
        )
        program.save(str(dest), external_data=external)


def _export_torchscript(module, example, names, out_names, dynamic, opset, dest, external) -> None:
    import torch

    with _quiet():
        torch.onnx.export(
            module,
            tuple(example),
            str(dest),
            dynamo=False,
            input_names=list(names),
            output_names=list(out_names),
            opset_version=opset,
            dynamic_axes={k: dict(v) for k, v in dynamic.items() if v},
            do_constant_folding=True,
        )


def first_line(exc: BaseException) -> str:
    """The root cause's first lines, flattened: torch wraps the reason in paragraphs of advice."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    lines = [ln.strip(" -") for ln in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines()]
    text = " ".join(ln for ln in lines[:3] if ln)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_exporter(exporter: str, notes: list[str], **job: Any) -> str:
    """Export with the chosen exporter (auto: dynamo, TorchScript as fallback); its name."""
    opset = job["opset"]
    if exporter not in EXPORTERS:
        raise InputError(f"unknown exporter '{exporter}' (use {', '.join(EXPORTERS)})")
    if opset < 17:
        raise InputError(f"opset {opset} is too old: use 17 or newer")
    if exporter == "auto":
        exporter = "dynamo" if opset >= DEFAULT_OPSET else "torchscript"
        fallback = exporter == "dynamo" and opset <= TORCHSCRIPT_MAX_OPSET
    else:
        fallback = False
    if exporter == "dynamo" and opset < DEFAULT_OPSET:
        raise InputError(f"the dynamo exporter writes opset >= {DEFAULT_OPSET}; use --opset 18")
    if exporter == "torchscript" and opset > TORCHSCRIPT_MAX_OPSET:
        raise InputError(f"the TorchScript exporter stops at opset {TORCHSCRIPT_MAX_OPSET}")
    run = _export_dynamo if exporter == "dynamo" else _export_torchscript
    try:
        run(**job)
        return exporter
    except Exception as exc:
        if not fallback:
            raise ExportError(f"torch.onnx export ({exporter}) failed: {first_line(exc)}") from exc
        notes.append(f"dynamo exporter failed ({first_line(exc)}); used TorchScript instead")
        first = exc
    try:
        _export_torchscript(**job)
        return "torchscript"
    except Exception as exc:
        raise ExportError(
            f"torch.onnx export failed: dynamo: {first_line(first)}; torchscript: {first_line(exc)}"
        ) from exc


def validate_onnx(path: Path, scratch: Path) -> None:
    """onnx.checker (full) and strict shape inference, each failure as one ExportError line."""
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as exc:
        raise ExportError(f"exported graph fails onnx.checker: {first_line(exc)}") from exc
    try:
        onnx.shape_inference.infer_shapes_path(
            str(path), str(scratch), check_type=True, strict_mode=True, data_prop=True
        )
    except Exception as exc:
        raise ExportError(
            f"exported graph fails strict shape inference: {first_line(exc)}"
        ) from exc
