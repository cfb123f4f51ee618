"""CPU backends side by side: PyTorch eager vs ONNX Runtime vs OpenVINO vs ``auto``.

Every built-in family (default config, random init, exported as `ptx export`
does) runs on all four in interleaved rounds (each round runs every contender
once, in a fresh random order, each call starting from a quiet process), so
load from other processes hits them alike and the ratios are measured side by
side, not across runs. ``auto`` is a separate
engine loaded with ``backend="auto"`` from a fresh cache, its trial shape the
benchmarked one; the check is that it is within 5% of the faster of ONNX
Runtime and OpenVINO. Writes ``benchmarks/results/<host>-cpu-backends.md`` and
``.json``.

    python -m ptx.benchmarks.studies.cpu_backends [--size 256] [--batch 1,8] [--rounds 7]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click

from ptx.benchmarks.harness import env as env_mod

RESULTS = Path(__file__).resolve().parent / "results"
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


def interleave(runners: dict, rounds: int, progress=None, quiet=None) -> dict[str, list[float]]:
    """Seconds per call of each runner over ``rounds`` rounds, each in a fresh random order.

    A random order gives every contender every predecessor alike; each call waits
    for the process to go quiet first (ONNX Runtime's pool spins after a call).
    """
    import random

    from ptx.runtime.backends.auto.select import settle

    quiet = quiet or settle
    rng = random.Random(0)
    names = list(runners)
    times: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(rounds):
        for name in rng.sample(names, len(names)):
            quiet()
            t0 = time.perf_counter()
            runners[name]()
            times[name].append(time.perf_counter() - t0)
            if progress is not None:
                progress.update()
    return times


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
    from tqdm import tqdm

    from ptx import runtime
    from ptx.benchmarks.harness.backends import EngineBackend, TorchBackend
    from ptx.benchmarks.harness.inputs import make_feeds, resolve_shapes
    from ptx.benchmarks.harness.models import family_model
    from ptx.runtime.backends.auto.select import lower_quartile
    from ptx.training.common import registry

    model = family_model(family, config=registry.get(family).test_config if tiny else None)
    onnx_path = _export(model, work / f"{family}.onnx", (size, size) if tiny else None)
    ort = runtime.load(onnx_path, threads=threads, backend="onnxruntime")
    ov = runtime.load(onnx_path, threads=threads, backend="openvino")
    torch = TorchBackend(model.module, family, list(ort.inputs), model.spec, threads)
    cases = []
    for batch in batches:
        shapes = resolve_shapes(family, ort.inputs, model.spec, batch=batch)
        shapes = {t.name: _sized(t, shapes[t.name], size) for t in ort.inputs}
        feeds = make_feeds(ort.inputs, shapes, model.spec)
        auto = _fresh_auto(onnx_path, work, threads, shapes)
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


def _export(model, out: Path, size: tuple[int, int] | None) -> Path:
    """Export as `ptx export --checkpoint` does; ``size`` traces smaller than the spec's opt."""
    from ptx.export.pytorch.export import export_checkpoint
    from ptx.training.common.checkpoint import save_checkpoint

    with tempfile.TemporaryDirectory(prefix="ptx-bench-ckpt-") as tmp:
        save_checkpoint(tmp, model.module, model.spec)
        export_checkpoint(Path(tmp), out, size=size)
    return out


def _sized(info, shape: tuple[int, ...], size: int) -> tuple[int, ...]:
    """``shape`` with the open image sides (axes 2, 3 of a 4-D input) set to ``size``."""
    if len(shape) != 4:
        return shape
    return tuple(size if i >= 2 and info.is_dynamic(i) else d for i, d in enumerate(shape))


def _fresh_auto(onnx_path: Path, work: Path, threads: int, shapes: dict):
    """An ``auto`` engine that pays its trial now: a fresh cache, this benchmark's shape."""
    from ptx import runtime
    from ptx.runtime.backends.auto.cache import CACHE_SUFFIX

    onnx_path.with_name(onnx_path.name + CACHE_SUFFIX).unlink(missing_ok=True)
    old = os.environ.get("PTX_CACHE_DIR")
    os.environ["PTX_CACHE_DIR"] = str(work / "cache")
    try:
        return runtime.load(onnx_path, threads=threads, backend="auto", trial_shapes=shapes)
    finally:
        if old is None:
            os.environ.pop("PTX_CACHE_DIR", None)
        else:
            os.environ["PTX_CACHE_DIR"] = old


def markdown(cases: list[Case], meta: dict) -> str:
    """The results page: one row per family and batch, ratios within the row."""
    lines = [
        f"# CPU backends on `{meta['host']}`",
        "",
        f"- CPU: {meta['cpu']} ({meta['threads']} threads for every backend); "
        f"load average {meta['load_before']} before, {meta['load_after']} after "
        "(a shared machine: ratios within a row are measured together, absolute ms are noisy)",
        f"- Versions: {', '.join(f'{k} {v}' for k, v in meta['versions'].items())}",
        f"- {meta['size']}x{meta['size']} images, {meta['rounds']} interleaved rounds (random "
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
    out: str | Path = RESULTS,
    command: str = "python -m ptx.benchmarks.studies.cpu_backends",
    tiny: bool = False,
) -> tuple[Path, list[Case]]:
    """Measure every family and write <out>/<host>-cpu-backends.md and .json."""
    from ptx.errors import ModelError
    from ptx.io import atomic_write_text
    from ptx.training.common import registry

    threads = threads or env_mod.usable_cores()
    families = families or tuple(registry.names())
    load_before = _load()
    cases: list[Case] = []
    skipped = []
    with tempfile.TemporaryDirectory(prefix="ptx-cpu-backends-") as tmp:
        for family in families:
            try:
                registry.get(family)
            except (ImportError, ModelError) as exc:  # a family whose module is not written yet
                skipped.append(f"`{family}`: not importable ({exc})")
                continue
            cases += measure_family(family, size, batches, rounds, threads, Path(tmp), tiny)
    meta = {
        "host": env_mod.host_name(),
        "cpu": env_mod.cpu_model(),
        "threads": threads,
        "size": size,
        "rounds": rounds,
        "load_before": load_before,
        "load_after": _load(),
        "versions": {
            k: v
            for k, v in env_mod.versions().items()
            if k in ("ptx", "torch", "onnxruntime", "openvino")
        },
        "command": command,
        "tiny": tiny,
        "skipped": skipped,
    }
    meta["versions"].setdefault("openvino", _openvino_version())
    out = Path(out)
    md = out / f"{meta['host']}-cpu-backends.md"
    atomic_write_text(md, markdown(cases, meta))
    doc = {"meta": meta, "cases": [c.to_dict() for c in cases]}
    atomic_write_text(md.with_suffix(".json"), json.dumps(doc, indent=2) + "\n")
    return md, cases


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _openvino_version() -> str:
    from ptx.runtime.backends.openvino import openvino_version

    return openvino_version()


@click.command()
@click.option("--size", type=int, default=256, show_default=True, help="Image side.")
@click.option("--batch", default="1,8", show_default=True, help="Batch sizes.")
@click.option("--rounds", type=int, default=7, show_default=True, help="Interleaved rounds.")
@click.option("--family", "families", multiple=True, help="Only these families (repeat).")
@click.option("--threads", type=int, help="Threads for every backend (default: usable cores).")
@click.option("--out", default=str(RESULTS), show_default=True, help="Results folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document instead.")
def main(size, batch, rounds, families, threads, out, as_json) -> None:
    """Measure torch / ONNX Runtime / OpenVINO / auto and write the Markdown table."""
    from ptx.benchmarks.harness.inputs import parse_batches
    from ptx.errors import InputError, require

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
    from ptx.benchmarks.harness.script import run_script

    run_script(main)
