"""Drawing one catalogue product: materials, patterns, lighting, anti-aliased (NumPy + Pillow).

The product is drawn at ``SUPERSAMPLE`` times the output size and averaged down;
``render_layers`` returns premultiplied colour and coverage at the output size
for ``catalogue`` to composite over a studio background.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ptx.training.data import product_shapes as ps

# The catalogue's colour vocabulary, each with the base RGB its products are painted in.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (200, 28, 36),
    "orange": (240, 118, 20),
    "yellow": (246, 206, 32),
    "green": (36, 146, 62),
    "blue": (28, 82, 196),
    "purple": (116, 48, 160),
    "pink": (236, 112, 164),
    "brown": (122, 74, 40),
    "black": (30, 30, 33),
    "white": (246, 246, 244),
}
SUPERSAMPLE = 2


# -- materials and patterns -----------------------------------------------------
def _palette(color: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-material base colours (index = material id) and the pattern's second colour."""
    base = np.array(COLORS[color], dtype=np.float32) * rng.uniform(0.94, 1.04)
    base = np.clip(base, 0, 255)
    lum = float(base @ np.array([0.299, 0.587, 0.114], dtype=np.float32))
    dark = color == "black"
    lut = np.zeros((9, 3), dtype=np.float32)
    lut[ps.BODY] = lut[ps.SOLID] = base
    lut[ps.TRIM] = base * 0.72 if not dark else base + 22.0
    lut[ps.INTERIOR] = base * 0.42 if not dark else base * 0.6
    lut[ps.LIGHT] = (236, 234, 228) if color != "white" else (196, 196, 194)
    lut[ps.DARK] = (34, 34, 37) if not dark else (72, 72, 76)
    lut[ps.METAL] = (176, 179, 184)
    lut[ps.GOLD] = (206, 164, 78)
    # Pattern ink: a tint or a shade of the same hue, so the named colour stays true.
    second = base * 0.58 if lum > 170 else base + (255.0 - base) * 0.78
    if dark:
        second = np.full(3, 96.0, dtype=np.float32)
    return lut, second.astype(np.float32)


def _aa_band(d: np.ndarray, half: float, px: float) -> np.ndarray:
    """Coverage of a band |d| < half with a one-pixel soft edge (px = pixel size, local)."""
    return np.clip((half - np.abs(d)) / px + 0.5, 0.0, 1.0)


def _pattern(
    kind: str, u: np.ndarray, v: np.ndarray, px: float, rng: np.random.Generator
) -> np.ndarray | None:
    """Ink coverage 0..1 of a pattern in the product's local frame (None for solid)."""
    if kind == "solid":
        return None
    if kind == "stripes":
        period = rng.uniform(0.11, 0.24)
        t = [v, u, (u + v) * 0.7071][rng.choice(3, p=[0.6, 0.2, 0.2])]
        d = (t / period) % 1.0 - 0.5
        return _aa_band(d * period, period * rng.uniform(0.18, 0.3), px)
    if kind == "dots":
        period = rng.uniform(0.13, 0.22)
        row = np.floor(v / period)
        du = ((u / period + 0.5 * (row % 2)) % 1.0 - 0.5) * period
        dv = ((v / period) % 1.0 - 0.5) * period
        return _aa_band(np.sqrt(du * du + dv * dv), period * rng.uniform(0.22, 0.32), px)
    if kind == "checks":
        period = rng.uniform(0.14, 0.28)
        half = period * 0.25
        a = _aa_band(((u / period) % 1.0 - 0.5) * period, half, px)
        b = _aa_band(((v / period) % 1.0 - 0.5) * period, half, px)
        return 0.5 * (a + b)  # gingham: the crossings come out darkest
    raise ValueError(f"unknown pattern {kind!r}")


# -- rendering -------------------------------------------------------------------
def _pose(shape: ps.Shape, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The 2x2 local->pixel matrix and the product centre in output pixels."""
    half = size * 0.36 * rng.uniform(0.86, 1.04)
    angle = math.radians(rng.uniform(-3, 3) if shape.standing else rng.uniform(-12, 12))
    flip = -1.0 if rng.random() < 0.5 else 1.0
    c, s = math.cos(angle), math.sin(angle)
    mat = np.array([[c, -s], [s, c]]) @ np.diag([flip * half, half])
    centre = size * (0.5 + rng.uniform(-0.035, 0.035, 2))
    centre[1] += size * (0.03 if shape.standing else 0.0)
    return mat, centre


def _draw_materials(
    shape: ps.Shape, mat: np.ndarray, offset: np.ndarray, shape_px: tuple[int, int]
) -> np.ndarray:
    """Paint every part's material id into a uint8 map (painter's order, no AA)."""
    img = Image.new("L", (shape_px[1], shape_px[0]), 0)
    draw = ImageDraw.Draw(img)
    scale = float(np.sqrt(abs(np.linalg.det(mat))))
    for part in shape.parts:
        pts = part.points @ mat.T - offset
        xy = [tuple(p) for p in pts.tolist()]
        if part.width > 0:
            w = max(int(round(part.width * scale)), 1)
            draw.line(xy, fill=part.material, width=w, joint="curve")
            for p in (xy[0], xy[-1]):  # round caps
                r = w / 2.0
                draw.ellipse((p[0] - r, p[1] - r, p[0] + r, p[1] + r), fill=part.material)
        else:
            draw.polygon(xy, fill=part.material)
    return np.asarray(img)


def _light(
    shape: ps.Shape,
    ids: np.ndarray,
    u: np.ndarray | None,
    wx: np.ndarray,
    wy: np.ndarray,
    flip: float,
    rng: np.random.Generator,
    blur_px: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel (gain, add) so that lit = rgb * gain + add: diffuse light plus a highlight."""
    lx, ly = -0.55 + rng.uniform(-0.15, 0.15), -0.8
    diffuse = 1.0 + 0.13 * (wx * lx + wy * ly)
    spec_mul = np.array([0, 1, 1, 0.6, 0.2, 0.5, 0.8, 1.8, 1.5], dtype=np.float32)[ids]
    if shape.cylinder is not None and u is not None:
        cx, hw = shape.cylinder
        t = np.clip((u - cx) / hw, -0.999, 0.999) * flip
        # cos(asin(t) + a) without the trig: the light sits a little left of the camera.
        diffuse = diffuse * (0.56 + 0.44 * (np.sqrt(1.0 - t * t) * 0.9004 - t * 0.4350))
        spec = 0.55 * np.exp(-(((t + 0.42) / 0.13) ** 2))
    else:
        hx, hy, hr = shape.highlight
        spec = 0.2 * np.exp(-((wx - hx) ** 2) / (hr * hr)) * np.exp(-((wy - hy) ** 2) / (hr * hr))
    # Edges turn away from the camera: darken a band inside the silhouette so a white
    # product on a white sweep still reads.
    cover = Image.fromarray(np.where(ids > 0, 255, 0).astype(np.uint8))
    inner = np.asarray(cover.filter(ImageFilter.BoxBlur(blur_px)), dtype=np.float32)
    diffuse = diffuse * (0.7 + 0.3 * np.clip(inner * (2.0 / 255.0) - 1.0, 0.0, 1.0))
    spec = np.minimum(spec * spec_mul, 0.9)
    return (diffuse * (1.0 - spec)).astype(np.float32), (255.0 * spec).astype(np.float32)


def render_layers(
    shape: ps.Shape, color: str, pattern: str, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Premultiplied colour, coverage and named-colour coverage of the product (output size)."""
    ss = SUPERSAMPLE if size <= 2048 else 1
    mat, centre = _pose(shape, size, rng)
    flip = float(np.sign(mat[0, 0] * mat[1, 1] - mat[0, 1] * mat[1, 0]))
    mat2, centre2 = mat * ss, centre * ss
    pts = np.concatenate([p.points for p in shape.parts]) @ mat2.T + centre2
    lo = np.clip(np.floor(pts.min(axis=0) / ss) - 2, 0, size).astype(int)
    hi = np.clip(np.ceil(pts.max(axis=0) / ss) + 2, 0, size).astype(int)
    (x0, y0), (x1, y1) = lo, hi
    h, w = (y1 - y0) * ss, (x1 - x0) * ss
    ids = _draw_materials(shape, mat2, np.array([x0, y0]) * ss - centre2, (h, w))
    lut, second = _palette(color, rng)
    # Pixel centres in a world-aligned frame (light must not flip with the product) and,
    # only when a pattern or round shading needs them, in the product's local frame.
    gy = (np.arange(h, dtype=np.float32) + 0.5 + y0 * ss - centre2[1])[:, None]
    gx = (np.arange(w, dtype=np.float32) + 0.5 + x0 * ss - centre2[0])[None, :]
    half = float(np.sqrt(abs(np.linalg.det(mat2))))
    wx, wy = gx / half, gy / half
    u = v = None
    if pattern != "solid" or shape.cylinder is not None:
        inv = np.linalg.inv(mat2).astype(np.float32)
        u, v = inv[0, 0] * gx + inv[0, 1] * gy, inv[1, 0] * gx + inv[1, 1] * gy
    rgb = np.take(lut, ids, axis=0)
    if u is not None and v is not None:
        ink = _pattern(pattern, u, v, 1.0 / half, rng)
        if ink is not None:
            ink *= ids == ps.BODY
            rgb += ink[..., None] * (second - lut[ps.BODY])
    gain, add = _light(shape, ids, u, wx, wy, flip, rng, max(half * 0.05, 1.0))
    rgb *= gain[..., None]
    rgb += add[..., None]
    # Outside the product rgb is still 0 (material 0 is black, unlit, unpatterned),
    # so it is premultiplied as it stands.
    cover = (ids > 0).astype(np.float32)
    named = ((ids == ps.BODY) | (ids == ps.SOLID)).astype(np.float32)
    colour = np.zeros((size, size, 3), np.float32)
    alpha = np.zeros((size, size), np.float32)
    mask = np.zeros((size, size), np.float32)
    colour[y0:y1, x0:x1] = _downsample(rgb, ss)
    alpha[y0:y1, x0:x1] = _downsample(cover, ss)
    mask[y0:y1, x0:x1] = _downsample(named, ss)
    return colour, alpha, mask


def _downsample(a: np.ndarray, ss: int) -> np.ndarray:
    """Box-average ss x ss blocks (strided adds beat a reshaped mean several times over)."""
    if ss == 1:
        return a
    acc = a[0::ss, 0::ss].copy()
    for dy in range(ss):
        for dx in range(ss):
            if dy or dx:
                acc += a[dy::ss, dx::ss]
    acc *= 1.0 / (ss * ss)
    return acc
