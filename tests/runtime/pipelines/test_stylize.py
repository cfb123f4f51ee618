"""Stylize pipeline on a tiny exported style model: folders, names, sizes, the size floor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from ptx.errors import InputError
from ptx.io import read_image, write_image
from ptx.runtime import load
from ptx.runtime.pipelines.stylize import min_side, stylize_arrays, stylize_path


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from ptx.export.pytorch.export import export_checkpoint
    from ptx.training.common import registry
    from ptx.training.common.checkpoint import save_checkpoint

    tmp = tmp_path_factory.mktemp("style")
    fam = registry.get("style")
    cfg = fam.config(**fam.test_config)
    torch.manual_seed(0)
    module = fam.build(cfg)
    with torch.no_grad():  # the family starts as the identity: make it do something
        for p in module.parameters():
            p.add_(0.1 * torch.randn(p.shape))
    ckpt = save_checkpoint(tmp / "ckpt", module, fam.make_spec(cfg))
    out = tmp / "style.onnx"
    export_checkpoint(ckpt, out, size=(16, 16), exporter="torchscript", opset=17)
    return out


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    rng = np.random.default_rng(0)
    write_image(root / "a.png", rng.integers(0, 256, (21, 34, 3), dtype=np.uint8))
    write_image(root / "shop" / "b.jpg", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    write_image(root / "dot.png", np.zeros((1, 1, 3), np.uint8))
    (root / "broken.png").write_bytes(b"\x89PNG not really")
    return root


def test_arrays_keep_their_size_and_follow_torch(model: Path) -> None:
    import torch

    from ptx.training.common.checkpoint import load_checkpoint

    engine = load(model, backend="onnxruntime")
    assert min_side(engine) == 5
    img = np.random.default_rng(1).integers(0, 256, (13, 22, 3), dtype=np.uint8)
    (out,) = stylize_arrays(engine, [img])
    assert out.shape == img.shape and out.dtype == np.uint8
    net, _ = load_checkpoint(model.parent / "ckpt", family="style")
    with torch.no_grad():
        ref = net(torch.from_numpy(img.transpose(2, 0, 1)[None] / np.float32(255)))[0]
    ref = np.rint(ref.clamp(0, 1).numpy().transpose(1, 2, 0) * 255)
    assert np.abs(out.astype(float) - ref).max() <= 1


def test_too_small_image_is_one_clear_error(model: Path) -> None:
    with pytest.raises(InputError, match="1x1 px but the style model needs at least 5x5"):
        stylize_arrays(model, [np.zeros((1, 1, 3), np.uint8)])
    with pytest.raises(InputError, match="4x9 px"):
        stylize_arrays(model, [np.zeros((9, 4, 3), np.uint8)])


def test_folder_keeps_names_and_skips_bad_files(model: Path, photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = stylize_path(model, photos, out, progress=False)
    assert summary.images == 2 and summary.failed == 2
    assert read_image(out / "a.png").shape == (21, 34, 3)
    assert read_image(out / "shop" / "b.jpg").shape == (16, 16, 3)
    reasons = dict(summary.skipped)
    assert "needs at least 5x5" in reasons[str(photos / "dot.png")]
    assert not (out / "dot.png").exists() and not (out / "broken.png").exists()
    assert not list(out.rglob(".*"))  # no temp files left behind


def test_cli_json_and_the_1x1_error(model: Path, photos: Path, tmp_path: Path) -> None:
    from ptx.cli import LazyGroup

    group = LazyGroup(name="run", lazy={"stylize": "ptx.runtime.cli.run_stylize:run_stylize_cmd"})
    res = CliRunner().invoke(
        group,
        ["stylize", "--model", str(model), "--input", str(photos), "--out", str(tmp_path / "o"),
         "--no-progress", "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["images"] == 2
    res = CliRunner().invoke(
        group,
        ["stylize", "--model", str(model), "--input", str(photos / "dot.png"),
         "--out", str(tmp_path / "d"), "--no-progress"],
    )  # fmt: skip
    assert res.exit_code == 2
    last = res.output.strip().splitlines()[-1]
    assert last.startswith("error: every input failed") and "at least 5x5" in last


def test_a_model_of_another_task_is_refused(tmp_path: Path) -> None:
    from ptx.errors import ModelError
    from tests.runtime.conftest import affine_model

    other = affine_model(tmp_path / "enh.onnx")
    with pytest.raises(ModelError, match="not a style model"):
        stylize_arrays(other, [np.zeros((8, 8, 3), np.uint8)])
