"""The try-on renderer: pure functions of their seeds, garments carried over, held-out stream."""

from __future__ import annotations

import numpy as np
import pytest

from ptx.training.tryon import body as bd
from ptx.training.tryon.data import (
    Garment,
    Mannequin,
    eval_sample,
    make_batch,
    render_dressed,
    render_garment,
    render_mannequin,
    train_sample,
)
from ptx.training.tryon.evaluate import garment_delta_e, paste, scores
from ptx.training.tryon.patterns import PATTERNS, Fabric, fabric_rgb, load_textures

SIDE = 32
RED = (0.8, 0.1, 0.1)


def test_samples_are_pure_functions_of_their_seed() -> None:
    a, b = train_sample(0, 5, SIDE, []), train_sample(0, 5, SIDE, [])
    c = train_sample(0, 6, SIDE, [])
    assert np.array_equal(a.truth, b.truth) and np.array_equal(a.garment, b.garment)
    assert not np.array_equal(a.garment, c.garment)
    for img in (a.garment, a.mannequin, a.truth):
        assert img.shape == (SIDE, SIDE, 3) and img.dtype == np.uint8
    assert a.mask.shape == (SIDE, SIDE) and a.mask.min() >= 0 and a.mask.max() <= 1


def test_held_out_samples_are_not_training_samples() -> None:
    train = [train_sample(0, i, SIDE, []).garment for i in range(8)]
    held = [eval_sample(i, SIDE, []).garment for i in range(8)]
    assert not any(np.array_equal(t, h) for t in train for h in held)


@pytest.mark.parametrize("kind", bd.GARMENTS)
@pytest.mark.parametrize("pose", list(bd.POSES))
def test_the_garment_colour_is_carried_onto_the_mannequin(kind: str, pose: str) -> None:
    g = Garment(kind, Fabric("solid", RED, RED))
    m = Mannequin(pose, 1.0, tone="grey")
    truth, mask = render_dressed(g, m, 48, [])
    bare = render_mannequin(m, 48)
    inside = mask > 0.99
    assert inside.sum() > 40  # the garment covers a real part of the body
    mean = truth[inside].mean(axis=0) / 255.0
    assert mean[0] > 2.5 * mean[1] and mean[0] > 2.5 * mean[2]  # red, shaded
    # Outside the garment the mannequin is unchanged.
    assert np.abs(truth[mask < 0.01].astype(int) - bare[mask < 0.01]).max() <= 1
    flat = render_garment(g, 48, [])
    assert (np.abs(flat.astype(int) - [204, 26, 26]).sum(axis=2) < 60).sum() > 40


def test_a_wider_body_gets_a_wider_garment() -> None:
    g = Garment("tshirt", Fabric("solid", RED, RED))
    areas = [render_dressed(g, Mannequin("down", w), 48, [])[1].sum() for w in bd.WIDTHS]
    assert areas[0] < areas[1] < areas[2]


def test_every_pattern_uses_both_colours() -> None:
    u, v = np.meshgrid(np.linspace(-0.3, 0.3, 64), np.linspace(0, 0.5, 64))
    textures = load_textures()
    assert len(textures) == 3 and all(t.ndim == 2 for t in textures)  # grey textures only
    for p in PATTERNS:
        rgb = fabric_rgb(Fabric(p, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), period=0.1), u, v, textures)
        if p == "solid":
            assert np.allclose(rgb, 0.0)
        else:
            assert rgb.min() < 0.25 and rgb.max() > 0.75, p
    with pytest.raises(ValueError, match="unknown pattern"):
        fabric_rgb(Fabric("plaid", RED, RED), u, v)


def test_batches_are_nchw_floats_in_unit_range() -> None:
    g, m, t = make_batch(1, 2, 3, SIDE, [])
    for a in (g, m, t):
        assert a.shape == (3, 3, SIDE, SIDE) and a.dtype == np.float32
        assert a.min() >= 0.0 and a.max() <= 1.0
    again = make_batch(1, 2, 3, SIDE, [])
    assert np.array_equal(t, again[2])


def test_scores_rank_the_truth_above_the_bare_mannequin_and_paste_in_between() -> None:
    samples = [eval_sample(i, SIDE, []) for i in range(6)]
    truths, masks = [s.truth for s in samples], [s.mask for s in samples]
    bare = scores([s.mannequin for s in samples], truths, masks)
    pasted = scores([paste(s.garment, s.mannequin) for s in samples], truths, masks)
    perfect = scores(truths, truths, masks)
    assert perfect["garment_de2000"] == 0.0 and perfect["ssim"] > 0.999
    assert bare["garment_de2000"] > pasted["garment_de2000"]
    assert bare["psnr"] < perfect["psnr"]
    assert np.isnan(garment_delta_e(truths[0], truths[0], np.zeros((SIDE, SIDE))))
