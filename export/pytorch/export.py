"""PyTorch → ONNX: a checked, parity-tested, single-file ONNX with the ModelSpec embedded.

The exporter runs through ``ptx.export.pytorch.exporters`` (which one, and why opset 18); this
module names the dims, embeds the spec, validates the graph and checks parity.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ptx.errors import ExportError, InputError, require
from ptx.export.pytorch import parity as parity_check
from ptx.export.pytorch.exporters import (
    DEFAULT_OPSET,
    run_exporter,
    validate_onnx,
)
from ptx.export.pytorch.factory import InputDecl, build_user_model, parse_input
from ptx.export.pytorch.graph_spec import (
    BATCH,
    HEIGHT,
    WIDTH,
    custom_spec,
    dynamic_axes,
    final_spec,
    name_input_dims,
    name_output_dims,
)
from ptx.export.pytorch.parity import ParityReport, Tolerance, flatten_outputs, fresh_inputs
from ptx.inputs import DEFAULT_SIDE, resolve_shapes
from ptx.spec import ModelSpec, embed_in_onnx
from ptx.tensors import INT_DTYPES
from ptx.training.common import registry
from ptx.training.common.checkpoint import load_checkpoint

EXTERNAL_DATA_BYTES = 2**31 - 2**26  # protobuf's 2 GiB cap, less headroom for the graph


@dataclass
class ExportReport:
    """What was written, how, and the parity it passed."""

    path: Path
    spec: ModelSpec
    exporter: str
    opset: int
    dynamic: dict[str, dict[int, str]]
    parity: ParityReport | None
    size_bytes: int
    precision: str = "fp32"
    fp16: Any = None  # whatever ptx.export.precision.convert.convert_fp16 reports
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: the file, its size, opset, exporter and dynamic axes."""
        dyn = ", ".join(f"{k}[{','.join(v.values())}]" for k, v in self.dynamic.items() if v)
        return (
            f"wrote {self.path} ({self.size_bytes / 1e6:.2f} MB, {self.precision}, opset "
            f"{self.opset}, {self.exporter} exporter, dynamic: {dyn or 'none'})"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        fp16 = self.fp16.to_dict() if hasattr(self.fp16, "to_dict") else self.fp16
        return {
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "precision": self.precision,
            "opset": self.opset,
            "exporter": self.exporter,
            "dynamic": {k: {str(a): n for a, n in v.items()} for k, v in self.dynamic.items()},
            "parity": self.parity.to_dict() if self.parity else None,
            "fp16": fp16 if fp16 is None or isinstance(fp16, dict) else str(fp16),
            "spec": self.spec.to_dict(),
            "notes": self.notes,
        }


# -- export -------------------------------------------------------------------------
def _embedding_rows(module: Any) -> int | None:
    import torch

    rows = [m.num_embeddings for m in module.modules() if isinstance(m, torch.nn.Embedding)]
    return min(rows) if rows else None


def _with_int_bounds(module: Any, decls: Sequence[InputDecl], spec: ModelSpec | None):
    """Integer inputs without a bound take the spec's vocabulary size or the smallest Embedding."""
    rows = _embedding_rows(module)
    out = []
    for d in decls:
        if d.dtype in INT_DTYPES and d.high is None:
            vocab = spec.labels.get(d.name) if spec is not None else None
            high = len(vocab) if vocab else rows
            d = InputDecl(d.name, d.shape, d.dtype, high)
        out.append(d)
    return out


def _output_names(module: Any, example: Sequence[Any], spec: ModelSpec | None) -> list[str]:
    import torch

    with torch.no_grad():
        n = len(flatten_outputs(module(*example)))
    if spec is not None and spec.outputs:
        if len(spec.outputs) != n:
            raise ExportError(
                f"the spec lists {len(spec.outputs)} outputs but the module returns {n}"
            )
        return [t.name for t in spec.outputs]
    return ["output"] if n == 1 else [f"output_{i}" for i in range(n)]


def _batch_of_two(
    decls: Sequence[InputDecl], example: Sequence[Any], dynamic: dict[str, dict[int, str]]
) -> tuple[list[InputDecl], list[Any]]:
    """Trace a dynamic batch with 2, not 1: torch.export specialises size-1 dims to constants."""
    import torch

    out_decls, out_example = list(decls), list(example)
    for i, d in enumerate(decls):
        axes = [a for a, n in dynamic.get(d.name, {}).items() if n == BATCH and d.shape[a] == 1]
        for a in axes:
            out_example[i] = torch.cat([out_example[i], out_example[i]], dim=a)
            shape = list(out_decls[i].shape)
            shape[a] = 2
            out_decls[i] = InputDecl(d.name, tuple(shape), d.dtype, d.high)
    return out_decls, out_example


def _fp16_converter() -> Any:
    # Imported here on purpose: FP16 conversion is an optional part of an install, and
    # an fp32 export must work (and an fp16 one fail in one line) without it.
    try:
        from ptx.export.precision.convert import convert_fp16
    except ImportError as exc:
        raise InputError(
            "fp16 export needs ptx.export.precision.convert (not in this install); export fp32 "
            f"and convert later with `ptx convert --precision fp16` ({exc})"
        ) from exc
    return convert_fp16


def _param_bytes(module: Any) -> int:
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


def _refuse_non_finite(module: Any) -> None:
    """ExportError naming the first parameter or buffer holding NaN/Inf (a broken model)."""
    import torch

    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        if tensor.is_floating_point():
            bad = int((~torch.isfinite(tensor.detach())).sum())
            if bad:
                raise ExportError(
                    f"weight '{name}' holds {bad} NaN/Inf value(s): the model is broken "
                    "(diverged training or a bad checkpoint); nothing was written"
                )


def export_module(
    module: Any,
    inputs: Sequence[InputDecl],
    out: Path,
    spec: ModelSpec | None = None,
    dynamic_batch: bool = True,
    dynamic_hw: bool = False,
    opset: int = DEFAULT_OPSET,
    check_parity: bool = True,
    tolerance: Tolerance | None = None,
    exporter: str = "auto",
    precision: str = "fp32",
    fp16_options: dict[str, Any] | None = None,
    example: Sequence[Any] | None = None,
    progress: bool = False,
) -> ExportReport:
    """Export, check, parity-test and atomically write ``module`` as one ONNX file."""
    import onnx
    import torch
    from tqdm import tqdm

    if precision not in ("fp32", "fp16"):
        raise InputError(f"unknown precision '{precision}' (use fp32 or fp16)")
    convert = _fp16_converter() if precision == "fp16" else None
    out = Path(out)
    if out.suffix != ".onnx":
        raise InputError(f"--out {out}: name the ONNX file with a .onnx suffix")
    if out.is_dir():
        raise InputError(f"--out {out} is a folder; give a file path like {out}/model.onnx")
    module = module.eval()
    _refuse_non_finite(module)
    decls = _with_int_bounds(module, inputs, spec)
    if example is None:
        arrays = fresh_inputs(decls, {d.name: d.shape for d in decls}, spec, seed=0)
        example = [torch.from_numpy(a) for a in arrays]
    spec = spec if spec is not None else custom_spec(decls)
    dynamic = dynamic_axes(decls, spec, dynamic_batch, dynamic_hw)
    given = decls  # the profile's opt is the size the user asked for, not the traced one
    decls, example = _batch_of_two(decls, example, dynamic)
    names = [d.name for d in decls]
    out_names = _output_names(module, example, spec)
    external = _param_bytes(module) >= EXTERNAL_DATA_BYTES
    notes: list[str] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=4, desc="export", file=sys.stderr, disable=not progress, leave=False)
    # A temp folder, not a temp file: a model over 2 GB writes a .data file beside it.
    with bar, tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as tmpdir:
        tmp = Path(tmpdir) / out.name
        bar.set_postfix_str("trace")
        used = run_exporter(
            exporter,
            notes,
            module=module,
            example=example,
            names=names,
            out_names=out_names,
            dynamic=dynamic,
            opset=opset,
            dest=tmp,
            external=external,
        )
        bar.update()
        bar.set_postfix_str("check")
        model = onnx.load(str(tmp), load_external_data=False)
        name_input_dims(model.graph, dynamic)
        name_output_dims(model.graph, spec)
        final = final_spec(model.graph, spec, given)
        embed_in_onnx(model, final)
        onnx.save_model(model, str(tmp))
        validate_onnx(tmp, Path(tmpdir) / "inferred.onnx")
        bar.update()
        parity = None
        if check_parity:
            bar.set_postfix_str("parity")
            try:
                parity = parity_check.check_parity(module, tmp, decls, dynamic, final, tolerance)
                parity.raise_if_failed()
            except ExportError as exc:
                if not notes:
                    raise
                raise ExportError(f"{exc} (note: {'; '.join(notes)})") from exc
        bar.update()
        bar.set_postfix_str("write")
        fp16 = None
        if convert is not None:
            fp16 = convert(tmp, out, **(fp16_options or {}))
        else:
            data = tmp.with_name(out.name + ".data")
            if data.exists():
                os.replace(data, out.with_name(data.name))
            os.replace(tmp, out)
        bar.update()
    return ExportReport(
        path=out,
        spec=final,
        exporter=used,
        opset=model.opset_import[0].version if model.opset_import else opset,
        dynamic=dynamic,
        parity=parity,
        size_bytes=out.stat().st_size,
        precision=precision,
        fp16=fp16,
        notes=notes,
    )


def _example_hw(spec: ModelSpec) -> tuple[int, int]:
    """The example H×W of the first 4-D input under ptx.inputs' shape rule (profile opt first)."""
    hw = (1, 2) if spec.image is not None and spec.image.layout == "NHWC" else (2, 3)
    images = [t for t in spec.inputs if len(t.shape) == 4][:1]
    for shape in resolve_shapes(images, spec, where=f"family '{spec.family}'").values():
        return shape[hw[0]], shape[hw[1]]
    return DEFAULT_SIDE, DEFAULT_SIDE


def export_checkpoint(
    ckpt: Path,
    out: Path,
    dynamic_hw: bool | None = None,
    batch: int = 1,
    size: tuple[int, int] | None = None,
    **kw: Any,
) -> ExportReport:
    """Export a ptx checkpoint folder; fully convolutional families default to dynamic H×W."""
    require("torch", "export", "exporting a checkpoint")
    module, spec = load_checkpoint(ckpt)
    family = registry.get(spec.family)
    h, w = size or _example_hw(spec)
    example = tuple(family.example_inputs(spec, batch, h, w))
    if len(example) != len(spec.inputs):
        raise ExportError(
            f"family '{spec.family}' gives {len(example)} example inputs for "
            f"{len(spec.inputs)} spec inputs"
        )
    decls = [
        InputDecl(t.name, tuple(x.shape), str(x.dtype).removeprefix("torch."))
        for t, x in zip(spec.inputs, example, strict=True)
    ]
    if dynamic_hw is None:
        dynamic_hw = any(n in (HEIGHT, WIDTH) for t in spec.inputs for n in t.shape)
    return export_module(
        module, decls, out, spec=spec, dynamic_hw=dynamic_hw, example=example, **kw
    )


def export_user_model(
    target: str,
    inputs: Sequence[str | InputDecl],
    out: Path,
    weights: Path | None = None,
    **kw: Any,
) -> ExportReport:
    """Export the module a `file.py:factory` / `module:factory` returns, for the given inputs."""
    decls = [parse_input(s) if isinstance(s, str) else s for s in inputs]
    if not decls:
        raise InputError("--model needs at least one --input NAME:DIMS, e.g. --input x:1x3x256x256")
    seen = [d.name for d in decls]
    if len(set(seen)) != len(seen):
        raise InputError(f"--input names must be unique, got {seen}")
    module = build_user_model(target, weights)
    decls = _with_int_bounds(module, decls, None)
    spec = custom_spec(decls, {"factory": target}, Path(weights) if weights else None)
    return export_module(module, decls, out, spec=spec, **kw)
