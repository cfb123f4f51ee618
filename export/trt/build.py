"""ONNX -> strongly typed TensorRT plan, plus its sidecar, both written atomically.

The flavour adapter (mainline TensorRT or TensorRT-RTX) is ``ptx.formats.tensorrt`` and the
sidecar format ``ptx.formats.sidecar``: the runtime reads both without importing export.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ptx import __version__
from ptx.errors import BuildError, InputError, ModelError
from ptx.export.trt.profiles import Profile, resolve_profiles
from ptx.formats.onnx import load_onnx
from ptx.formats.sidecar import SIDECAR_VERSION, sidecar_path
from ptx.formats.tensorrt import Flavour, capturing_logger, detect
from ptx.io import atomic_path, atomic_write_bytes, sha256_file
from ptx.spec import spec_from_onnx

MIB = 1 << 20


@dataclass
class BuildReport:
    """What ``ptx build`` produced and how."""

    plan: str
    sidecar: str
    flavour: str
    trt_version: str
    compute_capabilities: list[str]
    profiles: dict[str, dict[str, Any]]
    options: dict[str, Any]
    plan_bytes: int
    seconds: float
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)

    def summary(self) -> str:
        """One line for people."""
        return (
            f"{self.plan}: {self.plan_bytes / MIB:.1f} MiB, {self.flavour} {self.trt_version}, "
            f"targets {', '.join(self.compute_capabilities)}, built in {self.seconds:.1f}s"
        )


def _parse(flavour: Flavour, onnx_path: Path, logger: Any) -> tuple[Any, Any, Any]:
    """Builder, network and parser for ``onnx_path``; parser errors name node, op and reason."""
    trt = flavour.trt
    builder = trt.Builder(logger)
    network = builder.create_network(flavour.network_flags())
    parser = trt.OnnxParser(network, logger)
    ok = parser.parse_from_file(str(onnx_path))
    if not ok or parser.num_errors:
        if parser.num_errors == 0:
            raise ModelError(
                f"{onnx_path}: TensorRT's ONNX parser could not read it "
                f"({'; '.join(logger.errors()[:1]) or 'not ONNX?'})"
            )
        err = parser.get_error(0)
        node, op = err.node_name() or f"#{err.node()}", err.node_operator() or "?"
        reason = err.desc().strip().splitlines()[0]
        more = f" (+{parser.num_errors - 1} more)" if parser.num_errors > 1 else ""
        raise BuildError(
            f"{onnx_path}: TensorRT cannot parse node '{node}' (op {op}): {reason}"
            f"{more}; replace the op or keep it out of the exported graph"
        )
    return builder, network, parser


def _declared(network: Any) -> dict[str, list[int]]:
    return {
        network.get_input(i).name: list(network.get_input(i).shape)
        for i in range(network.num_inputs)
    }


def _io(network: Any) -> dict[str, list[dict[str, Any]]]:
    def describe(t: Any) -> dict[str, Any]:
        return {
            "name": t.name,
            "dtype": str(t.dtype).split(".")[-1].lower(),
            "shape": list(t.shape),
        }

    return {
        "inputs": [describe(network.get_input(i)) for i in range(network.num_inputs)],
        "outputs": [describe(network.get_output(i)) for i in range(network.num_outputs)],
    }


def _configure(
    flavour: Flavour,
    builder: Any,
    profiles: list[Profile],
    opt_level: int | None,
    workspace_mib: int | None,
    timing: bytes | None,
) -> Any:
    trt = flavour.trt
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    for p in profiles:
        profile.set_shape(p.name, p.min, p.opt, p.max)
    config.add_optimization_profile(profile)
    if opt_level is not None:
        config.builder_optimization_level = opt_level
    if workspace_mib is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mib * MIB)
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED  # per-layer info in inspect
    if timing is not None and flavour.has_timing_cache:
        config.set_timing_cache(config.create_timing_cache(timing), False)
    return config


def build_engine(
    onnx: Path,
    out: Path,
    shapes: str | list[str] | None = None,
    timing_cache: Path | None = None,
    opt_level: int | None = None,
    workspace_mib: int | None = None,
    flavour: str = "auto",
    compute_capabilities: list[str] | None = None,
    verbose: bool = False,
) -> BuildReport:
    """Build a strongly typed plan from ``onnx`` into ``out`` with sidecar ``out.json``."""
    onnx, out = Path(onnx), Path(out)
    if opt_level is not None and not 0 <= opt_level <= 5:
        raise InputError(f"--opt-level {opt_level}: use 0 to 5")
    if workspace_mib is not None and workspace_mib < 1:
        raise InputError(f"--workspace {workspace_mib}: give MiB >= 1")
    spec = spec_from_onnx(load_onnx(onnx))  # also turns a truncated / non-ONNX file into one line
    flav = detect(flavour)
    logger = capturing_logger(flav.trt, verbose)
    start = time.perf_counter()
    builder, network, _parser = _parse(flav, onnx, logger)
    profiles = resolve_profiles(_declared(network), shapes, spec)
    timing = timing_cache.read_bytes() if timing_cache and timing_cache.is_file() else None
    config = _configure(flav, builder, profiles, opt_level, workspace_mib, timing)
    targets = flav.set_targets(config, compute_capabilities)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        reason = "; ".join(logger.errors()[:2]) or "no reason given"
        raise BuildError(f"{onnx}: TensorRT build failed: {reason}")
    seconds = round(time.perf_counter() - start, 3)
    notes = []
    if timing_cache and not flav.has_timing_cache:
        notes.append(
            f"{flav.module} {flav.version} ignores timing caches; {timing_cache} untouched"
        )
    options = {
        "opt_level": opt_level,
        "workspace_mib": workspace_mib,
        "strongly_typed": True,
        "timing_cache": str(timing_cache) if timing_cache else None,
        "shapes": shapes,
    }
    sidecar = {
        "sidecar_version": SIDECAR_VERSION, "flavour": flav.name, "trt_module": flav.module,
        "trt_version": flav.version, "compute_capabilities": targets,
        "profiles": [{p.name: p.to_dict() for p in profiles}], "build_options": options,
        **_io(network), "onnx": {"path": str(onnx), "sha256": sha256_file(onnx)},
        "spec": spec.to_dict() if spec else None, "ptx_version": __version__,
        "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "build_seconds": seconds, "plan_bytes": serialized.nbytes,
    }  # fmt: skip
    # Plan and sidecar land together: the sidecar is renamed into place first, then the
    # plan; a failure before that leaves neither. The sidecar carries the plan's sha256.
    with atomic_path(out) as plan_tmp:
        plan_tmp.write_bytes(memoryview(serialized))
        sidecar["plan_sha256"] = sha256_file(plan_tmp)
        with atomic_path(sidecar_path(out)) as side_tmp:
            side_tmp.write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
    if timing_cache and flav.has_timing_cache:
        atomic_write_bytes(timing_cache, bytes(config.get_timing_cache().serialize()))
    return BuildReport(
        plan=str(out), sidecar=str(sidecar_path(out)), flavour=flav.name,
        trt_version=flav.version, compute_capabilities=targets,
        profiles={p.name: p.to_dict() for p in profiles}, options=options,
        plan_bytes=serialized.nbytes, seconds=seconds, warnings=notes,
    )  # fmt: skip
