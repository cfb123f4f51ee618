"""The non-editable install: the wheel maps top-level folders under ptx.* and imports."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAPPED = {"ptx": "ptx", "training": "ptx/training", "export": "ptx/export",
          "runtime": "ptx/runtime", "benchmarks": "ptx/benchmarks"}  # fmt: skip


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    build_dir = tmp_path_factory.mktemp("build")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(ROOT)],
        check=True, capture_output=True, cwd=build_dir,
    )  # fmt: skip
    wheels = list(out.glob("ptx-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_holds_every_source_module_under_ptx(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, prefix in MAPPED.items():
        for src in (ROOT / folder).rglob("*.py"):
            rel = src.relative_to(ROOT / folder).as_posix()
            assert f"{prefix}/{rel}" in names, f"{folder}/{rel} missing from the wheel"
    # never bare top-level packages that would collide in site-packages
    tops = {n.split("/")[0] for n in names}
    assert not tops & {"export", "runtime", "training", "benchmarks", "tests"}, tops


def test_installed_wheel_imports_outside_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
         "--target", str(target), str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    code = (
        "import ptx, ptx.runtime, ptx.export, ptx.training, ptx.benchmarks, ptx.cli, sys;"
        "assert ptx.runtime.__file__.startswith(sys.argv[1]), ptx.runtime.__file__;"
        "print(ptx.__version__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(target)],
        capture_output=True, text=True, cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    import ptx

    assert done.stdout.strip() == ptx.__version__
