"""The CPU precision ladder side by side: fp32 vs reduced precisions vs the ladder's pick.

Every built-in family (default config, random init, exported as `ptx export`
does) at each batch runs, in one set of ptx.timing interleaved rounds: ONNX
Runtime fp32 (the parity reference), OpenVINO fp32, OpenVINO at each reduced
precision this processor has units for (bf16 / fp16 / int8, as the ladder
detects them; for int8 the model is quantized first by
``ptx.export.precision.int8.quantize_int8``, NNCF under the gate, and a model
INT8 cannot hold is noted and left out), and the engine
``ptx.runtime.load(backend="auto", precision="auto")`` returns from a fresh
cache (its trial shape the benchmarked one). Parity is the
ladder's gate (images: PSNR on pixels; other outputs: relative L2) of each
output against ONNX Runtime fp32 on the spec's example pictures. The first table is
the issue's: per family and batch, the faster fp32 backend, the pick, speed-up and the
pick's parity; every contender follows. ``--model enhance=runtime/models/enhance.onnx``
measures a trained ONNX instead of random init (a random-init enhancer is near the
identity, so every rung's pixels round alike). ``--masked`` adds ``auto`` under
``PTX_PRECISIONS=fp32`` to the same rounds, against the plain fp32 engine of the
backend it took (what the mask costs on the hot path). Writes
``<out>/<host>-precision-ladder.md`` and ``.json``.

    python -m ptx.benchmarks.studies.precision_ladder [--size 256] [--batch 1,8] [--rounds 7]
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click

from ptx import runtime
from ptx.benchmarks.harness import env as env_mod
from ptx.benchmarks.harness.inputs import parse_batches, sized_shapes
from ptx.benchmarks.harness.models import export_onnx, family_model
from ptx.benchmarks.harness.script import run_script
from ptx.benchmarks.studies.per_family import fresh_auto, measure_families, write_study
from ptx.errors import ExportError, InputError, require
from ptx.export.precision.int8 import quantize_int8
from ptx.inputs import example_inputs
from ptx.runtime.backends.auto import precision as ladder
from ptx.runtime.cpu import cpu_capabilities
from ptx.timing import lower_quartile, time_interleaved
from ptx.training.common import registry

INT8_SAMPLES = 16  # calibration pictures for the INT8 copy
WARMUP_CALLS = 3  # OpenVINO compiles its static-shape model on the third call of a shape
REFERENCE = "onnxruntime"


@dataclass
class Case:
    """One family at one batch: per-contender lower quartiles (ms), parity, the pick."""

    family: str
    batch: int
    size: int
    rounds: int
    p25_ms: dict[str, float]
    median_ms: dict[str, float]
    parity: dict[str, str]  # contender -> gate figure vs ONNX Runtime fp32
    pick: str  # "backend:precision" the ladder chose
    pick_line: str
    times_ms: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # e.g. why a contender was left out
    masked: str | None = None  # backend `auto` took under PTX_PRECISIONS=fp32 (--masked)

    @property
    def best_fp32(self) -> str:
        """The faster fp32 contender in this run."""
        return min(("onnxruntime", "openvino"), key=self.p25_ms.__getitem__)

    @property
    def pick_precision(self) -> str:
        """The precision of the ladder's pick ("fp32" for a plain backend)."""
        return self.pick.partition(":")[2] or "fp32"

    @property
    def speedup(self) -> float:
        """The best fp32 lower quartile over the pick's (> 1: the pick is faster)."""
        return self.p25_ms[self.best_fp32] / self.p25_ms["pick"]

    def to_dict(self) -> dict:
        """JSON-ready, with the derived fields."""
        return {**asdict(self), "best_fp32": self.best_fp32, "speedup": self.speedup}


def contenders_here() -> list[str]:
    """fp32 ONNX Runtime and OpenVINO, plus each reduced precision this CPU can run."""
    return ["onnxruntime", "openvino", *(f"openvino:{p}" for p in ladder.REDUCED
                                         if ladder.unsupported(p) is None)]  # fmt: skip


def _open(name: str, path: Path, threads: int):
    backend, _, precision = name.partition(":")
    return runtime.load(path, threads=threads, backend=backend, precision=precision or "fp32")


def measure_family(
    family: str,
    size: int,
    batches: tuple[int, ...],
    rounds: int,
    threads: int,
    work: Path,
    tiny: bool = False,
    masked: bool = False,
    source: Path | None = None,
) -> list[Case]:
    """Every contender and the ladder's pick on one family at each batch.

    ``source``: an ONNX to measure instead of the family at random init (a trained model,
    whose outputs make the parity figures mean something); copied, so the INT8 copy and
    the auto caches land in ``work``, never beside it.
    """
    path = work / f"{family}.onnx"
    if source is not None:
        shutil.copyfile(source, path)
    else:
        config = registry.get(family).test_config if tiny else None
        export_onnx(family_model(family, config=config), path, (size, size) if tiny else None)
    engines, notes = {}, []
    for name in contenders_here():
        if name == "openvino:int8":
            try:
                notes.append(quantize_int8(path, samples=INT8_SAMPLES).summary())
            except ExportError as exc:  # INT8 cannot hold this model: say so, time the rest
                notes.append(f"int8 left out: {exc}")
                continue
        engines[name] = _open(name, path, threads)
    ref = engines[REFERENCE]
    spec = ref.spec
    cases = []
    for batch in batches:
        shapes = sized_shapes(ref.inputs, spec, batch, size, where=family)
        feeds = example_inputs(ref.inputs, spec, shapes, pictures="pictures")
        pick = fresh_auto(path, work, threads, shapes, precision="auto")
        runners = {**engines, "pick": pick}
        if masked:  # the mask's cost on the hot path: auto told "fp32 only" vs the plain engine
            runners["masked"] = _masked_auto(path, work, threads, shapes)
        outputs = {}
        for name, engine in runners.items():
            for _ in range(WARMUP_CALLS):
                outputs[name] = engine.run(feeds)
        parity = {
            n: ladder.gate(spec, outputs[REFERENCE], out)[1]
            for n, out in outputs.items()
            if n != REFERENCE
        }
        times = time_interleaved(
            {n: (lambda e=e, f=feeds: e.run(f)) for n, e in runners.items()},
            budget_s=None,
            max_rounds=rounds,
        )
        choice = pick.choice
        label = choice.backend if choice is None or choice.precision == "fp32" else (
            f"{choice.backend}:{choice.precision}"
        )  # fmt: skip
        cases.append(
            Case(
                family=family,
                batch=batch,
                size=size,
                rounds=rounds,
                p25_ms={n: lower_quartile(t) * 1e3 for n, t in times.items()},
                median_ms={n: statistics.median(t) * 1e3 for n, t in times.items()},
                parity=parity,
                pick=label if choice is not None else pick.backend,
                pick_line=choice.line() if choice is not None else "no trial (one backend)",
                times_ms={n: [round(x * 1e3, 3) for x in t] for n, t in times.items()},
                notes=notes,
                masked=runners["masked"].backend if masked else None,
            )
        )
        pick.close()
        if masked:
            runners["masked"].close()
    for engine in engines.values():
        engine.close()
    return cases


def _masked_auto(path: Path, work: Path, threads: int, shapes: dict):
    """``auto`` with PTX_PRECISIONS=fp32, as an operator masks the reduced rungs."""
    saved = os.environ.get("PTX_PRECISIONS")
    os.environ["PTX_PRECISIONS"] = "fp32"
    try:
        return fresh_auto(path, work, threads, shapes, precision="auto")
    finally:
        if saved is None:
            os.environ.pop("PTX_PRECISIONS", None)
        else:
            os.environ["PTX_PRECISIONS"] = saved


def masked_lines(cases: list[Case]) -> list[str]:
    """Under the mask, auto's engine against the plain fp32 engine of the backend it took."""
    lines = []
    for c in cases:
        if c.masked is None:
            continue
        plain, mine = c.p25_ms[c.masked], c.p25_ms["masked"]
        lines.append(
            f"- `{c.family}` b{c.batch}, PTX_PRECISIONS=fp32: auto took {c.masked} fp32, "
            f"{mine:.2f} ms vs the plain {c.masked} fp32 engine {plain:.2f} ms in the same "
            f"rounds ({mine / plain:.3f}x; parity {c.parity['masked']})"
        )
    return lines


def markdown(cases: list[Case], meta: dict) -> str:
    """The results page: one row per family and batch; ratios within the row."""
    names = meta["contenders"]
    lines = [
        f"# CPU precision ladder on `{meta['host']}`",
        "",
        f"- CPU: {meta['cpu']}; matrix units: {', '.join(meta['matrix']) or 'none (no AMX)'}; "
        f"vector: {', '.join(meta['vector']) or 'none'}; OpenVINO {meta['openvino']} reports "
        f"{', '.join(meta['openvino_caps'] or ['nothing'])}",
        f"- Not runnable here: {'; '.join(meta['unsupported']) or 'nothing'}",
        f"- {meta['threads']} threads, {meta['size']}x{meta['size']}, {meta['rounds']} "
        f"interleaved rounds after {WARMUP_CALLS} warm-up calls; lower-quartile ms; "
        f"{'test' if meta['tiny'] else 'default'} config, random init"
        + "".join(f", except `{f}`: {p}" for f, p in meta.get("models", {}).items())
        + f"; gate: {ladder.gate_line()}",
        f"- Command: `{meta['command']}`",
        "",
        "| family | batch | f32 ms | pick | pick ms | speed-up | parity |",
        "|---|---:|---:|---|---:|---:|---|",
    ]
    for c in cases:  # the table: f32 and the pick side by side, speed-up, parity
        lines.append(
            f"| {c.family} | {c.batch} | {c.p25_ms[c.best_fp32]:.1f} ({c.best_fp32}) | "
            f"{c.pick} | {c.p25_ms['pick']:.1f} | {c.speedup:.2f}x | {c.parity['pick']} |"
        )
    lines += [
        "",
        "f32 ms: the faster fp32 backend in the same rounds; speed-up: its lower quartile / "
        "the pick's (> 1: the pick is faster); parity: the pick's output vs ONNX Runtime fp32.",
        "",
        "Every contender (lower-quartile ms; parity of each reduced precision):",
        "",
        "| family | batch | " + " | ".join(f"{n} ms" for n in names) + " | reduced parity |",
        "|---|---:|" + "---:|" * len(names) + "---|",
    ]
    for c in cases:
        ms = " | ".join(f"{c.p25_ms[n]:.1f}" if n in c.p25_ms else "-" for n in names)
        reduced = ", ".join(
            f"{n.split(':')[1]} {c.parity.get(n, 'left out')}" for n in names if ":" in n
        )
        lines.append(f"| {c.family} | {c.batch} | {ms} | {reduced or '-'} |")
    lines.append("")
    lines += [f"- `{c.family}` b{c.batch}: {c.pick_line}" for c in cases]
    same = [f"`{c.family}` b{c.batch}" for c in cases if c.parity.get("pick") == "PSNR inf dB"
            and c.family not in meta.get("models", {}) and c.pick_precision != "fp32"]  # fmt: skip
    if same:  # random init: the outputs may be near-constant, so every rung rounds alike
        lines.append(
            f"- {', '.join(same)}: the pick's pixels equal fp32's at random init; that says "
            "little about a trained model's parity (measure one with --model FAMILY=ONNX)"
        )
    lines += masked_lines(cases)
    notes = dict.fromkeys(f"- `{c.family}`: {n}" for c in cases for n in c.notes)
    lines += list(notes)  # the INT8 copy is made once per family, noted once
    lines += [f"- skipped {s}" for s in meta.get("skipped", [])]
    return "\n".join(lines) + "\n"


def run(
    size: int = 256,
    batches: tuple[int, ...] = (1, 8),
    rounds: int = 7,
    families: tuple[str, ...] | None = None,
    threads: int | None = None,
    out: str | Path | None = None,
    command: str = "python -m ptx.benchmarks.studies.precision_ladder",
    tiny: bool = False,
    masked: bool = False,
    models: dict[str, Path] | None = None,
) -> tuple[Path, list[Case]]:
    """Measure every family and write <out>/<host>-precision-ladder.md and .json."""
    threads = threads or env_mod.usable_cores()
    models = models or {}
    cases, skipped = measure_families(
        families,
        "ptx-precision-ladder-",
        lambda family, work: measure_family(
            family, size, batches, rounds, threads, work, tiny, masked, models.get(family)
        ),
    )
    caps = cpu_capabilities()
    meta = {
        "host": env_mod.host_name(),
        "cpu": caps["model"],
        "matrix": caps["matrix"],
        "vector": caps["vector"],
        "openvino": ladder.openvino_version(),
        "openvino_caps": list(ladder.openvino_capabilities() or []),
        "unsupported": [
            f"{p}: {ladder.unsupported(p)}" for p in ladder.REDUCED if ladder.unsupported(p)
        ],  # fmt: skip
        "contenders": contenders_here(),
        "threads": threads,
        "size": size,
        "rounds": rounds,
        "command": command,
        "tiny": tiny,
        "models": {f: str(p) for f, p in models.items()},
        "skipped": skipped,
    }
    md = write_study(cases, meta, markdown, "precision-ladder", out)
    return md, cases


def in_suite(
    out: str | Path | None,
    size: int,
    batches: tuple[int, ...],
    families: tuple[str, ...] | None,
    threads: int | None,
) -> Path | None:
    """`make bench`: the ladder at the suite's settings on its own page; None without OpenVINO."""
    if ladder.openvino_capabilities() is None:  # the ladder's rungs all run on OpenVINO
        click.echo("precision ladder: not run (OpenVINO is not installed)", err=True)
        return None
    md, _ = run(size=size, batches=batches, families=families, threads=threads, out=out,
                command="python -m ptx.benchmarks.studies.suite")  # fmt: skip
    return md


def _model_files(items: tuple[str, ...]) -> dict[str, Path]:
    """``("enhance=m.onnx",)`` -> {"enhance": Path("m.onnx")}; one InputError per bad item."""
    out = {}
    for item in items:
        family, sep, path = item.partition("=")
        if not sep or family not in registry.names() or not Path(path).is_file():
            raise InputError(f"--model {item}: expected FAMILY=file.onnx with FAMILY one of "
                             f"{', '.join(registry.names())} and an existing file")  # fmt: skip
        out[family] = Path(path)
    return out


@click.command()
@click.option("--size", type=int, default=256, show_default=True, help="Image side.")
@click.option("--batch", default="1,8", show_default=True, help="Batch sizes.")
@click.option("--rounds", type=int, default=7, show_default=True, help="Interleaved rounds.")
@click.option("--family", "families", multiple=True, help="Only these families (repeat).")
@click.option("--threads", type=int, help="Threads for every engine (default: usable cores).")
@click.option("--tiny", is_flag=True, help="The families' small test configs (a quick run).")
@click.option("--out", help="Results folder [default: $PTX_RESULTS_DIR or ./bench-results].")
@click.option(
    "--model", "model_files", multiple=True, metavar="FAMILY=ONNX",
    help="Measure this ONNX for the family instead of random init (repeat).",
)  # fmt: skip
@click.option("--masked", is_flag=True, help="Also auto under PTX_PRECISIONS=fp32 (its cost).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document instead.")
def main(size, batch, rounds, families, threads, tiny, model_files, masked, out, as_json) -> None:
    """Measure fp32 vs the precision ladder's pick per family and batch; write the table."""
    require("openvino", "openvino", "the precision ladder study")
    if rounds < 1 or size < 8:
        raise InputError(f"--rounds must be >= 1 and --size >= 8 (got {rounds}, {size})")
    md, _ = run(
        size=size,
        batches=tuple(b for b in parse_batches(batch) if b),
        rounds=rounds,
        families=tuple(families) or None,
        threads=threads,
        out=out,
        command="python -m ptx.benchmarks.studies.precision_ladder " + " ".join(sys.argv[1:]),
        tiny=tiny,
        masked=masked,
        models=_model_files(model_files),
    )
    click.echo(md.with_suffix(".json").read_text() if as_json else md.read_text())
    click.echo(f"wrote {md}", err=True)


if __name__ == "__main__":  # pragma: no cover
    run_script(main)
