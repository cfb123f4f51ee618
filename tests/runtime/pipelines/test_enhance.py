"""The enhance pipeline: in-memory arrays and folder runs (batching, skips, names, Ctrl-C)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ptx.errors import InputError, ModelError
from ptx.io import read_image, write_image
from ptx.runtime import load
from ptx.runtime.pipelines import enhance as enhance_mod
from ptx.runtime.pipelines.batching import Item, same_size_batches
from ptx.runtime.pipelines.enhance import enhance_arrays, enhance_path
from ptx.spec import ImageConvention


def test_enhance_arrays_keeps_order_and_sizes(models, helpers):
    images = [helpers.random_image(*hw, seed=i) for i, hw in enumerate([(8, 8), (8, 8), (5, 9)])]
    engine = load(models["affine"])
    for batch in (1, 2, 5):
        out = enhance_arrays(engine, images, batch=batch)
        for got, img in zip(out, images, strict=True):
            np.testing.assert_array_equal(got, helpers.expected_affine(img))


def test_enhance_arrays_pads_for_multiple_of_and_crops_back(models, helpers):
    images = [helpers.random_image(13, 21, 1), helpers.random_image(8, 8, 2)]
    out = enhance_arrays(load(models["swap"]), images, batch=4)
    for got, img in zip(out, images, strict=True):
        np.testing.assert_array_equal(got, img[..., ::-1])  # the model reverses the channels


def test_same_size_batches_never_mix_sizes(helpers):
    sizes = [(4, 4), (4, 4), (4, 4), (5, 4), (4, 4), (4, 4)]
    items = [Item(None, None, helpers.random_image(*s)) for s in sizes]
    groups = [[it.image.shape[:2] for it in g] for g in same_size_batches(items, 2)]
    assert groups == [[(4, 4), (4, 4)], [(4, 4)], [(5, 4)], [(4, 4), (4, 4)]]


@pytest.mark.parametrize("batch", [1, 3, 64])
def test_folder_run_counts_skips_and_keeps_names(models, photo_folder, tmp_path, helpers, batch):
    out = tmp_path / "out"
    summary = enhance_path(models["swap"], photo_folder, out, batch=batch, progress=False)
    assert summary.images == 5 and summary.failed == 2 and summary.backend == "onnxruntime"
    reasons = dict(summary.skipped)
    assert "empty file" in reasons[str(photo_folder / "empty.jpg")]
    assert str(photo_folder / "broken.png") in reasons
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["a.png", "b.png", "c.png", "sub/d.png", "sub/deeper/e.bmp"]
    for rel in written:
        np.testing.assert_array_equal(
            read_image(out / rel), read_image(photo_folder / rel)[..., ::-1]
        )
    assert (out / "sub/deeper/e.bmp").read_bytes()[:2] == b"BM"  # BMP stays BMP
    assert summary.images_per_s > 0 and summary.to_dict()["skipped"][0]["reason"]


def test_single_file_and_jpeg_output(models, tmp_path, helpers):
    src = tmp_path / "shot.jpg"
    write_image(src, helpers.random_image(12, 10, 3))
    summary = enhance_path(models["affine"], src, tmp_path / "out", progress=False)
    assert summary.images == 1 and summary.failed == 0
    assert (tmp_path / "out" / "shot.jpg").read_bytes()[:3] == b"\xff\xd8\xff"


def test_foreign_model_uses_the_given_convention(models, tmp_path, helpers):
    src = tmp_path / "in.png"
    img = helpers.random_image(6, 5, 8)
    write_image(src, img)
    conv = ImageConvention(layout="NHWC", range=(0.0, 255.0))
    enhance_path(models["invert"], src, tmp_path / "out", conv=conv, progress=False)
    np.testing.assert_array_equal(read_image(tmp_path / "out" / "in.png"), 255 - img)
    # Without a spec or flags: NHWC is guessed from the shape, the range defaults to 0..1.
    assert enhance_mod.image_convention(load(models["invert"])).layout == "NHWC"


def test_output_inside_input_is_not_read_back(models, photo_folder):
    out = photo_folder / "enhanced"
    first = enhance_path(models["affine"], photo_folder, out, progress=False)
    again = enhance_path(models["affine"], photo_folder, out, progress=False)
    assert first.images == again.images == 5
    shutil.rmtree(out)
    parent = enhance_path(models["affine"], photo_folder, photo_folder.parent, progress=False)
    assert parent.images == 5 and (photo_folder.parent / "sub" / "d.png").is_file()


def test_bad_inputs_and_models_are_one_line(models, tmp_path, helpers):
    with pytest.raises(InputError, match="no such file or folder"):
        enhance_path(models["affine"], tmp_path / "nope", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images found"):
        enhance_path(models["affine"], tmp_path / "empty", tmp_path / "out")
    write_image(tmp_path / "x.png", helpers.random_image(4, 4))
    with pytest.raises(InputError, match="would overwrite the input"):
        enhance_path(models["affine"], tmp_path / "x.png", tmp_path)
    with pytest.raises(ModelError, match="one 4-D image input"):
        enhance_path(models["two"], tmp_path / "x.png", tmp_path / "out")
    with pytest.raises(InputError, match="batch must be >= 1"):
        enhance_path(models["affine"], tmp_path / "x.png", tmp_path / "out", batch=0)


def test_batches_the_model_rejects_are_skipped_not_fatal(tmp_path, helpers):
    model = helpers.affine_model(tmp_path / "fixed.onnx", shape=[1, 3, 8, 8])
    write_image(tmp_path / "in" / "ok.png", helpers.random_image(8, 8, 1))
    write_image(tmp_path / "in" / "wrong.png", helpers.random_image(9, 8, 2))
    summary = enhance_path(model, tmp_path / "in", tmp_path / "out", progress=False)
    assert summary.images == 1 and summary.failed == 1
    assert "axis 2 must be 8, got 9" in dict(summary.skipped)[str(tmp_path / "in" / "wrong.png")]


@pytest.mark.parametrize("where", ["mid-write", "engine"])
def test_ctrl_c_leaves_no_half_written_image(models, photo_folder, tmp_path, monkeypatch, where):
    from ptx.io import atomic_path

    calls = []

    def half_write_then_interrupt(path, data):
        calls.append(path)
        with atomic_path(path) as tmp:
            tmp.write_bytes(data[: len(data) // 2])
            if len(calls) == 3:  # Ctrl-C with half the bytes on disk
                raise KeyboardInterrupt
            tmp.write_bytes(data)

    engine = load(models["affine"])
    if where == "mid-write":
        monkeypatch.setitem(
            enhance_mod.save_image.__globals__, "atomic_write_bytes", half_write_then_interrupt
        )
    else:
        real_run = engine.run

        def run_then_interrupt(feeds):
            calls.append(feeds)
            if len(calls) == 3:
                raise KeyboardInterrupt
            return real_run(feeds)

        monkeypatch.setattr(engine, "run", run_then_interrupt)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        enhance_path(engine, photo_folder, out, batch=1, progress=False, workers=1)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert 1 <= len(files) < 5  # the run stopped early
    if where == "mid-write":
        assert not calls[2].exists()  # the interrupted image is absent, not half there
    assert not [p for p in files if p.name.endswith(".part") or p.name.startswith(".")]
    for p in files:
        assert read_image(p).shape[2] == 3  # each is whole


def test_images_over_the_pixel_limit_are_skipped(models, tmp_path, helpers, monkeypatch):
    write_image(tmp_path / "in" / "small.png", helpers.random_image(8, 8, 1))
    write_image(tmp_path / "in" / "large.png", helpers.random_image(20, 20, 2))
    monkeypatch.setenv("PTX_MAX_PIXELS", "100")
    summary = enhance_path(models["affine"], tmp_path / "in", tmp_path / "out", progress=False)
    assert summary.images == 1 and summary.failed == 1
    assert "over the" in dict(summary.skipped)[str(tmp_path / "in" / "large.png")]


def test_strength_applies_that_fraction_of_the_edit(models, photo_folder, tmp_path, helpers):
    from click.testing import CliRunner

    from ptx.runtime.cli.run_enhance import enhance_cmd

    engine = load(models["affine"])
    img = helpers.random_image(16, 24, 1)
    full = enhance_arrays(engine, [img])[0]
    assert np.array_equal(enhance_arrays(engine, [img], strength=0.0)[0], img)
    half = enhance_arrays(engine, [img], strength=0.5)[0].astype(np.float64)
    want = img + 0.5 * (full.astype(np.float64) - img)
    assert np.abs(half - want).max() <= 0.5 + 1e-9  # rounded to the nearest level
    out = tmp_path / "half"
    args = ["--model", str(models["affine"]), "--input", str(photo_folder), "--out", str(out)]
    result = CliRunner().invoke(enhance_cmd, [*args, "--strength", "0.5", "--no-progress"])
    assert result.exit_code == 0, result.output
    got = read_image(out / "a.png").astype(np.float64)
    src = read_image(photo_folder / "a.png")
    assert (
        np.abs(got - (src + 0.5 * (enhance_arrays(engine, [src])[0] - src.astype(float)))).max()
        <= 0.5 + 1e-9
    )
    with pytest.raises(InputError, match="strength must be in 0..1"):
        enhance_arrays(engine, [img], strength=1.5)
