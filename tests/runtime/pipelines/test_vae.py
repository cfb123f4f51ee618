"""VAE pipelines on tiny exported models: sample, reconstruct, interpolate, pair checks, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from ptx.errors import InputError
from ptx.io import read_image, write_image
from ptx.runtime.pipelines import vae

SIZE = 16


def _export(tmp: Path, family: str, latent: int, seed: int) -> Path:
    import torch

    from ptx.export.pytorch.export import export_checkpoint
    from ptx.training.common import registry
    from ptx.training.common.checkpoint import save_checkpoint

    fam = registry.get(family)
    cfg = fam.config(image_size=SIZE, latent=latent, width=4)
    torch.manual_seed(seed)
    module = fam.build(cfg)
    with torch.no_grad():  # untrained nets map everything to about one image: spread them out
        for p in module.parameters():
            p.add_(0.2 * torch.randn(p.shape))
    ckpt = save_checkpoint(tmp / f"{family}-{latent}", module, fam.make_spec(cfg))
    out = tmp / f"{family}-{latent}.onnx"
    export_checkpoint(ckpt, out, exporter="torchscript", opset=17, check_parity=False)
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("vae")
    return {
        "enc": _export(tmp, "vae-encoder", 8, 0),
        "dec": _export(tmp, "vae-decoder", 8, 1),
        "dec6": _export(tmp, "vae-decoder", 6, 2),
    }


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    write_image(root / "a.png", rng.integers(0, 256, (24, 30, 3), dtype=np.uint8))
    write_image(root / "sub" / "b.png", np.full((SIZE, SIZE, 3), 200, np.uint8))
    (root / "broken.png").write_bytes(b"not a png")
    return root


def test_sampling_is_seeded(models: dict[str, Path]) -> None:
    pair = vae.open_pair(models["dec"])
    a, b, c = vae.sample(pair, 3, seed=4), vae.sample(pair, 3, seed=4), vae.sample(pair, 3, seed=5)
    assert len(a) == 3 and a[0].shape == (SIZE, SIZE, 3) and a[0].dtype == np.uint8
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])
    with pytest.raises(InputError, match="--sample"):
        vae.sample(pair, 0)
    with pytest.raises(InputError, match="no fitted prior"):
        vae.sample(pair, 1, prior="fitted")


def test_fitted_prior_shapes_the_draws(models: dict[str, Path]) -> None:
    pair = vae.open_pair(models["dec"])
    k = pair.latent
    mean = np.linspace(-1, 1, k)
    chol = np.tril(np.full((k, k), 0.1)) + np.eye(k)
    pair.decoder.spec.config["prior"] = {
        "mean": mean.tolist(), "chol": [list(r[: i + 1]) for i, r in enumerate(chol)]
    }  # fmt: skip
    got_mean, got_chol = vae.fitted_prior(pair)
    np.testing.assert_allclose(got_mean, mean)
    np.testing.assert_allclose(got_chol, chol)
    fitted = vae.sample(pair, 2, seed=3)
    standard = vae.sample(pair, 2, seed=3, prior="standard")
    eps = np.random.default_rng(3).standard_normal((2, k))
    want = vae.decode(pair, (mean + eps @ chol.T).astype(np.float32))
    assert all(np.array_equal(a, b) for a, b in zip(fitted, want, strict=True))
    assert not np.array_equal(fitted[0], standard[0])


def test_reconstruct_and_interpolate(models: dict[str, Path], photos: Path) -> None:
    pair = vae.open_pair(models["dec"], models["enc"])
    assert pair.latent == 8 and pair.size == SIZE
    a, b = read_image(photos / "a.png"), read_image(photos / "sub" / "b.png")
    rec = vae.reconstruct(pair, [a, b])
    path = vae.interpolate(pair, a, b, steps=5)
    assert len(path) == 5 and path[0].shape == (SIZE, SIZE, 3)
    # The ends of the path are the two photos' reconstructions.
    assert np.abs(path[0].astype(int) - rec[0]).max() <= 1
    assert np.abs(path[-1].astype(int) - rec[1]).max() <= 1
    assert not np.array_equal(path[2], path[0])


def test_photos_meet_the_encoder_by_its_spec_fit(
    models: dict[str, Path], photos: Path, tmp_path: Path
) -> None:
    """The encoder spec's ``fit`` decides (was a hard-coded centre crop); ``pad``, what a
    spec without ``fit`` reads as, keeps the crop: a fixed-size encoder cannot pad."""
    import shutil
    from dataclasses import replace

    import onnx

    from ptx.image import fit
    from ptx.spec import ModelSpec, embed_in_onnx

    a = read_image(photos / "a.png")  # 24 x 30: not square, not the encoder's size
    pair = vae.open_pair(models["dec"], models["enc"])
    np.testing.assert_array_equal(pair.fit_image(a), fit(a, SIZE, SIZE, "crop"))
    legacy = replace(pair, enc_conv=replace(pair.encoder_conv, fit="pad"))
    np.testing.assert_array_equal(legacy.fit_image(a), fit(a, SIZE, SIZE, "crop"))
    # A spec that records another fit is followed, by encode() too.
    path = tmp_path / "enc-letterbox.onnx"
    shutil.copy(models["enc"], path)
    model = onnx.load(str(path))
    spec = ModelSpec.from_json(next(p.value for p in model.metadata_props if p.key == "ptx.spec"))
    spec.image = replace(spec.image, fit="letterbox")
    embed_in_onnx(model, spec)
    onnx.save(model, str(path))
    boxed = vae.open_pair(models["dec"], path)
    assert boxed.encoder_conv.fit == "letterbox"
    np.testing.assert_array_equal(boxed.fit_image(a), fit(a, SIZE, SIZE, "letterbox"))
    assert not np.array_equal(boxed.fit_image(a), pair.fit_image(a))
    mean, _ = vae.encode(boxed, [a])
    np.testing.assert_allclose(mean, vae.encode(pair, [boxed.fit_image(a)])[0], rtol=1e-5)


def test_path_points_ends_and_norms() -> None:
    a, b = np.array([3.0, 0.0], np.float32), np.array([0.0, 1.0], np.float32)
    pts = vae.path_points(a, b, 5, "slerp")
    np.testing.assert_allclose(pts[0], a, atol=1e-6)
    np.testing.assert_allclose(pts[-1], b, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(pts, axis=1), np.linspace(3, 1, 5), atol=1e-5)
    np.testing.assert_allclose(vae.path_points(a, b, 3, "lerp")[1], [1.5, 0.5])
    with pytest.raises(InputError, match="--steps"):
        vae.path_points(a, b, 1)


def test_latent_mismatch_is_one_clear_line(models: dict[str, Path], photos: Path) -> None:
    from ptx.cli import LazyGroup

    with pytest.raises(InputError, match="latent size 8 but decoder .* has 6"):
        vae.open_pair(models["dec6"], models["enc"])
    # The command under ptx's own error handling (the lead wires it into `ptx run`).
    group = LazyGroup(name="run", lazy={"vae": "ptx.runtime.cli.run_vae:run_vae_cmd"})
    res = CliRunner().invoke(
        group,
        ["vae", "--encoder", str(models["enc"]), "--decoder", str(models["dec6"]),
         "--interpolate", str(photos / "a.png"), str(photos / "sub" / "b.png"),
         "--out", str(photos.parent / "never")],
    )  # fmt: skip
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: encoder")
    assert "latent size 8" in lines[0] and "has 6" in lines[0]
    assert not (photos.parent / "never").exists()


def test_cli_modes_write_images_and_strips(
    models: dict[str, Path], photos: Path, tmp_path: Path
) -> None:
    from ptx.runtime.cli.run_vae import run_vae_cmd

    enc, dec = str(models["enc"]), str(models["dec"])
    strip = tmp_path / "strip.png"
    res = CliRunner().invoke(
        run_vae_cmd,
        ["--encoder", enc, "--decoder", dec, "--interpolate", str(photos / "a.png"),
         str(photos / "sub" / "b.png"), "--steps", "4", "--out", str(tmp_path / "i"),
         "--strip", str(strip), "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    assert got["images"] == 4 and len(list((tmp_path / "i").glob("*.png"))) == 4
    assert read_image(strip).shape == (SIZE + 4, 6 * SIZE + 7 * 2, 3)  # a, 4 steps, b

    res = CliRunner().invoke(
        run_vae_cmd,
        ["--encoder", enc, "--decoder", dec, "--reconstruct", str(photos),
         "--out", str(tmp_path / "r"), "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    assert got["images"] == 2 and len(got["skipped"]) == 1
    assert (tmp_path / "r" / "a.png").is_file() and (tmp_path / "r" / "sub" / "b.png").is_file()

    res = CliRunner().invoke(
        run_vae_cmd, ["--decoder", dec, "--sample", "3", "--out", str(tmp_path / "s")]
    )
    assert res.exit_code == 0, res.output
    assert "3 images" in res.output

    res = CliRunner().invoke(
        run_vae_cmd, ["--decoder", dec, "--sample", "2", "--reconstruct", str(photos),
                      "--out", str(tmp_path / "x")]
    )  # fmt: skip
    assert res.exit_code != 0 and isinstance(res.exception, InputError)
    assert "exactly one" in str(res.exception)


def test_runtime_vae_modules_do_not_import_torch() -> None:
    code = (
        "import sys, ptx.runtime.pipelines.vae, ptx.runtime.pipelines.stylize, "
        "ptx.runtime.cli.run_vae, ptx.runtime.cli.run_stylize; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
