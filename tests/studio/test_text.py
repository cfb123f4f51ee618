"""Text fitting: the rendered ink stays inside its box; shrink first, then wrap, then ellipsize."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ptx.errors import InputError
from ptx.studio.text import (
    ELLIPSIS,
    contrast_colour,
    draw_text,
    find_font,
    fit_text,
    load_font,
)

LONG = (
    "An extraordinarily long product name for a stainless steel insulated travel mug with "
    "a leak-proof lid, a carrying loop and a lifetime guarantee, in twelve colours"
)
TEXTS = [
    "Mug",
    LONG,
    "Supercalifragilisticexpialidociouslyunbreakablemugwithnospacesatall",
    "€24.50\ncapacity: 350 ml\nmaterial: stainless steel, double wall, vacuum insulated",
    "",
]
ALIGNS = [("left", "top"), ("centre", "middle"), ("right", "bottom")]
BOXES = [(120, 40), (300, 90), (60, 18), (500, 300), (37, 11)]


def ink_box(text_fit, box_w: int, box_h: int, align: str, valign: str):
    """Draw into a box at (50, 50) of a larger white canvas; the ink's (x0, y0, x1, y1)."""
    img = Image.new("RGB", (box_w + 100, box_h + 100), (255, 255, 255))
    draw_text(img, text_fit, (50, 50, box_w, box_h), (0, 0, 0), align=align, valign=valign)
    ink = np.asarray(img).min(axis=2) < 250
    if not ink.any():
        return None
    ys, xs = np.nonzero(ink)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


@pytest.mark.parametrize("bold", [False, True])
@pytest.mark.parametrize("align,valign", ALIGNS)
def test_rendered_text_never_leaves_its_box(bold: bool, align: str, valign: str) -> None:
    path = find_font(None, bold=bold)
    for text in TEXTS:
        for w, h in BOXES:
            fitted = fit_text(text, w, h, path, max_size=72, min_size=8)
            box = ink_box(fitted, w, h, align, valign)
            if box is None:
                continue
            x0, y0, x1, y1 = box
            assert x0 >= 50 and y0 >= 50 and x1 <= 50 + w and y1 <= 50 + h, (text[:20], w, h)


def test_shrinks_before_wrapping_and_wraps_before_ellipsizing() -> None:
    path = find_font(None)
    short = fit_text("Mug", 200, 100, path, 48, 8)
    assert short.lines == ["Mug"] and short.size == 48  # fits at the largest size: kept
    squeezed = fit_text("Espresso cup", 120, 100, path, 48, 8)
    assert squeezed.size < 48 and ELLIPSIS not in "".join(squeezed.lines)
    wrapped = fit_text(LONG, 300, 200, path, 40, 12)
    assert len(wrapped.lines) > 1 and ELLIPSIS not in "".join(wrapped.lines)
    assert " ".join(wrapped.lines) == LONG  # every word kept, in order
    cut = fit_text(LONG, 120, 30, path, 40, 10)
    assert cut.size == 10 and cut.lines[-1].endswith(ELLIPSIS)
    assert len(" ".join(cut.lines)) < len(LONG)


def test_a_word_wider_than_the_box_is_ellipsized() -> None:
    path = find_font(None)
    fitted = fit_text(TEXTS[2], 60, 18, path, 30, 8)
    assert fitted.lines and fitted.lines[0].endswith(ELLIPSIS)
    font = load_font(path, fitted.size)
    assert font.getlength(fitted.lines[0]) <= 60


def test_paragraphs_start_new_lines() -> None:
    fitted = fit_text("€9\nsize: M", 400, 200, find_font(None), 20, 8)
    assert fitted.lines == ["€9", "size: M"]


def test_box_smaller_than_one_line_draws_nothing() -> None:
    fitted = fit_text(LONG, 100, 3, find_font(None), 20, 8)
    assert fitted.lines == []


def test_named_font_must_exist() -> None:
    with pytest.raises(InputError, match="not a font file"):
        find_font("/no/such/font.ttf")


def test_contrast_colour_picks_the_readable_tone() -> None:
    assert contrast_colour(np.full((4, 4, 3), 250, np.uint8)) != (255, 255, 255)
    assert contrast_colour(np.full((4, 4, 3), 20, np.uint8)) == (255, 255, 255)
    assert contrast_colour(np.array([[31, 41, 55]], np.uint8)) == (255, 255, 255)
