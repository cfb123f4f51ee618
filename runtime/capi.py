"""The Python side of libptx (the C ABI in capi/): what the library calls, with no copies.

The C library passes the caller's memory as memoryviews; these functions wrap them
as NumPy views, run the engine and hand back C-contiguous arrays the library
reads through the buffer protocol. Never imports torch. ``python -m
ptx.runtime.capi --cmakedir`` prints where the CMake package config is installed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

from ptx.errors import ImageError, InputError, MissingDependency, ModelError, PtxError
from ptx.io import read_image as _read_image
from ptx.io import write_image as _write_image
from ptx.runtime import load as _load
from ptx.runtime.engine import Engine
from ptx.spec import ImageConvention

OK, INPUT, MODEL, MISSING, INTERNAL, IMAGE = 0, 1, 2, 3, 4, 5
DTYPE_CODES = {1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 9: "bool",
               10: "float16", 11: "float64"}  # fmt: skip
NP_DTYPES = {code: np.dtype(name) for code, name in DTYPE_CODES.items()}
CODE_OF = {dt: code for code, dt in NP_DTYPES.items()}
TASKS = {1: "enhance", 2: "stylize"}


class Handle:
    """A loaded engine plus what the C side caches once: IO info and the spec JSON."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.names = [t.name for t in engine.inputs]
        self.out_names = [t.name for t in engine.outputs]
        self.conv: ImageConvention | None = None
        self.guard: Engine | None = None

    def info(self) -> tuple[list[tuple], list[tuple], str | None, str]:
        """(inputs, outputs, spec JSON or None, backend); a tensor is (name, code, dims)."""

        def rows(infos: list) -> list[tuple]:
            return [
                (
                    t.name,
                    CODE_OF.get(np.dtype(t.dtype), 0),
                    [d if isinstance(d, int) else -1 for d in t.shape],
                )
                for t in infos
            ]

        spec = self.engine.spec
        text = json.dumps(spec.to_dict(), separators=(",", ":")) if spec is not None else None
        return rows(self.engine.inputs), rows(self.engine.outputs), text, self.engine.backend


def load(path: str, backend: str | None, options_json: str | None) -> Handle:
    """Load a model as ptx.runtime.load does; options are its keywords as a JSON object."""
    options = {}
    if options_json:
        try:
            options = json.loads(options_json)
        except json.JSONDecodeError as exc:
            raise InputError(f"options JSON: {exc}") from exc
        if not isinstance(options, dict):
            raise InputError(f"options JSON must be an object, got {type(options).__name__}")
    return Handle(_load(path, backend=backend or "auto", **options))


def view(buf: memoryview, code: int, shape: list[int], what: str) -> np.ndarray:
    """A NumPy view of the caller's memory (no copy); the C side checked the sizes."""
    dt = NP_DTYPES.get(code)
    if dt is None:
        raise InputError(f"{what}: unknown dtype code {code} (use a ptx_dtype value)")
    return np.frombuffer(buf, dt).reshape(shape)


def run(
    h: Handle, names: list, bufs: list, codes: list, shapes: list, want: list
) -> tuple[list[np.ndarray], list[int]]:
    """Run one batch on views; returns C-contiguous outputs (``want``: names or None each)."""
    if len(bufs) != len(h.names):
        raise InputError(
            f"{h.engine.path.name}: {len(bufs)} inputs given, the model has {len(h.names)} "
            f"({', '.join(h.names)})"
        )
    feeds = {}
    for i, buf in enumerate(bufs):
        dt = NP_DTYPES.get(codes[i])
        name = names[i] or h.names[i]
        if dt is None:
            raise InputError(f"input '{name}': unknown dtype code {codes[i]} (use a ptx_dtype)")
        feeds[name] = np.frombuffer(buf, dt).reshape(shapes[i])
    result = h.engine.run(feeds)
    outs = []
    for i, name in enumerate(want):
        arr = result.get(name or h.out_names[i])
        if arr is None:
            raise InputError(
                f"{h.engine.path.name}: no output '{name}' (it has {', '.join(h.out_names)})"
            )
        outs.append(arr if arr.flags.c_contiguous else np.ascontiguousarray(arr))
    return outs, [CODE_OF.get(a.dtype, 0) for a in outs]


def run_device(
    h: Handle, inputs: list[tuple], outputs: list[tuple], stream: int
) -> list[tuple[int, ...]]:
    """Run on device pointers, each (name or None, pointer, code, shape); output shapes back."""
    from ptx.runtime.cuda.interop import DeviceArray

    def arrays(rows: list[tuple], names: list[str], what: str) -> dict[str, DeviceArray]:
        out = {}
        for i, (name, ptr, code, shape) in enumerate(rows):
            key = name or names[i]
            dt = NP_DTYPES.get(code)
            if dt is None:
                raise InputError(f"{what} '{key}': unknown dtype code {code} (use a ptx_dtype)")
            out[key] = DeviceArray(ptr, tuple(shape), dt)
        return out

    feeds = arrays(inputs, h.names, "input")
    given = arrays(outputs, h.out_names, "output")
    result = h.engine.run_device(feeds, given, stream=stream or None)
    return [tuple(result[k].shape) for k in given]


def run_image(
    h: Handle, task: int, buf: memoryview, width: int, height: int, channels: int, stride: int
) -> np.ndarray:
    """A whole image task on uint8 pixels (the spec's convention inside); same size back."""
    from ptx.runtime.pipelines.enhance import enhance_batch, image_convention
    from ptx.runtime.pipelines.stylize import SizeGuard, check_size

    if task not in TASKS:
        raise InputError(f"unknown task {task} (use PTX_TASK_ENHANCE or PTX_TASK_STYLIZE)")
    if channels not in (3, 4) or width < 1 or height < 1 or stride < width * channels:
        raise InputError(
            f"image {width}x{height}x{channels} with stride {stride}: need 3 or 4 channels, "
            "positive sizes and stride >= width * channels"
        )
    pixels = np.ndarray((height, width, channels), np.uint8, buf, strides=(stride, channels, 1))
    engine = h.engine
    if TASKS[task] == "stylize":
        if h.guard is None:
            spec = engine.spec
            if spec is not None and spec.task not in ("stylize", "custom"):
                raise ModelError(
                    f"{engine.path.name}: a '{spec.task}' model, not a style model; "
                    "load the style model's .onnx"
                )
            h.guard = SizeGuard(engine)
        engine = h.guard
        check_size(height, width, h.guard.floor)
    if h.conv is None:
        h.conv = image_convention(engine)
    out = enhance_batch(engine, [np.ascontiguousarray(pixels[..., :3])], h.conv)[0]
    if channels == 4:
        out = np.concatenate([out, pixels[..., 3:]], axis=2)
    return np.ascontiguousarray(out, dtype=np.uint8)


def generate_images(h: Handle, labels_json: str | None, n: int, seed: int) -> np.ndarray:
    """n generated uint8 images [n, H, W, 3] (labels as `ptx run generate` takes them)."""
    from ptx.runtime.pipelines.generate import generate

    labels = json.loads(labels_json) if labels_json else {}
    if not isinstance(labels, dict):
        raise InputError(f"labels JSON must be an object, got {type(labels).__name__}")
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    images, _ = generate(h.engine, {str(k): str(v) for k, v in labels.items()}, n, seed)
    return np.ascontiguousarray(np.stack(images), dtype=np.uint8)


def read_image(path: str) -> np.ndarray:
    """Decode an image file to uint8 [H, W, 3] RGB."""
    return np.ascontiguousarray(_read_image(path))


def write_image(path: str, buf: memoryview, width: int, height: int, stride: int) -> None:
    """Encode uint8 RGB pixels to ``path`` (format from the suffix, atomic)."""
    if width < 1 or height < 1 or stride < width * 3:
        raise InputError(f"image {width}x{height} with stride {stride}: bad size")
    _write_image(path, np.ndarray((height, width, 3), np.uint8, buf, strides=(stride, 3, 1)))


def error(exc: BaseException) -> tuple[int, str]:
    """The ptx_status code and the one line for an exception."""
    if isinstance(exc, MissingDependency):
        return MISSING, str(exc)
    if isinstance(exc, ImageError):
        return IMAGE, str(exc)
    if isinstance(exc, InputError):
        return INPUT, str(exc)
    if isinstance(exc, PtxError):
        return MODEL, str(exc)
    if isinstance(exc, (ImportError, ModuleNotFoundError)):
        return MISSING, f"{type(exc).__name__}: {exc}"
    return INTERNAL, f"{type(exc).__name__}: {exc}"


def install_dirs(prefix: str | Path | None = None) -> dict[str, Path]:
    """Where `make capi` installs libptx, its headers and its CMake package config."""
    root = Path(sys.prefix if prefix is None else prefix)
    return {
        "cmakedir": root / "lib" / "cmake" / "ptx",
        "includedir": root / "include",
        "libdir": root / "lib",
    }


def source_dir() -> Path:
    """libptx's CMake project: capi/ of a source tree, ptx/capi/ of an installed ptx."""
    return Path(__file__).resolve().parent.parent / "capi"


def check_toolchain() -> None:
    """Raise MissingDependency unless cmake, a C/C++ compiler and an embeddable Python are here."""
    for tool in ("cmake", "cc", "c++"):
        if shutil.which(tool) is None:
            raise MissingDependency(
                tool, None, "building libptx (the C ABI)", "apt-get install cmake g++"
            )
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file():
        raise MissingDependency(
            "python3-dev", None, "building libptx (it embeds Python)", "install Python's headers"
        )
    if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        raise MissingDependency(
            "libpython", None, "libptx (it embeds Python)", "a Python built with --enable-shared"
        )
    if not (Path(np.get_include()) / "numpy" / "arrayobject.h").is_file():
        raise MissingDependency(
            "numpy", None, "building libptx (NumPy's C headers)", "pip install numpy (a wheel)"
        )
    if not (source_dir() / "CMakeLists.txt").is_file():
        raise MissingDependency("ptx", None, f"building libptx (no sources in {source_dir()})")


def build(prefix: str | Path, build_dir: str | Path | None = None, jobs: int = 2) -> Path:
    """Configure, build and install libptx (and ptx_bench) with this Python into ``prefix``.

    ``build_dir`` defaults to a temporary folder (removed afterwards); returns ``prefix``.
    """
    check_toolchain()
    prefix = Path(prefix)
    with tempfile.TemporaryDirectory(prefix="ptx-capi-build-") as tmp:
        where = Path(build_dir) if build_dir is not None else Path(tmp)
        steps = [
            ["cmake", "-S", source_dir(), "-B", where, f"-DPython_EXECUTABLE={sys.executable}",
             "-DCMAKE_BUILD_TYPE=Release"],
            ["cmake", "--build", where, "-j", str(jobs)],
            ["cmake", "--install", where, "--prefix", prefix],
        ]  # fmt: skip
        for cmd in steps:
            out = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
            if out.returncode != 0:
                tail = (out.stderr or out.stdout).strip().splitlines()[-5:]
                raise PtxError(f"building libptx: {' '.join(map(str, cmd[:2]))} failed: "
                                 + " | ".join(tail))  # fmt: skip
    return prefix


BENCH_OPTIONS = {"threads": 1, "spin": False}  # one intra-op thread per call, both sides


def bench(
    model: str, sides: list[int], calls: int, threads: int, exe: str | Path
) -> list[dict[str, float]]:
    """Per-call time from C++ (``ptx_bench`` over libptx) beside Python in-process."""
    engine = _load(model, backend="onnxruntime", **BENCH_OPTIONS)
    name = engine.inputs[0].name
    rows = []
    for side in sides:
        x = np.full((1, 3, side, side), 0.5, np.float32)
        for _ in range(50):
            engine.run({name: x})
        start = time.perf_counter()
        for _ in range(calls):
            engine.run({name: x})
        python_us = (time.perf_counter() - start) / calls * 1e6
        cmd = [str(exe), model, str(side), str(calls), str(threads), "onnxruntime"]
        out = subprocess.run(
            [*cmd, json.dumps(BENCH_OPTIONS)], capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            raise InputError(f"{exe}: {out.stderr.strip() or out.returncode}")
        words = out.stdout.split()
        cpp = {k: float(v) for k, v in zip(words[0::2], words[1::2], strict=True)}
        row = {"side": side, "python_us": python_us, "cpp_us": cpp["us_per_call"]}
        row["cpp_over_python"] = row["cpp_us"] / python_us
        row["threads"] = threads
        row["cpp_threads_speedup"] = cpp[f"calls_per_s_{threads}"] / cpp["calls_per_s_1"]
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    """``python -m ptx.runtime.capi --cmakedir``: print an install directory of libptx."""
    parser = argparse.ArgumentParser(prog="python -m ptx.runtime.capi", description=main.__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    for key in ("cmakedir", "includedir", "libdir"):
        group.add_argument(f"--{key}", action="store_true", help=f"print the {key}")
    group.add_argument(
        "--bench",
        metavar="MODEL",
        help="C++ vs Python per-call time, one after the other (JSON; interleaved and in "
        "make bench: python -m ptx.benchmarks.studies.capi_overhead)",
    )
    group.add_argument(
        "--build", action="store_true", help="build libptx from ptx's sources and install it"
    )
    parser.add_argument("--prefix", default=sys.prefix, help="--build installs here [sys.prefix]")
    parser.add_argument("--sides", default="64,256", help="square input sides [64,256]")
    parser.add_argument("--calls", type=int, default=2000, help="calls per measurement [2000]")
    parser.add_argument("--threads", type=int, default=8, help="C++ threads [8]")
    parser.add_argument("--exe", default=None, help="ptx_bench [the installed one]")
    args = parser.parse_args(argv)
    if args.build:
        try:
            print(install_dirs(build(args.prefix))["cmakedir"])
        except PtxError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    if args.bench:
        exe = args.exe or Path(sys.prefix) / "bin" / "ptx_bench"
        sides = [int(s) for s in args.sides.split(",")]
        rows = bench(args.bench, sides, args.calls, args.threads, exe)
        print(json.dumps(rows, indent=2))
        return 0
    key = next(k for k in ("cmakedir", "includedir", "libdir") if getattr(args, k))
    path = install_dirs()[key]
    if not (install_dirs()["cmakedir"] / "ptxConfig.cmake").exists():
        print(
            f"libptx is not installed in {sys.prefix}: run `python -m ptx.runtime.capi --build` "
            "(or `make capi` in a source tree)",
            file=sys.stderr,
        )
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
