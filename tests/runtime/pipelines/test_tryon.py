"""Try-on pipeline and `ptx run tryon` on a tiny exported model: pairing, sizes, parity, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from ptx.cli import main
from ptx.errors import InputError
from ptx.io import read_image, write_image
from ptx.runtime import load
from ptx.runtime.pipelines.tryon import fit_pair, tryon_arrays, tryon_path, tryon_plan

SIDE = 24


@pytest.fixture(scope="module")
def model(export_tryon) -> Path:
    return export_tryon(SIDE, 0)


@pytest.fixture()
def pictures(tmp_path: Path) -> tuple[Path, Path]:
    from ptx.training.tryon.data import eval_sample

    g, m = tmp_path / "garments", tmp_path / "mannequins"
    for i in range(2):
        s = eval_sample(i, 40, [])
        write_image(g / f"g{i}.png", s.garment)
        write_image(m / f"m{i}.jpg", s.mannequin)
    (g / "broken.png").write_bytes(b"\x89PNG not really")
    return g, m


def test_arrays_match_torch_on_the_fitted_pair(model: Path) -> None:
    import torch

    from ptx.training.common.checkpoint import load_checkpoint

    engine = load(model, backend="onnxruntime")
    assert tryon_plan(engine).side == SIDE
    rng = np.random.default_rng(1)
    g = rng.integers(0, 256, (30, 20, 3), dtype=np.uint8)  # another size and aspect
    m = rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
    (out,) = tryon_arrays(engine, [g], [m])
    assert out.shape == (SIDE, SIDE, 3) and out.dtype == np.uint8
    fg, fm = fit_pair(g, m, SIDE)
    assert fg.shape == fm.shape == (SIDE, SIDE, 3) and np.array_equal(fm, m)
    assert (fg[:, 0] == 255).all()  # the garment is letterboxed on white
    module, _ = load_checkpoint(model.parent / "ckpt")

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.float32).transpose(2, 0, 1)[None] / 255.0)

    with torch.no_grad():
        want = module(t(fg), t(fm))[0].numpy().transpose(1, 2, 0) * 255.0
    assert np.abs(out.astype(np.float32) - want).max() <= 1.0


def test_every_garment_on_every_mannequin_with_a_sheet(
    model: Path, pictures: tuple[Path, Path], tmp_path: Path
) -> None:
    g, m = pictures
    out, sheet = tmp_path / "out", tmp_path / "sheet.png"
    summary = tryon_path(model, g, m, out, sheet=sheet)
    assert summary.images == 4 and summary.failed == 1  # the broken file, with its reason
    assert "broken.png" in summary.skipped[0][0]
    names = sorted(p.name for p in out.iterdir())
    assert names == ["g0_on_m0.png", "g0_on_m1.png", "g1_on_m0.png", "g1_on_m1.png"]
    assert read_image(out / names[0]).shape == (SIDE, SIDE, 3)
    pad = 2
    assert read_image(sheet).shape == (4 * (SIDE + pad) + pad, 3 * (SIDE + pad) + pad, 3)


def test_the_cli_writes_and_reports(model: Path, pictures: tuple[Path, Path], tmp_path: Path):
    g, m = pictures
    args = ["run", "tryon", "--model", str(model), "--garment", str(g / "g0.png"),
            "--mannequin", str(m), "--out", str(tmp_path / "o"), "--backend", "onnxruntime",
            "--json"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["images"] == 2


def test_bad_inputs_are_one_line(model: Path, pictures: tuple[Path, Path], tmp_path: Path):
    g, m = pictures
    with pytest.raises(InputError, match="pair them"):
        tryon_arrays(model, [np.zeros((8, 8, 3), np.uint8)], [])
    with pytest.raises(InputError, match="uint8 H x W x 3"):
        tryon_arrays(model, [np.zeros((8, 8), np.uint8)], [np.zeros((8, 8, 3), np.uint8)])
    result = CliRunner().invoke(main, ["run", "tryon", "--model", str(model), "--garment",
                                       str(tmp_path / "nope"), "--mannequin", str(m), "--out",
                                       str(tmp_path / "o")])  # fmt: skip
    assert result.exit_code != 0 and "no such file or folder" in result.output
    only_broken = tmp_path / "bad"
    only_broken.mkdir()
    (only_broken / "x.png").write_bytes(b"junk")
    result = CliRunner().invoke(main, ["run", "tryon", "--model", str(model), "--garment",
                                       str(only_broken), "--mannequin", str(m), "--out",
                                       str(tmp_path / "o2")])  # fmt: skip
    assert result.exit_code != 0 and "every pair failed" in result.output


def test_a_model_of_another_task_is_refused(tmp_path: Path) -> None:
    import ptx.runtime

    enhance = Path(ptx.runtime.__file__).parent / "models" / "enhance.onnx"
    with pytest.raises(InputError, match="not a try-on model"):
        tryon_arrays(enhance, [np.zeros((8, 8, 3), np.uint8)], [np.zeros((8, 8, 3), np.uint8)])
