"""Product geometry for the synthetic catalogue: each category as polygons in a local frame.

The local frame is x right, y down, the product roughly inside [-1, 1]^2. Shapes are
polygons (ellipses and arcs are sampled) so a pose (scale, rotation, flip) is a plain
affine map of the points. Each part carries a material; the renderer colours by material.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

# Materials, painted in the order parts are listed (later parts cover earlier ones).
BODY = 1  # product colour with the pattern
SOLID = 2  # product colour, no pattern (handles, straps' trims)
TRIM = 3  # a darker shade of the product colour (seams, collars, ribbing)
INTERIOR = 4  # much darker product colour (inside a mug, a shirt's neck opening)
LIGHT = 5  # off-white (soles, laces, dials)
DARK = 6  # near-black (hands, cushions, caps)
METAL = 7  # brushed steel
GOLD = 8  # brass hardware
COLOURED = (BODY, SOLID)  # the materials that carry the named colour


@dataclass(frozen=True)
class Part:
    """One polygon (closed) or polyline (``width`` > 0, in local units) of one material."""

    material: int
    points: np.ndarray
    width: float = 0.0


@dataclass(frozen=True)
class Shape:
    """A category's parts plus how it is lit and staged."""

    parts: list[Part]
    standing: bool  # stands on the floor (contact shadow) vs lies flat (drop shadow)
    cylinder: tuple[float, float] | None = None  # (centre x, half width) for round shading
    highlight: tuple[float, float, float] = (-0.35, -0.45, 0.45)  # x, y, radius (local)
    extras: dict[str, str] = field(default_factory=dict)


def ellipse(
    cx: float, cy: float, rx: float, ry: float, a0: float = 0.0, a1: float = 360.0, n: int = 48
) -> np.ndarray:
    """Points on an ellipse (angles in degrees, 0 = +x, 90 = +y i.e. down)."""
    t = np.radians(np.linspace(a0, a1, n, endpoint=(a1 - a0) < 360.0))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def band(
    cx: float, cy: float, rx: float, ry: float, thick: float, a0: float, a1: float, n: int = 40
) -> np.ndarray:
    """A thick elliptical arc (outer arc forward, inner arc back) as one polygon."""
    outer = ellipse(cx, cy, rx, ry, a0, a1, n)
    inner = ellipse(cx, cy, rx - thick, ry - thick, a0, a1, n)[::-1]
    return np.concatenate([outer, inner])


def rrect(x0: float, y0: float, x1: float, y1: float, r: float, n: int = 6) -> np.ndarray:
    """A rounded rectangle."""
    r = min(r, (x1 - x0) / 2, (y1 - y0) / 2)
    corners = [
        (x1 - r, y1 - r, 0),
        (x0 + r, y1 - r, 90),
        (x0 + r, y0 + r, 180),
        (x1 - r, y0 + r, 270),
    ]
    pts = [ellipse(cx, cy, r, r, a, a + 90, n + 1)[: n + 1] for cx, cy, a in corners]
    return np.concatenate(pts)


def smooth(points: list[tuple[float, float]], iters: int = 2, closed: bool = True) -> np.ndarray:
    """Chaikin corner cutting: a control polygon becomes a soft, fabric-like outline."""
    p = np.asarray(points, dtype=np.float64)
    for _ in range(iters):
        q = np.roll(p, -1, axis=0) if closed else p[1:]
        a = p if closed else p[:-1]
        cut = np.empty((2 * len(a), 2))
        cut[0::2] = 0.75 * a + 0.25 * q
        cut[1::2] = 0.25 * a + 0.75 * q
        p = cut if closed else np.concatenate([p[:1], cut, p[-1:]])
    return p


def _pts(*xy: tuple[float, float]) -> np.ndarray:
    return np.asarray(xy, dtype=np.float64)


def tshirt(rng: np.random.Generator) -> Shape:
    """A flat-lay crew-neck t-shirt, front view."""
    sl = rng.uniform(-0.05, 0.05)  # sleeve length varies a little
    outline = [
        (-0.3, -0.9),
        (-0.64, -0.8),
        (-1.0 - sl, -0.42),
        (-0.8 - sl, -0.12),
        (-0.58, -0.3),
        (-0.6, 0.84),
        (-0.58, 0.95),
        (0.58, 0.95),
        (0.6, 0.84),
        (0.58, -0.3),
        (0.8 + sl, -0.12),
        (1.0 + sl, -0.42),
        (0.64, -0.8),
        (0.3, -0.9),
        (0.17, -0.76),
        (0.0, -0.72),
        (-0.17, -0.76),
    ]
    neck_back = smooth(
        [(-0.3, -0.9), (0.0, -0.95), (0.3, -0.9), (0.17, -0.76), (0.0, -0.72), (-0.17, -0.76)], 2
    )
    collar = smooth(
        [(-0.32, -0.91), (-0.19, -0.74), (0.0, -0.68), (0.19, -0.74), (0.32, -0.91)],
        2,
        closed=False,
    )
    parts = [
        Part(BODY, smooth(outline, 2)),
        Part(INTERIOR, neck_back),
        Part(TRIM, collar, 0.06),
        Part(TRIM, _pts((-0.9 - sl, -0.36), (-0.78 - sl, -0.24)), 0.03),
        Part(TRIM, _pts((0.9 + sl, -0.36), (0.78 + sl, -0.24)), 0.03),
        Part(TRIM, _pts((-0.54, 0.86), (0.54, 0.86)), 0.02),
    ]
    return Shape(parts, standing=False, highlight=(-0.3, -0.4, 0.7))


def mug(rng: np.random.Generator) -> Shape:
    """A ceramic mug, side view, handle on the right."""
    top, bottom, cx, rx = -0.7, 0.78, -0.12, 0.52
    handle = band(cx + rx - 0.02, 0.0, 0.38, 0.42, 0.13, -95.0, 95.0)
    body = np.concatenate(
        [ellipse(cx, top, rx, 0.12, 180, 360, 24), ellipse(cx, bottom, rx, 0.1, 0, 180, 24)]
    )
    parts = [
        Part(SOLID, handle),
        Part(BODY, body),
        Part(SOLID, ellipse(cx, top, rx, 0.12)),
        Part(INTERIOR, ellipse(cx, top + 0.01, rx - 0.05, 0.09)),
    ]
    return Shape(parts, standing=True, cylinder=(cx, rx), highlight=(cx - 0.25, 0.0, 0.12))


def sneaker(rng: np.random.Generator) -> Shape:
    """A low-top sneaker, side view, toe to the right."""
    sole = smooth(
        [
            (-0.99, 0.2),
            (-1.0, 0.44),
            (-0.9, 0.52),
            (0.85, 0.52),
            (1.0, 0.42),
            (1.0, 0.28),
            (0.9, 0.2),
        ],
        2,
    )
    upper = smooth(
        [
            (-0.95, 0.26),
            (-0.98, -0.2),
            (-0.88, -0.44),
            (-0.62, -0.36),
            (-0.36, -0.34),
            (-0.26, -0.54),
            (-0.1, -0.5),
            (0.2, -0.18),
            (0.55, -0.02),
            (0.86, 0.08),
            (0.98, 0.22),
            (0.9, 0.27),
        ],
        2,
    )
    swoosh = smooth([(-0.72, 0.1), (-0.2, 0.12), (0.5, -0.12), (0.1, 0.02), (-0.6, 0.2)], 2)
    laces = [
        Part(
            LIGHT,
            _pts((-0.2 + 0.1 * k, -0.44 + 0.075 * k), (-0.06 + 0.1 * k, -0.36 + 0.075 * k)),
            0.04,
        )
        for k in range(4)
    ]
    parts = [
        Part(LIGHT, sole),
        Part(BODY, upper),
        Part(TRIM, _pts((-0.3, -0.46), (0.24, -0.13)), 0.09),
        *laces,
        Part(TRIM, smooth([(-0.93, -0.2), (-0.86, -0.39), (-0.62, -0.32)], 2, False), 0.05),
        Part(LIGHT, swoosh),
        Part(TRIM, _pts((-0.93, 0.24), (0.86, 0.24)), 0.025),
    ]
    return Shape(parts, standing=True, highlight=(-0.1, -0.2, 0.55))


def handbag(rng: np.random.Generator) -> Shape:
    """A structured handbag with a flap, a gold clasp and a top handle."""
    handle = band(0.0, -0.3, 0.48, 0.62, 0.09, 180.0, 360.0)
    body = smooth([(-0.72, -0.32), (0.72, -0.32), (0.95, 0.86), (-0.95, 0.86)], 1)
    flap = smooth([(-0.74, -0.32), (0.74, -0.32), (0.75, 0.02), (0.0, 0.26), (-0.75, 0.02)], 1)
    parts = [
        Part(TRIM, handle),
        Part(BODY, body),
        Part(SOLID, flap),
        Part(TRIM, smooth([(-0.74, 0.03), (0.0, 0.26), (0.74, 0.03)], 1, False), 0.025),
        Part(TRIM, rrect(-0.56, -0.38, -0.4, -0.26, 0.03)),
        Part(TRIM, rrect(0.4, -0.38, 0.56, -0.26, 0.03)),
        Part(GOLD, rrect(-0.1, 0.14, 0.1, 0.32, 0.04)),
    ]
    return Shape(parts, standing=True, highlight=(-0.35, 0.1, 0.6))


def bottle(rng: np.random.Generator) -> Shape:
    """An insulated water bottle with a cap, standing."""
    w = rng.uniform(0.32, 0.38)
    cap_mat = METAL if rng.random() < 0.5 else DARK
    parts = [
        Part(BODY, ellipse(0.0, -0.46, w, 0.26)),
        Part(BODY, rrect(-w, -0.5, w, 0.96, 0.14)),
        Part(SOLID, rrect(-0.17, -0.78, 0.17, -0.6, 0.02)),
        Part(cap_mat, rrect(-0.21, -1.0, 0.21, -0.76, 0.05)),
        Part(cap_mat, band(0.0, -0.98, 0.12, 0.12, 0.04, 180, 360, 20)),
        Part(TRIM, _pts((-w, 0.62), (w, 0.62)), 0.02),
    ]
    return Shape(parts, standing=True, cylinder=(0.0, w), highlight=(-0.45 * w, 0.0, 0.09))


def watch(rng: np.random.Generator) -> Shape:
    """A wristwatch lying flat: strap in the product colour, steel case, dial and hands."""
    dark_dial = rng.random() < 0.4
    dial, ink = (DARK, LIGHT) if dark_dial else (LIGHT, DARK)
    parts = [
        Part(BODY, rrect(-0.22, -1.0, 0.22, 1.0, 0.1)),
        Part(TRIM, rrect(-0.24, 0.6, 0.24, 0.68, 0.02)),
    ]
    parts += [Part(DARK, ellipse(0.0, 0.78 + 0.09 * k, 0.025, 0.025, n=12)) for k in range(2)]
    parts += [
        Part(METAL, ellipse(0.0, 0.0, 0.48, 0.48)),
        Part(METAL, rrect(0.44, -0.07, 0.56, 0.07, 0.02)),
        Part(dial, ellipse(0.0, 0.0, 0.39, 0.39)),
    ]
    for k in range(12):
        a = np.radians(30 * k)
        r0 = 0.28 if k % 3 else 0.24
        parts.append(
            Part(
                ink,
                _pts((r0 * np.cos(a), r0 * np.sin(a)), (0.34 * np.cos(a), 0.34 * np.sin(a))),
                0.035,
            )
        )
    ah, am = np.radians(rng.uniform(0, 360, 2))
    parts += [
        Part(ink, _pts((0, 0), (0.18 * np.sin(ah), -0.18 * np.cos(ah))), 0.05),
        Part(ink, _pts((0, 0), (0.3 * np.sin(am), -0.3 * np.cos(am))), 0.035),
        Part(METAL, ellipse(0.0, 0.0, 0.04, 0.04, n=12)),
    ]
    return Shape(
        parts,
        standing=False,
        highlight=(-0.2, -0.25, 0.35),
        extras={"dial": "dark" if dark_dial else "light"},
    )


def headphones(rng: np.random.Generator) -> Shape:
    """Over-ear headphones, front view."""
    parts = [
        Part(SOLID, band(0.0, 0.1, 0.8, 0.95, 0.12, 180.0, 360.0)),
        Part(DARK, band(0.0, 0.1, 0.66, 0.81, 0.05, 200.0, 340.0)),
        Part(METAL, rrect(-0.8, 0.05, -0.7, 0.3, 0.02)),
        Part(METAL, rrect(0.7, 0.05, 0.8, 0.3, 0.02)),
    ]
    for s in (-1.0, 1.0):
        parts += [
            Part(DARK, ellipse(s * 0.56, 0.56, 0.14, 0.34)),
            Part(BODY, ellipse(s * 0.76, 0.56, 0.24, 0.38)),
            Part(TRIM, ellipse(s * 0.8, 0.56, 0.12, 0.2)),
        ]
    return Shape(parts, standing=False, highlight=(-0.4, -0.6, 0.5))


SHAPES: dict[str, Callable[[np.random.Generator], Shape]] = {
    "t-shirt": tshirt,
    "mug": mug,
    "sneaker": sneaker,
    "handbag": handbag,
    "bottle": bottle,
    "watch": watch,
    "headphones": headphones,
}
