"""The enhance training loop: checkpoints, TensorBoard, resume, learning, and refusals."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from ptx.errors import InputError, ModelError
from ptx.io import write_image
from ptx.training.common import registry
from ptx.training.common.checkpoint import load_state, read_spec, save_checkpoint
from ptx.training.data.degrade import DegradeConfig
from ptx.training.data.files import split_files
from ptx.training.enhance.data import make_batch
from ptx.training.enhance.train import _train_step, evaluate_pairs, train_enhance

TINY = dict(batch=4, patch=32, checkpoint_every=3, threads=1, progress=False)


def _scene(rng: np.random.Generator, size: int = 40) -> np.ndarray:
    """A studio-like image: light background, a coloured block, a soft gradient."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = np.full((size, size, 3), 235.0) * (1 - 0.2 * yy[..., None])
    y0, x0 = rng.integers(4, size // 2, 2)
    img[y0 : y0 + size // 3, x0 : x0 + size // 3] = rng.integers(20, 230, 3)
    return img.astype(np.uint8)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> object:
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(10):
        rel = f"items/img_{i:02d}.png"
        write_image(root / rel, _scene(rng))
        rows.append({"path": rel, "split": "val" if i >= 8 else "train"})
    with open(root / "labels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["path", "split"])
        w.writeheader()
        w.writerows(rows)
    return root


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory) -> tuple[object, dict]:
    out = tmp_path_factory.mktemp("ckpt")
    fam = registry.get("enhance")
    metrics = train_enhance(data, out, steps=4, config=fam.test_config, **TINY)
    return out, metrics


def test_split_follows_labels_csv(data) -> None:
    train, val = split_files(data, 0.5, seed=0)
    assert len(train) == 8 and len(val) == 2
    assert all("img_08" in p.name or "img_09" in p.name for p in val)


def test_writes_checkpoint_spec_metrics_and_tensorboard(trained) -> None:
    out, metrics = trained
    assert (out / "model.safetensors").is_file() and (out / "state.pt").is_file()
    spec = read_spec(out)
    assert spec.family == "enhance" and spec.metrics["steps"] == 4
    for key in ("val_psnr", "val_ssim", "val_psnr_degraded", "val_ssim_degraded"):
        assert np.isfinite(metrics[key]) and spec.metrics[key] == pytest.approx(metrics[key])
    assert metrics["held_out_images"] == 2
    events = list((out / "tb").glob("events.out.tfevents.*"))
    assert events and sum(e.stat().st_size for e in events) > 1000
    assert not list(out.glob(".*.part"))  # no temp files left behind


def test_resume_continues_the_step_count(trained, data) -> None:
    out, _ = trained
    fam = registry.get("enhance")
    metrics = train_enhance(data, out, steps=7, resume=True, config=fam.test_config, **TINY)
    assert metrics["steps"] == 7
    assert load_state(out)["step"] == 7
    assert read_spec(out).metrics["steps"] == 7


def test_batches_are_a_pure_function_of_seed_and_step(data) -> None:
    from ptx.io import read_image

    imgs = [read_image(p) for p in sorted(data.rglob("*.png"))]
    conv = registry.get("enhance").make_spec({}).image
    a = make_batch(imgs, 3, 32, 5, 11, DegradeConfig(), conv)
    b = make_batch(imgs, 3, 32, 5, 11, DegradeConfig(), conv)
    c = make_batch(imgs, 3, 32, 5, 12, DegradeConfig(), conv)
    assert a[0].shape == (3, 3, 32, 32) and a[0].dtype == np.float32
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_batches_hold_clean_pairs_and_degraded_ones(data) -> None:
    """About CLEAN_FRACTION of the pairs are clean -> clean ("leave a good photo alone")."""
    from ptx.io import read_image
    from ptx.training.enhance.data import CLEAN_FRACTION

    imgs = [read_image(p) for p in sorted(data.rglob("*.png"))]
    conv = registry.get("enhance").make_spec({}).image
    noisy, clean = make_batch(imgs, 64, 32, 0, 0, DegradeConfig(), conv)
    same = np.array([np.array_equal(a, b) for a, b in zip(noisy, clean, strict=True)])
    assert 0.1 < CLEAN_FRACTION < 0.45
    assert 0.5 * CLEAN_FRACTION < same.mean() < 2 * CLEAN_FRACTION, same.mean()


def test_loss_falls_when_overfitting_one_batch(data) -> None:
    import torch

    from ptx.io import read_image

    torch.manual_seed(0)
    torch.set_num_threads(1)
    fam = registry.get("enhance")
    imgs = [read_image(p) for p in sorted(data.rglob("*.png"))[:2]]
    pair = make_batch(imgs, 4, 32, 0, 0, DegradeConfig(), fam.make_spec({}).image)
    # keep_white 0 can fit the whole batch; the default cannot take a brightened pair's white
    # back below white, so its loss falls less (a floor, not an optimiser fault).
    for keep_white, fall in ((0, 0.7), (1, 0.8)):
        model = fam.build({**fam.test_config, "keep_white": keep_white}).train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
        losses = [_train_step(model, opt, pair) for _ in range(40)]
        assert min(losses[-5:]) < fall * losses[0], (keep_white, losses)


def test_resume_refuses_another_family(tmp_path, data) -> None:
    from ptx.spec import ModelSpec

    fam = registry.get("enhance")
    save_checkpoint(tmp_path, fam.build(fam.test_config), ModelSpec(task="custom", family="custom"))
    with pytest.raises(ModelError, match="'custom' model, not 'enhance'"):
        train_enhance(data, tmp_path, steps=2, resume=True, **TINY)


def test_cli_one_line_errors_and_json(tmp_path, data) -> None:
    from ptx.cli import main
    from ptx.spec import ModelSpec

    fam = registry.get("enhance")
    save_checkpoint(tmp_path / "other", fam.build({}), ModelSpec(task="custom", family="custom"))
    runner = CliRunner()
    base = ["train", "enhance", "--data", str(data)]
    res = runner.invoke(main, [*base, "--out", str(tmp_path / "other"), "--resume"])
    assert res.exit_code == 2 and "error:" in res.output and "not 'enhance'" in res.output
    res = runner.invoke(main, ["train", "enhance", "--data", str(tmp_path / "nope"), "--out", "x"])
    assert res.exit_code == 2 and "no such file or folder" in res.output
    res = runner.invoke(main, [*base, "--out", str(tmp_path / "new"), "--resume"])
    assert res.exit_code == 2 and "nothing to resume" in res.output
    res = runner.invoke(
        main,
        [
            *base,
            "--out",
            str(tmp_path / "cli"),
            "--steps",
            "2",
            "--batch",
            "2",
            "--patch",
            "32",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["steps"] == 2 and (tmp_path / "cli" / "spec.json").is_file()


def test_bad_arguments_are_refused(tmp_path, data) -> None:
    with pytest.raises(InputError, match="patch >= 16"):
        train_enhance(data, tmp_path, steps=1, patch=8)
    with pytest.raises(InputError, match="no images found"):
        train_enhance(tmp_path, tmp_path / "o", steps=1)


def test_vary_look_changes_exposure_but_keeps_the_image() -> None:
    from ptx.training.enhance.data import vary_look

    rng = np.random.default_rng(0)
    img = _scene(rng)
    outs = [vary_look(img, np.random.default_rng(s)) for s in range(20)]
    assert all(o.shape == img.shape and o.dtype == np.uint8 for o in outs)
    assert any(np.array_equal(o, img) for o in outs)  # some crops keep the studio look
    darker = [o for o in outs if o.mean() < img.mean() - 10]
    assert darker
    assert np.array_equal(vary_look(img, np.random.default_rng(3)), outs[3])


def test_white_keeping_looks_leave_a_white_backdrop_white() -> None:
    from ptx.training.enhance.data import LOOK_WHITE, vary_look
    from ptx.training.enhance.model import make_spec

    rng = np.random.default_rng(0)
    img = _scene(rng)
    img[:8] = 255  # a strip of pure-white backdrop
    outs = [vary_look(img, np.random.default_rng(s), keep_white=1.0) for s in range(20)]
    assert all((o[:8] == 255).all() for o in outs)
    assert sum(not np.array_equal(o, img) for o in outs) >= 10  # mid-tones still vary
    # The default (the cut-out's call) draws what it always drew.
    plain = [vary_look(img, np.random.default_rng(s)) for s in range(20)]
    assert sum((o[:8] < 250).all() for o in plain) >= 10
    # Enhance batches use it: with a white clean crop, a share of the clean targets stay white.
    assert 0.2 <= LOOK_WHITE <= 0.8
    white = np.full((64, 64, 3), 255, np.uint8)
    conv = make_spec({}).image
    _, clean = make_batch([white], 64, 32, seed=1, step=0, cfg=DegradeConfig(), conv=conv)
    kept = (clean.reshape(64, -1).min(axis=1) > 254.5 / 255).mean()  # as rendered or kept white
    assert 0.3 + 0.7 * LOOK_WHITE - 0.2 <= kept <= 0.3 + 0.7 * LOOK_WHITE + 0.2


def test_batches_and_scores_go_through_the_specs_convention(data) -> None:
    import torch

    from ptx.io import read_image
    from ptx.spec import ImageConvention

    imgs = [read_image(p) for p in sorted(data.rglob("*.png"))[:3]]
    unit = registry.get("enhance").make_spec({}).image
    signed = ImageConvention(range=(-1.0, 1.0))
    a = make_batch(imgs, 2, 32, 0, 0, DegradeConfig(), unit)
    b = make_batch(imgs, 2, 32, 0, 0, DegradeConfig(), signed)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(y, 2 * x - 1, atol=1e-6)
    pairs = [(imgs[0], imgs[1])]
    for conv in (unit, signed):  # the identity gives back its input under any convention
        got = evaluate_pairs(torch.nn.Identity(), pairs, conv)
        assert got["val_psnr"] == got["val_psnr_degraded"]


def test_texture_crops_are_real_detail_in_random_colours() -> None:
    """Package textures (never the evaluation photos) give crops with real high-frequency detail."""
    from ptx.training.enhance.data import TEXTURES, package_textures, texture_crop

    textures = package_textures()
    assert len(textures) == len(TEXTURES) and all(t.ndim == 2 for t in textures)
    crops = [texture_crop(textures[0], 32, np.random.default_rng(s)) for s in range(4)]
    assert all(c.shape == (32, 32, 3) and c.dtype == np.uint8 for c in crops)
    assert len({tuple(c.reshape(-1, 3).mean(0).round()) for c in crops}) == 4  # random colours
    assert all(np.abs(np.diff(c.astype(np.float32), axis=1)).mean() > 2 for c in crops)


def test_batches_take_some_crops_from_textures(data) -> None:
    from ptx.io import read_image
    from ptx.training.enhance.data import package_textures

    imgs = [read_image(p) for p in sorted(data.rglob("*.png"))]
    conv = registry.get("enhance").make_spec({}).image
    plain = make_batch(imgs, 16, 32, 0, 0, DegradeConfig(), conv)
    mixed = make_batch(imgs, 16, 32, 0, 0, DegradeConfig(), conv, package_textures())
    assert plain[0].shape == mixed[0].shape and not np.array_equal(plain[1], mixed[1])


def test_tone_loss_does_not_reward_flattening_a_noisy_image() -> None:
    """Scored per pixel, a flatter curve wins on a noisy input; on block means, leaving it wins."""
    import torch

    from ptx.training.enhance.train import _loss, tone_loss

    g = torch.Generator().manual_seed(0)
    clean = torch.rand(2, 3, 8, 8, generator=g).repeat_interleave(4, 2).repeat_interleave(4, 3)
    noisy = clean + 0.15 * torch.randn(clean.shape, generator=g)
    flat = 0.5 + 0.7 * (noisy - 0.5)  # what per-pixel MSE asks of a curve under noise
    assert float(_loss(flat, clean)) < float(_loss(noisy, clean))
    assert float(tone_loss(noisy, clean)) < float(tone_loss(flat, clean))
