"""`ptx bench --url`: closed-loop load on a KServe v2 server, reported as the harness reports.

Each concurrency level is one run of the ptx.bench document (SCHEMA.md): the
clients' latencies summarised trtexec-style (``streams`` = concurrency, enqueue =
time to send the request), plus the server's own queue/compute split from its
statistics route, its resident memory from /metrics, and every answer's fate.
Inputs follow the served model's metadata (``--shapes``/``--batch`` fix open
dims); with ``--model`` the same ONNX runs in-process for the reference answers
and the in-process latency floor, else each input's first answer is the reference.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ptx import runtime
from ptx.benchmarks.harness import env as env_mod
from ptx.benchmarks.harness import report, stats
from ptx.benchmarks.harness.inputs import bench_inputs
from ptx.benchmarks.harness.measure import BenchResult
from ptx.benchmarks.serving.closed_loop import Phase, run_phase, send_once
from ptx.benchmarks.serving.kserve_client import (
    Endpoint,
    encode_infer,
    model_io,
    model_stats,
    resident_mib,
)
from ptx.errors import InputError, ModelError
from ptx.inputs import example_inputs
from ptx.runtime import Engine
from ptx.spec import ModelSpec
from ptx.tensors import NamedShape, TensorInfo

DISTINCT_INPUTS = 8  # inputs in rotation, each with its reference answer
RSS_SAMPLES = 20  # server memory readings per timed run (flat after warm-up, or a leak)
RSS_EVERY_S = 1.0  # at most one /metrics scrape a second: each one holds the event loop


@dataclass
class ServeTarget:
    """The server and model under load, and the optional local copy of the model."""

    url: str
    model_name: str
    token: str | None = None
    reference: str | None = None  # the ONNX the server runs: reference answers, in-process floor
    label: str | None = None


@dataclass
class Answers:
    """Each distinct input's reference outputs; FP16 anywhere widens the tolerance."""

    expected: list[dict[str, np.ndarray]]

    def check(self, k: int, got: dict[str, np.ndarray]) -> bool:
        """True when ``got`` is input ``k``'s answer (same outputs, shapes, values)."""
        want = self.expected[k]
        if got.keys() != want.keys():
            return False
        for name, ref in want.items():
            out = got[name]
            if out.shape != ref.shape:
                return False
            tol = 2e-2 if np.float16 in (out.dtype, ref.dtype) else 1e-3
            if not np.allclose(out.astype(np.float64), ref.astype(np.float64), tol, tol):
                return False
        return True


def concurrency_levels(text: str) -> list[int]:
    """``"1,8,32"`` -> [1, 8, 32]."""
    try:
        levels = [int(c) for c in str(text).split(",") if c.strip()]
    except ValueError:
        raise InputError(f"--concurrency '{text}': expected integers like 1,8,32") from None
    if not levels or any(c <= 0 or c > 1024 for c in levels):
        raise InputError(f"--concurrency '{text}': levels must be 1..1024")
    return levels


@dataclass
class Workload:
    """The served model, the inputs in rotation with their reference answers, the local engine."""

    target: ServeTarget
    ep: Endpoint
    meta: dict
    infos: list[TensorInfo]
    dims: dict[str, tuple[int, ...]]
    engine: Engine | None  # the local --model engine
    feeds: list[dict[str, np.ndarray]]
    answers: Answers
    notes: list[str]  # inputs whose open dims ptx.inputs's rule sized

    @property
    def spec(self) -> ModelSpec | None:
        """The local model's ModelSpec, None without --model."""
        return self.engine.spec if self.engine is not None else None

    def phase(self, clients: int, seconds: float) -> Phase:
        """``clients`` closed-loop clients for ``seconds``."""
        name = self.target.model_name
        return run_phase(self.ep, name, self.feeds, self.answers.check, clients, seconds)


def prepare(
    target: ServeTarget, shapes: Sequence[NamedShape] = (), batch: int | None = None, seed: int = 0
) -> Workload:
    """Read the model's metadata, make the inputs and their reference answers."""
    ep = Endpoint(target.url, target.token)
    infos, _, meta = model_io(ep, target.model_name)
    engine = _local_engine(target, infos, meta)
    spec = engine.spec if engine is not None else None
    made = bench_inputs(target.model_name, infos, spec, shapes, batch, seed)
    dims = made.shapes
    feeds = [made.feeds] + [
        example_inputs(infos, spec, dims, seed, index=k) for k in range(1, DISTINCT_INPUTS)
    ]
    if engine is not None:
        expected = [engine.run(f) for f in feeds]
    else:  # one at a time, so the reference never went through a merged batch
        expected = [send_once(ep, target.model_name, encode_infer(f)) for f in feeds]
    return Workload(target, ep, meta, infos, dims, engine, feeds, Answers(expected), made.notes)


def run_serve_bench(
    target: ServeTarget,
    concurrency: Sequence[int],
    shapes: Sequence[NamedShape] = (),
    batch: int | None = None,
    warmup_s: float = 2.0,
    duration_s: float = 10.0,
    cov_threshold: float = stats.COV_WARN_THRESHOLD,
    per_iteration: bool = True,
    seed: int = 0,
) -> dict:
    """Load ``target`` at each concurrency level; the ptx.bench document."""
    if duration_s <= 0 or warmup_s < 0:
        raise InputError("--duration must be positive and --warmup not negative")
    w = prepare(target, shapes, batch, seed)
    ep = w.ep
    settings = {
        "url": ep.url,
        "model_name": target.model_name,
        "warmup_s": warmup_s,
        "duration_s": duration_s,
        "distinct_inputs": DISTINCT_INPUTS,
        "reference": "local model" if w.engine is not None else "first answers",
        "seed": seed,
        "cov_threshold": cov_threshold,
    }
    rss_start = resident_mib(ep)
    runs = []
    for c in concurrency:
        warm = w.phase(c, warmup_s)
        rss_warm = resident_mib(ep)
        before = model_stats(ep, target.model_name)
        with RssSampler(ep, max(RSS_EVERY_S, duration_s / RSS_SAMPLES)) as rss:
            phase = w.phase(c, duration_s)
        after = model_stats(ep, target.model_name)
        run = level_run(w, settings, c, warm, phase, per_iteration)
        run["server"] = server_split(before, after)
        run["server_rss_mib"] = {
            "start": rss_start,
            "warm": rss_warm,
            "end": resident_mib(ep),
            "samples": ([[0.0, round(rss_warm, 2)]] if rss_warm else []) + rss.samples,
        }
        runs.append(run)
    extra = {"target": {"url": ep.url, "model_name": target.model_name, "metadata": w.meta}}
    if w.engine is not None:
        floor = stats.median(in_process_times(w.engine, w.feeds, min(3.0, duration_s)))
        extra["in_process"] = {"backend": w.engine.backend, "p50_ms": floor}
        for run in runs:
            run["p50_vs_in_process"] = run["latency"]["median"] / floor
        w.engine.close()
    return report.document(runs, env_mod.capture(), extra)


def _local_engine(target: ServeTarget, infos: list[TensorInfo], meta: dict) -> Engine | None:
    if target.reference is None:
        return None
    # The backend the server reports (a like-for-like floor), with the server's ORT options.
    backend = meta.get("parameters", {}).get("backend")
    backend = backend if backend in runtime.BACKENDS and backend != "tensorrt" else "onnxruntime"
    options = {"spin": False} if backend == "onnxruntime" else {}
    engine = runtime.load(target.reference, backend=backend, **options)
    if [t.name for t in engine.inputs] != [t.name for t in infos]:
        names = [t.name for t in engine.inputs]
        engine.close()
        raise InputError(
            f"--model {target.reference} has inputs {names}, the served model "
            f"'{target.model_name}' has {[t.name for t in infos]}; give the ONNX the server runs"
        )
    return engine


def level_run(
    w: Workload, settings: dict, c: int, warm: Phase, phase: Phase, per_iteration: bool
) -> dict:
    """One concurrency level as a ptx.bench run."""
    records = phase.iterations()
    outcome = phase.outcome()
    name = w.target.model_name
    if not records:
        raise ModelError(
            f"{w.target.url}: no request answered at concurrency {c} "
            f"({outcome['overloaded_503']} x 503, {outcome['errors']} errors; first: "
            f"{outcome['first_error']})"
        )
    backend = w.meta.get("parameters", {}).get("backend") or w.meta.get("platform", "")
    result = BenchResult(
        label=w.target.label or f"http/{name}/{backend}",
        backend="http",
        device="server",
        precision=(w.spec.precision if w.spec is not None else None) or "unknown",
        model=f"{w.ep.url}/v2/models/{name}",
        batch=next(iter(w.dims.values()))[0] if w.dims else 1,
        streams=c,
        inputs={
            t.name: {"shape": list(w.dims[t.name]), "dtype": np.dtype(t.dtype).name}
            for t in w.infos
        },
        settings={**settings, "concurrency": c},
        warmup_queries=warm.outcome()["answered"],
        warmup_ms=settings["warmup_s"] * 1e3,
        records=records,
    )
    unstable = stats.cov_warning(result.summary()["cov"], settings["cov_threshold"])
    result.warnings = w.notes + ([unstable] if unstable else [])
    run = report.run_dict(result, per_iteration)
    run["concurrency"] = c
    run["outcome"] = outcome
    if outcome["errors"] or outcome["wrong_results"]:
        run["warnings"].append(
            f"{outcome['errors']} errors and {outcome['wrong_results']} wrong answers "
            f"(first error: {outcome['first_error']})"
        )
    return run


class RssSampler:
    """Reads the server's resident memory every ``every_s`` seconds while a run lasts."""

    def __init__(self, ep: Endpoint, every_s: float) -> None:
        self.ep, self.every_s = ep, every_s
        self.samples: list[list[float]] = []  # [seconds since start, MiB]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        t0 = time.perf_counter()
        while not self._stop.wait(self.every_s):
            try:
                mib = resident_mib(self.ep)
            except InputError:  # the server went away; the run itself will say so
                return
            if mib is None:
                return
            self.samples.append([round(time.perf_counter() - t0, 3), round(mib, 2)])

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(self.ep.timeout_s)


def server_split(before: dict | None, after: dict | None) -> dict | None:
    """Server-side means (ms) over the run from two statistics snapshots, as perf_analyzer."""
    if before is None or after is None:
        return None
    a, b = after["inference_stats"], before["inference_stats"]

    def avg_ms(key: str) -> float | None:
        n = a[key]["count"] - b[key]["count"]
        return (a[key]["ns"] - b[key]["ns"]) / n / 1e6 if n else None

    runs = after["execution_count"] - before["execution_count"]
    samples = after["inference_count"] - before["inference_count"]
    return {
        "request_ms": avg_ms("success"),
        "queue_ms": avg_ms("queue"),
        "compute_input_ms": avg_ms("compute_input"),
        "compute_infer_ms": avg_ms("compute_infer"),
        "compute_output_ms": avg_ms("compute_output"),
        "executions": runs,
        "mean_batch": samples / runs if runs else None,
    }


def in_process_times(engine, feeds: Sequence[dict], duration_s: float) -> list[float]:
    """ms of ``engine.run`` over the inputs in rotation, in this process: the server's floor."""
    times, end = [], time.perf_counter() + duration_s
    while time.perf_counter() < end or len(times) < 10:
        t = time.perf_counter()
        engine.run(feeds[len(times) % len(feeds)])
        times.append((time.perf_counter() - t) * 1e3)
    return times


def failures(doc: dict) -> str | None:
    """One line naming failed or wrong answers, None when every answer was right."""
    bad = [r for r in doc["runs"] if r["outcome"]["errors"] or r["outcome"]["wrong_results"]]
    if not bad:
        return None
    errors = sum(r["outcome"]["errors"] for r in bad)
    wrong = sum(r["outcome"]["wrong_results"] for r in bad)
    first = next((r["outcome"]["first_error"] for r in bad if r["outcome"]["first_error"]), None)
    levels = ",".join(str(r["concurrency"]) for r in bad)
    what = [f"{errors} requests failed"] if errors else []
    what += [f"{wrong} answers came back wrong"] if wrong else []
    return f"{' and '.join(what)} at concurrency {levels}" + (f" (first: {first})" if first else "")
