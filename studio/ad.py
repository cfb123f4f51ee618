"""Ad banners: a background (generated from the product's colours, an image, or flat), restyled
by a style model on the background alone, then the product, a headline and a call to action.

The style model never sees the product: the background is restyled first and the
cut-out product is laid over it afterwards, so every pixel where the product's
alpha is 1 is the product's own (scaled) pixel.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from ptx.errors import InputError
from ptx.image import fit, resize_bilinear
from ptx.studio.canvas import fit_scale, place, place_with_shadow, to_pixels
from ptx.studio.products import Product
from ptx.studio.text import contrast_colour, draw_text, find_font, fit_text, line_height

StyleFn = Callable[[np.ndarray], np.ndarray]  # uint8 RGB -> uint8 RGB of the same size
PANEL_CONTRAST = 4.5  # WCAG AA: text below this contrast with its background gets a panel


def dominant_colour(product: Product) -> np.ndarray:
    """The alpha-weighted mean colour of the product (float RGB 0..255)."""
    a = product.alpha[..., None]
    return (product.rgb * a).sum(axis=(0, 1)) / max(float(a.sum()), 1e-6)


def generated_background(width: int, height: int, product: Product) -> np.ndarray:
    """A soft two-tone gradient in a light tint of the product's colour, with a glow behind it."""
    base = dominant_colour(product)
    light = 0.25 * base + 0.75 * 255  # a pale tint the product stands out from
    deep = 0.55 * base + 0.45 * 200
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    t = (yy / max(height - 1, 1) * 0.6 + xx / max(width - 1, 1) * 0.4)[..., None]
    bg = light * (1 - t) + deep * t
    r = np.hypot((xx - width * 0.7) / width, (yy - height * 0.45) / height)[..., None]
    bg = bg + np.clip(1 - r * 2.2, 0, 1) * 30  # the glow
    return np.clip(np.rint(bg), 0, 255).astype(np.uint8)


def background(
    width: int,
    height: int,
    layout: dict,
    product: Product,
    image: np.ndarray | None,
    style_fn: StyleFn | None,
) -> np.ndarray:
    """The banner's background, restyled when a style model is given (the product is not there)."""
    kind = layout["background"]
    if kind == "image":
        if image is None:
            raise InputError("ad: the layout's background is 'image'; give --background IMAGE")
        bg = fit(image, height, width, mode="crop")
    elif kind == "colour":
        bg = np.empty((height, width, 3), np.uint8)
        bg[:] = layout["background_colour"]
    else:
        bg = generated_background(width, height, product)
    if style_fn is not None:
        styled = style_fn(bg)
        bg = styled if styled.shape == bg.shape else resize_bilinear(styled, height, width)
    return bg


def _px(frac: tuple[float, float, float, float], w: int, h: int) -> tuple[int, int, int, int]:
    x, y, bw, bh = frac
    return round(x * w), round(y * h), max(1, round(bw * w)), max(1, round(bh * h))


def _luma(rgb: np.ndarray) -> np.ndarray:
    c = np.asarray(rgb, np.float64) / 255.0
    lin = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin @ np.array([0.2126, 0.7152, 0.0722])


def worst_contrast(text: tuple[int, int, int], region: np.ndarray) -> float:
    """The WCAG contrast of ``text`` against the 5th/95th percentile luma of ``region``."""
    t = float(_luma(np.array(text)))
    lo, hi = np.percentile(_luma(region.reshape(-1, 3)), [5, 95])
    return min((max(t, b) + 0.05) / (min(t, b) + 0.05) for b in (lo, hi))


def _panel(image: Image.Image, box: tuple[int, int, int, int], colour: tuple[int, int, int]):
    """Lay a rounded translucent panel (the text's opposite tone) over ``box``."""
    x, y, w, h = box
    pad = max(4, h // 10)
    shade = (255, 255, 255) if sum(colour) < 384 else (17, 24, 39)
    over = Image.new("RGBA", image.size, (0, 0, 0, 0))
    ImageDraw.Draw(over).rounded_rectangle(
        (x - pad, y - pad, x + w + pad, y + h + pad), radius=pad * 2, fill=(*shade, 190)
    )
    image.paste(Image.alpha_composite(image.convert("RGBA"), over).convert("RGB"))


def _headline(
    image: Image.Image, box: tuple[int, int, int, int], text: str, layout: dict, align: str
) -> None:
    x, y, w, h = box
    style = layout["headline_style"]
    fitted = fit_text(
        text, w, h, find_font(style["font"], bold=True), style["max_size"], style["min_size"]
    )
    region = np.asarray(image)[y : y + h, x : x + w]
    colour = layout["text_colour"] or contrast_colour(region)
    if worst_contrast(colour, region) < PANEL_CONTRAST:
        top = y + (h - fitted.height) // 2
        _panel(image, (x, top, w, fitted.height), colour)
        region = np.asarray(image)[y : y + h, x : x + w]
        colour = layout["text_colour"] or contrast_colour(region)
    draw_text(image, fitted, box, colour, align=align, valign="middle")


def _cta(image: Image.Image, box: tuple[int, int, int, int], text: str, layout: dict) -> None:
    x, y, w, h = box
    fill = layout["cta_colour"]
    ImageDraw.Draw(image).rounded_rectangle(
        (x, y, x + w - 1, y + h - 1), radius=max(2, h // 2), fill=fill
    )
    style = layout["cta_style"]
    pad_x, pad_y = max(2, h // 2), max(1, h // 6)
    inner = (x + pad_x, y + pad_y, max(1, w - 2 * pad_x), max(1, h - 2 * pad_y))
    path = find_font(style["font"], bold=True)
    max_size = min(style["max_size"], max(style["min_size"], int(inner[3] * 0.8)))
    fitted = fit_text(text, inner[2], inner[3], path, max_size, style["min_size"])
    colour = layout["cta_text_colour"] or contrast_colour(np.array([fill]))
    if fitted.lines and line_height(path, fitted.size) <= inner[3]:
        draw_text(image, fitted, inner, colour, align="centre", valign="middle")


def render_ad(
    product: Product,
    size: tuple[int, int],
    layout: dict,
    headline: str,
    cta: str,
    background_image: np.ndarray | None = None,
    style_fn: StyleFn | None = None,
) -> np.ndarray:
    """One banner of ``size`` (width, height): boxes from the landscape or portrait template."""
    w, h = size
    wide = w > h * 1.15
    boxes = layout["landscape"] if wide else layout["portrait"]
    bg = background(w, h, layout, product, background_image, style_fn)
    canvas = bg.astype(np.float32)
    px, py, pw, ph = _px(boxes["product"], w, h)
    s = fit_scale(product, pw * layout["fill"], ph * layout["fill"])
    bottom = py + (ph + product.box_size[0] * s) / 2
    place_with_shadow(canvas, place(product, s, px + pw / 2, bottom), layout["shadow"])
    image = Image.fromarray(to_pixels(canvas))
    if headline:
        _headline(
            image, _px(boxes["headline"], w, h), headline, layout, "left" if wide else "centre"
        )
    if cta:
        _cta(image, _px(boxes["cta"], w, h), cta, layout)
    return np.asarray(image)
