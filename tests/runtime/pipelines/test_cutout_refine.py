"""GrabCut refinement of a cut-out alpha: it fixes what the colours contradict, keeps soft
alpha where it agrees, is deterministic, and follows the spec / the flags."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ptx.cli import main
from ptx.errors import MissingDependency
from ptx.io import write_image
from ptx.runtime import load
from ptx.runtime.pipelines import cutout_refine
from ptx.runtime.pipelines.cutout import SHIPPED_MODEL, cutout_alpha, refines
from ptx.training.cutout.data import held_out
from ptx.training.cutout.metrics import alpha_iou
from tests.runtime.pipelines.test_cutout import cutout_model


def _scene(h: int = 240, w: int = 320) -> tuple[np.ndarray, np.ndarray]:
    """A blue box on a noisy beige backdrop, and its true alpha."""
    rng = np.random.default_rng(0)
    rgb = np.clip(rng.normal((225, 205, 170), 8, (h, w, 3)), 0, 255).astype(np.uint8)
    truth = np.zeros((h, w), np.float32)
    truth[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = 1.0
    rgb[truth > 0] = (30, 60, 200)
    return rgb, truth


def _wrong_band(truth: np.ndarray, px: int = 8, value: float = 0.7) -> np.ndarray:
    """The truth with a band of backdrop around the box called 'probably product'."""
    from scipy.ndimage import binary_dilation

    band = binary_dilation(truth > 0.5, iterations=px) & (truth < 0.5)
    return np.where(band, value, truth).astype(np.float32)


def test_refine_fixes_backdrop_the_net_took_for_product() -> None:
    rgb, truth = _scene()
    alpha = _wrong_band(truth, px=20)
    fixed = cutout_refine.grabcut_refine(rgb, alpha)
    assert alpha_iou(alpha, truth) < 0.7
    assert alpha_iou(fixed, truth) > 0.98
    sure = (alpha >= cutout_refine.SURE) | (alpha <= 1 - cutout_refine.SURE)
    np.testing.assert_array_equal(fixed[sure], alpha[sure])  # what the net was sure of stays


def test_refine_keeps_the_soft_alpha_where_the_cut_agrees() -> None:
    rgb, truth = _scene()
    soft = np.where(truth > 0.5, 0.8, 0.2).astype(np.float32)  # right, but unsure everywhere
    out = cutout_refine.grabcut_refine(rgb, soft)
    np.testing.assert_array_equal(out, soft)


def test_refine_is_deterministic_whatever_ran_before() -> None:
    # A held-out render with a noisy alpha: unseeded, OpenCV's k-means start (drawn from a
    # per-thread RNG) changed ~200 of its pixels after one other call in between.
    pairs = held_out(0, 6, 320)
    rgb, truth = pairs[4]
    alpha = np.clip(truth + np.random.default_rng(4).normal(0, 0.35, truth.shape), 0, 1)
    alpha = alpha.astype(np.float32)
    first = cutout_refine.grabcut_refine(rgb, alpha)
    other, other_truth = pairs[5]
    cutout_refine.grabcut_refine(other, other_truth * 0.6 + 0.2)
    np.testing.assert_array_equal(cutout_refine.grabcut_refine(rgb, alpha), first)


def test_refine_of_a_large_photo_runs_at_max_side_and_returns_its_size() -> None:
    rgb, truth = _scene(900, 1200)
    alpha = _wrong_band(truth, px=40)
    fixed = cutout_refine.grabcut_refine(rgb, alpha, max_side=300)
    assert fixed.shape == (900, 1200) and fixed.dtype == np.float32
    assert alpha_iou(fixed, truth) > 0.97 > alpha_iou(alpha, truth)


def test_spec_and_flags_choose_refinement(tmp_path, monkeypatch) -> None:
    plain = load(cutout_model(tmp_path / "plain.onnx"), backend="onnxruntime")
    asks = load(cutout_model(tmp_path / "refine.onnx", refine=True), backend="onnxruntime")
    assert not refines(plain) and refines(asks)
    assert refines(plain, True) and not refines(asks, False)

    def no_cv2():
        raise MissingDependency("opencv-python-headless", "cutout", "GrabCut refinement")

    monkeypatch.setattr(cutout_refine, "import_cv2", no_cv2)
    monkeypatch.setattr(cutout_refine, "_warned", [])
    assert not refines(asks)  # the spec asked: one note, the net's alpha as it is
    with pytest.raises(MissingDependency, match="ptx\\[cutout\\]"):
        refines(plain, True)  # asked for explicitly: fail loudly


def test_a_photo_under_min_side_keeps_the_nets_alpha() -> None:
    rgb, truth = _scene(120, cutout_refine.MIN_SIDE - 1)
    alpha = _wrong_band(truth)
    np.testing.assert_array_equal(cutout_refine.grabcut_refine(rgb, alpha), alpha)


def test_cli_refine_flags(tmp_path) -> None:
    # the shipped model on a held-out render where the cut changes its alpha
    ((rgb, _),) = held_out(0, 1, 320)
    write_image(tmp_path / "in" / "p.png", rgb)
    alphas = {}
    for flag in ("--refine", "--no-refine"):
        out = tmp_path / flag
        args = ["run", "cutout", "--input", str(tmp_path / "in"), "--out", str(out), flag]
        res = CliRunner().invoke(main, [*args, "--no-progress", "--threads", "1"])
        assert res.exit_code == 0, res.output
        alphas[flag] = np.asarray(Image.open(out / "p.png"))[..., 3].astype(int)
    for flag, refine in (("--refine", True), ("--no-refine", False)):
        want = cutout_alpha(SHIPPED_MODEL, [rgb], refine=refine)[0]
        want = np.clip(want * 255.0 + 0.5, 0, 255).astype(int)
        assert np.abs(alphas[flag] - want).max() <= 1, flag
    assert (np.abs(alphas["--refine"] - alphas["--no-refine"]) > 128).sum() > 20
