"""The timing loop: warm up, then run until both --duration and --iterations are met.

Each stream is a thread with its own engine; all streams start timing together
(a barrier after their warm-ups) so their queries overlap, and throughput is
every stream's queries over the host wall time from the first timed start to
the last end (trtexec's "Total Host Walltime").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

from ptx.benchmarks.harness import stats
from ptx.benchmarks.harness.backends import Backend, EngineBackend
from ptx.benchmarks.harness.inputs import bench_inputs
from ptx.errors import InputError
from ptx.runtime import Engine
from ptx.tensors import NamedShape

DEFAULTS = {"warmup_s": 0.2, "duration_s": 3.0, "iterations": 10}


@dataclass
class Iteration:
    """One timed query, host times in ms from the start of timing."""

    stream: int
    start_ms: float
    end_ms: float
    enqueue_ms: float
    phases: dict[str, float] = field(default_factory=dict)  # h2d/compute/d2h on the GPU

    @property
    def latency_ms(self) -> float:
        """Host latency of this query (enqueue + wait)."""
        return self.end_ms - self.start_ms


@dataclass
class BenchResult:
    """Everything one (model, batch, streams) measurement produced."""

    label: str
    backend: str
    device: str
    precision: str
    model: str
    batch: int
    streams: int
    inputs: dict[str, dict]  # name -> {"shape": [...], "dtype": "float32"}
    settings: dict
    warmup_queries: int
    warmup_ms: float
    records: list[Iteration]
    phases: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)
    choice: dict | None = None  # --backend auto: the runtime's decision, as it cached it

    @property
    def wall_ms(self) -> float:
        """Host wall time from the first timed start to the last end."""
        return max(r.end_ms for r in self.records) - min(r.start_ms for r in self.records)

    def summary(self) -> dict:
        """latency / enqueue / phase summaries (ms), throughput and CoV."""
        out = {
            "latency": stats.summarize([r.latency_ms for r in self.records]),
            "enqueue": stats.summarize([r.enqueue_ms for r in self.records]),
        }
        for phase in self.phases:
            out[phase] = stats.summarize([r.phases[phase] for r in self.records])
        out["throughput"] = stats.throughput(len(self.records), self.batch, self.wall_ms / 1e3)
        # trtexec judges stability on GPU compute time; without device timers, on latency.
        basis = "compute" if "compute" in self.phases else "latency"
        out["cov"] = stats.cov(
            [r.phases[basis] if basis != "latency" else r.latency_ms for r in self.records]
        )
        out["cov_basis"] = basis
        return out


def check_controls(warmup_s: float, duration_s: float, iterations: int, streams: int) -> None:
    """One clear line for a control that cannot produce a measurement."""
    if not duration_s > 0:
        raise InputError(
            f"--duration must be more than 0 seconds (got {duration_s:g}); it is the minimum "
            f"timing window, e.g. --duration 3"
        )
    if warmup_s < 0:
        raise InputError(f"--warmup must be 0 or more seconds (got {warmup_s:g})")
    if iterations < 1:
        raise InputError(f"--iterations must be at least 1 (got {iterations})")
    if streams < 1:
        raise InputError(f"--streams must be at least 1 (got {streams})")


def as_backends(engine, streams: int) -> list[Backend]:
    """One backend per stream from a Backend/Engine, a list of them, or a zero-arg factory."""
    if isinstance(engine, Backend | Engine):
        if streams != 1:
            raise InputError(f"--streams {streams} needs one engine per stream; pass a factory")
        return [_wrap(engine)]
    if isinstance(engine, Sequence):
        if len(engine) != streams:
            raise InputError(f"{len(engine)} engines given for {streams} streams")
        return [_wrap(e) for e in engine]
    if callable(engine):
        return [_wrap(engine()) for _ in range(streams)]
    raise TypeError(f"cannot benchmark a {type(engine).__name__}")


def _wrap(engine: Backend | Engine) -> Backend:
    return engine if isinstance(engine, Backend) else EngineBackend(engine)


def bench_engine(
    engine: Backend | Engine | Sequence[Backend | Engine] | Callable[[], Backend | Engine],
    batch: int | None = None,
    shapes: Sequence[NamedShape] = (),
    warmup_s: float = DEFAULTS["warmup_s"],
    duration_s: float = DEFAULTS["duration_s"],
    iterations: int = DEFAULTS["iterations"],
    streams: int = 1,
    seed: int = 0,
    settings: dict | None = None,
    progress: bool = False,
    cov_threshold: float = stats.COV_WARN_THRESHOLD,
) -> BenchResult:
    """Measure one configuration; ``iterations`` is a minimum per stream, like ``duration_s``."""
    check_controls(warmup_s, duration_s, iterations, streams)
    backends = as_backends(engine, streams)
    first = backends[0]
    made = bench_inputs(first.model, first.inputs, first.spec, shapes, batch, seed)
    dims = made.shapes
    for b in backends:
        b.prepare(made.feeds)
    runs = [_StreamRun(i, b, warmup_s, duration_s, iterations) for i, b in enumerate(backends)]
    _run_streams(runs, duration_s, progress, label=f"{first.label} batch {_batch_of(dims)}")
    records = sorted((r for run in runs for r in run.records), key=lambda r: r.start_ms)
    origin = records[0].start_ms
    for r in records:
        r.start_ms -= origin
        r.end_ms -= origin
    dtypes = {t.name: str(t.dtype) for t in first.inputs}
    result = BenchResult(
        label=first.label,
        backend=first.name,
        device=first.device,
        precision=first.precision,
        model=first.model,
        batch=_batch_of(dims),
        streams=streams,
        inputs={n: {"shape": list(s), "dtype": dtypes[n]} for n, s in dims.items()},
        settings=dict(
            warmup_s=warmup_s,
            duration_s=duration_s,
            iterations=iterations,
            streams=streams,
            seed=seed,
            **(settings or {}),
        ),
        warmup_queries=sum(r.warmup_queries for r in runs),
        warmup_ms=max(r.warmup_ms for r in runs),
        records=records,
        phases=first.phases,
        choice=first.choice,
    )
    result.settings["cov_threshold"] = cov_threshold
    result.warnings = made.notes + _warnings(result, cov_threshold)
    return result


def _warnings(result: BenchResult, cov_threshold: float) -> list[str]:
    out = []
    summary = result.summary()
    what = "GPU compute time" if summary["cov_basis"] == "compute" else "latency"
    unstable = stats.cov_warning(summary["cov"], cov_threshold, what)
    if unstable:
        out.append(unstable)
    if result.device == "cpu":
        for flag in ("cuda_graph", "no_transfers", "spin_wait"):
            if result.settings.get(flag):
                name = "--" + flag.replace("_", "-")
                out.append(f"{name} has no effect on {result.label} (recorded only)")
    return out


def bench_sweep(
    open_one: Callable[[], Backend | Engine],
    batches: Sequence[int | None],
    streams: int = 1,
    **kwargs,
) -> list[BenchResult]:
    """bench_engine for each batch size, opening the stream engines once for the whole sweep."""
    check_controls(
        kwargs.get("warmup_s", DEFAULTS["warmup_s"]),
        kwargs.get("duration_s", DEFAULTS["duration_s"]),
        kwargs.get("iterations", DEFAULTS["iterations"]),
        streams,
    )
    backends = [_wrap(open_one()) for _ in range(streams)]
    return [bench_engine(backends, batch=b, streams=streams, **kwargs) for b in batches]


def _batch_of(dims: dict[str, tuple[int, ...]]) -> int:
    first = next(iter(dims.values()), ())
    return int(first[0]) if first else 1


class _StreamRun:
    """One stream's warm-up and timed loop (runs on its own thread)."""

    def __init__(
        self, index: int, backend: Backend, warmup_s: float, duration_s: float, iterations: int
    ) -> None:
        self.index, self.backend = index, backend
        self.warmup_s, self.duration_s, self.iterations = warmup_s, duration_s, iterations
        self.records: list[Iteration] = []
        self.warmup_queries, self.warmup_ms = 0, 0.0
        self.error: BaseException | None = None
        self.elapsed_s = 0.0

    def warm_up(self) -> None:
        """Run queries until the warm-up time has passed (none for --warmup 0)."""
        clock = time.perf_counter
        t0 = clock()
        while clock() - t0 < self.warmup_s:
            self.backend.enqueue()
            self.backend.sync()
            self.warmup_queries += 1
        self.warmup_ms = (clock() - t0) * 1e3

    def timed(self) -> None:
        """Queries until both the duration and the iteration count are reached."""
        clock, b = time.perf_counter, self.backend
        t_begin = clock()
        while True:
            t0 = clock()
            b.enqueue()
            t1 = clock()
            b.sync()
            t2 = clock()
            self.records.append(
                Iteration(self.index, t0 * 1e3, t2 * 1e3, (t1 - t0) * 1e3, b.phase_times())
            )
            self.elapsed_s = t2 - t_begin
            if self.elapsed_s >= self.duration_s and len(self.records) >= self.iterations:
                return


def _run_streams(runs: list[_StreamRun], duration_s: float, progress: bool, label: str) -> None:
    barrier = threading.Barrier(len(runs))

    def body(run: _StreamRun) -> None:
        try:
            run.warm_up()
            barrier.wait()
            run.timed()
        except threading.BrokenBarrierError:
            return
        except BaseException as exc:  # re-raised on the caller's thread
            run.error = exc
            barrier.abort()

    threads = [threading.Thread(target=body, args=(r,), daemon=True) for r in runs]
    for t in threads:
        t.start()
    _watch(threads, runs[0], duration_s, progress, label)
    for run in runs:
        if run.error is not None:
            raise run.error


def _watch(threads, lead: _StreamRun, duration_s: float, progress: bool, label: str) -> None:
    fmt = "{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f}s"
    with tqdm(
        total=round(duration_s, 2),
        desc=label,
        unit="s",
        disable=not progress,
        leave=False,
        bar_format=fmt,
    ) as bar:
        alive = list(threads)
        while alive:
            alive[0].join(timeout=0.1)  # the refresh tick; never spins on a finished thread
            alive = [t for t in alive if t.is_alive()]
            bar.n = round(min(lead.elapsed_s, duration_s), 2)
            bar.refresh()
