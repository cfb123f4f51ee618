"""A folder's files for training: seeded split, decoding with skips, and the fit hook."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ptx.io import write_image
from ptx.training.data.files import MAX_SIDE, load_images, split_files


def test_seeded_split_without_labels_is_stable_and_keeps_one_held_out(tmp_path: Path) -> None:
    for i in range(6):
        write_image(tmp_path / f"{i}.png", np.full((8, 8, 3), i * 20, np.uint8))
    train, val = split_files(tmp_path, 0.05, seed=3)
    assert len(val) == 1 and len(train) == 5 and split_files(tmp_path, 0.05, seed=3) == (train, val)


def test_load_images_scales_skips_and_takes_a_models_fit(tmp_path: Path) -> None:
    big = np.random.default_rng(0).integers(0, 256, (MAX_SIDE + 88, 300, 3), dtype=np.uint8)
    write_image(tmp_path / "big.png", big)
    write_image(tmp_path / "small.png", np.zeros((10, 20, 3), np.uint8))
    (tmp_path / "bad.png").write_bytes(b"not a picture")
    files = sorted(tmp_path.iterdir())
    imgs = load_images(files, 16, False, "test")
    assert [im.shape for im in imgs] == [(MAX_SIDE, 256, 3), (16, 32, 3)]  # bad.png skipped
    fitted = load_images(files, 16, False, "test", fit=lambda rgb: rgb[:4, :4])
    assert [im.shape for im in fitted] == [(4, 4, 3), (4, 4, 3)]
    assert np.array_equal(fitted[0], big[:4, :4])  # the fit sees the decoded file as it is
