"""The library behind `ptx bench`: measure a target over a batch sweep and write the reports."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ptx.benchmarks.harness import env as env_mod
from ptx.benchmarks.harness import report
from ptx.benchmarks.harness.backends import Target, open_backend
from ptx.benchmarks.harness.inputs import onnx_shapes
from ptx.benchmarks.harness.measure import DEFAULTS, bench_sweep
from ptx.benchmarks.harness.plots import group_runs, plot_series
from ptx.tensors import NamedShape


@dataclass
class Outputs:
    """Where to write: JSON document, CSV summary, PNG plot (each optional)."""

    json: str | Path | None = None
    csv: str | Path | None = None
    plot: str | Path | None = None
    per_iteration: bool = True


@dataclass
class GpuSettings:
    """GPU-only controls, recorded in every report (trtexec 11 flipped their defaults)."""

    cuda_graph: bool = False
    no_transfers: bool = False
    spin_wait: bool = False

    def as_dict(self) -> dict:
        """The settings block entries."""
        return {
            "cuda_graph": self.cuda_graph,
            "no_transfers": self.no_transfers,
            "spin_wait": self.spin_wait,
        }


@dataclass
class Controls:
    """Timing controls shared by every run of a sweep."""

    warmup_s: float = DEFAULTS["warmup_s"]
    duration_s: float = DEFAULTS["duration_s"]
    iterations: int = DEFAULTS["iterations"]
    streams: int = 1
    cov_threshold: float = 0.01
    seed: int = 0
    gpu: GpuSettings = field(default_factory=GpuSettings)


def run_bench(
    target: Target,
    batches: Sequence[int | None] = (None,),
    shapes: Sequence[NamedShape] = (),
    controls: Controls | None = None,
    outputs: Outputs | None = None,
    progress: bool = True,
) -> dict:
    """Benchmark ``target`` at each batch size; write the requested files; return the document.

    Under ``backend="auto"`` each batch size opens its own engines, whose auto trial runs
    at the shapes that batch is measured at: the faster backend/precision can differ by
    size, so a pick made at the spec's opt shape would not be the one the user runs.
    """
    controls = controls or Controls()
    outputs = outputs or Outputs()
    target.check()
    if target.torch:
        target.torch_inputs = list(shapes)
    settings = {"threads": target.threads, "compile": target.compile, **controls.gpu.as_dict()}
    sweep = dict(
        streams=controls.streams,
        shapes=shapes,
        warmup_s=controls.warmup_s,
        duration_s=controls.duration_s,
        iterations=controls.iterations,
        seed=controls.seed,
        settings=settings,
        progress=progress,
        cov_threshold=controls.cov_threshold,
    )
    if auto_trial(target):
        results = []
        for batch in batches:
            sized = dataclasses.replace(
                target, trial_shapes=onnx_shapes(target.model, shapes, batch)
            )
            results += bench_sweep(lambda t=sized: open_backend(t), [batch], **sweep)
    else:
        results = bench_sweep(lambda: open_backend(target), batches, **sweep)
    runs = [report.run_dict(r, outputs.per_iteration) for r in results]
    doc = report.document(runs, env_mod.capture())
    write_outputs(doc, outputs)
    return doc


def auto_trial(target: Target) -> bool:
    """Whether loading ``target`` runs ptx.runtime's timed auto trial (ONNX on the CPU)."""
    return bool(target.model) and target.backend == "auto" and target.device == "cpu"


def write_outputs(doc: dict, outputs: Outputs) -> None:
    """JSON, CSV and plot, each only when asked for (``-`` as JSON path means stdout only)."""
    if outputs.json and str(outputs.json) != "-":
        report.write_json(doc, outputs.json)
    if outputs.csv:
        report.write_csv(doc["runs"], outputs.csv)
    if outputs.plot:
        model = Path(doc["runs"][0]["model"]).name
        plot_series(group_runs(doc["runs"]), outputs.plot, f"ptx bench: {model}")
