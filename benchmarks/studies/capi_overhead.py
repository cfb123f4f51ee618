"""C++ through libptx vs Python in-process (issue 16): per-call time and C++ threads' throughput.

Cases: the shipped enhancer (``ptx.runtime``'s models/enhance.onnx) at 256x256
(target C++ / Python <= 1.03); a tiny model, the enhance family's test config at
random init exported at 64x64 (target <= 1.2); and the floor, two elementwise ops at
64x64, where nearly all of a call is the call itself. Both sides run the same file with the
same options (ONNX Runtime, one intra-op thread, no spinning) on a [1, 3, S, S] input
of 0.5. C++ is ``ptx_bench --serve`` (capi/examples/bench.cpp, built from ptx's own
capi sources into a temporary folder unless ``--exe`` is given), one process holding
the model; Python is ``ptx.runtime.load(...).run`` in this process.

Rounds come from ptx.timing.time_interleaved (rotating order, each side started from
a quiet process): K calls in Python, K calls from one C++ thread, K calls on each of
N C++ threads. Each side times its own calls, so the pipe to the C++ process is
outside the clock. The ratios use the lower quartile of the per-round times (the
least disturbed rounds on a shared machine), the median ratio beside it. Targets are
reported, never asserted.

    python -m ptx.benchmarks.studies.capi_overhead [--seconds 10] [--threads 8] [--exe ptx_bench]
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import click
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ptx import runtime
from ptx.benchmarks.harness import stats
from ptx.benchmarks.harness.env import host_name, usable_cores
from ptx.benchmarks.harness.models import export_onnx, family_model
from ptx.benchmarks.harness.report import results_dir
from ptx.benchmarks.harness.script import run_script
from ptx.errors import MissingDependency, PtxError
from ptx.io import atomic_write_text
from ptx.runtime import capi
from ptx.timing import lower_quartile, time_interleaved
from ptx.training.common import registry

ENHANCER = Path(runtime.__file__).resolve().parent / "models" / "enhance.onnx"
# name, side, target C++ / Python; "floor": two elementwise ops, the call cost alone
CASES = (("enhancer", 256, 1.03), ("tiny", 64, 1.2), ("floor", 64, 1.2))
ROUND_S = 0.05  # one side's calls per round take about this long (sets K)
MIN_ROUNDS = 7  # rounds at least, however short the budget: a quartile needs samples


class CppServer:
    """``ptx_bench --serve MODEL``: a C++ process holding the model; each request one round."""

    def __init__(self, exe: str | Path, model: str | Path, log: Path) -> None:
        options = json.dumps(capi.BENCH_OPTIONS)
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [str(exe), "--serve", str(model), "onnxruntime", options],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,  # a file: a chatty library cannot fill a pipe and stall us
            text=True,
        )
        self._expect("ready", exe)

    def _expect(self, what: str, exe: str | Path) -> str:
        line = self.proc.stdout.readline()
        if not line or (what and line.strip() != what):
            self.close()
            raise PtxError(f"{exe}: {Path(self._log.name).read_text().strip() or 'no answer'}")
        return line

    def round(self, side: int, calls: int, threads: int) -> tuple[float, float]:
        """(wall, CPU) seconds of ``calls`` calls on each of ``threads`` C++ threads."""
        self.proc.stdin.write(f"{side} {calls} {threads}\n")
        self.proc.stdin.flush()
        wall, cpu = self._expect("", "ptx_bench").split()
        return float(wall), float(cpu)

    def close(self) -> None:
        """End the process (closing its stdin ends its loop)."""
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()

    def __enter__(self) -> CppServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def measure_case(
    exe: str | Path, model: str | Path, side: int, seconds: float, threads: int, work: Path
) -> dict:
    """One model at one side: per-call seconds of each contender per round (wall; CPU too).

    ``python_cpu`` / ``cpp_cpu``: the calling thread's CPU seconds per call, which a
    loaded machine's waits for a core do not inflate (one intra-op thread: ONNX Runtime
    computes on the calling thread).
    """
    engine = runtime.load(model, backend="onnxruntime", **capi.BENCH_OPTIONS)
    feeds = {engine.inputs[0].name: np.full((1, 3, side, side), 0.5, np.float32)}
    for _ in range(3):
        engine.run(feeds)
    t0 = time.perf_counter()
    engine.run(feeds)
    calls = max(1, round(ROUND_S / (time.perf_counter() - t0)))
    per_call: dict[str, list[float]] = {k: [] for k in ("python", "cpp", "cpp_threads")}
    cpu: dict[str, list[float]] = {"python": [], "cpp": []}

    def python() -> None:
        cpu0, start = time.thread_time(), time.perf_counter()
        for _ in range(calls):
            engine.run(feeds)
        per_call["python"].append((time.perf_counter() - start) / calls)
        cpu["python"].append((time.thread_time() - cpu0) / calls)

    def cpp() -> None:
        wall, used = server.round(side, calls, 1)
        per_call["cpp"].append(wall / calls)
        cpu["cpp"].append(used / calls)

    with CppServer(exe, model, work / f"ptx_bench-{side}.log") as server:
        sides = {
            "python": python,
            "cpp": cpp,
            "cpp_threads": lambda: per_call["cpp_threads"].append(
                server.round(side, calls, threads)[0] / (calls * threads)
            ),
        }
        time_interleaved(
            sides, budget_s=seconds, min_rounds=MIN_ROUNDS, max_rounds=10_000, warmup=True
        )
    per_call.update({f"{k}_cpu": v for k, v in cpu.items()})
    return {name: times[1:] for name, times in per_call.items()}  # [0]: the warm-up call


def case_row(name: str, model: Path, side: int, target: float, threads: int, times: dict) -> dict:
    """Per-call microseconds, the C++ / Python ratios and N threads' throughput vs one."""
    lq = {k: lower_quartile(v) for k, v in times.items()}
    med = {k: stats.median(v) for k, v in times.items()}
    row = {
        "case": name,
        "model": model.name,
        "side": side,
        "target": target,
        "rounds": len(times["python"]),
        "python_us": lq["python"] * 1e6,
        "cpp_us": lq["cpp"] * 1e6,
        "cpp_over_python": lq["cpp"] / lq["python"],
        "cpp_over_python_median": med["cpp"] / med["python"],
        "python_cpu_us": lq["python_cpu"] * 1e6,
        "cpp_cpu_us": lq["cpp_cpu"] * 1e6,
        "cpp_over_python_cpu": lq["cpp_cpu"] / lq["python_cpu"],
        "threads": threads,
        "cpp_calls_per_s_1": 1.0 / lq["cpp"],
        "cpp_calls_per_s_threads": 1.0 / lq["cpp_threads"],
        "cpp_threads_speedup": lq["cpp"] / lq["cpp_threads"],
        "cov": {k: stats.cov(v) for k, v in times.items()},
    }
    row["meets_target"] = row["cpp_over_python"] <= target
    return row


def floor_model(path: Path) -> Path:
    """y = x * 0.5 + 0.25 on [1, 3, H, W]: almost no compute, so the per-call cost shows."""
    dims = [1, 3, "height", "width"]
    graph = helper.make_graph(
        [helper.make_node("Mul", ["image", "s"], ["m"]),
         helper.make_node("Add", ["m", "b"], ["y"])],
        "floor",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, dims)],
        [numpy_helper.from_array(np.array(0.5, np.float32), "s"),
         numpy_helper.from_array(np.array(0.25, np.float32), "b")],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def tiny_model(path: Path, side: int) -> Path:
    """The enhance family's test config (random init) exported at side x side."""
    model = family_model("enhance", config=registry.get("enhance").test_config)
    return export_onnx(model, path, (side, side))


def measure(seconds: float = 10.0, threads: int = 8, exe: str | Path | None = None) -> dict:
    """Both cases; builds ptx_bench from ptx's capi sources when ``exe`` is None.

    A host without cmake, a compiler or an embeddable Python gets ``skipped`` (the reason).
    """
    result = {"threads": threads, "usable_cores": usable_cores(), "options": capi.BENCH_OPTIONS}
    with tempfile.TemporaryDirectory(prefix="ptx-capi-bench-") as tmp:
        work = Path(tmp)
        try:
            exe = exe or capi.build(work / "prefix", work / "build") / "bin" / "ptx_bench"
        except MissingDependency as exc:
            return {**result, "skipped": str(exc), "rows": []}
        models = {"enhancer": ENHANCER, "floor": floor_model(work / "floor.onnx")}
        try:  # the tiny model is exported from PyTorch (ptx[train])
            models["tiny"] = tiny_model(work / "tiny.onnx", CASES[1][1])
        except MissingDependency as exc:
            result["notes"] = [f"tiny: not run ({exc})"]
        result["load_before"] = os.getloadavg()[0]
        rows = []
        for name, side, target in CASES:
            if name not in models:
                continue
            times = measure_case(exe, models[name], side, seconds, threads, work)
            rows.append(case_row(name, models[name], side, target, threads, times))
        result["load_after"] = os.getloadavg()[0]
    return {**result, "rows": rows}


def markdown(result: dict) -> str:
    """The C++ vs Python table as markdown."""
    if result.get("skipped"):
        return f"C++ vs Python in-process: not run ({result['skipped']})\n"
    n = result["threads"]
    lines = [
        "C++ through libptx (`ptx_bench --serve`) vs Python in-process (`ptx.runtime` "
        "`Engine.run`), same model file, ONNX Runtime with one intra-op thread and no "
        "spinning on both sides; interleaved rounds (ptx.timing), lower quartiles of the "
        "per-round per-call times (wall clock; CPU: the calling thread's CPU time, which "
        f"waits for a core do not inflate). {n} C++ threads share one engine on "
        f"{result['usable_cores']} usable cores; load average "
        f"{result['load_before']:.1f} before, {result['load_after']:.1f} after.",
        "",
        "| case | model | side | Python us/call | C++ us/call | C++ / Python (target) "
        "| median ratio | CPU us/call Python / C++ | CPU ratio "
        f"| C++ calls/s, 1 thread | C++ calls/s, {n} threads | {n} vs 1 | rounds |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        verdict = "ok" if r["meets_target"] else "over"
        lines.append(
            f"| {r['case']} | `{r['model']}` | {r['side']} | {r['python_us']:.1f} | "
            f"{r['cpp_us']:.1f} | {r['cpp_over_python']:.3f} (<= {r['target']}, {verdict}) | "
            f"{r['cpp_over_python_median']:.3f} | "
            f"{r['python_cpu_us']:.1f} / {r['cpp_cpu_us']:.1f} | {r['cpp_over_python_cpu']:.3f} | "
            f"{r['cpp_calls_per_s_1']:.1f} | {r['cpp_calls_per_s_threads']:.1f} | "
            f"{r['cpp_threads_speedup']:.2f}x | {r['rounds']} |"
        )
    lines += ["", *(f"- {note}" for note in result.get("notes", []))]
    return "\n".join(lines).rstrip("\n") + "\n"


def write(result: dict, out: str | Path | None = None) -> Path:
    """Write ``out``/capi_overhead-<host>.{json,md}; returns the markdown path."""
    out = results_dir(out)
    stem = f"capi_overhead-{host_name()}"
    atomic_write_text(out / f"{stem}.json", json.dumps(result, indent=1) + "\n")
    atomic_write_text(out / f"{stem}.md", markdown(result))
    return out / f"{stem}.md"


def in_suite(out: str | Path | None, seconds: float) -> Path:
    """The suite's call (`make bench`): measure, write beside the suite's page, say where."""
    md = write(measure(seconds), out)
    click.echo(f"wrote {md}", err=True)
    return md


@click.command()
@click.option("--seconds", type=float, default=10.0, show_default=True, help="Budget per case.")
@click.option("--threads", type=int, default=8, show_default=True, help="C++ threads.")
@click.option("--exe", help="A built ptx_bench [default: build one from ptx's capi sources].")
@click.option("--out", help="Results folder [default: $PTX_RESULTS_DIR or ./bench-results].")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def main(seconds, threads, exe, out, as_json) -> None:
    """Print C++ (libptx) vs Python in-process per-call ratios and C++ threads' throughput."""
    result = measure(seconds, threads, exe)
    write(result, out)
    click.echo(json.dumps(result, indent=1) if as_json else markdown(result))


if __name__ == "__main__":  # pragma: no cover
    run_script(main)
