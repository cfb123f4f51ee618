"""`ptx run enhance`: the shipped model by default, --strength checked first, --max-pixels."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from ptx.cli import main
from ptx.io import read_image, write_image
from ptx.runtime.pipelines.enhance import SHIPPED_MODEL


def _run(*args: str):
    return CliRunner().invoke(main, ["run", "enhance", *args])


def test_without_model_runs_the_enhancer_that_ships(tmp_path):
    assert SHIPPED_MODEL.is_file()
    img = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    write_image(tmp_path / "in" / "a.png", img)
    res = _run("--input", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
               "--backend", "onnxruntime", "--no-progress")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "1 images, 0 failed" in res.stdout
    assert read_image(tmp_path / "out" / "a.png").shape == img.shape


def test_bad_strength_is_one_line_before_the_model_loads(tmp_path):
    write_image(tmp_path / "in" / "a.png", np.zeros((8, 8, 3), np.uint8))
    res = _run("--model", str(tmp_path / "missing.onnx"), "--input", str(tmp_path / "in"),
               "--out", str(tmp_path / "out"), "--strength", "2")  # fmt: skip
    assert res.exit_code != 0
    assert "--strength must be in 0..1, got 2.0" in res.output and "missing" not in res.output
    assert not (tmp_path / "out").exists()


def test_max_pixels_tiles_a_large_photo(tmp_path, models):
    img = np.random.default_rng(1).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    write_image(tmp_path / "in" / "a.png", img)
    args = ["--model", str(models["affine"]), "--input", str(tmp_path / "in"), "--no-progress"]
    whole = _run(*args, "--out", str(tmp_path / "whole"), "--max-pixels", "0")
    tiled = _run(*args, "--out", str(tmp_path / "tiled"), "--max-pixels", "40000")
    assert whole.exit_code == 0 and tiled.exit_code == 0, tiled.output
    # a pointwise model: tiles and one global curve give the untiled pixels back
    a = read_image(tmp_path / "whole" / "a.png").astype(int)
    b = read_image(tmp_path / "tiled" / "a.png").astype(int)
    assert np.abs(a - b).max() <= 1
    bad = _run(*args, "--out", str(tmp_path / "bad"), "--max-pixels", "-5")
    assert bad.exit_code != 0 and "--max-pixels must be >= 0" in bad.output


def test_a_display_p3_photo_comes_back_as_its_viewer_saw_it(tmp_path):
    """A clean P3-tagged photo (as phones shoot): the output, read as sRGB, is the photo."""
    import io

    import skimage.data
    from PIL import Image, ImageCms

    from ptx.benchmarks.harness.icc_profiles import matrix_profile

    photo = skimage.data.coffee()
    icc = matrix_profile("display-p3")
    to_p3 = ImageCms.buildTransform(
        ImageCms.createProfile("sRGB"), ImageCms.ImageCmsProfile(io.BytesIO(icc)), "RGB", "RGB"
    )
    (tmp_path / "in").mkdir()
    ImageCms.applyTransform(Image.fromarray(photo), to_p3).save(
        tmp_path / "in" / "p3.png", icc_profile=icc
    )
    res = _run("--input", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
               "--backend", "onnxruntime", "--no-progress")  # fmt: skip
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "out" / "p3.png") as out:
        assert "icc_profile" not in out.info  # untagged: sRGB by every viewer's rule
        shown = np.asarray(out.convert("RGB"), dtype=np.float64)
    mse = np.mean((shown - photo) ** 2)
    assert 10 * np.log10(255.0**2 / mse) > 44  # read as sRGB without conversion: ~27 dB


def test_the_shipped_enhancer_leaves_sharpened_and_unfiltered_resized_photos_alone():
    """Detail is not noise: unsharp-masked (as catalogues do) or nearest-resized clean photos
    read 8-9 levels of 'noise' on the whole image and came back softened (coffee 31-33 dB)."""
    import skimage.data
    from PIL import Image, ImageFilter

    from ptx.runtime import load
    from ptx.runtime.pipelines.enhance import enhance_arrays

    engine = load(SHIPPED_MODEL, backend="onnxruntime")
    photos = []
    for name in ("coffee", "astronaut"):
        img = getattr(skimage.data, name)()
        sharp = Image.fromarray(img).filter(ImageFilter.UnsharpMask(1.0, 80, 0))
        photos += [np.asarray(sharp), np.ascontiguousarray(img[::2, ::2])]
    for photo, out in zip(photos, enhance_arrays(engine, photos), strict=True):
        mse = np.mean((out.astype(np.float64) - photo) ** 2)
        assert mse < 255.0**2 / 10**4.0, mse  # above 40 dB


def test_a_cut_out_keeps_its_transparency_through_a_folder_run(tmp_path):
    """PNG and WebP cut-outs come back with their alpha; a JPEG output stays on white."""
    from PIL import Image

    h, w = 48, 64
    yy, xx = np.mgrid[0:h, 0:w]
    alpha = np.clip((18 - np.hypot(yy - h / 2, xx - w / 2)) * 40, 0, 255).astype(np.uint8)
    rgba = np.dstack([np.full((h, w, 3), (40, 90, 170), np.uint8), alpha])
    (tmp_path / "in").mkdir()
    Image.fromarray(rgba, "RGBA").save(tmp_path / "in" / "cut.png")
    Image.fromarray(rgba, "RGBA").save(tmp_path / "in" / "cut.webp", lossless=True)
    Image.fromarray(rgba[..., :3]).save(tmp_path / "in" / "plain.jpg")
    res = _run("--input", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
               "--backend", "onnxruntime", "--no-progress")  # fmt: skip
    assert res.exit_code == 0, res.output
    for name in ("cut.png", "cut.webp"):
        with Image.open(tmp_path / "out" / name) as img:
            assert img.mode == "RGBA", name
            out = np.asarray(img)
        np.testing.assert_array_equal(out[..., 3], alpha)
        edge = (alpha >= 64) & (alpha < 255)
        # the model saw the product on white; its output is taken off the white again
        assert np.abs(out[edge][:, :3].astype(int) - (40, 90, 170)).max() <= 8, name
    with Image.open(tmp_path / "out" / "plain.jpg") as img:
        assert img.mode == "RGB"


def test_a_clean_studio_jpeg_comes_back_at_its_own_quality(tmp_path):
    """4:4:4 at quality 95: rewritten with its own tables, not quality 95 with 4:2:0 (30 dB)."""
    import skimage.data
    from PIL import Image

    (tmp_path / "in").mkdir()
    Image.fromarray(skimage.data.coffee()).save(
        tmp_path / "in" / "c.jpg", quality=95, subsampling=0
    )
    res = _run("--input", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
               "--backend", "onnxruntime", "--no-progress")  # fmt: skip
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "in" / "c.jpg") as a, Image.open(tmp_path / "out" / "c.jpg") as b:
        assert a.quantization == b.quantization
    src, out = (read_image(tmp_path / d / "c.jpg").astype(np.float64) for d in ("in", "out"))
    assert 10 * np.log10(255.0**2 / np.mean((src - out) ** 2)) > 45
