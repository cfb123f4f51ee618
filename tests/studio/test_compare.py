"""Comparison images: one scale, one baseline, captions from a CSV that stay in their boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptx.errors import InputError
from ptx.studio.compare import Caption, caption_box, read_captions, render_compare
from ptx.studio.layout import resolve
from tests.studio.test_display import bbox, solid

RED, GREEN, BLUE = (200, 30, 30), (30, 160, 30), (30, 30, 200)
LONG = " ".join(["an extremely long caption word salad"] * 12)


def mask(img: np.ndarray, colour) -> np.ndarray:
    return np.abs(img.astype(int) - colour).max(axis=2) < 3


def layout(**fields) -> dict:
    return resolve("compare", {"size": [600, 400], "shadow": {"opacity": 0}, **fields})


def test_same_scale_and_one_baseline() -> None:
    items = [solid(80, 40, RED, "a"), solid(40, 40, GREEN, "b"), solid(20, 60, BLUE, "c")]
    img = render_compare(items, [Caption(p.name) for p in items], layout())
    assert img.shape == (400, 600, 3)
    boxes = [bbox(mask(img, c)) for c in (RED, GREEN, BLUE)]
    heights = [b[3] - b[1] for b in boxes]
    assert abs(heights[0] / heights[1] - 2.0) < 0.05  # 80 vs 40 px: twice as tall, kept
    assert abs(heights[0] / heights[2] - 4.0) < 0.15
    assert max(b[3] for b in boxes) - min(b[3] for b in boxes) <= 1  # one baseline
    assert boxes[0][2] <= boxes[1][0] and boxes[1][2] <= boxes[2][0]  # side by side, in order


def test_fit_scale_makes_each_as_large_as_its_column() -> None:
    items = [solid(80, 40, RED), solid(40, 40, GREEN)]
    img = render_compare(items, [Caption("a"), Caption("b")], layout(scale="fit"))
    h_red, h_green = (bbox(mask(img, c))[3] - bbox(mask(img, c))[1] for c in (RED, GREEN))
    assert abs(h_red - h_green) <= 1


@pytest.mark.parametrize("size", [(600, 400), (1600, 900), (257, 301)])
def test_long_captions_stay_inside_their_boxes(size) -> None:
    items = [solid(30, 30, RED), solid(30, 30, GREEN), solid(30, 30, BLUE)]
    caps = [
        Caption(LONG, "€1,234.00", [("colour", LONG), ("size", "XL")]),
        Caption("Short", "€2"),
        Caption("Supercalifragilisticexpialidociouslylongsinglewordname", "", [("a", "b")]),
    ]
    lay = resolve("compare", {"size": list(size), "text_colour": [0, 0, 0]})
    img = render_compare(items, caps, lay)
    assert img.shape == (size[1], size[0], 3)
    text = np.asarray(img).max(axis=2) < 100  # black ink (the products are not this dark)
    allowed = np.zeros_like(text)
    for i in range(3):
        x, y, w, h = caption_box(i, 3, *size, lay)
        allowed[y : y + h, x : x + w] = True
        assert text[y : y + h, x : x + w].any()  # every caption was drawn
    assert not (text & ~allowed).any()


def test_captions_csv_by_image_column_and_by_order(tmp_path: Path) -> None:
    items = [solid(5, 5, RED, "mug"), solid(5, 5, GREEN, "cup")]
    keyed = tmp_path / "keyed.csv"
    keyed.write_text("image,name,price,colour\ncup.jpg,Cup,€3,green\nmug.png,Mug,€5,\n")
    caps = read_captions(keyed, items)
    assert [c.name for c in caps] == ["Mug", "Cup"]
    assert caps[1].details() == "€3\ncolour: green" and caps[0].details() == "€5"
    ordered = tmp_path / "ordered.csv"
    ordered.write_text("name,material\nFirst,steel\nSecond,glass\n")
    assert [c.attributes for c in read_captions(ordered, items)] == [
        [("material", "steel")],
        [("material", "glass")],
    ]


@pytest.mark.parametrize(
    "text,message",
    [
        ("title,price\nA,1\nB,2\n", "needs a 'name' column"),
        ("name\nA\n", "1 rows for 2 products"),
        ("image,name\nmug.png,A\nother.png,B\n", "no row whose 'image' is cup"),
    ],
)
def test_bad_captions_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_captions(path, [solid(5, 5, RED, "mug"), solid(5, 5, GREEN, "cup")])
