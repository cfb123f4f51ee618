"""Mannequin geometry and garment outlines, in unit coordinates (x right, y down, 0..1).

A mannequin is a few keypoints (shoulders, waist, hips, arm ends) computed from
its pose (arm angle), body width and horizontal shift; a garment's outline on a
body is a set of polygons built from the same keypoints, so the ground truth of
"this garment on this mannequin" is the garment's outline fitted to that body.
The flat product image uses the same outline on a canonical body (arms spread
as on a flat-lay), so the garment looks the same kind in both pictures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GARMENTS = ("tshirt", "longsleeve", "tank", "dress", "skirt")
POSES = {"down": 18.0, "relaxed": 30.0, "out": 45.0}  # arm angle from vertical, degrees
WIDTHS = (0.85, 1.0, 1.15)  # body width factors (slim, regular, wide)
FLAT_ARM_ANGLE = 55.0  # sleeves spread on a flat-lay
SHOULDER_Y, WAIST_Y, HIP_Y, KNEE_Y, FOOT_Y = 0.27, 0.49, 0.58, 0.78, 0.96
ARM_LENGTH = 0.32
Polygon = list[tuple[float, float]]


@dataclass(frozen=True)
class Body:
    """A mannequin's keypoints in unit coordinates."""

    cx: float
    width: float
    arm_angle: float  # degrees from vertical

    @property
    def shoulder(self) -> float:
        """Half the shoulder width."""
        return 0.13 * self.width

    @property
    def waist(self) -> float:
        """Half the waist width."""
        return 0.095 * self.width

    @property
    def hip(self) -> float:
        """Half the hip width."""
        return 0.125 * self.width

    @property
    def arm_half(self) -> float:
        """Half an arm's thickness."""
        return 0.03 * self.width

    def arm_axis(self, side: int, frac: float = 1.0) -> tuple[tuple[float, float], ...]:
        """(start, end) of an arm's axis (side -1 left, +1 right), ``frac`` of its length."""
        a = math.radians(self.arm_angle)
        x0, y0 = self.cx + side * (self.shoulder - self.arm_half), SHOULDER_Y + 0.02
        length = ARM_LENGTH * frac
        return (x0, y0), (x0 + side * length * math.sin(a), y0 + length * math.cos(a))


def _band(p0: tuple[float, float], p1: tuple[float, float], half: float) -> Polygon:
    """A quad of half-thickness ``half`` around the segment p0 -> p1."""
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    n = math.hypot(dx, dy) or 1.0
    ox, oy = -dy / n * half, dx / n * half
    return [(p0[0] + ox, p0[1] + oy), (p1[0] + ox, p1[1] + oy),
            (p1[0] - ox, p1[1] - oy), (p0[0] - ox, p0[1] - oy)]  # fmt: skip


def torso(b: Body, top: float = SHOULDER_Y, bottom: float = HIP_Y, ease: float = 0.0) -> Polygon:
    """The torso outline from ``top`` to ``bottom`` (``ease``: extra half-width of a garment)."""
    c, e = b.cx, ease
    pts = [(c - b.shoulder - e, top), (c + b.shoulder + e, top)]
    if top < WAIST_Y < bottom:
        pts.append((c + b.waist + e, WAIST_Y))
    pts.append((c + b.hip + e, bottom))
    pts.append((c - b.hip - e, bottom))
    if top < WAIST_Y < bottom:
        pts.append((c - b.waist - e, WAIST_Y))
    return pts


def mannequin_parts(b: Body) -> dict[str, list[Polygon]]:
    """The mannequin's body as polygons per part (the head and neck are ellipse boxes)."""
    legs = []
    for s in (-1, 1):
        x = b.cx + s * 0.055 * b.width
        legs.append(_band((x, HIP_Y - 0.03), (x + s * 0.01, FOOT_Y), 0.045 * b.width))
    arms = [_band(*b.arm_axis(s), b.arm_half) for s in (-1, 1)]
    neck = [_band((b.cx, 0.18), (b.cx, SHOULDER_Y + 0.01), 0.03 * b.width)]
    return {"torso": [torso(b, SHOULDER_Y - 0.01)], "arms": arms, "legs": legs, "neck": neck}


def head_box(b: Body) -> tuple[float, float, float, float]:
    """The head ellipse's bounding box (x0, y0, x1, y1)."""
    r = 0.065
    return b.cx - r * 0.85, 0.155 - r, b.cx + r * 0.85, 0.155 + r


def neckline_box(b: Body) -> tuple[float, float, float, float]:
    """The ellipse cut out of a top's collar (x0, y0, x1, y1)."""
    r = 0.05 * b.width
    return b.cx - r, SHOULDER_Y - 0.03, b.cx + r, SHOULDER_Y + 0.04


def garment_outline(kind: str, b: Body) -> tuple[list[Polygon], list[Polygon]]:
    """(body, sleeve) polygons ``kind`` covers when worn by ``b`` (the neckline is cut apart).

    Sleeves are apart because they lie over the arms, while the body part lies under them.
    """
    ease = 0.012 * b.width
    sleeve = {"tshirt": 0.38, "longsleeve": 0.95, "dress": 0.22}
    polys: list[Polygon] = []
    if kind in ("tshirt", "longsleeve"):
        polys.append(torso(b, SHOULDER_Y - 0.008, HIP_Y + 0.02, ease))
    elif kind == "tank":
        t = torso(b, SHOULDER_Y + 0.035, HIP_Y + 0.02, ease)
        polys.append(t)
        for s in (-1, 1):  # straps
            x = b.cx + s * b.shoulder * 0.55
            polys.append(_band((x, SHOULDER_Y - 0.008), (x, SHOULDER_Y + 0.05), 0.018))
    elif kind == "dress":
        top = torso(b, SHOULDER_Y - 0.008, HIP_Y, ease)
        flare = b.hip * 1.45 + ease
        polys.append(top)
        polys.append([(b.cx - b.hip - ease, HIP_Y - 0.002), (b.cx + b.hip + ease, HIP_Y - 0.002),
                      (b.cx + flare, KNEE_Y + 0.02), (b.cx - flare, KNEE_Y + 0.02)])  # fmt: skip
    elif kind == "skirt":
        flare = b.hip * 1.5 + ease
        polys.append([(b.cx - b.waist - ease, WAIST_Y), (b.cx + b.waist + ease, WAIST_Y),
                      (b.cx + b.hip + ease, HIP_Y), (b.cx + flare, KNEE_Y),
                      (b.cx - flare, KNEE_Y), (b.cx - b.hip - ease, HIP_Y)])  # fmt: skip
    else:
        raise ValueError(f"unknown garment '{kind}' (known: {', '.join(GARMENTS)})")
    sleeves: list[Polygon] = []
    if kind in sleeve:
        for s in (-1, 1):
            p0, p1 = b.arm_axis(s, sleeve[kind])
            p0 = (p0[0] - s * 0.01, p0[1] - 0.012)
            sleeves.append(_band(p0, p1, b.arm_half + 0.012))
    return polys, sleeves


def has_neckline(kind: str) -> bool:
    """Whether a top's collar is cut out (skirts start at the waist)."""
    return kind != "skirt"
