"""libptx as a project uses it: the header alone, find_package from outside, the examples."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ptx.io import read_image, write_image
from ptx.runtime import capi

OUTSIDE_CMAKE = """cmake_minimum_required(VERSION 3.18)
project(outside C CXX)
set(CMAKE_CXX_STANDARD 17)
find_package(ptx CONFIG REQUIRED)
add_executable(outside main.cpp)
target_link_libraries(outside PRIVATE ptx::ptx)
"""
OUTSIDE_MAIN = """#include <ptx/ptx.hpp>
#include <iostream>
int main(int argc, char **argv) {
  ptx::Engine engine(argv[1], "onnxruntime");
  std::cout << "api " << ptx_api_version() << " outputs " << engine.outputs().size() << "\\n";
}
"""


@pytest.mark.parametrize(
    ("compiler", "flags"),
    [("cc", ["-std=c99", "-x", "c"]), ("c++", ["-std=c++17", "-x", "c++"])],
)
def test_header_stands_alone(built, tmp_path: Path, compiler: str, flags: list[str]) -> None:
    src = tmp_path / "only_header.h"
    src.write_text("#include <ptx/ptx.h>\nint ptx_only_header_(void) { return PTX_OK; }\n")
    include = built.prefix / "include"
    built.check([compiler, *flags, "-Wall", "-Wextra", "-pedantic", "-Werror", "-fsyntax-only",
                 f"-I{include}", src])  # fmt: skip


def test_outside_project_find_package_only(built, tmp_path: Path) -> None:
    (tmp_path / "CMakeLists.txt").write_text(OUTSIDE_CMAKE)
    (tmp_path / "main.cpp").write_text(OUTSIDE_MAIN)
    build = tmp_path / "build"
    built.check(["cmake", "-S", tmp_path, "-B", build, f"-DCMAKE_PREFIX_PATH={built.prefix}"])
    built.check(["cmake", "--build", build])
    out = built.check([build / "outside", built.models / "affine.onnx"])
    assert out.strip() == "api 1 outputs 1"


def test_cmakedir_command(built, capsys) -> None:
    dirs = capi.install_dirs(built.prefix)
    assert (dirs["cmakedir"] / "ptxConfig.cmake").is_file()
    assert (dirs["includedir"] / "ptx" / "ptx.hpp").is_file()
    r = subprocess.run(
        [sys.executable, "-m", "ptx.runtime.capi", "--cmakedir"], capture_output=True, text=True
    )
    if r.returncode == 0:  # `make capi` installed it into this environment
        assert Path(r.stdout.strip()) == capi.install_dirs()["cmakedir"]
    else:
        assert "make capi" in r.stderr


def test_cpp_folder_example_equals_ptx_run_enhance(built, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    rng = np.random.default_rng(0)
    sizes = {"a.png": (16, 24), "b.jpg": (20, 12), "sub/c.png": (9, 7), "sub/d.bmp": (33, 17)}
    for name, (h, w) in sizes.items():
        write_image(photos / name, rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    model = built.models / "blocks.onnx"  # pads H, W to multiples of 8 inside ptx
    ptx = shutil.which("ptx", path=str(Path(sys.executable).parent)) or "ptx"
    built.check([ptx, "run", "enhance", "--model", model, "--input", photos, "--out",
                 tmp_path / "ref", "--backend", "onnxruntime", "--no-progress"])  # fmt: skip
    out = built.check([built.build / "ptx_enhance_folder", model, photos, tmp_path / "cpp",
                       "onnxruntime"])  # fmt: skip
    assert out.strip() == "4 images, 0 failed"
    for name, (h, w) in sizes.items():
        ref = read_image(tmp_path / "ref" / name).astype(int)
        got = read_image(tmp_path / "cpp" / name).astype(int)
        assert got.shape == ref.shape == (h, w, 3)
        assert np.abs(got - ref).max() <= 1, name


def test_rust_example(built, tmp_path: Path) -> None:
    if shutil.which("cargo") is None:
        pytest.skip("cargo not found: the Rust example needs a Rust toolchain")
    manifest = Path(__file__).resolve().parents[2] / "capi" / "examples" / "rust" / "Cargo.toml"
    env = {
        **built.env(),
        "PTX_LIB_DIR": str(built.prefix / "lib"),
        "CARGO_TARGET_DIR": str(tmp_path),
    }
    built.check(["cargo", "build", "--offline", "-q", "--manifest-path", manifest], env=env)
    exe = tmp_path / "debug" / "ptx-rust-example"
    assert built.check([exe, built.models / "affine.onnx"]).strip() == (
        "api 1 shape [1, 3, 4, 4] y0 0.75"
    )
    r = built.run([exe, built.models / "nope.onnx"])
    assert r.returncode == 1 and r.stderr.startswith("ptx error 2: ")


def test_bench_rows_side_by_side(built) -> None:
    """The C++-vs-Python comparison runs; figures are reported, never asserted on."""
    exe = built.prefix / "bin" / "ptx_bench"
    rows = capi.bench(str(built.models / "affine.onnx"), [16], 20, 2, exe)
    assert [r["side"] for r in rows] == [16] and rows[0]["threads"] == 2
    assert all(rows[0][k] > 0 for k in ("python_us", "cpp_us", "cpp_threads_speedup"))
