"""`ptx triton` (thin: parse, call one function, print)."""

from __future__ import annotations

from pathlib import Path

import click

from ptx.export.cli._common import emit
from ptx.export.kserve import write_kserve
from ptx.export.triton import write_repository
from ptx.export.triton_python import write_python_entries


@click.command("triton")
@click.option("--model", "model", required=True, type=click.Path(path_type=Path))
@click.option("--repo", required=True, type=click.Path(path_type=Path))
@click.option("--name", default=None, help="Model name in the repository (default: file stem).")
@click.option("--max-batch", type=click.IntRange(0), default=32, show_default=True)
@click.option("--instances", type=click.IntRange(1), default=2, show_default=True)
@click.option(
    "--dynamic-batching-delay-us",
    "delay_us",
    type=click.IntRange(0),
    default=500,
    show_default=True,
)
@click.option("--kind", type=click.Choice(["gpu", "cpu"]), default="gpu", show_default=True)
@click.option(
    "--kserve",
    "storage_uri",
    default=None,
    help="Also write REPO.kserve.yaml, a KServe InferenceService serving the repository from "
    "this storage URI (s3://, gs://, pvc://...); `ptx kserve` sets replicas and resources.",
)
@click.option(
    "--python",
    "python_backend",
    is_flag=True,
    help="Also write NAME_python: a python-backend entry running ptx.runtime on the .onnx "
    "(for a Triton with only the python backend, e.g. nvidia-pytriton's).",
)
@click.option(
    "--ensemble",
    is_flag=True,
    help="With --python: also NAME_pre, NAME_post and the ensemble NAME_image (encoded image "
    "bytes in, PNG out, by the ModelSpec's pre/post-processing).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def triton(
    model: Path,
    repo: Path,
    name: str | None,
    max_batch: int,
    instances: int,
    delay_us: int,
    kind: str,
    storage_uri: str | None,
    python_backend: bool,
    ensemble: bool,
    as_json: bool,
) -> None:
    """Write a Triton model repository entry (config.pbtxt + 1/model.plan|onnx)."""
    report = write_repository(
        model,
        repo,
        name=name,
        max_batch=max_batch,
        instances=instances,
        delay_us=delay_us,
        kind=kind,
    )
    data = report.to_dict()
    line = f"{report.config}: {report.platform}, max_batch_size {report.max_batch_size}"
    if python_backend or ensemble:
        entry = Path(report.model_dir).name
        extra = write_python_entries(
            model, repo, name=entry, max_batch=max_batch, instances=instances,
            delay_us=delay_us, ensemble=ensemble,
        )  # fmt: skip
        data["python"] = extra.to_dict()
        line += "\n" + "\n".join(f"{path}: python backend" for path in extra.entries.values())
    if storage_uri is not None:
        isvc = write_kserve(repo, storage_uri, gpus=1 if kind == "gpu" else 0)
        data["kserve"] = isvc.to_dict()
        line += f"\n{isvc.manifest}: InferenceService {isvc.name} from {storage_uri}"
    emit(data, as_json, line)
