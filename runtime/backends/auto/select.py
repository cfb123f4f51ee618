"""``backend="auto"`` on the CPU: the faster installed backend for this model, measured once.

A short trial runs the model on ONNX Runtime and OpenVINO in interleaved
rounds (A B, then B A, so drift on a shared machine hits both alike), each
call starting once the other backend's threads have stopped spinning, and
compares each backend's lower-quartile time (ONNX Runtime keeps ties within
2%): other load only ever adds time, and on a busy machine it hits half the
calls, so the median is a disturbed call while the lower quartile is still the
backend's own speed. The decision is cached beside the model
(``m.onnx.ptx-backend.json``, else the user cache folder when that folder is
read-only), keyed by model sha256, trial shape, threads, backend versions and
CPU, so the trial is paid once. A backend that cannot load or run the model,
or disagrees with ONNX Runtime on the trial input, loses with a logged reason.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ptx.errors import InputError, ModelError, PtxError
from ptx.runtime.backends.auto.cache import (
    Choice,
    cpu_model,
    model_digest,
    read_choice,
    trial_key,
    write_choice,
)
from ptx.runtime.cpu import physical_cores
from ptx.runtime.engine import Engine

log = logging.getLogger("ptx.runtime")

CPU_BACKENDS = ("onnxruntime", "openvino")  # the first is the default and the reference
TRIAL_BUDGET_S = 1.0  # timed rounds stop once this is spent (after MIN_ROUNDS)
MIN_ROUNDS, MAX_ROUNDS = 3, 15
SETTLE_MAX_S = 0.15  # longest wait for other threads of this process to stop spinning
MARGIN = 0.02  # the default backend keeps the job unless the other is >2% faster
AGREEMENT = 1e-3  # relative L2 between backends on the trial input (FP32 parity is 1e-4)
AGREEMENT_FP16 = 2e-2
_PACKAGES = {"onnxruntime": "onnxruntime", "openvino": "openvino"}


def installed_cpu_backends() -> list[str]:
    """The CPU backends whose package is importable, default first (no import is done)."""
    return [b for b in CPU_BACKENDS if _findable(_PACKAGES[b])]


def _findable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules
        return False


def backend_versions(names: list[str]) -> dict[str, str]:
    """Installed package version of each backend (from metadata, without importing it)."""
    from importlib import metadata

    out = {}
    for name in names:
        try:
            out[name] = metadata.version(_PACKAGES[name])
        except metadata.PackageNotFoundError:
            out[name] = "?"
    return out


def decide(
    times: dict[str, list[float]], margin: float = MARGIN, default: str = CPU_BACKENDS[0]
) -> tuple[str, str]:
    """The backend with the lowest lower-quartile time; ``default`` keeps ties within ``margin``."""
    q = {name: lower_quartile(ts) for name, ts in times.items() if ts}
    if not q:
        raise ValueError("decide() needs at least one backend with timings")
    best = min(q, key=q.__getitem__)
    if default in q and q[default] <= q[best] * (1 + margin):
        best = default
    parts = " vs ".join(f"{n} {q[n] * 1e3:.2f} ms" for n in sorted(q, key=q.__getitem__))
    n = min(len(ts) for ts in times.values() if ts)
    return best, f"{parts}, lower quartile of {n} interleaved runs"


def lower_quartile(values: list[float]) -> float:
    """The 25th percentile (inclusive interpolation; the value itself for one sample)."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=4, method="inclusive")[0]


def settle(max_s: float = SETTLE_MAX_S, slice_s: float = 0.005) -> float:
    """Sleep until this process's own threads go quiet (at most ``max_s``); returns seconds slept.

    ONNX Runtime's pool spins ~50 ms of CPU after each call by default; a backend
    timed right after it would share the cores with that spin and look slower.
    """
    waited, quiet = 0.0, 0
    while waited < max_s and quiet < 2:  # two quiet slices: a spinner may be descheduled once
        cpu = time.process_time()
        time.sleep(slice_s)
        waited += slice_s
        quiet = quiet + 1 if time.process_time() - cpu < 0.2 * slice_s else 0
    return waited


def time_interleaved(
    runners: dict[str, Callable[[], object]],
    budget_s: float = TRIAL_BUDGET_S,
    min_rounds: int = MIN_ROUNDS,
    max_rounds: int = MAX_ROUNDS,
    clock: Callable[[], float] = time.perf_counter,
    quiet: Callable[[], object] = settle,
) -> dict[str, list[float]]:
    """Seconds per call of each runner, in alternating-order rounds until the budget is spent.

    Each call starts once the process is ``quiet`` (the wait is not timed).
    """
    names = list(runners)
    times: dict[str, list[float]] = {n: [] for n in names}
    start = clock()
    for r in range(max_rounds):
        if r >= min_rounds and clock() - start >= budget_s:
            break
        for name in names if r % 2 == 0 else reversed(names):
            quiet()
            t0 = clock()
            runners[name]()
            times[name].append(clock() - t0)
    return times


def trial_shapes(engine: Engine, given: dict[str, tuple[int, ...]] | None = None) -> dict:
    """Shapes to try: ``given``, else the spec profile's opt, else fixed dims (open: 1 / 256)."""
    spec = engine.spec
    opt = spec.profile.opt if spec is not None and spec.profile is not None else {}
    shapes = {}
    for t in engine.inputs:
        if given and t.name in given:
            shapes[t.name] = tuple(given[t.name])
        elif t.name in opt:
            shapes[t.name] = tuple(opt[t.name])
        else:  # an open axis: batch 1; image sides 256 (the suite's size); others 1
            side = 256 if len(t.shape) == 4 else 1
            shapes[t.name] = tuple(
                d if isinstance(d, int) else (1 if i == 0 else side) for i, d in enumerate(t.shape)
            )
    return shapes


def trial_feeds(engine: Engine, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Seeded inputs: floats in [0, 1), integers and booleans zero (a valid label or index)."""
    rng = np.random.default_rng(0)
    feeds = {}
    for t in engine.inputs:
        if np.issubdtype(t.dtype, np.floating):
            feeds[t.name] = rng.random(shapes[t.name], dtype=np.float32).astype(t.dtype)
        else:
            feeds[t.name] = np.zeros(shapes[t.name], dtype=t.dtype)
    return feeds


def agreement(engine: Engine) -> float:
    """Relative L2 two backends may differ by: FP32 parity is 1e-4; FP16 models round more."""
    halves = any(t.dtype == np.float16 for t in (*engine.inputs, *engine.outputs))
    return AGREEMENT_FP16 if halves else AGREEMENT


def relative_l2(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / ||b|| in float64 (0 when both are zero)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    den = float(np.linalg.norm(b))
    num = float(np.linalg.norm(a - b))
    return num / den if den > 0 else num


# -- loading ------------------------------------------------------------------
def _accepted(cls: type, options: dict) -> dict:
    """The options ``cls`` takes (auto passes ORT's and OpenVINO's own options to both)."""
    params = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in options.items() if k in params}


def _check_options(names: list[str], options: dict) -> None:
    """An option no CPU backend takes is a typo: say so instead of dropping it."""
    from ptx.runtime import engine_class

    known = set()
    for name in names:
        known |= set(inspect.signature(engine_class(name).__init__).parameters)
    unknown = sorted(set(options) - known)
    if unknown:
        raise InputError(
            f"unknown engine option(s) {', '.join(unknown)} for {' / '.join(names)} "
            f"(they take: {', '.join(sorted(known - {'self', 'path', 'device', 'threads'}))})"
        )


def _open(name: str, path: Path, threads: int, options: dict) -> Engine:
    from ptx.runtime import engine_class

    cls = engine_class(name)
    return cls(path, device="cpu", threads=threads, **_accepted(cls, options))


def _fallback(path: Path, loser: str, why: str, winner: str) -> None:
    # WARNING reaches stderr as one line even when the caller configured no logging.
    log.warning("%s: not using %s (%s); using %s", path.name, loser, why, winner)


def load_auto(
    path: str | Path,
    threads: int | None = None,
    shapes: dict[str, tuple[int, ...]] | None = None,
    budget_s: float = TRIAL_BUDGET_S,
    **options: object,
) -> Engine:
    """The faster installed CPU backend for ``path`` (cached trial); sets ``engine.choice``."""
    path = Path(path)
    if threads is not None and threads < 1:
        raise ModelError(f"threads must be >= 1, got {threads}")
    threads = threads or physical_cores()
    names = installed_cpu_backends()
    _check_options(names or list(CPU_BACKENDS[:1]), options)
    if len(names) < 2:  # nothing to choose between
        return _open(names[0] if names else CPU_BACKENDS[0], path, threads, options)
    sha = model_digest(path)
    label = ",".join(f"{k}:{'x'.join(map(str, v))}" for k, v in sorted((shapes or {}).items()))
    key = trial_key(label or "spec", threads, backend_versions(names), cpu_model())
    cached = read_choice(path, sha, key)
    if cached is not None:
        try:
            engine = _open(cached.backend, path, threads, options)
            engine.choice = cached
            return engine
        except PtxError as exc:  # the cache says X, but X fails now: measure again
            log.info("%s: cached %s failed (%s); measuring again", path.name, cached.backend, exc)
    choice, engine = run_trial(path, names, threads, shapes, budget_s, options)
    written = write_choice(path, sha, key, choice)
    choice.cache_file = str(written) if written else None
    engine.choice = choice
    log.info("%s: %s", path.name, choice.line())
    return engine


def run_trial(
    path: Path,
    names: list[str],
    threads: int,
    shapes: dict[str, tuple[int, ...]] | None,
    budget_s: float,
    options: dict,
) -> tuple[Choice, Engine]:
    """Load every backend, check they agree, time them interleaved; returns (Choice, winner)."""
    t0 = time.perf_counter()
    errors: dict[str, str] = {}
    engines = _open_all(path, names, threads, options, errors)
    sample = trial_shapes(next(iter(engines.values())), shapes)
    feeds = trial_feeds(next(iter(engines.values())), sample)
    _warm_up_and_compare(engines, sample, feeds, names[0], errors)
    shown = {k: list(v) for k, v in sample.items()}
    if len(engines) == 1:
        (winner,) = engines
        for loser, why in errors.items():
            _fallback(path, loser, why, winner)
        reason = "; ".join(f"not {n}: {why}" for n, why in errors.items())
        choice = Choice(winner, reason, shapes=shown, trial_s=round(time.perf_counter() - t0, 3))
        return choice, engines[winner]
    times = time_interleaved(
        {n: (lambda e=e: e.run(feeds)) for n, e in engines.items()}, budget_s=budget_s
    )
    winner, reason = decide(times, default=names[0])
    for name, engine in engines.items():
        if name != winner:
            engine.close()
    choice = Choice(
        winner,
        reason,
        p25_ms={n: round(lower_quartile(ts) * 1e3, 3) for n, ts in times.items()},
        medians_ms={n: round(statistics.median(ts) * 1e3, 3) for n, ts in times.items()},
        rounds=min(len(ts) for ts in times.values()),
        shapes=shown,
        trial_s=round(time.perf_counter() - t0, 3),
    )
    return choice, engines[winner]


def _open_all(
    path: Path, names: list[str], threads: int, options: dict, errors: dict[str, str]
) -> dict[str, Engine]:
    """Every backend that loads the model; when none does, the default backend's error."""
    engines: dict[str, Engine] = {}
    first: PtxError | None = None
    for name in names:
        try:
            engines[name] = _open(name, path, threads, options)
        except PtxError as exc:
            errors[name] = f"it cannot load the model: {exc}"
            first = first or exc
    if not engines:  # an op neither backend runs: the default backend's error is the answer
        raise first
    return engines


def _warm_up_and_compare(
    engines: dict[str, Engine], sample: dict, feeds: dict, ref: str, errors: dict[str, str]
) -> None:
    """Run each engine once (its warm-up); drop any that fails or disagrees with ``ref``."""
    outputs, first = {}, None
    for name, engine in list(engines.items()):
        try:
            prepare = getattr(engine, "prepare", None)  # OpenVINO: compile the static shape now
            if prepare is not None:
                prepare(sample)
            outputs[name] = next(iter(engine.run(feeds).values()))
        except PtxError as exc:
            errors[name] = f"it cannot run the model: {exc}"
            first = first or exc
            engines.pop(name).close()
    if not engines:
        raise first
    if ref not in outputs:
        return
    tolerance = agreement(engines[ref])
    for name in [n for n in engines if n != ref]:
        err = relative_l2(outputs[name], outputs[ref])
        if not err <= tolerance:
            errors[name] = f"its output differs from {ref}'s by rel. L2 {err:.1e}"
            engines.pop(name).close()
