"""Pieces of the cut-out family's matte renders: free silhouettes, fills, busy scene backdrops.

Real product photos are not only catalogue shapes on sweeps: products have thin
parts (straps, legs, handles) and white parts on white, and backdrops hold objects
of their own. This module draws what ``ptx.training.data.matte`` stages:

* ``silhouette_product``: a random outline (a body with limbs, sometimes a hole)
  filled with colour, a two-colour grey texture or colour blobs, sometimes with a
  light patch, anti-aliased by 2x supersampling (its coverage is the exact alpha);
* ``scene``: a backdrop that holds objects of its own: a base backdrop, large
  structures (a floor line, a wall band, a table edge), other catalogue products and
  silhouettes (partly off frame), then often defocused and/or at lower contrast. The
  product is pasted in front later, so it occludes them. As in a real product photo,
  the product is unambiguous: every backdrop object is at least one of defocused,
  faded or clearly smaller than the product (``object_look``); only the large
  structures (floors, walls) may stay sharp and big.

Everything is NumPy + Pillow and a pure function of the generator passed in.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from ptx.training.data import product_shapes as ps
from ptx.training.data.catalogue import PATTERN_WEIGHTS, PATTERNS
from ptx.training.data.product_render import COLORS, render_layers
from ptx.training.enhance.data import texture_crop

SS = 2  # silhouette supersampling: anti-aliased edges, exact coverage
SCENE_OBJECTS = (2, 9)  # objects behind the product (low inclusive, high exclusive)
P_SCENE_DEFOCUS = 0.55
P_SCENE_FADE = 0.45  # the backdrop pulled towards its mean colour (lower contrast)
# Each backdrop object's look: defocused, faded, both, or sharp but clearly smaller.
OBJECT_LOOKS = ("defocus", "fade", "both", "small")
OBJECT_LOOK_WEIGHTS = (0.35, 0.25, 0.15, 0.25)
OBJECT_SIGMA = (1.2, 4.0)  # defocus of one object, px at a 160 px frame
OBJECT_FADE = (0.25, 0.65)  # contrast kept by a faded object
SMALL = (0.25, 0.6)  # a sharp object's side, of the product's extent


def blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur (edge-replicated) of a float32 HxW or HxWxC array."""
    r = max(int(np.ceil(3.0 * sigma)), 1)
    k = np.exp(-0.5 * (np.arange(-r, r + 1, dtype=np.float32) / sigma) ** 2)
    k /= k.sum()
    for axis in (0, 1):
        pad = [(0, 0)] * a.ndim
        pad[axis] = (r, r)
        p = np.pad(a, pad, mode="edge")
        n = a.shape[axis]
        a = sum(w * np.take(p, np.arange(i, i + n), axis=axis) for i, w in enumerate(k))
    return a.astype(np.float32)


def texture(grey: np.ndarray, side: int, rng: np.random.Generator) -> np.ndarray:
    """``texture_crop`` at any side: above the texture's own size, a crop scaled up."""
    most = min(grey.shape[:2])
    if side <= most:
        return texture_crop(grey, side, rng)
    small = texture_crop(grey, most, rng)
    return np.asarray(Image.fromarray(small).resize((side, side), Image.Resampling.BICUBIC))


def colour(rng: np.random.Generator) -> np.ndarray:
    """A random RGB colour, float32 0..255."""
    return rng.uniform(0, 255, size=3).astype(np.float32)


def blobs(size: int, rng: np.random.Generator, lo: int = 3, hi: int = 7) -> np.ndarray:
    """Smooth colour blobs: a small random grid scaled up bicubically (float32 0..255)."""
    q = int(rng.integers(lo, hi))
    small = rng.uniform(0, 255, size=(q, q, 3)).astype(np.uint8)
    big = Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(big, dtype=np.float32)


def paste(
    col: np.ndarray, alpha: np.ndarray, size: int, oy: int, ox: int
) -> tuple[np.ndarray, np.ndarray]:
    """A square premultiplied layer pasted into an empty size x size frame at (oy, ox)."""
    src = alpha.shape[0]
    out_c = np.zeros((size, size, 3), np.float32)
    out_a = np.zeros((size, size), np.float32)
    y0, x0 = max(oy, 0), max(ox, 0)
    y1, x1 = min(oy + src, size), min(ox + src, size)
    if y1 > y0 and x1 > x0:
        out_c[y0:y1, x0:x1] = col[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
        out_a[y0:y1, x0:x1] = alpha[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
    return out_c, out_a


def _star(cx: float, cy: float, r: float, rng: np.random.Generator) -> list[tuple[float, float]]:
    k = int(rng.integers(5, 10))
    ang = np.sort(rng.uniform(0, 2 * np.pi, k))
    rad = r * rng.uniform(0.55, 1.0, k)
    return [(cx + a * np.cos(t), cy + a * np.sin(t)) for a, t in zip(rad, ang, strict=True)]


def silhouette(side: int, rng: np.random.Generator) -> np.ndarray:
    """A random product outline in a side x side square: float32 coverage 0..1.

    A body (ellipse, rounded box or star-convex polygon) with 0-5 limbs (straps,
    legs, handles: 1.5-7 % of the side wide) and sometimes a hole or a ring.
    """
    n = side * SS
    img = Image.new("L", (n, n), 0)
    d = ImageDraw.Draw(img)
    cx, cy = n * rng.uniform(0.4, 0.6), n * rng.uniform(0.38, 0.6)
    rx, ry = n * rng.uniform(0.12, 0.32), n * rng.uniform(0.12, 0.32)
    kind = int(rng.integers(0, 3))
    if kind == 0:
        d.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
    elif kind == 1:
        d.rounded_rectangle(
            (cx - rx, cy - ry, cx + rx, cy + ry), radius=min(rx, ry) * rng.uniform(0, 0.6), fill=255
        )
    else:
        d.polygon(_star(cx, cy, max(rx, ry), rng), fill=255)
    lo, hi = 0.04 * n, 0.96 * n
    for _ in range(int(rng.integers(0, 6))):
        t = rng.uniform(0, 2 * np.pi)
        sx, sy = cx + 0.8 * rx * np.cos(t), cy + 0.8 * ry * np.sin(t)
        length = n * rng.uniform(0.12, 0.42)
        ex = float(np.clip(sx + length * np.cos(t + rng.uniform(-0.5, 0.5)), lo, hi))
        ey = float(np.clip(sy + length * np.sin(t + rng.uniform(-0.5, 0.5)), lo, hi))
        w = max(int(n * rng.uniform(0.015, 0.07)), 2)
        d.line((sx, sy, ex, ey), fill=255, width=w)
        d.ellipse((ex - w / 2, ey - w / 2, ex + w / 2, ey + w / 2), fill=255)
    u = rng.random()
    if u < 0.2:  # a hole through the body (a handle's eye, a bag's opening)
        hx, hy = rx * rng.uniform(0.2, 0.45), ry * rng.uniform(0.2, 0.45)
        ox, oy = rx * rng.uniform(-0.3, 0.3), ry * rng.uniform(-0.3, 0.3)
        d.ellipse((cx + ox - hx, cy + oy - hy, cx + ox + hx, cy + oy + hy), fill=0)
    elif u < 0.35:  # a ring beside the body (a handle, a strap loop)
        r = n * rng.uniform(0.08, 0.2)
        qx = float(np.clip(cx + rng.choice([-1, 1]) * (rx + 0.6 * r), r + lo, hi - r))
        d.ellipse((qx - r, cy - r, qx + r, cy + r), outline=255, width=max(int(r * 0.3), 2))
    small = img.resize((side, side), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def fill(side: int, rng: np.random.Generator, textures: list[np.ndarray]) -> np.ndarray:
    """A side x side float32 fill: a two-colour texture, colour blobs or a shaded colour.

    A third of them get a light (near-white) patch: white parts on a white backdrop
    are what a threshold against the backdrop cannot cut, and the net must.
    """
    u = rng.random()
    if textures and u < 0.4:
        grey = textures[int(rng.integers(0, len(textures)))]
        out = texture(grey, side, rng).astype(np.float32)
    elif u < 0.7:
        out = blobs(side, rng, 2, 6)
    else:
        t = np.linspace(rng.uniform(0.75, 1.0), rng.uniform(0.9, 1.15), side, dtype=np.float32)
        out = colour(rng) * t[:, None, None] * np.ones((1, side, 1), np.float32)
    if rng.random() < 0.33:
        patch = Image.new("L", (side, side), 0)
        r = side * rng.uniform(0.08, 0.25)
        px, py = side * rng.uniform(0.25, 0.75), side * rng.uniform(0.25, 0.75)
        ImageDraw.Draw(patch).ellipse((px - r, py - r, px + r, py + r), fill=255)
        m = blur(np.asarray(patch, np.float32) / 255.0, max(side * 0.01, 0.5))[..., None]
        out = out * (1.0 - m) + rng.uniform(225, 255) * m
    return np.clip(out, 0, 255).astype(np.float32)


def silhouette_product(
    side: int, rng: np.random.Generator, textures: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """A filled silhouette: premultiplied colour (side x side x 3) and its exact alpha."""
    alpha = silhouette(side, rng)
    return fill(side, rng, textures) * alpha[..., None], alpha


def catalogue_product(side: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, bool]:
    """A catalogue product's premultiplied colour and alpha (side x side) and whether it stands."""
    category = str(rng.choice(list(ps.SHAPES)))
    color = str(rng.choice(list(COLORS)))
    pattern = str(rng.choice(PATTERNS, p=PATTERN_WEIGHTS))
    shape = ps.SHAPES[category](rng)
    col, alpha, _ = render_layers(shape, color, pattern, side, rng)
    return col, alpha, shape.standing


def _structure(size: int, rng: np.random.Generator, textures: list[np.ndarray]) -> tuple:
    """A large backdrop structure (floor line, wall band, table edge): (colour, alpha) layer."""
    img = Image.new("L", (size * SS, size * SS), 0)
    d = ImageDraw.Draw(img)
    n = size * SS
    kind = int(rng.integers(0, 3))
    if kind == 0:  # a floor / horizon: everything below a slanted line
        y0, y1 = n * rng.uniform(0.3, 0.95), n * rng.uniform(0.3, 0.95)
        d.polygon([(0, y0), (n, y1), (n, n), (0, n)], fill=255)
    elif kind == 1:  # a band (a wall panel, a shelf, a door frame)
        w = n * rng.uniform(0.05, 0.35)
        c = n * rng.uniform(0, 1)
        if rng.random() < 0.5:
            d.rectangle((c - w / 2, -1, c + w / 2, n), fill=255)
        else:
            d.rectangle((-1, c - w / 2, n, c + w / 2), fill=255)
    else:  # a big tilted box partly in frame (furniture, a window)
        pts = _star(n * rng.uniform(0, 1), n * rng.uniform(0, 1), n * rng.uniform(0.25, 0.6), rng)
        d.polygon(pts[:4] if len(pts) > 4 else pts, fill=255)
    alpha = np.asarray(img.resize((size, size), Image.Resampling.BOX), np.float32) / 255.0
    return fill(size, rng, textures) * alpha[..., None], alpha


def extent(alpha: np.ndarray) -> int:
    """The side of the box around a layer's covered pixels (alpha > 0.5); 0 when empty."""
    ys, xs = np.nonzero(alpha > 0.5)
    return 0 if ys.size == 0 else int(max(np.ptp(ys), np.ptp(xs)) + 1)


def object_look(size: int, rng: np.random.Generator) -> dict[str, float | str]:
    """One backdrop object's look: its kind, defocus sigma (px), contrast kept, size factor."""
    kind = str(rng.choice(OBJECT_LOOKS, p=OBJECT_LOOK_WEIGHTS))
    blurred, faded = kind in ("defocus", "both"), kind in ("fade", "both")
    return {
        "kind": kind,
        "sigma": float(rng.uniform(*OBJECT_SIGMA)) * size / 160.0 if blurred else 0.0,
        "contrast": float(rng.uniform(*OBJECT_FADE)) if faded else 1.0,
        "small": float(rng.uniform(*SMALL)) if kind == "small" else 0.0,
    }


def backdrop_object(
    size: int,
    rng: np.random.Generator,
    textures: list[np.ndarray],
    product: int,
    mean: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, dict[str, float | str]]:
    """One object behind the product: premultiplied colour, alpha (in frame) and its look.

    ``product``: the product's extent in px (``extent``); a sharp, full-contrast object
    is at most ``SMALL[1]`` of it. ``mean``: the colour a faded object is pulled to.
    """
    look = object_look(size, rng)
    scale = rng.uniform(0.2, 0.95) * size
    if look["kind"] == "small":
        scale = float(look["small"]) * max(product, 16)
    side = int(np.clip(round(scale), 8, 4096))
    if rng.random() < 0.55 and side >= 16:
        col, alpha, _ = catalogue_product(side, rng)
    else:
        col, alpha = silhouette_product(side, rng, textures)
    # Anywhere in the frame, often partly outside it.
    oy, ox = (rng.uniform(-0.6, 1.0, 2) * size).astype(int)
    col, alpha = paste(col, alpha, size, int(oy), int(ox))
    if float(look["contrast"]) < 1.0:  # premultiplied: pull colour (not alpha) to the mean
        m = mean[None, None, :] * alpha[..., None]
        col = m + (col - m) * float(look["contrast"])
    if float(look["sigma"]) > 0.0:  # colour and alpha blurred together: a soft, exact edge
        sigma = float(look["sigma"])
        col, alpha = blur(col, sigma), np.clip(blur(alpha, sigma), 0.0, 1.0)
        col = np.minimum(col, 255.0 * alpha[..., None])  # a valid premultiplied layer
    return col, alpha, look


def scene(
    size: int,
    rng: np.random.Generator,
    textures: list[np.ndarray],
    base: Callable[[], np.ndarray],
    product: int | None = None,
) -> np.ndarray:
    """A size x size float32 backdrop that holds objects of its own (see the module doc).

    ``product``: the product's extent in px (None: the frame's side) for ``backdrop_object``.
    """
    bg = base()
    mean = bg.reshape(-1, 3).mean(axis=0)
    layers = [_structure(size, rng, textures) for _ in range(int(rng.integers(0, 3)))]
    for _ in range(int(rng.integers(*SCENE_OBJECTS))):
        col, alpha, _ = backdrop_object(size, rng, textures, product or size, mean)
        layers.append((col, alpha))
    for col, alpha in layers:
        bg = bg * (1.0 - alpha[..., None]) + col
    if rng.random() < P_SCENE_DEFOCUS:
        bg = blur(bg, float(rng.uniform(0.6, 3.5)) * size / 160.0)
    if rng.random() < P_SCENE_FADE:
        mean = bg.reshape(-1, 3).mean(axis=0)
        bg = mean + (bg - mean) * rng.uniform(0.35, 0.9)
    return np.clip(bg, 0, 255).astype(np.float32)
