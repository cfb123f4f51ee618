"""The C++ vs Python study (`make bench`) and libptx's sources shipping with ptx."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest
from setuptools.config.setupcfg import read_configuration

from ptx.benchmarks.studies import capi_overhead
from ptx.errors import MissingDependency, PtxError
from ptx.runtime import capi

ROOT = Path(__file__).resolve().parents[2]


def test_study_rounds_side_by_side(built, tmp_path: Path) -> None:
    """Interleaved rounds on both sides; figures are reported, never asserted on."""
    exe = built.prefix / "bin" / "ptx_bench"
    model = capi_overhead.floor_model(tmp_path / "floor.onnx")
    times = capi_overhead.measure_case(exe, model, 16, 0.05, 2, tmp_path)
    rounds = {k: len(v) for k, v in times.items()}
    assert set(rounds) == {"python", "cpp", "cpp_threads", "python_cpu", "cpp_cpu"}
    assert set(rounds.values()) == {capi_overhead.MIN_ROUNDS}
    assert all(t > 0 for ts in times.values() for t in ts)
    row = capi_overhead.case_row("floor", model, 16, 1.2, 2, times)
    result = {"threads": 2, "usable_cores": 2, "load_before": 0.0, "load_after": 0.0}
    md = capi_overhead.markdown({**result, "rows": [row]})
    assert md.splitlines()[-1].startswith("| floor | `floor.onnx` | 16 | ")
    assert row["cpp_over_python"] == pytest.approx(row["cpp_us"] / row["python_us"])
    noted = capi_overhead.markdown({**result, "rows": [row], "notes": ["tiny: not run (x)"]})
    assert noted.splitlines()[-1] == "- tiny: not run (x)"


def test_study_names_a_model_the_cpp_side_cannot_load(built, tmp_path: Path) -> None:
    exe = built.prefix / "bin" / "ptx_bench"
    with pytest.raises(PtxError, match="no such model file"):
        capi_overhead.CppServer(exe, tmp_path / "nope.onnx", tmp_path / "log.txt")


def test_study_skips_with_the_reason_without_a_toolchain(monkeypatch) -> None:
    def no_cmake(*_a, **_k):
        raise MissingDependency("cmake", None, "building libptx (the C ABI)", "apt-get install")

    monkeypatch.setattr(capi, "build", no_cmake)
    result = capi_overhead.measure(0.1)
    assert result["rows"] == [] and "'cmake'" in result["skipped"]
    assert capi_overhead.markdown(result).startswith("C++ vs Python in-process: not run (")


def test_build_installs_from_the_sources_ptx_ships(built, tmp_path: Path) -> None:
    """capi.build (python -m ptx.runtime.capi --build) into a new prefix."""
    prefix = capi.build(tmp_path / "prefix", built.build)
    dirs = capi.install_dirs(prefix)
    assert (dirs["cmakedir"] / "ptxConfig.cmake").is_file()
    assert (dirs["includedir"] / "ptx" / "ptx.h").is_file()
    assert (prefix / "bin" / "ptx_bench").is_file()


def test_build_without_cmake_is_one_line(monkeypatch, capsys) -> None:
    monkeypatch.setattr(capi.shutil, "which", lambda tool: None)
    assert capi.main(["--build", "--prefix", "/nonexistent"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: building libptx (the C ABI) needs the 'cmake' package")


def test_capi_sources_are_package_data() -> None:
    """Every file libptx's build needs is in ptx.runtime's package data (wheel: ptx/capi/)."""
    assert capi.source_dir() == ROOT / "capi"
    patterns = read_configuration(ROOT / "setup.cfg")["options"]["package_data"]["ptx.runtime"]
    # setuptools globs each pattern from the package's folder, as glob.glob does
    shipped = {
        Path(os.path.normpath(f)).relative_to(ROOT).as_posix()
        for p in patterns
        for f in glob.glob(str(ROOT / "runtime" / p))
    }
    needed = [
        f.relative_to(ROOT).as_posix()
        for f in (ROOT / "capi").rglob("*")
        if f.is_file() and not {"build", "target"} & set(f.relative_to(ROOT).parts)
    ]
    assert "capi/CMakeLists.txt" in needed and "capi/src/run.c" in needed
    assert sorted(set(needed) - shipped) == []
