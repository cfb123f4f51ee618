"""`ptx batch` (thin: parse, call run_batch, print). Ray is imported only when a run starts."""

from __future__ import annotations

import json

import click

from ptx.errors import ImageError
from ptx.runtime.batch import TASKS, run_batch
from ptx.runtime.cli._common import BACKEND_NAMES, print_skipped


@click.command("batch")
@click.argument("task", type=click.Choice(TASKS))
@click.option("--model", required=True, type=click.Path(), help="the task's .onnx (or a .plan)")
@click.option(
    "--input", "input_", required=True, type=click.Path(),
    help="a folder, a list file (.txt, one path a line), a Parquet table with a 'path' "
    "column; for generate a JSONL labels file",
)  # fmt: skip
@click.option("--out", required=True, type=click.Path(), help="output folder (names are kept)")
@click.option("--workers", default=2, show_default=True, help="actors, one engine each")
@click.option("--batch", default=1, show_default=True, help="images per model call (same size)")
@click.option("--address", default=None, help="a Ray cluster (ray://host:10001 or auto) [local]")
@click.option("--threads", type=int, default=None, help="intra-op threads per worker [cores/N]")
@click.option("--cpus-per-worker", type=float, default=None, help="Ray CPUs per actor [auto]")
@click.option(
    "--gpus-per-worker", type=float, default=0.0, show_default=True,
    help="Ray GPUs per actor (e.g. 1, or 0.5 to share one): its engine runs on the GPU Ray "
    "assigned it (auto: TensorRT for a .plan, else ONNX Runtime's CUDA provider)",
)  # fmt: skip
@click.option("--backend", type=click.Choice(BACKEND_NAMES), default="auto", show_default=True)
@click.option("--manifest", type=click.Path(), default=None, help="[OUT/manifest.jsonl]")
@click.option("--no-progress", is_flag=True, help="no progress bar")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def batch_cmd(
    task, model, input_, out, workers, batch, address, threads, cpus_per_worker, gpus_per_worker,
    backend, manifest, no_progress, as_json,
) -> None:  # fmt: skip
    """Run TASK over a catalogue on Ray Data; resumable through the manifest in --out.

    \b
    generate: one image per line of a JSONL labels file, e.g.
      {"labels": {"category": "mug"}, "seed": 7, "out": "mug-7.png"}
    """
    summary = run_batch(
        task, model, input_, out, workers=workers, batch=batch, address=address,
        threads=threads, cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker,
        backend=backend, progress=not no_progress, manifest=manifest,
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        print_skipped(summary.skipped)
        click.echo(summary.line())
    if summary.images == 0 and summary.resumed == 0:
        first = summary.skipped[0][1] if summary.skipped else "nothing was written"
        raise ImageError(f"every input failed ({summary.failed}); first: {first}")


if __name__ == "__main__":  # pragma: no cover
    batch_cmd()
