"""`ptx run <task> --trial-shape`, and its default: the shape the first photo runs at."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper
from PIL import Image

from ptx.cli import main
from ptx.io import read_image, write_image
from ptx.runtime import load
from ptx.runtime.backends.auto import select
from ptx.runtime.backends.auto.cache import CACHE_SUFFIX
from ptx.runtime.cli._common import (
    auto_trial_file,
    batch_shapes,
    image_trial_shapes,
    photo_size,
)
from ptx.runtime.pipelines.enhance import enhance_path
from ptx.spec import ImageConvention, ModelSpec, ShapeProfile, TensorSpec, embed_in_onnx

NCHW = ["batch", 3, "height", "width"]
TRYON_INPUTS = ("garment", "mannequin")
TASKS = ("enhance", "stylize", "cutout", "tryon", "generate")


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_CACHE_DIR", str(tmp_path / "user-cache"))
    monkeypatch.delenv("PTX_BACKEND", raising=False)  # conftest pins auto to ONNX Runtime
    monkeypatch.setattr(select, "TRIAL_BUDGET_S", 0.0)


def run(*args: str):
    return CliRunner().invoke(main, ["run", *args])


def trial_keys(model: Path) -> list[str]:
    """The shape part of each auto decision cached beside ``model``."""
    doc = json.loads(model.with_name(model.name + CACHE_SUFFIX).read_text())
    return [key.split("|")[0] for key in doc["choices"]]


def respec(path: Path, **fields) -> Path:
    """Re-embed the affine test model's spec with other fields (task, image, profile...)."""
    model = onnx.load(str(path))
    spec = dict(
        task="enhance",
        family="test",
        inputs=[TensorSpec("image", "float32", NCHW)],
        outputs=[TensorSpec("out", "float32", NCHW)],
        image=ImageConvention(multiple_of=8),  # the swap model needs it
    )
    embed_in_onnx(model, ModelSpec(**{**spec, **fields}))
    onnx.save(model, str(path))
    return path


def cutout_model(path: Path) -> Path:
    """alpha = mean over channels: one image in, one 1-channel map out, a cutout spec."""
    node = helper.make_node("ReduceMean", ["image"], ["alpha"], axes=[1], keepdims=1)
    graph = helper.make_graph(
        [node],
        "cutout",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, NCHW)],
        [helper.make_tensor_value_info("alpha", TensorProto.FLOAT, ["batch", 1, "h", "w"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    spec = ModelSpec(
        task="cutout",
        family="cutout",
        inputs=[TensorSpec("image", "float32", NCHW)],
        outputs=[TensorSpec("alpha", "float32", ["batch", 1, "height", "width"])],
        image=ImageConvention(),
        profile=ShapeProfile(
            min={"image": [1, 3, 8, 8]},
            opt={"image": [1, 3, 16, 16]},
            max={"image": [1, 3, 64, 64]},
        ),
        config={"work_side": 16},
    )
    embed_in_onnx(model, spec)
    onnx.save(model, str(path))
    return path


def tryon_model(path: Path) -> Path:
    """tryon = (garment + mannequin) / 2 at side 16."""
    shape = ["batch", 3, 16, 16]
    nodes = [helper.make_node("Add", ["garment", "mannequin"], ["s"]),
             helper.make_node("Mul", ["s", "half"], ["tryon"])]  # fmt: skip
    half = onnx.numpy_helper.from_array(np.array(0.5, np.float32), "half")
    graph = helper.make_graph(
        nodes,
        "tryon",
        [
            helper.make_tensor_value_info(n, TensorProto.FLOAT, shape)
            for n in ("garment", "mannequin")
        ],
        [helper.make_tensor_value_info("tryon", TensorProto.FLOAT, shape)],
        [half],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    spec = ModelSpec(
        task="tryon",
        family="tryon",
        inputs=[TensorSpec(n, "float32", shape) for n in TRYON_INPUTS],
        outputs=[TensorSpec("tryon", "float32", shape)],
        image=ImageConvention(),
        config={"side": 16},
    )
    embed_in_onnx(model, spec)
    onnx.save(model, str(path))
    return path


# -- the default, without a trial ------------------------------------------------
def test_photo_size_reads_the_header_and_turns_with_exif(tmp_path, helpers):
    path = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    Image.fromarray(helpers.random_image(20, 30)).save(path, exif=exif)
    assert photo_size(path) == (30, 20) == read_image(path).shape[:2]
    write_image(tmp_path / "plain.png", helpers.random_image(20, 30))
    assert photo_size(tmp_path / "plain.png") == (20, 30)


def test_no_default_where_no_trial_runs(models, tmp_path, monkeypatch):
    affine = models["affine"]
    assert auto_trial_file(affine, "auto", "cpu", "auto").inputs[0].name == "image"
    assert auto_trial_file(affine, "onnxruntime", "cpu", "auto") is None
    assert auto_trial_file(affine, "auto", "cuda", "auto") is None
    assert auto_trial_file(affine, "auto", "cpu", "bf16") is None  # OpenVINO by name
    assert auto_trial_file(tmp_path / "m.plan", "auto", "cpu", "auto") is None
    assert auto_trial_file(tmp_path / "missing.onnx", "auto", "cpu", "auto") is None
    monkeypatch.setenv("PTX_BACKEND", "onnxruntime")
    assert auto_trial_file(affine, "auto", "cpu", "auto") is None


def test_the_default_is_the_shape_the_first_model_call_gets(models, tmp_path, helpers):
    """enhance_path's own calls decide: plain, padded, NHWC, batched and tiled photos."""
    cases = [
        (models["affine"], (16, 24), 1, None),  # the photo as it is
        (models["swap"], (20, 12), 1, None),  # padded to the spec's multiple of 8
        (models["invert"], (20, 12), 1, None),  # a foreign NHWC model
        (models["affine"], (16, 24), 3, None),  # three same-size photos: one batch of 3
        (models["affine"], (200, 300), 1, 40000),  # over the tile budget: its tiles' size
    ]
    wants = []
    for i, (model, (h, w), batch, max_pixels) in enumerate(cases):
        src = tmp_path / f"in{i}"
        for k in range(batch):
            write_image(src / f"p{k}.png", helpers.random_image(h, w, k))
        file = auto_trial_file(model, "auto", "cpu", "auto")
        want = image_trial_shapes(file, src, tmp_path / f"out{i}", batch, None, max_pixels)
        seen = _calls(model, src, tmp_path / f"out{i}", batch, max_pixels)
        if max_pixels is None:
            assert [want["image"]] == seen, (i, want, seen)  # the one call
        else:  # a downscaled whole for the tone curves, then the tiles: the first tile's
            assert want["image"] == seen[1] and len(seen) > 2, (i, want, seen)
        wants.append(want["image"])
    assert wants[:4] == [(1, 3, 16, 24), (1, 3, 24, 16), (1, 20, 12, 3), (3, 3, 16, 24)]
    assert wants[4][2] * wants[4][3] <= 40000  # the tiled photo: a tile, not 200x300
    # A photo outside the profile, or none to read: the spec's opt shape (no default).
    prof = respec(models["swap"], profile=ShapeProfile(
        min={"image": [1, 3, 8, 8]}, opt={"image": [1, 3, 16, 16]}, max={"image": [1, 3, 32, 32]}
    ))  # fmt: skip
    file = auto_trial_file(prof, "auto", "cpu", "auto")
    big = tmp_path / "big"
    write_image(big / "p.png", helpers.random_image(40, 40))
    assert image_trial_shapes(file, big, tmp_path / "o", max_pixels=0) == {}
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"not a png")
    assert image_trial_shapes(file, tmp_path / "bad", tmp_path / "o") == {}


def _calls(model, src, out, batch, max_pixels) -> list[tuple]:
    engine = load(model, backend="onnxruntime")
    seen, inner = [], engine.run

    def run(feeds):
        seen.append(tuple(next(iter(feeds.values())).shape))
        return inner(feeds)

    engine.run = run
    enhance_path(engine, src, out, batch=batch, progress=False, max_pixels=max_pixels)
    return seen


def test_batch_shapes_for_generate(models, tmp_path):
    file = auto_trial_file(models["affine"], "auto", "cpu", "auto")
    assert batch_shapes(file, 16) == {"image": (16, 3, 64, 64)}
    prof = respec(models["swap"], profile=ShapeProfile(
        min={"image": [1, 3, 8, 8]}, opt={"image": [2, 3, 16, 16]}, max={"image": [4, 3, 32, 32]}
    ))  # fmt: skip
    file = auto_trial_file(prof, "auto", "cpu", "auto")
    assert batch_shapes(file, 3) == {"image": (3, 3, 16, 16)}
    assert batch_shapes(file, 8) == {}  # past the profile's max batch: the spec's opt
    assert batch_shapes(None, 8) == {}


# -- the flag on every command ---------------------------------------------------
def test_every_image_command_takes_the_flag_and_a_bad_one_is_one_line(models, tmp_path):
    photo = tmp_path / "p.png"
    write_image(photo, np.zeros((16, 16, 3), np.uint8))
    common = {
        "enhance": ["--input", str(photo)],
        "stylize": ["--input", str(photo)],
        "cutout": ["--input", str(photo)],
        "tryon": ["--garment", str(photo), "--mannequin", str(photo)],
        "generate": [],
    }
    for task in TASKS:
        assert "--trial-shape" in run(task, "--help").stdout, task
        for bad in ("image:1x3xbig", "image:1x3x8x8:float16"):
            res = run(task, "--model", str(models["affine"]), *common[task],
                      "--out", str(tmp_path / "o"), "--trial-shape", bad)  # fmt: skip
            assert res.exit_code == 2, (task, res.output)
            assert res.stderr.strip().count("\n") == 0 and "trial-shape" in res.stderr, res.stderr
    assert "first input photo" in run("enhance", "--help").stdout


BIG = "image:1x3x64x64"


def test_a_shape_outside_the_profile_is_one_line_with_or_without_a_trial(models, tmp_path, helpers):
    prof = respec(models["swap"], profile=ShapeProfile(
        min={"image": [1, 3, 8, 8]}, opt={"image": [1, 3, 16, 16]}, max={"image": [1, 3, 32, 32]}
    ))  # fmt: skip
    write_image(tmp_path / "in" / "p.png", helpers.random_image(16, 16))
    for backend in ("onnxruntime", "auto"):
        res = run("enhance", "--model", str(prof), "--input", str(tmp_path / "in"), "--out",
                  str(tmp_path / "o"), "--backend", backend, "--trial-shape", BIG)  # fmt: skip
        assert res.exit_code == 2, res.output
        lines = [line for line in res.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "outside the model's profile" in lines[0], res.stderr
        assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
    assert not prof.with_name(prof.name + CACHE_SUFFIX).exists()  # nothing was cached


# -- the trial runs at it (needs a second CPU backend) -----------------------------
def test_enhance_and_stylize_trial_at_the_first_photo_or_the_given_shape(
    models, photo_folder, tmp_path
):
    pytest.importorskip("openvino")
    affine = models["affine"]
    out = tmp_path / "out"
    res = run("enhance", "--model", str(affine), "--input", str(photo_folder), "--out", str(out),
              "--batch", "2", "--json", "--no-progress")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["backend_choice"]["shapes"] == {"image": [2, 3, 16, 24]}
    res = run("enhance", "--model", str(affine), "--input", str(photo_folder), "--out", str(out),
              "--trial-shape", "image:1x3x24x40", "--no-progress")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert trial_keys(affine) == ["image:2x3x16x24", "image:1x3x24x40"]
    style = respec(models["swap"], task="stylize", image=ImageConvention(multiple_of=8))
    photo = tmp_path / "c.png"
    write_image(photo, helpers_image(20, 12))
    res = run("stylize", "--model", str(style), "--input", str(photo), "--out", str(out),
              "--no-progress")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert trial_keys(style) == ["image:1x3x24x16"]  # 20x12 padded to the multiple of 8
    # A first photo under the style model's minimum side is skipped, so it is no trial size.
    small = respec(models["swap"], task="stylize", config={"min_side": 16})
    write_image(tmp_path / "two" / "a.png", helpers_image(6, 20))  # runs padded to 8x24
    write_image(tmp_path / "two" / "b.png", helpers_image(16, 16))
    res = run("stylize", "--model", str(small), "--input", str(tmp_path / "two"), "--out",
              str(tmp_path / "o2"), "--no-progress")  # fmt: skip
    assert res.exit_code == 0 and "skipped" in res.stderr, res.output
    assert trial_keys(small) == ["spec"]  # the spec's opt shape, not 1x3x8x24


def helpers_image(h: int, w: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_cutout_and_tryon_trial_at_the_size_they_run(tmp_path):
    pytest.importorskip("openvino")
    cut = cutout_model(tmp_path / "cutout.onnx")
    write_image(tmp_path / "in" / "p.png", helpers_image(16, 24))
    res = run("cutout", "--model", str(cut), "--input", str(tmp_path / "in"), "--out",
              str(tmp_path / "cut"), "--no-progress")  # fmt: skip
    assert res.exit_code == 0, res.output
    # work side 16 with the profile's min 8: the 16x24 photo runs at 11x16
    assert trial_keys(cut) == ["image:1x3x11x16"]
    tryon = tryon_model(tmp_path / "tryon.onnx")
    for k in range(2):
        write_image(tmp_path / "g" / f"g{k}.png", helpers_image(20, 20))
    for k in range(3):
        write_image(tmp_path / "m" / f"m{k}.png", helpers_image(24, 16))
    res = run("tryon", "--model", str(tryon), "--garment", str(tmp_path / "g"), "--mannequin",
              str(tmp_path / "m"), "--out", str(tmp_path / "t"))  # fmt: skip
    assert res.exit_code == 0, res.output
    assert trial_keys(tryon) == ["garment:6x3x16x16,mannequin:6x3x16x16"]  # 6 pairs, one call
