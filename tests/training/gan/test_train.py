"""train_gan: checkpoint + spec + TensorBoard + sample grid, EMA generator, resume, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from ptx.errors import InputError
from ptx.io import read_image
from ptx.training.common.checkpoint import load_checkpoint, load_state
from ptx.training.data.catalogue import write_catalogue
from ptx.training.gan import model as gan_model
from ptx.training.gan.train import (
    ema_decay_at,
    ema_update,
    mode_seeking,
    standing_stats,
    train_gan,
)

TINY = {"size": 16, "latent": 8, "width": 4, "embed": 4}


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cat")
    write_catalogue(out, n=40, size=16, seed=0, progress=False, workers=1)
    return out


@pytest.fixture(scope="module")
def trained(catalogue, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("run") / "gan"
    metrics = train_gan(
        catalogue, out, steps=3, batch=4, config=TINY, progress=False, checkpoint_every=2,
        threads=1,
    )  # fmt: skip
    return out, metrics


def test_writes_checkpoint_spec_tensorboard_and_grid(trained) -> None:
    out, metrics = trained
    assert metrics["steps"] == 3 and metrics["images_seen"] == 12
    for name in ("model.safetensors", "spec.json", "state.pt", "samples.png"):
        assert (out / name).is_file(), name
    assert any((out / "tb").glob("events.out.tfevents.*"))
    model, spec = load_checkpoint(out, family="gan")
    assert spec.task == "generate" and spec.metrics["steps"] == 3
    assert spec.labels["category"] == sorted(spec.labels["category"])  # the data's vocabulary
    assert len(spec.labels["category"]) == 7 and len(spec.labels["color"]) == 10
    grid = read_image(out / "samples.png")  # one row per category, one column per colour
    assert grid.shape[0] > grid.shape[1] * 0.5 and grid.shape[1] > 10 * 16


def test_checkpoint_holds_the_ema_generator_not_the_raw_one(trained) -> None:
    out, _ = trained
    ema = load_file(str(out / "model.safetensors"))
    raw = load_state(out)["generator"]
    assert set(raw) == set(ema)
    diffs = [float((raw[k].float() - ema[k].float()).abs().max()) for k in ema if "bn" not in k]
    assert max(diffs) > 0  # EMA lags the raw weights
    assert "discriminator" in load_state(out) and "opt_d" in load_state(out)


def test_resume_continues_from_the_saved_step(trained, catalogue) -> None:
    out, _ = trained
    metrics = train_gan(catalogue, out, steps=5, batch=4, resume=True, progress=False, threads=1)
    assert metrics["steps"] == 5 and load_state(out)["step"] == 5


def test_bad_input_is_one_clear_error(catalogue, tmp_path) -> None:
    with pytest.raises(InputError, match="nothing to resume"):
        train_gan(catalogue, tmp_path / "none", steps=1, batch=4, resume=True, progress=False)
    with pytest.raises(InputError, match="batch >= 2"):
        train_gan(catalogue, tmp_path / "x", steps=1, batch=1, progress=False)
    (tmp_path / "flat").mkdir()
    from PIL import Image

    Image.new("RGB", (16, 16)).save(tmp_path / "flat" / "a.png")
    with pytest.raises(InputError, match="no category labels"):
        train_gan(tmp_path / "flat", tmp_path / "y", steps=1, batch=2, progress=False)
    assert not (tmp_path / "y" / "spec.json").exists()


def test_ema_update_and_warmup() -> None:
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    want = 0.25 * a.weight.detach() + 0.75 * b.weight.detach()
    ema_update(a, b, decay=0.25)
    assert torch.allclose(a.weight, want)
    assert ema_decay_at(0, 0.999) == pytest.approx(0.1) and ema_decay_at(10**6, 0.999) == 0.999


def test_mode_seeking_is_image_distance_over_z_distance() -> None:
    z = torch.tensor([[0.0, 0.0], [2.0, 2.0]])
    same = torch.ones(2, 3, 4, 4)
    assert float(mode_seeking(same, z)) == 0.0  # z ignored: what the term penalises
    apart = torch.cat([torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)])
    assert float(mode_seeking(apart, z)) == pytest.approx(0.5)


def test_standing_stats_measure_the_generators_activations() -> None:
    gen = gan_model.build({**TINY, "categories": ["a", "b"], "colors": ["x"]})
    with torch.no_grad():
        gen.fc.weight.mul_(5.0)  # activations far from the fresh (0, 1) statistics
    ids = {"category": np.array([0, 1, 1]), "color": np.array([0, 0, 0])}
    standing_stats(gen, ids, batch=8, seed=0)
    var = gen.norm0.bn.running_var
    assert not gen.training and float(var.mean()) > 2.0 and gen.norm0.bn.momentum == 0.1


def test_cli_train_gan_and_classifier_json(catalogue, tmp_path) -> None:
    import json

    from click.testing import CliRunner

    from ptx.cli import LazyGroup

    group = LazyGroup(
        lazy={
            "gan": "ptx.training.cli.train_gan:train_gan_cmd",
            "classifier": "ptx.training.cli.train_classifier:train_classifier_cmd",
        }
    )
    args = ["gan", "--data", str(catalogue), "--out", str(tmp_path / "g"), "--steps", "2"]
    result = CliRunner().invoke(group, [*args, "--batch", "2", "--width", "2", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["steps"] == 2.0
    args = ["classifier", "--data", str(catalogue), "--out", str(tmp_path / "c"), "--steps", "2"]
    result = CliRunner().invoke(group, [*args, "--batch", "4", "--size", "16", "--json"])
    assert result.exit_code == 0, result.output
    assert 0.0 <= json.loads(result.stdout)["category_accuracy"] <= 1.0
    bad = CliRunner().invoke(group, ["gan", "--data", str(tmp_path / "nope"), "--out", "x"])
    assert bad.exit_code == 2 and bad.stderr.startswith("error:") and "no such folder" in bad.stderr


def test_real_batches_and_sample_grids_follow_the_specs_convention() -> None:
    from ptx.image import grid
    from ptx.spec import ImageConvention
    from ptx.training.gan.data import LabelledSet
    from ptx.training.gan.train import _batch, label_grid

    vocab = {"category": ["a", "b"], "color": ["x", "y", "z"]}
    spec = gan_model.make_spec({**TINY, "categories": vocab["category"], "colors": vocab["color"]})
    assert spec.image.range == (-1.0, 1.0)
    images = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    data = LabelledSet(images, {"category": np.zeros(5, np.int64)}, vocab)
    idx, keep = np.array([4, 1]), np.zeros(2, bool)
    x = _batch(data, idx, keep, spec.image).numpy()
    assert np.array_equal(x, spec.image.to_model(images[idx])) and x.min() >= -1

    class Grey(torch.nn.Module):  # every sample is the middle of the range
        latent = 4

        def forward(self, z, category, color):
            return torch.zeros(len(z), 3, 8, 8)

    for conv, value in ((spec.image, 128), (ImageConvention(range=(0.0, 1.0)), 0)):
        sheet = label_grid(Grey(), vocab, conv)
        tiles = [np.full((8, 8, 3), value, np.uint8)] * 6
        assert np.array_equal(sheet, grid(tiles, 3))  # one row per category
