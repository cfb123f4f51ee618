"""Python-backend entries and an image ensemble beside the backend-native Triton repository.

A full Triton serves ``<name>`` (onnxruntime_onnx / tensorrt_plan, ptx.export.triton).
These entries need only Triton's python backend (what nvidia-pytriton's bundled
``tritonserver`` has), and run ptx itself in the backend's stub:

- ``<name>_python``: the model's tensors through ptx.runtime (``model.py`` is
  ptx.export.triton_stage, the ONNX beside it);
- ``<name>_pre`` / ``<name>_post``: encoded image bytes -> the model's input by the
  ModelSpec's ImageConvention, and the output back to PNG bytes;
- ``<name>_image``: the ensemble pre -> model -> post: an encoded image in, the
  enhanced PNG out, as ``ptx run enhance`` answers in-process.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ptx.errors import InputError, ModelError
from ptx.export import triton_stage
from ptx.export.onnx_inspect import inspect_onnx
from ptx.export.triton import entry_name, pbtxt_string, tensor_block
from ptx.io import atomic_path, atomic_write_text
from ptx.spec import ModelSpec, spec_from_onnx

ENCODED = "encoded"  # the dtype name of an encoded-image (BYTES) tensor in these configs


@dataclass
class PythonReport:
    """The python-backend entries written and the ensemble, if any."""

    entries: dict[str, str] = field(default_factory=dict)  # entry name -> its folder
    ensemble: str | None = None  # the ensemble's entry name

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


def _params(**values: str) -> list[str]:
    lines = []
    for key, value in values.items():
        lines += [
            "parameters {",
            f"  key: {pbtxt_string(key)}",
            f"  value: {{ string_value: {pbtxt_string(value)} }}",
            "}",
        ]
    return lines


def _block(t: dict, batched: bool) -> str:
    if t["dtype"] != ENCODED:
        return tensor_block(t, batched)
    # Encoded images: Triton's BYTES (no model tensor has this dtype, so no shared table entry).
    dims = "1" if batched else "-1, 1"  # one encoded image per row
    name = pbtxt_string(t["name"])
    return f"  {{\n    name: {name}\n    data_type: TYPE_STRING\n    dims: [ {dims} ]\n  }}"


def _io_block(word: str, tensors: list[dict], batched: bool) -> list[str]:
    return [f"{word} [", ",\n".join(_block(t, batched) for t in tensors), "]"]


def _python_config(
    name: str,
    inputs: list[dict],
    outputs: list[dict],
    max_batch: int,
    instances: int,
    delay_us: int,
    params: dict[str, str],
) -> str:
    batched = max_batch > 0
    lines = [f"name: {pbtxt_string(name)}", 'backend: "python"', f"max_batch_size: {max_batch}"]
    lines += _io_block("input", inputs, batched) + _io_block("output", outputs, batched)
    if batched:
        lines += ["dynamic_batching {", f"  max_queue_delay_microseconds: {delay_us}", "}"]
    lines += ["instance_group [", f"  {{ count: {instances}, kind: KIND_CPU }}", "]"]
    return "\n".join(lines + _params(**params)) + "\n"


def _write_entry(repo: Path, name: str, config: str, files: dict[str, Path]) -> str:
    entry = repo / name
    for target, source in {"model.py": Path(triton_stage.__file__), **files}.items():
        with atomic_path(entry / "1" / target) as tmp:
            shutil.copyfile(source, tmp)
    atomic_write_text(entry / "config.pbtxt", config)
    return str(entry)


def _image_io(spec: ModelSpec, inputs: list[dict], outputs: list[dict]) -> tuple[dict, dict]:
    if spec.image is None or len(inputs) != 1 or len(outputs) != 1:
        raise InputError(
            "--ensemble needs an image-to-image model (one image input and output, and a "
            "ModelSpec with an image convention); this one has "
            f"{len(inputs)} input(s) and {len(outputs)} output(s)"
        )
    return inputs[0], outputs[0]


def write_python_entries(
    model: Path,
    repo: Path,
    name: str | None = None,
    max_batch: int = 8,
    instances: int = 1,
    delay_us: int = 500,
    ensemble: bool = False,
    threads: int | None = None,
) -> PythonReport:
    """Write ``<name>_python`` and, with ``ensemble``, ``<name>_pre``, ``_post``, ``_image``."""
    model, repo = Path(model), Path(repo)
    if not model.is_file():
        raise ModelError(f"{model}: no such model file")
    if model.suffix.lower() != ".onnx":
        raise InputError(f"{model}: the python-backend entries run an .onnx (give the ONNX)")
    name = entry_name(name, model)
    info = inspect_onnx(model)
    inputs, outputs = info["inputs"], info["outputs"]
    batchable = all(_leading_dynamic(t) for t in inputs + outputs)
    max_batch = max_batch if batchable else 0
    report = PythonReport()
    params = {"ptx_stage": "model", "ptx_model": "model.onnx", "ptx_backend": "onnxruntime"}
    if threads:
        params["ptx_threads"] = str(threads)
    py = f"{name}_python"
    cfg = _python_config(py, inputs, outputs, max_batch, instances, delay_us, params)
    report.entries[py] = _write_entry(repo, py, cfg, {"model.onnx": model})
    if not ensemble:
        return report
    spec = spec_from_onnx(model)
    if spec is None:
        raise InputError(f"{model}: --ensemble needs a ModelSpec (ptx export writes one)")
    image_in, image_out = _image_io(spec, inputs, outputs)
    spec_file = repo / f".{name}.spec.json"
    spec.save(spec_file)
    try:
        _write_stages(repo, name, image_in, image_out, max_batch, instances, delay_us, spec_file)
    finally:
        spec_file.unlink(missing_ok=True)
    report.entries[f"{name}_pre"] = str(repo / f"{name}_pre")
    report.entries[f"{name}_post"] = str(repo / f"{name}_post")
    report.ensemble = f"{name}_image"
    atomic_write_text(
        repo / report.ensemble / "config.pbtxt",
        ensemble_config(name, py, image_in["name"], image_out["name"], max_batch),
    )
    (repo / report.ensemble / "1").mkdir(exist_ok=True)  # Triton wants a version folder
    report.entries[report.ensemble] = str(repo / report.ensemble)
    return report


def _leading_dynamic(t: dict) -> bool:
    shape = t["shape"]
    return bool(shape) and not (isinstance(shape[0], int) and shape[0] >= 0)


def _write_stages(
    repo: Path,
    name: str,
    image_in: dict,
    image_out: dict,
    max_batch: int,
    instances: int,
    delay_us: int,
    spec_file: Path,
) -> None:
    # One row per image whether Triton batches (dims after the batch axis) or not.
    blob = {"name": "IMAGE", "dtype": ENCODED, "shape": ["batch", 1]}
    size = {"name": "SIZE", "dtype": "int64", "shape": ["batch", 2]}
    tensor_in = {**image_in, "name": "TENSOR"}
    tensor_out = {**image_out, "name": "TENSOR"}
    png = {"name": "PNG", "dtype": ENCODED, "shape": ["batch", 1]}
    for stage, ins, outs in (
        ("pre", [blob], [tensor_in, size]),
        ("post", [tensor_out, size], [png]),
    ):
        entry = f"{name}_{stage}"
        cfg = _python_config(entry, ins, outs, max_batch, instances, delay_us, {"ptx_stage": stage})
        _write_entry(repo, entry, cfg, {"spec.json": spec_file})


def ensemble_config(
    name: str, model_entry: str, model_in: str, model_out: str, max_batch: int
) -> str:
    """config.pbtxt of ``<name>_image``: IMAGE bytes -> pre -> model -> post -> PNG bytes."""
    dims = "[ 1 ]" if max_batch > 0 else "[ -1, 1 ]"

    def step(entry: str, inputs: dict[str, str], outputs: dict[str, str]) -> str:
        maps = [f"      input_map {{ key: {pbtxt_string(k)} value: {pbtxt_string(v)} }}"
                for k, v in inputs.items()]  # fmt: skip
        maps += [f"      output_map {{ key: {pbtxt_string(k)} value: {pbtxt_string(v)} }}"
                 for k, v in outputs.items()]  # fmt: skip
        head = [f"      model_name: {pbtxt_string(entry)}", "      model_version: -1"]
        return "    {\n" + "\n".join(head + maps) + "\n    }"

    steps = [
        step(f"{name}_pre", {"IMAGE": "IMAGE"}, {"TENSOR": "pre_tensor", "SIZE": "pre_size"}),
        step(model_entry, {model_in: "pre_tensor"}, {model_out: "model_tensor"}),
        step(f"{name}_post", {"TENSOR": "model_tensor", "SIZE": "pre_size"}, {"PNG": "PNG"}),
    ]
    return (
        "\n".join(
            [
                f"name: {pbtxt_string(name + '_image')}",
                'platform: "ensemble"',
                f"max_batch_size: {max_batch}",
                f'input [ {{ name: "IMAGE" data_type: TYPE_STRING dims: {dims} }} ]',
                f'output [ {{ name: "PNG" data_type: TYPE_STRING dims: {dims} }} ]',
                "ensemble_scheduling {",
                "  step [",
                ",\n".join(steps),
                "  ]",
                "}",
            ]
        )
        + "\n"
    )
