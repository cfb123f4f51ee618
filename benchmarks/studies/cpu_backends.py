"""CPU backends side by side: PyTorch eager vs ONNX Runtime vs OpenVINO vs ``auto``.

Every built-in family (default config, random init, exported as `ptx export`
does) runs on all four in ptx.timing's interleaved rounds (each round runs every
contender once, the order rotating, each call starting from a quiet process), so
load from other processes hits them alike and the ratios are measured side by
side, not across runs. ``auto`` is a separate
engine loaded with ``backend="auto"`` from a fresh cache, its trial shape the
benchmarked one; the check is that it is within 5% of the faster of ONNX
Runtime and OpenVINO. Writes ``<out>/<host>-cpu-backends.md`` and ``.json``
(``--out`` defaults to $PTX_RESULTS_DIR or ./bench-results).

    python -m ptx.benchmarks.studies.cpu_backends [--size 256] [--batch 1,8] [--rounds 7]
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click
from tqdm import tqdm

from ptx import runtime
from ptx.benchmarks.harness import env as env_mod
from ptx.benchmarks.harness.backends import EngineBackend, TorchBackend
from ptx.benchmarks.harness.inputs import parse_batches, sized_shapes
from ptx.benchmarks.harness.models import export_onnx, family_model
from ptx.benchmarks.harness.script import run_script
from ptx.benchmarks.studies.per_family import (
    fresh_auto,
    load_average,
    measure_families,
    write_study,
)
from ptx.errors import InputError, require
from ptx.inputs import example_inputs
from ptx.runtime.backends.openvino import openvino_version
from ptx.timing import lower_quartile, settle, time_interleaved
from ptx.training.common import registry

CONTENDERS = ("torch", "onnxruntime", "openvino", "auto")
AUTO_SLACK = 1.05  # auto may be at most 5% slower than the faster CPU backend
WARMUP_CALLS = 3  # OpenVINO compiles its static-shape model on the third call of a shape


@dataclass
class Case:
    """One family at one batch: per-contender lower quartiles and medians (ms), auto's pick."""

    family: str
    batch: int
    size: int
    rounds: int
    p25_ms: dict[str, float]
    median_ms: dict[str, float]
    auto_backend: str
    auto_reason: str
    auto_trial_s: float
    times_ms: dict[str, list[float]] = field(default_factory=dict)

    @property
    def best_cpu(self) -> str:
        """The faster of ONNX Runtime and OpenVINO in this run."""
        return min(("onnxruntime", "openvino"), key=self.p25_ms.__getitem__)

    @property
    def auto_ratio(self) -> float:
        """auto's lower quartile over the faster backend's (1.0 = as fast; > 1.05 fails)."""
        return self.p25_ms["auto"] / self.p25_ms[self.best_cpu]

    def to_dict(self) -> dict:
        """JSON-ready, with the derived fields."""
        return {**asdict(self), "best_cpu": self.best_cpu, "auto_ratio": self.auto_ratio}


def interleave(
    runners: dict[str, Callable[[], object]],
    rounds: int,
    progress: tqdm | None = None,
    quiet: Callable[[], object] = settle,
) -> dict[str, list[float]]:
    """Seconds per call of each runner: exactly ``rounds`` rotating rounds of ptx.timing's timer."""
    on_call = progress.update if progress is not None else None
    return time_interleaved(runners, budget_s=None, max_rounds=rounds, quiet=quiet, on_call=on_call)


def measure_family(
    family: str,
    size: int,
    batches: tuple[int, ...],
    rounds: int,
    threads: int,
    work: Path,
    tiny: bool = False,
) -> list[Case]:
    """All four contenders on one family at each batch (``tiny``: its test_config model)."""
    model = family_model(family, config=registry.get(family).test_config if tiny else None)
    onnx_path = export_onnx(model, work / f"{family}.onnx", (size, size) if tiny else None)
    ort = runtime.load(onnx_path, threads=threads, backend="onnxruntime")
    ov = runtime.load(onnx_path, threads=threads, backend="openvino")
    torch = TorchBackend(model.module, family, list(ort.inputs), model.spec, threads)
    cases = []
    for batch in batches:
        shapes = sized_shapes(ort.inputs, model.spec, batch, size, where=family)
        feeds = example_inputs(ort.inputs, model.spec, shapes)
        auto = fresh_auto(onnx_path, work, threads, shapes)
        contenders = {
            "torch": torch,
            "onnxruntime": EngineBackend(ort),
            "openvino": EngineBackend(ov),
            "auto": EngineBackend(auto),
        }
        total = len(contenders) * (WARMUP_CALLS + rounds)
        bar = tqdm(total=total, desc=f"{family} b{batch}", file=sys.stderr, leave=False)
        with bar:
            for c in contenders.values():
                c.prepare(feeds)  # torch's prepare runs once already
                for _ in range(WARMUP_CALLS):
                    c.enqueue()
                    bar.update()
            times = interleave({n: c.enqueue for n, c in contenders.items()}, rounds, bar)
        choice = auto.choice
        cases.append(
            Case(
                family=family,
                batch=batch,
                size=size,
                rounds=rounds,
                p25_ms={n: lower_quartile(t) * 1e3 for n, t in times.items()},
                median_ms={n: statistics.median(t) * 1e3 for n, t in times.items()},
                auto_backend=auto.backend,
                auto_reason=choice.reason if choice else "only one CPU backend installed",
                auto_trial_s=choice.trial_s if choice else 0.0,
                times_ms={n: [round(x * 1e3, 3) for x in t] for n, t in times.items()},
            )
        )
        auto.close()
    return cases


def markdown(cases: list[Case], meta: dict) -> str:
    """The results page: one row per family and batch, ratios within the row."""
    lines = [
        f"# CPU backends on `{meta['host']}`",
        "",
        f"- CPU: {meta['cpu']} ({meta['threads']} threads for every backend); "
        f"load average {meta['load_before']} before, {meta['load_after']} after "
        "(a shared machine: ratios within a row are measured together, absolute ms are noisy)",
        f"- Versions: {', '.join(f'{k} {v}' for k, v in meta['versions'].items())}",
        f"- {meta['size']}x{meta['size']} images, {meta['rounds']} interleaved rounds (rotating "
        f"order, each call from a quiet process) after "
        f"{WARMUP_CALLS} warm-up calls; lower-quartile ms (as auto decides: other load only "
        "adds time); weights: random init (seed 0), "
        f"{'test' if meta['tiny'] else 'default'} config",
        f"- Command: `{meta['command']}`",
        "",
        "| family | batch | torch ms | onnxruntime ms | openvino ms | auto ms | "
        "ORT / torch | OV / ORT | auto picked | auto / best | within 5% |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for c in cases:
        m = c.p25_ms
        lines.append(
            f"| {c.family} | {c.batch} | {m['torch']:.1f} | {m['onnxruntime']:.1f} | "
            f"{m['openvino']:.1f} | {m['auto']:.1f} | {m['torch'] / m['onnxruntime']:.2f}x | "
            f"{m['onnxruntime'] / m['openvino']:.2f}x | {c.auto_backend} | "
            f"{c.auto_ratio:.3f} | {'yes' if c.auto_ratio <= AUTO_SLACK else 'NO'} |"
        )
    lines += ["", "Speed-ups are ratios of lower quartiles (> 1: the second is slower).", ""]
    lines += [
        "Medians (ms) of the same calls, more exposed to other load on the machine:",
        "",
        "| family | batch | " + " | ".join(CONTENDERS) + " |",
        "|---|---:|" + "---:|" * len(CONTENDERS),
    ]
    for c in cases:
        row = " | ".join(f"{c.median_ms[n]:.1f}" for n in CONTENDERS)
        lines.append(f"| {c.family} | {c.batch} | {row} |")
    lines.append("")
    lines += [f"- auto on `{c.family}` b{c.batch}: {c.auto_reason}" for c in cases]
    lines += [f"- skipped {s}" for s in meta.get("skipped", [])]
    return "\n".join(lines) + "\n"


def run(
    size: int = 256,
    batches: tuple[int, ...] = (1, 8),
    rounds: int = 7,
    families: tuple[str, ...] | None = None,
    threads: int | None = None,
    out: str | Path | None = None,
    command: str = "python -m ptx.benchmarks.studies.cpu_backends",
    tiny: bool = False,
) -> tuple[Path, list[Case]]:
    """Measure every family and write <out>/<host>-cpu-backends.md and .json."""
    threads = threads or env_mod.usable_cores()
    load_before = load_average()
    cases, skipped = measure_families(
        families,
        "ptx-cpu-backends-",
        lambda family, work: measure_family(family, size, batches, rounds, threads, work, tiny),
    )
    meta = {
        "host": env_mod.host_name(),
        "cpu": env_mod.cpu_model(),
        "threads": threads,
        "size": size,
        "rounds": rounds,
        "load_before": load_before,
        "load_after": load_average(),
        "versions": {
            k: v
            for k, v in env_mod.versions().items()
            if k in ("ptx", "torch", "onnxruntime", "openvino")
        },
        "command": command,
        "tiny": tiny,
        "skipped": skipped,
    }
    meta["versions"].setdefault("openvino", openvino_version())
    md = write_study(cases, meta, markdown, "cpu-backends", out)
    return md, cases


@click.command()
@click.option("--size", type=int, default=256, show_default=True, help="Image side.")
@click.option("--batch", default="1,8", show_default=True, help="Batch sizes.")
@click.option("--rounds", type=int, default=7, show_default=True, help="Interleaved rounds.")
@click.option("--family", "families", multiple=True, help="Only these families (repeat).")
@click.option("--threads", type=int, help="Threads for every backend (default: usable cores).")
@click.option("--out", help="Results folder [default: $PTX_RESULTS_DIR or ./bench-results].")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document instead.")
def main(size, batch, rounds, families, threads, out, as_json) -> None:
    """Measure torch / ONNX Runtime / OpenVINO / auto and write the Markdown table."""
    require("openvino", "openvino", "the CPU backend comparison")
    if rounds < 1 or size < 8:
        raise InputError(f"--rounds must be >= 1 and --size >= 8 (got {rounds}, {size})")
    md, _ = run(
        size=size,
        batches=tuple(b for b in parse_batches(batch) if b),
        rounds=rounds,
        families=tuple(families) or None,
        threads=threads,
        out=out,
        command="python -m ptx.benchmarks.studies.cpu_backends " + " ".join(sys.argv[1:]),
    )
    click.echo(md.with_suffix(".json").read_text() if as_json else md.read_text())
    click.echo(f"wrote {md}", err=True)


if __name__ == "__main__":  # pragma: no cover
    run_script(main)
