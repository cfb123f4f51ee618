"""Paired try-on data: (flat garment, mannequin) -> the mannequin wearing that garment.

Everything is rendered, so the ground truth is exact: the garment's outline is
fitted to the mannequin's keypoints (``body``), its fabric is evaluated in
garment coordinates (``patterns``), so colour and pattern carry over, and it is
shaded with the same soft body shading as the mannequin. Rendering is
supersampled (SUPERSAMPLE x per side, box-averaged) for clean edges.

Samples are a pure function of (seed, index): training draws a seeded stream
per step, evaluation a disjoint stream (EVAL_STREAM), so evaluation garments,
colours and poses are never trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ptx.training.tryon import body as bd
from ptx.training.tryon.patterns import Fabric, fabric_rgb, load_textures, random_fabric

SUPERSAMPLE = 3
# The picture frame in body units (x0, y0, side): head to knees, the arms in any pose.
VIEW = (0.1, 0.07, 0.8)
TRAIN_STREAM = 11  # the first word of a training sample's seed
EVAL_STREAM = 7_000_003  # held-out samples: a stream training never draws from
TONES = {
    "grey": (0.74, 0.74, 0.76),
    "beige": (0.86, 0.76, 0.66),
    "dark": (0.34, 0.32, 0.31),
    "white": (0.93, 0.93, 0.92),
}


@dataclass(frozen=True)
class Garment:
    """A garment: its kind (``body.GARMENTS``) and its fabric."""

    kind: str
    fabric: Fabric


@dataclass(frozen=True)
class Mannequin:
    """A mannequin: pose (``body.POSES``), width factor, horizontal shift, tone, background."""

    pose: str
    width: float
    shift: float = 0.0
    tone: str = "grey"
    background: float = 0.9

    @property
    def body(self) -> bd.Body:
        """Its keypoints."""
        return bd.Body(0.5 + self.shift, self.width, bd.POSES[self.pose])


@dataclass(frozen=True)
class Sample:
    """One rendered training pair and the garment's coverage on the mannequin (0..1)."""

    garment: np.ndarray  # uint8 HxWx3 flat product image
    mannequin: np.ndarray  # uint8 HxWx3
    truth: np.ndarray  # uint8 HxWx3 the mannequin wearing the garment
    mask: np.ndarray  # float32 HxW garment coverage in ``truth``
    kind: str = ""  # the garment kind (body.GARMENTS)
    pattern: str = ""  # its fabric's pattern (patterns.PATTERNS)


def random_garment(rng: np.random.Generator, n_textures: int) -> Garment:
    """Any garment kind in a random fabric."""
    kind = str(bd.GARMENTS[int(rng.integers(0, len(bd.GARMENTS)))])
    return Garment(kind, random_fabric(rng, n_textures))


def random_mannequin(rng: np.random.Generator) -> Mannequin:
    """Any pose, width and tone, shifted a little sideways."""
    poses, tones = list(bd.POSES), list(TONES)
    return Mannequin(
        pose=poses[int(rng.integers(0, len(poses)))],
        width=float(bd.WIDTHS[int(rng.integers(0, len(bd.WIDTHS)))] * rng.uniform(0.97, 1.03)),
        shift=float(rng.uniform(-0.04, 0.04)),
        tone=tones[int(rng.integers(0, len(tones)))],
        background=float(rng.uniform(0.8, 0.97)),
    )


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Body-unit (x, y) of every pixel centre of an n x n render of VIEW."""
    x0, y0, size = VIEW
    c = (np.arange(n, dtype=np.float32) + 0.5) / n * size
    return np.meshgrid(c + x0, c + y0)


def _px(x: float, y: float, n: int) -> tuple[float, float]:
    """Body units -> render pixels."""
    x0, y0, size = VIEW
    return (x - x0) / size * n, (y - y0) / size * n


def _box(box: tuple[float, float, float, float], n: int) -> list[float]:
    return [*_px(box[0], box[1], n), *_px(box[2], box[3], n)]


def _mask(n: int, polys: list[bd.Polygon], ellipses=(), cut=()) -> np.ndarray:
    """A float 0/1 mask of polygons and ellipses (unit coordinates) minus ``cut`` ellipses."""
    im = Image.new("L", (n, n), 0)
    d = ImageDraw.Draw(im)
    for p in polys:
        d.polygon([_px(x, y, n) for x, y in p], fill=255)
    for box in ellipses:
        d.ellipse(_box(box, n), fill=255)
    for box in cut:
        d.ellipse(_box(box, n), fill=0)
    return np.asarray(im, np.float32) / 255.0


def _blur(m: np.ndarray, radius: float) -> np.ndarray:
    im = Image.fromarray(np.clip(m * 255.0 + 0.5, 0, 255).astype(np.uint8))
    return np.asarray(im.filter(ImageFilter.GaussianBlur(radius)), np.float32) / 255.0


def _shade(cover: np.ndarray, n: int, cx: float) -> np.ndarray:
    """Soft round-body shading: bright inside, darker toward the edges, lit from the left."""
    x, _ = _grid(n)
    inner = np.clip(_blur(cover, 0.022 * n) * 1.5 - 0.2, 0.0, 1.0)
    return (0.62 + 0.38 * inner) * (1.0 - 0.12 * (x - cx))


def _down(img: np.ndarray, ss: int) -> np.ndarray:
    """Box-average an (n*ss)^2 render to n^2."""
    n = img.shape[0] // ss
    return img.reshape(n, ss, n, ss, *img.shape[2:]).mean(axis=(1, 3))


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _uv(b: bd.Body, n: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = _grid(n)
    return (x - b.cx) / b.width, y - bd.SHOULDER_Y


def _background(n: int, level: float) -> np.ndarray:
    _, y = _grid(n)
    return np.repeat((level - 0.06 * (y - VIEW[1]))[..., None], 3, axis=2)


def _mannequin_layers(m: Mannequin, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mannequin RGB, body coverage, arm coverage) at render resolution n."""
    b = m.body
    parts = bd.mannequin_parts(b)
    cover = _mask(n, [p for ps in parts.values() for p in ps], [bd.head_box(b)])
    arms = _mask(n, parts["arms"])
    tone = np.asarray(TONES[m.tone], np.float32)
    skin = tone * _shade(cover, n, b.cx)[..., None]
    img = _background(n, m.background) * (1 - cover[..., None]) + skin * cover[..., None]
    return img, cover, arms


def render_mannequin(m: Mannequin, side: int) -> np.ndarray:
    """The bare mannequin, uint8 side x side RGB."""
    img, _, _ = _mannequin_layers(m, side * SUPERSAMPLE)
    return _to_uint8(_down(img, SUPERSAMPLE))


def _cut(kind: str, b: bd.Body) -> tuple:
    return (bd.neckline_box(b),) if bd.has_neckline(kind) else ()


def render_garment(g: Garment, side: int, textures: list[np.ndarray] | None = None) -> np.ndarray:
    """The flat product image: the garment laid flat (sleeves spread) on a light background."""
    n = side * SUPERSAMPLE
    b = bd.Body(0.5, 1.05, bd.FLAT_ARM_ANGLE)
    torso_polys, sleeves = bd.garment_outline(g.kind, b)
    m = _mask(n, torso_polys + sleeves, cut=_cut(g.kind, b))
    shadow = np.roll(_blur(m, 0.012 * n), (int(0.012 * n), int(0.008 * n)), axis=(0, 1))
    bg = _background(n, 0.985) * (1.0 - 0.16 * shadow[..., None])
    relief = 0.9 + 0.1 * _blur(m, 0.01 * n)  # a laid-flat garment is a little darker at its edges
    fabric = fabric_rgb(g.fabric, *_uv(b, n), textures) * relief[..., None]
    img = bg * (1 - m[..., None]) + fabric * m[..., None]
    return _to_uint8(_down(img, SUPERSAMPLE))


def render_dressed(
    g: Garment, m: Mannequin, side: int, textures: list[np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(the mannequin wearing ``g`` as uint8 RGB, the garment's coverage as float32 0..1)."""
    n = side * SUPERSAMPLE
    b = m.body
    img, cover, arms = _mannequin_layers(m, n)
    torso_polys, sleeves = bd.garment_outline(g.kind, b)
    cut = _cut(g.kind, b)
    on_body = _mask(n, torso_polys, cut=cut) * (1.0 - arms)  # bare arms lie over the garment
    gm = np.maximum(on_body, _mask(n, sleeves)) if sleeves else on_body
    shade = _shade(np.maximum(cover, gm), n, b.cx)
    fabric = fabric_rgb(g.fabric, *_uv(b, n), textures) * shade[..., None]
    out = img * (1 - gm[..., None]) + fabric * gm[..., None]
    return _to_uint8(_down(out, SUPERSAMPLE)), _down(gm, SUPERSAMPLE).astype(np.float32)


def sample(rng: np.random.Generator, side: int, textures: list[np.ndarray]) -> Sample:
    """One random (garment, mannequin, truth, mask), mirrored half the time."""
    g = random_garment(rng, len(textures))
    m = random_mannequin(rng)
    flip = bool(rng.random() < 0.5)
    flat = render_garment(g, side, textures)
    bare = render_mannequin(m, side)
    truth, mask = render_dressed(g, m, side, textures)
    if flip:  # both pictures at once: the pair stays consistent
        flat, bare, truth, mask = (a[:, ::-1] for a in (flat, bare, truth, mask))
    arrays = (np.ascontiguousarray(a) for a in (flat, bare, truth, mask))
    return Sample(*arrays, kind=g.kind, pattern=g.fabric.pattern)


def train_sample(seed: int, index: int, side: int, textures: list[np.ndarray]) -> Sample:
    """Training sample ``index`` of run ``seed`` (a pure function of both)."""
    return sample(np.random.default_rng([TRAIN_STREAM, seed, index]), side, textures)


def eval_sample(index: int, side: int, textures: list[np.ndarray] | None = None) -> Sample:
    """Held-out sample ``index``: from a stream no training run draws."""
    tex = load_textures() if textures is None else textures
    return sample(np.random.default_rng([EVAL_STREAM, index]), side, tex)


def make_batch(
    seed: int, step: int, batch: int, side: int, textures: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(garments, mannequins, truths) float32 NCHW in [0, 1] for training ``step``."""
    items = [train_sample(seed, step * batch + i, side, textures) for i in range(batch)]

    def stack(key: str) -> np.ndarray:
        arr = np.stack([getattr(s, key) for s in items]).astype(np.float32) / 255.0
        return np.ascontiguousarray(arr.transpose(0, 3, 1, 2))

    return stack("garment"), stack("mannequin"), stack("truth")
