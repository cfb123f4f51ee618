"""`ptx kserve` (thin: parse, call write_kserve, print)."""

from __future__ import annotations

from pathlib import Path

import click

from ptx.export.cli._common import emit
from ptx.export.kserve import write_kserve


@click.command("kserve")
@click.option("--repo", required=True, type=click.Path(path_type=Path), help="`ptx triton` repo")
@click.option(
    "--storage-uri",
    required=True,
    help="where the repository is uploaded (s3://, gs://, pvc://...)",
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="[NAME.kserve.yaml]")
@click.option("--name", default=None, help="InferenceService name [from the repo folder]")
@click.option("--min-replicas", type=click.IntRange(0), default=1, show_default=True)
@click.option("--max-replicas", type=click.IntRange(1), default=1, show_default=True)
@click.option("--cpu", default="2", show_default=True, help="CPU per replica (request = limit)")
@click.option("--memory", default="4Gi", show_default=True, help="memory per replica")
@click.option("--gpus", type=click.IntRange(0), default=0, show_default=True, help="per replica")
@click.option("--runtime", default=None, help="ServingRuntime name [KServe picks its Triton one]")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def kserve_cmd(
    repo: Path,
    storage_uri: str,
    out: Path | None,
    name: str | None,
    min_replicas: int,
    max_replicas: int,
    cpu: str,
    memory: str,
    gpus: int,
    runtime: str | None,
    as_json: bool,
) -> None:
    """Write a KServe InferenceService (Triton runtime) for a `ptx triton` repository."""
    report = write_kserve(
        repo,
        storage_uri,
        out=out,
        name=name,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        cpu=cpu,
        memory=memory,
        gpus=gpus,
        runtime=runtime,
    )
    line = (
        f"{report.manifest}: InferenceService {report.name} ({', '.join(report.models)}), "
        f"{report.min_replicas}-{report.max_replicas} replicas, from {report.storage_uri}; "
        f"kubectl apply -f {report.manifest}"
    )
    emit(report.to_dict(), as_json, line)


if __name__ == "__main__":  # pragma: no cover
    kserve_cmd()
