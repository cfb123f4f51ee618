"""Compile the ``.cu`` kernels with NVRTC to cubins (sm_75..sm_90) and PTX, cached on disk.

The cache key is the SHA-256 of the kernel source, its headers, the NVRTC version,
the options and the target, so editing a kernel or upgrading NVRTC recompiles.
Entries are written atomically and checked on read (ELF magic / PTX header), so an
interrupted or corrupted cache file is recompiled, never loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ptx.errors import BuildError, InputError, MissingDependency
from ptx.io import atomic_write_bytes

HERE = Path(__file__).resolve().parent
KERNELS: dict[str, tuple[str, ...]] = {
    "preprocess": ("ptx_preprocess",),
    "postprocess": ("ptx_postprocess",),
}
HEADERS = ("resample.cuh",)
CUBIN_TARGETS = ("sm_75", "sm_80", "sm_86", "sm_89", "sm_90")
PTX_TARGET = "compute_75"  # lowest target: the driver JITs it for any newer GPU
TARGETS = (*CUBIN_TARGETS, PTX_TARGET)
# No fast-math: the kernels rely on IEEE division and the reference's rounding steps.
OPTIONS = ("--std=c++17",)
INSTALL_HINT = ("nvidia-cuda-nvrtc", "gpu", "compiling the CUDA kernels")


@dataclass
class CompiledKernel:
    """One kernel file compiled for one target."""

    name: str
    target: str
    image: bytes
    cached: bool
    seconds: float

    @property
    def kind(self) -> str:
        """``cubin`` or ``ptx``."""
        return "ptx" if self.target.startswith("compute_") else "cubin"


def _nvrtc() -> Any:
    """The NVRTC binding with its library loaded, or MissingDependency."""
    try:
        from cuda.bindings import nvrtc
    except ImportError as exc:
        raise MissingDependency("cuda-python", "gpu", "compiling the CUDA kernels") from exc
    try:
        err, *_ = nvrtc.nvrtcVersion()
    except Exception as exc:  # the binding raises when libnvrtc cannot be found
        raise MissingDependency(*INSTALL_HINT) from exc
    if int(err) != 0:
        raise MissingDependency(*INSTALL_HINT)
    return nvrtc


def nvrtc_version() -> str:
    """NVRTC's ``major.minor`` (MissingDependency when it is not installed)."""
    _, major, minor = _nvrtc().nvrtcVersion()
    return f"{major}.{minor}"


def nvrtc_available() -> bool:
    """True when NVRTC can be loaded here."""
    try:
        _nvrtc()
    except MissingDependency:
        return False
    return True


def kernel_source(name: str) -> str:
    """The source text of kernel file ``name`` (``preprocess`` or ``postprocess``)."""
    if name not in KERNELS:
        raise InputError(f"unknown kernel '{name}' (have {', '.join(KERNELS)})")
    return (HERE / f"{name}.cu").read_text()


def _headers() -> dict[str, str]:
    return {h: (HERE / h).read_text() for h in HEADERS}


def cache_dir() -> Path:
    """Where compiled images are kept: $PTX_CACHE_DIR, else $XDG_CACHE_HOME/ptx/kernels."""
    if os.environ.get("PTX_CACHE_DIR"):
        return Path(os.environ["PTX_CACHE_DIR"]) / "kernels"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ptx" / "kernels"


def cache_key(name: str, target: str, version: str, options: tuple[str, ...] = OPTIONS) -> str:
    """SHA-256 over source, headers, NVRTC version, options and target."""
    h = hashlib.sha256()
    for part in (kernel_source(name), *_headers().values(), version, *options, target):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def valid_image(image: bytes, target: str) -> bool:
    """True when ``image`` looks like a whole cubin (ELF) or PTX module for ``target``."""
    if target.startswith("compute_"):
        return image.startswith(b"//") and b".entry" in image and image.rstrip().endswith(b"}")
    return image[:4] == b"\x7fELF" and len(image) > 64


def _check(nvrtc: Any, result: Any, what: str, prog: Any = None) -> Any:
    err, *rest = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        log = _log(nvrtc, prog) if prog is not None else ""
        _, msg = nvrtc.nvrtcGetErrorString(err)
        first = next((ln for ln in log.splitlines() if "error" in ln), log.strip()[:200])
        raise BuildError(f"NVRTC {what} failed: {msg.decode()}{': ' + first if first else ''}")
    return rest[0] if len(rest) == 1 else rest


def _log(nvrtc: Any, prog: Any) -> str:
    _, size = nvrtc.nvrtcGetProgramLogSize(prog)
    buf = b" " * size
    nvrtc.nvrtcGetProgramLog(prog, buf)
    return buf.rstrip(b"\0 ").decode(errors="replace")


def _compile(name: str, target: str, options: tuple[str, ...]) -> bytes:
    """One NVRTC compile of kernel ``name`` for ``target`` (``sm_XY`` cubin or PTX)."""
    if target not in TARGETS and not target.startswith(("sm_", "compute_")):
        raise InputError(f"unknown target '{target}' (use {', '.join(TARGETS)})")
    nvrtc = _nvrtc()
    headers = _headers()
    prog = _check(
        nvrtc,
        nvrtc.nvrtcCreateProgram(
            kernel_source(name).encode(),
            f"{name}.cu".encode(),
            len(headers),
            [v.encode() for v in headers.values()],
            [k.encode() for k in headers],
        ),
        "create",
    )
    try:
        opts = [o.encode() for o in (*options, f"--gpu-architecture={target}")]
        _check(nvrtc, nvrtc.nvrtcCompileProgram(prog, len(opts), opts), f"{name}.cu", prog)
        if target.startswith("compute_"):
            size = _check(nvrtc, nvrtc.nvrtcGetPTXSize(prog), "PTX size")
            buf = b" " * size
            _check(nvrtc, nvrtc.nvrtcGetPTX(prog, buf), "PTX")
        else:
            size = _check(nvrtc, nvrtc.nvrtcGetCUBINSize(prog), "cubin size")
            buf = b" " * size
            _check(nvrtc, nvrtc.nvrtcGetCUBIN(prog, buf), "cubin")
    finally:
        nvrtc.nvrtcDestroyProgram(prog)
    return buf.rstrip(b"\0") if target.startswith("compute_") else buf


def compile_kernel(
    name: str,
    target: str,
    cache: bool = True,
    options: tuple[str, ...] = OPTIONS,
) -> CompiledKernel:
    """Kernel ``name`` compiled for ``target``, from the disk cache when it has it."""
    start = time.perf_counter()
    version = nvrtc_version()
    suffix = "ptx" if target.startswith("compute_") else "cubin"
    path = cache_dir() / f"{name}-{target}-{cache_key(name, target, version, options)}.{suffix}"
    if cache and path.is_file():
        image = path.read_bytes()
        if valid_image(image, target):
            return CompiledKernel(name, target, image, True, time.perf_counter() - start)
    image = _compile(name, target, options)
    if not valid_image(image, target):
        raise BuildError(f"NVRTC returned an unusable {suffix} for {name}.cu ({target})")
    if cache:
        with contextlib.suppress(OSError):  # a read-only cache only costs a recompile
            atomic_write_bytes(path, image)
    return CompiledKernel(name, target, image, False, time.perf_counter() - start)


def compile_all(
    targets: tuple[str, ...] = TARGETS, cache: bool = True, progress: bool = False
) -> list[dict[str, Any]]:
    """Compile every kernel for every target; one dict per pair with ok / error / seconds."""
    from tqdm import tqdm

    pairs = [(k, t) for k in KERNELS for t in targets]
    results = []
    for name, target in tqdm(pairs, desc="nvrtc", disable=not progress, leave=False):
        entry: dict[str, Any] = {"kernel": name, "target": target}
        try:
            out = compile_kernel(name, target, cache=cache)
            entry.update(ok=True, kind=out.kind, bytes=len(out.image), cached=out.cached)
            entry["seconds"] = round(out.seconds, 3)
        except (BuildError, MissingDependency, InputError) as exc:
            entry.update(ok=False, error=str(exc))
        results.append(entry)
    return results


def image_for(name: str, capability: tuple[int, int]) -> CompiledKernel:
    """The cubin for a GPU of ``capability`` (major, minor), else the PTX the driver JITs."""
    target = f"sm_{capability[0]}{capability[1]}"
    return compile_kernel(name, target if target in CUBIN_TARGETS else PTX_TARGET)
