"""Write a Triton Inference Server model repository from a ``.plan`` or ``.onnx``."""

from __future__ import annotations

import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ptx.errors import InputError, ModelError
from ptx.export.onnx_inspect import inspect_onnx
from ptx.formats.sidecar import read_sidecar
from ptx.io import atomic_path, atomic_write_text
from ptx.tensors import dtype

# ptx.tensors has no bfloat16 (NumPy has no such dtype), but Triton serves it; ONNX
# inspection writes "bfloat16", a plan sidecar TensorRT's "bf16".
_BF16 = {"bfloat16": "TYPE_BF16", "bf16": "TYPE_BF16"}
# A repository entry is a folder name: never empty, "." or "..", no separators, and it
# starts with a letter or digit (Triton's own rule is looser; this one is safe on disk).
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_ESCAPES = {
    ord("\\"): "\\\\",
    ord('"'): '\\"',
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
}


def pbtxt_string(text: str) -> str:
    """``text`` as a quoted protobuf text-format string (quotes, backslashes, controls escaped)."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\{code:03o}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def entry_name(name: str | None, model: Path) -> str:
    """The repository entry's name: ``name`` checked, else derived from the model's stem."""
    if name is None:
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", model.stem).lstrip("._-") or "model"
    if not NAME_RE.fullmatch(name):
        raise InputError(
            f"--name {name[:80]!r}: use 1-128 letters, digits, '_', '-' or '.', starting "
            f"with a letter or digit (it is a folder in the repository)"
        )
    return name


@dataclass
class TritonReport:
    """Where the repository entry went and what its config says."""

    model_dir: str
    config: str
    model_file: str
    platform: str
    max_batch_size: int
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


def _io_from_onnx(path: Path) -> tuple[list[dict], list[dict], dict[str, int] | None]:
    info = inspect_onnx(path)
    return info["inputs"], info["outputs"], None


def _io_from_plan(path: Path) -> tuple[list[dict], list[dict], dict[str, int] | None]:
    sidecar = read_sidecar(path)
    if sidecar is None:
        raise ModelError(
            f"{path}: no sidecar {path.name}.json, so its IO is unknown without a "
            "GPU; rebuild with ptx build (which writes one)"
        )
    max_batch = {
        name: p["max"][0] for prof in sidecar["profiles"] for name, p in prof.items() if p["max"]
    }
    return sidecar["inputs"], sidecar["outputs"], max_batch


def _dims(shape: list[Any]) -> list[int]:
    return [d if isinstance(d, int) and d >= 0 else -1 for d in shape]


def triton_type(name: str, tensor: str) -> str:
    """Triton's config data_type for a dtype name as ONNX inspection or a plan sidecar writes it."""
    try:
        found = dtype(name).triton
    except InputError:
        found = _BF16.get(name.lower())
    if found is None:
        raise InputError(f"tensor '{tensor}' has dtype {name} with no Triton type")
    return found


def tensor_block(t: dict[str, Any], batched: bool) -> str:
    """One input/output entry of config.pbtxt (``t``: name, dtype name, shape)."""
    data_type = triton_type(str(t["dtype"]), t["name"])
    dims = _dims(t["shape"])[1 if batched else 0 :]
    # A per-item scalar (shape [batch], e.g. a label) is [1] to Triton, reshaped to [].
    extra = "\n    reshape: { shape: [ ] }" if not dims else ""
    return (
        f"  {{\n    name: {pbtxt_string(t['name'])}\n    data_type: {data_type}\n"
        f"    dims: [ {', '.join(str(d) for d in dims or [1])} ]{extra}\n  }}"
    )


def render_config(
    name: str,
    platform: str,
    inputs: list[dict],
    outputs: list[dict],
    max_batch: int,
    instances: int,
    delay_us: int,
    kind: str,
) -> str:
    """config.pbtxt text for one model."""
    batched = max_batch > 0
    lines = [
        f"name: {pbtxt_string(name)}",
        f"platform: {pbtxt_string(platform)}",
        f"max_batch_size: {max_batch}",
        "input [",
        ",\n".join(tensor_block(t, batched) for t in inputs),
        "]",
        "output [",
        ",\n".join(tensor_block(t, batched) for t in outputs),
        "]",
    ]
    if batched:
        lines += ["dynamic_batching {", f"  max_queue_delay_microseconds: {delay_us}", "}"]
    lines += [
        "instance_group [",
        "  {",
        f"    count: {instances}",
        f"    kind: {'KIND_GPU' if kind == 'gpu' else 'KIND_CPU'}",
        "  }",
        "]",
    ]
    if platform == "onnxruntime_onnx" and kind == "gpu":
        lines += [
            "optimization {", "  execution_accelerators {", "    gpu_execution_accelerator : [ {",
            '      name : "tensorrt"',
            '      parameters { key: "precision_mode" value: "FP16" }',
            "    } ]", "  }", "}",
        ]  # fmt: skip
    return "\n".join(lines) + "\n"


def write_repository(
    model: Path,
    repo: Path,
    name: str | None = None,
    max_batch: int = 32,
    instances: int = 2,
    delay_us: int = 500,
    kind: str = "gpu",
) -> TritonReport:
    """Write ``repo/<name>/config.pbtxt`` and ``repo/<name>/1/model.plan|model.onnx``."""
    model, repo = Path(model), Path(repo)
    if not model.is_file():
        raise ModelError(f"{model}: no such model file")
    if kind not in ("gpu", "cpu"):
        raise InputError(f"--kind {kind!r}: use gpu or cpu")
    if max_batch < 0 or instances < 1 or delay_us < 0:
        raise InputError("--max-batch >= 0, --instances >= 1, --dynamic-batching-delay-us >= 0")
    suffix = model.suffix.lower()
    if suffix == ".onnx":
        platform, inputs, outputs, plan_batch = "onnxruntime_onnx", *_io_from_onnx(model)
    elif suffix in (".plan", ".engine"):
        if kind == "cpu":
            raise InputError("a TensorRT plan runs on a GPU only: use --kind gpu, or an .onnx")
        platform, inputs, outputs, plan_batch = "tensorrt_plan", *_io_from_plan(model)
    else:
        raise InputError(f"{model}: give a .plan or .onnx file")
    name = entry_name(name, model)
    entry = repo / name
    if entry.resolve().parent != repo.resolve():  # belt and braces: never outside ``repo``
        raise InputError(f"--name {name!r}: the entry would be outside {repo}")
    batchable = all(_dims(t["shape"])[:1] == [-1] for t in inputs + outputs)
    if max_batch and not batchable:
        max_batch = 0  # a fixed first axis is not a batch axis Triton may stack into
    if max_batch and plan_batch:
        limit = min(plan_batch.values())
        if max_batch > limit:
            raise InputError(
                f"--max-batch {max_batch} exceeds the plan's profile max batch "
                f"{limit}; lower it or rebuild with larger --shapes"
            )
    text = render_config(name, platform, inputs, outputs, max_batch, instances, delay_us, kind)
    target = repo / name / "1" / ("model.plan" if platform == "tensorrt_plan" else "model.onnx")
    with atomic_path(target) as tmp:
        shutil.copyfile(model, tmp)
    atomic_write_text(repo / name / "config.pbtxt", text)
    return TritonReport(
        str(repo / name),
        str(repo / name / "config.pbtxt"),
        str(target),
        platform,
        max_batch,
        inputs,
        outputs,
    )
