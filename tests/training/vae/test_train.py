"""VAE training: two checkpoints with specs and TensorBoard logs, resume, pair guard, eval."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ptx.errors import InputError
from ptx.spec import ModelSpec
from ptx.training.common.checkpoint import load_checkpoint, load_state
from ptx.training.data.catalogue import write_catalogue
from ptx.training.vae.data import make_batch
from ptx.training.vae.model import TEST_CONFIG, encoder_spec
from ptx.training.vae.train import kl_divergence, train_vae

TINY = dict(TEST_CONFIG)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cat")
    write_catalogue(out, 24, 32, seed=0, progress=False, workers=1)
    return out


@pytest.fixture(scope="module")
def trained(data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("vae")
    metrics = train_vae(
        data, out, steps=6, batch=4, progress=False, config=TINY, checkpoint_every=3
    )
    return out, metrics


def test_kl_of_the_prior_is_zero_and_grows_away_from_it() -> None:
    zero = kl_divergence(torch.zeros(2, 4), torch.zeros(2, 4))
    assert torch.equal(zero, torch.zeros(2))
    moved = kl_divergence(torch.ones(1, 4), torch.zeros(1, 4))
    torch.testing.assert_close(moved, torch.tensor([2.0]))  # 0.5 * sum(mean^2)


def test_batches_are_a_function_of_seed_and_step() -> None:
    imgs = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    conv = encoder_spec(TINY).image
    a, b = make_batch(imgs, 4, 0, 3, conv), make_batch(imgs, 4, 0, 3, conv)
    c = make_batch(imgs, 4, 0, 4, conv)
    assert a.shape == (4, 3, 8, 8) and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_training_writes_two_checkpoints(trained: tuple[Path, dict]) -> None:
    out, metrics = trained
    enc, enc_spec = load_checkpoint(out / "encoder", family="vae-encoder")
    dec, dec_spec = load_checkpoint(out / "decoder", family="vae-decoder")
    assert enc_spec.task == "vae-encode" and dec_spec.task == "vae-decode"
    assert enc_spec.latent_size == dec_spec.latent_size == TINY["latent"]
    assert enc_spec.image is not None and dec_spec.image is not None
    assert [t.name for t in enc_spec.outputs] == ["mean", "logvar"]
    assert [t.name for t in dec_spec.inputs] == ["z"]
    assert metrics["steps"] == 6
    assert 0 < metrics["val_psnr"] < 60 and metrics["held_out_images"] >= 1
    assert enc_spec.metrics["val_psnr"] == pytest.approx(metrics["val_psnr"])
    assert any((out / "tb").iterdir())
    prior = dec_spec.config["prior"]  # the Gaussian fitted to training codes, for sampling
    assert len(prior["mean"]) == TINY["latent"]
    assert [len(r) for r in prior["chol"]] == list(range(1, TINY["latent"] + 1))
    assert all(r[-1] > 0 for r in prior["chol"])  # a Cholesky factor: positive diagonal
    state = load_state(out / "encoder")
    assert state["step"] == 6 and state["decoder_sha256"] == dec_spec.source_hash
    with torch.no_grad():
        mean, logvar = enc(torch.rand(2, 3, 16, 16))
        assert mean.shape == logvar.shape == (2, TINY["latent"])
        assert dec(mean).shape == (2, 3, 16, 16)


def test_resume_continues_and_guards_the_pair(
    data: Path, trained: tuple[Path, dict], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    shutil.copytree(trained[0], out)
    metrics = train_vae(data, out, steps=8, batch=4, progress=False, resume=True)
    assert metrics["steps"] == 8
    assert load_state(out / "encoder")["step"] == 8

    # A decoder from another run next to this encoder: refuse to resume.
    other = tmp_path / "other"
    train_vae(data, other, steps=1, batch=2, progress=False, config=TINY, seed=5)
    shutil.rmtree(out / "decoder")
    shutil.copytree(other / "decoder", out / "decoder")
    with pytest.raises(InputError, match="not the decoder saved with"):
        train_vae(data, out, steps=9, batch=4, progress=False, resume=True)
    with pytest.raises(InputError, match="nothing to resume"):
        train_vae(data, tmp_path / "empty", steps=1, progress=False, resume=True)


def test_cli_trains_and_evaluates_exported_models(data: Path, tmp_path: Path) -> None:
    from ptx.export.pytorch.export import export_checkpoint
    from ptx.training.cli.eval_vae import eval_vae_cmd
    from ptx.training.cli.train_vae import train_vae_cmd

    out = tmp_path / "vae"
    args = ["--data", str(data), "--out", str(out), "--steps", "2", "--batch", "2"]
    args += ["--latent", "8", "--width", "4", "--size", "16", "--json"]
    res = CliRunner().invoke(train_vae_cmd, args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["steps"] == 2
    fast = {"exporter": "torchscript", "opset": 17}
    export_checkpoint(out / "encoder", tmp_path / "enc.onnx", **fast)
    export_checkpoint(out / "decoder", tmp_path / "dec.onnx", **fast)
    report = tmp_path / "eval.json"
    res = CliRunner().invoke(
        eval_vae_cmd,
        ["--encoder", str(tmp_path / "enc.onnx"), "--decoder", str(tmp_path / "dec.onnx"),
         "--data", str(data), "--out", str(report), "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    assert got == json.loads(report.read_text())
    # The exported pair scores what the PyTorch pair scored at the end of training.
    spec = ModelSpec.load(out / "encoder" / "spec.json")
    assert got["val_psnr"] == pytest.approx(spec.metrics["val_psnr"], abs=0.05)
    assert got["latent_size"] == 8 and got["image_size"] == 16
