"""``backend="auto"`` on the CPU: the faster installed backend for this model, measured once.

A short trial runs the model on ONNX Runtime and OpenVINO on ptx.inputs'
example inputs (the spec profile's shape, pixels in the spec's convention) in
ptx.timing's interleaved rounds (A B, then B A, so drift on a shared machine
hits both alike), each call starting once the other backend's threads have
stopped spinning, and
compares each backend's lower-quartile time (ONNX Runtime keeps ties within
2%): other load only ever adds time, and on a busy machine it hits half the
calls, so the median is a disturbed call while the lower quartile is still the
backend's own speed. The decision is cached beside the model
(``m.onnx.ptx-backend.json``, else the user cache folder when that folder is
read-only), keyed by model sha256, trial shape, threads, backend versions and
CPU, so the trial is paid once. A backend that cannot load or run the model,
or disagrees with ONNX Runtime on the trial input, loses with a logged reason.

Under ``precision="auto"`` the trial is the precision ladder: the OpenVINO bf16 /
fp16 / int8 rungs this processor has units for (ladder.rungs; int8 where the
NNCF-quantized ``m.int8.onnx`` made from this model is beside it) join it, on the spec's
example pictures, and each is timed only if its output passes ladder.gate against
ONNX Runtime fp32, in at least LADDER_MIN_ROUNDS rounds; a rung replaces the fp32 pick
only when clearly faster (auto.decision: >= 5% by lower quartile and in most rounds),
else fp32 stays and the note says why. ``shapes`` (``ptx serve --trial-shape``) sets
the trial's size, part of the cache key: a pick at 256 is not reused at 512. The
decision is keyed without the CPU name and carries the capability fingerprint, so a
cache from another processor is measured again.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import statistics
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from ptx.errors import ModelError, PtxError
from ptx.inputs import example_inputs, resolve_shapes
from ptx.runtime.backends import backend_options, check_auto_options, engine_class
from ptx.runtime.backends.auto import precision as ladder
from ptx.runtime.backends.auto.cache import (
    Choice,
    model_digest,
    read_choice,
    trial_key,
    write_choice,
)
from ptx.runtime.backends.auto.decision import MARGIN, decide, decide_ladder  # noqa: F401
from ptx.runtime.cpu import cpu_model, physical_cores
from ptx.runtime.engine import Engine
from ptx.tensors import Shape
from ptx.timing import lower_quartile, time_interleaved

log = logging.getLogger("ptx.runtime")

CPU_BACKENDS = ("onnxruntime", "openvino")  # the first is the default and the reference
TRIAL_BUDGET_S = 1.0  # timed rounds stop once this is spent (after MIN_ROUNDS)
MIN_ROUNDS, MAX_ROUNDS = 3, 15
# A reduced rung must win most rounds: with 3 a single disturbed round decides.
LADDER_MIN_ROUNDS = 7
TRIAL_SEED = 0
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
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(_PACKAGES[name])
        except metadata.PackageNotFoundError:
            out[name] = "?"
    return out


def trial_inputs(
    engine: Engine, given: dict[str, tuple[int, ...]] | None = None, pictures: str = "random"
) -> tuple[dict[str, Shape], dict[str, np.ndarray]]:
    """(shapes, feeds) of the trial: ptx.inputs' one rule (spec profile, its image range)."""
    shapes = resolve_shapes(engine.inputs, engine.spec, given or {}, where=engine.path.name)
    feeds = example_inputs(engine.inputs, engine.spec, shapes, seed=TRIAL_SEED, pictures=pictures)
    return shapes, feeds


def agreement(engine: Engine) -> float:
    """Relative L2 two backends may differ by: FP32 parity is 1e-4; FP16 models round more."""
    halves = any(t.dtype == np.float16 for t in (*engine.inputs, *engine.outputs))
    return AGREEMENT_FP16 if halves else AGREEMENT


relative_l2 = ladder.relative_l2


def rungs(
    names: list[str], precision: str, path: Path | None = None
) -> tuple[list[str], list[str]]:
    """(trial labels, why-not notes): fp32 backends, plus "openvino:bf16"/":fp16"/":int8"."""
    labels, notes = list(names), []
    if precision != "auto":
        return labels, notes
    for p in ladder.REDUCED:
        why = ladder.unsupported(p) if "openvino" in names else "OpenVINO is not installed"
        if not why and p == "int8" and path is not None:
            why = ladder.int8_status(path)[1]  # int8 runs the quantized copy ptx convert wrote
        if why:
            notes.append(f"no {p}: {why}")
        else:
            labels.append(f"openvino:{p}")
    return labels, notes


def _split(label: str) -> tuple[str, str]:
    name, _, precision = label.partition(":")
    return name, precision or "fp32"


# -- loading ------------------------------------------------------------------
def _open(label: str, path: Path, threads: int, options: dict) -> Engine:
    """Rung ``label`` (backend[:precision]) on the CPU with the options its backend declares."""
    name, precision = _split(label)
    settings = backend_options(name, options, True)
    if precision != "fp32":
        settings = dataclasses.replace(settings, precision=ladder.OV_PRECISION[precision])
    return engine_class(name)(path, device="cpu", threads=threads, options=settings)


def _fallback(path: Path, loser: str, why: str, winner: str) -> None:
    # WARNING reaches stderr as one line even when the caller configured no logging.
    if loser == "trial":
        log.warning("%s: %s; using %s", path.name, why, winner)
    else:
        log.warning("%s: not using %s (%s); using %s", path.name, loser, why, winner)


def load_auto(
    path: str | Path,
    threads: int | None = None,
    shapes: dict[str, tuple[int, ...]] | None = None,
    budget_s: float | None = None,
    precision: str = "auto",
    **options: object,
) -> Engine:
    """The fastest (CPU backend, precision) rung for ``path`` that passes the gate (cached)."""
    path = Path(path)
    budget_s = TRIAL_BUDGET_S if budget_s is None else budget_s
    if threads is not None and threads < 1:
        raise ModelError(f"threads must be >= 1, got {threads}")
    threads = threads or physical_cores()
    names = installed_cpu_backends()
    check_auto_options(options)
    labels, notes = rungs(names, precision, path)
    if len(labels) < 2:  # nothing to choose between
        return _open(labels[0] if labels else CPU_BACKENDS[0], path, threads, options)
    sha = model_digest(path)
    label = ",".join(f"{k}:{'x'.join(map(str, v))}" for k, v in sorted((shapes or {}).items()))
    if precision == "auto":  # the fingerprint in the entry decides whether it is this CPU's
        key = trial_key(label or "spec", threads, backend_versions(names), "*") + "|ladder"
        key += f"|int8={_int8_digest(path)}"  # a new or re-made m.int8.onnx is measured again
        key += f"|mask={ladder.allowed()}" if ladder.allowed() else ""
        here = ladder.fingerprint()
    else:
        key, here = trial_key(label or "spec", threads, backend_versions(names), cpu_model()), {}
    cached = read_choice(path, sha, key)
    if cached is not None and here and cached.fingerprint != here:
        log.warning("%s: cached precision choice was measured on another CPU (%s); measuring "
                    "again", path.name, _cpu_text(cached.fingerprint))  # fmt: skip
        cached = None
    want = None
    if cached is not None:
        fp32 = cached.precision == "fp32"
        want = cached.backend if fp32 else f"{cached.backend}:{cached.precision}"
    if cached is not None and want not in labels:  # hand-edited, or another ptx's
        log.info("%s: cached choice %r is not a CPU rung here; measuring again", path.name, want)
        cached = None
    if cached is not None:
        try:
            engine = _open(want, path, threads, options)
            engine.choice = cached
            return engine
        except Exception as exc:  # the cache says X, but X fails now: measure again
            log.info("%s: cached %s failed (%s); measuring again", path.name, want, exc)
    choice, engine = run_trial(path, labels, threads, shapes, budget_s, options, notes)
    choice.fingerprint = here
    written = write_choice(path, sha, key, choice)
    choice.cache_file = str(written) if written else None
    engine.choice = choice
    log.info("%s: %s", path.name, choice.line())
    return engine


def _int8_digest(path: Path) -> str:
    """sha256[:16] of the INT8 copy beside ``path`` ("none" when there is none to try)."""
    found, _ = ladder.int8_status(path)
    return model_digest(found)[:16] if found is not None and found != path else "none"


def _cpu_text(fp: dict) -> str:
    units = ", ".join([*fp.get("matrix", []), *fp.get("vector", [])]) or "no units listed"
    return f"{fp.get('cpu', '?')}: {units}; OpenVINO {fp.get('openvino') or '-'}"


def run_trial(
    path: Path,
    names: list[str],
    threads: int,
    shapes: dict[str, tuple[int, ...]] | None,
    budget_s: float,
    options: dict,
    notes: list[str] | None = None,
) -> tuple[Choice, Engine]:
    """Load every rung, gate them against FP32, time them interleaved; (Choice, winner)."""
    t0 = time.perf_counter()
    errors: dict[str, str] = {}
    parity: dict[str, str] = {}
    engines = _open_all(path, names, threads, options, errors)
    first = next(iter(engines.values()))
    if first.spec is None and any(
        ":" not in n for n in engines
    ):  # a foreign model: what its outputs mean, and so how much a
        # reduced precision may change them, is unknown; it keeps FP32 unless asked by name
        for name in [n for n in engines if ":" in n]:
            engines.pop(name).close()
        names = [n for n in names if ":" not in n]
        notes = [
            *(notes or []),
            "no reduced precision: the model has no ModelSpec (ask with --precision)",
        ]
    laddered = any(":" in n for n in names)
    if shapes:  # shapes the caller gave are checked, not replaced by made-up ones
        try:
            resolve_shapes(first.inputs, first.spec, shapes, where=f"{path.name} (trial shape)")
        except PtxError:
            _keep_only(engines, "")
            raise
    try:
        first = next(iter(engines.values()))
        sample, feeds = trial_inputs(first, shapes, "pictures" if laddered else "random")
    except PtxError as exc:  # no trial input can be made (an input ptx cannot fill)
        sample, feeds = {}, None
        errors["trial"] = f"no trial input ({_first_line(exc)})"
    if feeds is not None:
        _warm_up_and_compare(engines, sample, feeds, names[0], errors, parity)
    else:
        _keep_only(engines, next(iter(engines)))
    shown = {k: list(v) for k, v in sample.items()}
    if len(engines) == 1:
        (winner,) = engines
        for loser, why in errors.items():
            _fallback(path, loser, why, winner)
        reason = "; ".join(why if n == "trial" else f"not {n}: {why}" for n, why in errors.items())
        name, prec = _split(winner)
        note = _why_precision(prec, notes or [], [], errors)
        choice = Choice(name, reason, precision=prec, parity=parity, precision_note=note,
                        shapes=shown, trial_s=round(time.perf_counter() - t0, 3))  # fmt: skip
        return choice, engines[winner]
    runners = {n: (lambda e=e: e.run(feeds)) for n, e in engines.items()}
    least = LADDER_MIN_ROUNDS if any(":" in n for n in engines) else MIN_ROUNDS
    times = time_interleaved(runners, budget_s=budget_s, min_rounds=least, max_rounds=MAX_ROUNDS)
    winner, reason, lost, won = decide_ladder(times, default=names[0])
    for name, engine in engines.items():
        if name != winner:
            engine.close()
    for loser, why in errors.items():
        _fallback(path, loser, why, winner)
    name, prec = _split(winner)
    choice = Choice(
        name,
        reason,
        precision=prec,
        parity=parity,
        precision_note=_why_precision(prec, notes or [], lost, errors, won),
        p25_ms={n: round(lower_quartile(ts) * 1e3, 3) for n, ts in times.items()},
        medians_ms={n: round(statistics.median(ts) * 1e3, 3) for n, ts in times.items()},
        rounds=min(len(ts) for ts in times.values()),
        shapes=shown,
        trial_s=round(time.perf_counter() - t0, 3),
    )
    return choice, engines[winner]


def _why_precision(
    prec: str, notes: list[str], lost: list[str], errors: dict, won: str = ""
) -> str:
    """Why fp32 was kept (or that a reduced precision won the gate and the timing)."""
    if prec != "fp32":
        how = f" ({won})" if won else ""
        return f"{prec} passed the gate ({ladder.gate_line()}) and was faster{how}"
    whys = [*notes, *(f"{n} failed: {errors[n]}" for n in errors if ":" in n)]
    whys += lost
    return f"fp32 kept: {'; '.join(whys)}" if whys else ""


def _open_all(
    path: Path, names: list[str], threads: int, options: dict, errors: dict[str, str]
) -> dict[str, Engine]:
    """Every backend that loads the model; when none does, the default backend's error."""
    engines: dict[str, Engine] = {}
    first: PtxError | None = None
    for name in names:
        try:
            engines[name] = _open(name, path, threads, options)
        except Exception as exc:  # a backend's own exception is its failure, not the load's
            errors[name] = f"it cannot load the model: {_first_line(exc)}"
            first = first or _as_ptx(name, exc)
    if not engines:  # an op neither backend runs: the default backend's error is the answer
        raise first
    return engines


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _as_ptx(name: str, exc: Exception) -> PtxError:
    if isinstance(exc, PtxError):
        return exc
    return ModelError(f"the {name} backend failed: {type(exc).__name__}: {_first_line(exc)}")


def _keep_only(engines: dict[str, Engine], keep: str) -> None:
    for name in [n for n in engines if n != keep]:
        engines.pop(name).close()


def _warm_up_and_compare(
    engines: dict[str, Engine],
    sample: dict,
    feeds: dict,
    ref: str,
    errors: dict[str, str],
    parity: dict[str, str] | None = None,
) -> None:
    """Run each engine once (its warm-up); drop any that fails or disagrees with ``ref``.

    FP32 rungs must agree with ``ref`` to FP32 parity; reduced-precision rungs
    ("openvino:bf16") must pass the gate of ladder.gate (figures go to ``parity``).
    When no engine runs the made-up trial input (a shape input given made-up values,
    say), that says nothing about real inputs: the reference backend (or the first
    that loaded) is kept, unmeasured, and the reason is logged.
    """
    parity = {} if parity is None else parity
    outputs, failed = {}, {}
    for name, engine in list(engines.items()):
        try:
            engine.prepare(sample)  # OpenVINO: compile the static shape now, not in the timing
            outputs[name] = engine.run(feeds)
        except Exception as exc:
            failed[name] = f"it cannot run the trial input: {_first_line(exc)}"
    if not outputs:
        keep = ref if ref in engines else next(iter(engines))
        errors["trial"] = f"no backend ran the made-up trial input ({failed[keep]}); unmeasured"
        _keep_only(engines, keep)
        return
    for name, why in failed.items():
        errors[name] = why
        engines.pop(name).close()
    if ref not in outputs:
        for name in [n for n in engines if ":" in n]:  # no FP32 reference: nothing to gate on
            errors[name] = f"no FP32 {ref} output to gate against"
            engines.pop(name).close()
        return
    tolerance = agreement(engines[ref])
    for name in [n for n in engines if n != ref]:
        if ":" in name:
            ok, figure = ladder.gate(engines[ref].spec, outputs[ref], outputs[name])
            parity[name] = figure
            if not ok:
                errors[name] = f"parity {figure} fails the gate ({ladder.gate_line()})"
                engines.pop(name).close()
            continue
        try:
            err = relative_l2(next(iter(outputs[name].values())), next(iter(outputs[ref].values())))
        except ValueError:  # shapes differ
            err = float("inf")
        if not err <= tolerance:
            errors[name] = f"its output differs from {ref}'s by rel. L2 {err:.1e}"
            engines.pop(name).close()
