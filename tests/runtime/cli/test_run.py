"""`ptx run enhance` through the real click group, and the runtime's no-torch promise."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from click.testing import CliRunner

from ptx.cli import main
from ptx.io import read_image, write_image


def _run(*args: str):
    return CliRunner().invoke(main, ["run", "enhance", *args])


def test_folder_run_prints_summary_and_lists_skips(models, photo_folder, tmp_path):
    out = tmp_path / "out"
    res = _run(
        "--model",
        str(models["swap"]),
        "--input",
        str(photo_folder),
        "--out",
        str(out),
        "--batch",
        "4",
        "--threads",
        "1",
        "--no-progress",
    )
    assert res.exit_code == 0, res.output
    assert "5 images, 2 failed" in res.stdout and "onnxruntime" in res.stdout
    assert res.stderr.count("skipped") == 2 and "empty.jpg" in res.stderr
    assert (out / "sub" / "deeper" / "e.bmp").is_file()


def test_json_summary(models, photo_folder, tmp_path):
    res = _run(
        "--model",
        str(models["affine"]),
        "--input",
        str(photo_folder),
        "--out",
        str(tmp_path / "out"),
        "--json",
        "--no-progress",
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["images"] == 5 and data["failed"] == 2 and data["backend"] == "onnxruntime"
    assert {s["path"] for s in data["skipped"]} == {
        str(photo_folder / "broken.png"),
        str(photo_folder / "empty.jpg"),
    }


def test_foreign_model_flags(models, tmp_path, helpers):
    img = helpers.random_image(6, 4, 2)
    write_image(tmp_path / "in.png", img)
    res = _run(
        "--model",
        str(models["invert"]),
        "--input",
        str(tmp_path / "in.png"),
        "--out",
        str(tmp_path / "out"),
        "--range",
        "0,255",
        "--nhwc",
        "--no-progress",
    )
    assert res.exit_code == 0, res.output
    np.testing.assert_array_equal(read_image(tmp_path / "out" / "in.png"), 255 - img)
    bad = _run(
        "--model",
        str(models["invert"]),
        "--input",
        str(tmp_path / "in.png"),
        "--out",
        str(tmp_path / "out"),
        "--mean",
        "1,2",
    )
    assert bad.exit_code == 2 and "--mean needs 1 or 3 comma-separated numbers" in bad.stderr


def test_errors_are_one_line_and_non_zero(models, tmp_path):
    missing = _run(
        "--model",
        str(models["affine"]),
        "--input",
        str(tmp_path / "nope"),
        "--out",
        str(tmp_path / "out"),
    )
    assert missing.exit_code == 2 and missing.stderr.strip().count("\n") == 0
    assert "no such file or folder" in missing.stderr
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"")
    (tmp_path / "bad" / "y.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    allbad = _run(
        "--model",
        str(models["affine"]),
        "--input",
        str(tmp_path / "bad"),
        "--out",
        str(tmp_path / "out"),
        "--no-progress",
    )
    assert allbad.exit_code == 2 and "error: every input failed (2)" in allbad.stderr
    nomodel = _run(
        "--model",
        str(tmp_path / "m.onnx"),
        "--input",
        str(tmp_path / "bad"),
        "--out",
        str(tmp_path / "out"),
    )
    assert nomodel.exit_code == 2 and "no such model file" in nomodel.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


NO_TORCH = """
import sys
from pathlib import Path
import ptx.runtime, ptx.runtime.pipelines.enhance, ptx.runtime.cli.run, ptx.image
import ptx.runtime.cli.run_enhance, ptx.runtime.cli.run_generate, ptx.runtime.cli.doctor
import ptx.runtime.cli.serve, ptx.runtime.pipelines.generate, ptx.runtime.server.app
engine = ptx.runtime.load(sys.argv[1])
summary = ptx.runtime.pipelines.enhance.enhance_path(
    engine, sys.argv[2], sys.argv[3], batch=2, progress=False)
assert summary.images == 5, summary
loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
print("torch modules:", loaded)
assert not loaded
"""


def test_runtime_never_imports_torch(models, photo_folder, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", NO_TORCH, str(models["swap"]), str(photo_folder), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "torch modules: []" in proc.stdout
