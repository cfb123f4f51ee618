"""Fast style transfer: the network's size floor, the built-in style, training, resume, eval."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ptx.errors import InputError
from ptx.io import write_image
from ptx.training.common.checkpoint import load_checkpoint, load_state
from ptx.training.data.catalogue import write_catalogue
from ptx.training.style import texture_net as tn
from ptx.training.style.data import ad_style, load_style
from ptx.training.style.evaluate import style_scores
from ptx.training.style.model import TEST_CONFIG, StyleNet, make_spec, min_side
from ptx.training.style.train import train_style

TINY = dict(TEST_CONFIG)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cat")
    write_catalogue(out, 20, 32, seed=0, progress=False, workers=1)
    return out


def test_min_side_is_the_smallest_size_the_network_takes() -> None:
    net = StyleNet(**TINY).eval()
    lo = min_side()
    with torch.no_grad():
        for h, w in ((lo, lo), (lo, 11), (13, lo + 2)):
            assert net(torch.rand(1, 3, h, w)).shape == (1, 3, h, w)
        with pytest.raises(RuntimeError):
            net(torch.rand(1, 3, lo - 1, 16))


def test_no_transposed_convs_and_instance_norm() -> None:
    net = StyleNet(**TINY)
    kinds = {type(m).__name__ for m in net.modules()}
    assert "InstanceNorm2d" in kinds and "ReflectionPad2d" in kinds
    assert not any("Transpose" in k for k in kinds)


def test_builtin_ad_style_is_seeded_and_colourful(tmp_path: Path) -> None:
    a, b, c = ad_style(64, 0), ad_style(64, 0), ad_style(64, 1)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.reshape(-1, 3).std(axis=0).min() > 30  # bold colours, not a flat wash
    assert np.array_equal(load_style("ad", 64), a)
    write_image(tmp_path / "s.png", np.zeros((20, 40, 3), np.uint8))
    assert load_style(tmp_path / "s.png", 32).shape == (32, 64, 3)
    with pytest.raises(InputError, match="no such image"):
        load_style(tmp_path / "nope.png", 32)


def test_style_scores_reward_moving_toward_the_style() -> None:
    net = tn.random_texture_net(0)
    style = ad_style(64, 0)
    targets = tn.style_targets(
        net, torch.from_numpy(style.transpose(2, 0, 1)[None] / 255.0).float()
    )
    content = [np.full((32, 32, 3), 128, np.uint8)]
    conv = make_spec(TINY).image
    same = style_scores(net, targets, content, content, conv)
    assert same["gram_reduction"] == pytest.approx(0.0) and same["content_loss"] == 0.0
    assert same["luma_ssim"] == pytest.approx(1.0)
    styled = style_scores(net, targets, content, [style[:32, :32]], conv)
    assert styled["gram_reduction"] > 0.5 and styled["content_loss"] > 0


def test_train_writes_checkpoint_and_resumes(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "style"
    kw = dict(batch=2, patch=16, style_side=32, progress=False, max_val=2)
    metrics = train_style(data, "ad", out, steps=4, config=TINY, checkpoint_every=2, **kw)
    model, spec = load_checkpoint(out, family="style")
    assert spec.task == "stylize" and spec.config["texture_seed"] == 0
    assert spec.config["min_side"] == min_side() and spec.config["style"] == "ad"
    assert metrics["steps"] == 4 and "val_gram_reduction" in metrics
    assert spec.metrics["val_luma_ssim"] == pytest.approx(metrics["val_luma_ssim"])
    assert any((out / "tb").iterdir())
    assert load_state(out)["step"] == 4
    again = tmp_path / "again"
    shutil.copytree(out, again)
    assert train_style(data, "ad", again, steps=6, resume=True, **kw)["steps"] == 6
    with pytest.raises(InputError, match="nothing to resume"):
        train_style(data, "ad", tmp_path / "none", steps=1, resume=True, **kw)


def test_cli_trains_and_evaluates_the_exported_model(data: Path, tmp_path: Path) -> None:
    from ptx.export.pytorch.export import export_checkpoint
    from ptx.training.cli.eval_style import eval_style_cmd
    from ptx.training.cli.train_style import train_style_cmd

    out = tmp_path / "style"
    args = ["--data", str(data), "--out", str(out), "--steps", "2", "--batch", "1"]
    args += ["--patch", "16", "--style-side", "32", "--width", "4", "--blocks", "1", "--json"]
    res = CliRunner().invoke(train_style_cmd, args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["steps"] == 2
    onnx = tmp_path / "style.onnx"
    export_checkpoint(out, onnx, size=(32, 32), exporter="torchscript", opset=17)
    res = CliRunner().invoke(
        eval_style_cmd,
        ["--model", str(onnx), "--data", str(data), "--size", "24", "--max-images", "2", "--json"],
    )
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    assert 1 <= got["images"] <= 2 and got["texture_seed"] == 0
    assert got["gram_loss_content"] > 0 and 0 <= got["luma_ssim"] <= 1


def test_batches_follow_the_specs_convention() -> None:
    from ptx.spec import ImageConvention
    from ptx.training.style.data import make_batch

    rngs = [np.random.default_rng(i) for i in range(3)]
    imgs = [r.integers(0, 256, (20, 24, 3), dtype=np.uint8) for r in rngs]
    unit = make_spec(TINY).image
    a = make_batch(imgs, 2, 16, 0, 5, unit)
    b = make_batch(imgs, 2, 16, 0, 5, ImageConvention(range=(-1.0, 1.0)))
    assert a.shape == (2, 3, 16, 16) and a.min() >= 0 and a.max() <= 1
    np.testing.assert_allclose(b, 2 * a - 1, atol=1e-6)
