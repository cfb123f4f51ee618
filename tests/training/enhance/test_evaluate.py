"""The before/after sheet: ptx.image's grid of letterboxed tiles under a title bar."""

from __future__ import annotations

import numpy as np

from ptx.image import letterbox
from ptx.training.enhance.evaluate import grid_image

COLUMNS = ("clean", "degraded", "classical", "model")


def test_grid_image_lays_out_letterboxed_tiles_in_rows() -> None:
    rng = np.random.default_rng(0)
    pictures = [
        (f"img{r}", {c: rng.integers(0, 256, (30, 50, 3), dtype=np.uint8) for c in COLUMNS})
        for r in range(2)
    ]
    tile, pad, head = 40, 4, 18
    sheet = grid_image(pictures, tile=tile)
    assert sheet.shape == (head + 2 * (tile + pad) + pad, 4 * (tile + pad) + pad, 3)
    # Column 3 of row 1 (clear of the row label) is that picture's letterboxed tile.
    y, x = head + pad + (tile + pad), pad + 3 * (tile + pad)
    want = letterbox(pictures[1][1]["model"], tile, tile, fill=255)[0]
    assert np.array_equal(sheet[y : y + tile, x : x + tile], want)
    assert (sheet[head : head + pad] == 255).all()  # white gutter under the title bar
