"""Alpha-aware catalogue renders for the cut-out family: (RGB, exact alpha) pairs (NumPy + Pillow).

The catalogue renderer already knows every pixel's coverage (``render_layers``
returns premultiplied colour and alpha); this module reuses it unchanged and
stages the product differently: a random scale and position (sometimes two
products, sometimes touching the frame), optional real texture on the product,
an optional defocus that softens colour and alpha together, and backgrounds
that are not only studio sweeps: scikit-image's grey textures (brick, grass,
gravel) mapped to colours, flat and graded colours, smooth colour blobs.

Shadows are background: they darken the backdrop and leave alpha at 0, so a
cut-out never carries the studio's shadow (compose draws its own). Image
``index`` of ``seed`` depends only on ``(seed, index)``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ptx.errors import InputError
from ptx.training.data import product_shapes as ps
from ptx.training.data.catalogue import PATTERN_WEIGHTS, PATTERNS
from ptx.training.data.product_render import COLORS, render_layers
from ptx.training.data.studio import BACKGROUND_WEIGHTS, BACKGROUNDS, background, shadow
from ptx.training.enhance.data import texture_crop

STREAM = 7_771  # keeps these draws apart from the catalogue's default_rng([seed, i])
BG_KINDS = ("studio", "texture", "flat", "gradient", "blobs")
BG_WEIGHTS = (0.35, 0.25, 0.12, 0.1, 0.18)
P_SECOND = 0.1  # a second product in the frame (both are foreground)
P_TEXTURED = 0.3  # real texture modulating the product's colour
P_DEFOCUS = 0.35  # colour and alpha blurred together (a soft, out-of-focus edge)
P_SHADOW = 0.7
SCALE = (0.6, 1.3)  # the product's render size relative to the frame
SHIFT = 0.18  # max offset of the product's centre, of the frame side


def _blur(a: np.ndarray, sigma: float) -> np.ndarray:
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


def _texture(grey: np.ndarray, side: int, rng: np.random.Generator) -> np.ndarray:
    """``texture_crop`` at any side: above the texture's own size, a crop scaled up."""
    most = min(grey.shape[:2])
    if side <= most:
        return texture_crop(grey, side, rng)
    small = texture_crop(grey, most, rng)
    return np.asarray(Image.fromarray(small).resize((side, side), Image.Resampling.BICUBIC))


def _colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 255, size=3).astype(np.float32)


def matte_background(
    kind: str, size: int, rng: np.random.Generator, textures: list[np.ndarray]
) -> np.ndarray:
    """A size x size x 3 float32 backdrop in 0..255 of one of BG_KINDS."""
    if kind == "texture" and not textures:
        kind = "blobs"  # without scikit-image: still something busy
    if kind == "studio":
        return background(str(rng.choice(BACKGROUNDS, p=BACKGROUND_WEIGHTS)), size, rng)
    if kind == "texture":
        grey = textures[int(rng.integers(0, len(textures)))]
        return _texture(grey, size, rng).astype(np.float32)
    if kind == "flat":
        return np.broadcast_to(_colour(rng), (size, size, 3)).astype(np.float32)
    if kind == "gradient":
        t = np.linspace(0.0, 1.0, size, dtype=np.float32)
        t = t[:, None] if rng.random() < 0.5 else t[None, :]
        a, b = _colour(rng), _colour(rng)
        return (a + (b - a) * np.broadcast_to(t, (size, size))[..., None]).astype(np.float32)
    if kind == "blobs":
        q = int(rng.integers(3, 7))
        small = rng.uniform(0, 255, size=(q, q, 3)).astype(np.uint8)
        big = Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)
        return np.asarray(big, dtype=np.float32)
    raise ValueError(f"unknown matte background {kind!r}")


def _place(
    colour: np.ndarray, alpha: np.ndarray, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Paste a square render (premultiplied) into a size x size frame at a random offset."""
    src = alpha.shape[0]
    off = (size - src) / 2.0 + rng.uniform(-SHIFT, SHIFT, 2) * size
    oy, ox = int(round(off[0])), int(round(off[1]))
    out_c = np.zeros((size, size, 3), np.float32)
    out_a = np.zeros((size, size), np.float32)
    y0, x0 = max(oy, 0), max(ox, 0)
    y1, x1 = min(oy + src, size), min(ox + src, size)
    if y1 > y0 and x1 > x0:
        out_c[y0:y1, x0:x1] = colour[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
        out_a[y0:y1, x0:x1] = alpha[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
    return out_c, out_a


def _product(
    size: int, rng: np.random.Generator, textures: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, bool]:
    """One product's premultiplied colour and alpha in the frame, and whether it stands."""
    category = str(rng.choice(list(ps.SHAPES)))
    color = str(rng.choice(list(COLORS)))
    pattern = str(rng.choice(PATTERNS, p=PATTERN_WEIGHTS))
    shape = ps.SHAPES[category](rng)
    side = int(np.clip(round(size * rng.uniform(*SCALE)), 16, 4096))
    colour, alpha, _ = render_layers(shape, color, pattern, side, rng)
    if textures and rng.random() < P_TEXTURED:
        grey = textures[int(rng.integers(0, len(textures)))]
        t = _texture(grey, side, rng).astype(np.float32).mean(axis=2) / 255.0
        depth = rng.uniform(0.2, 0.6)
        colour = np.minimum(
            colour * (1.0 - depth + 2.0 * depth * t)[..., None], 255.0 * alpha[..., None]
        )
    colour, alpha = _place(colour, alpha, size, rng)
    return colour, alpha, shape.standing


def render_matte(
    seed: int, index: int, size: int, textures: list[np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Matte image ``index`` of ``seed``: uint8 HxWx3 RGB and its exact float32 alpha in 0..1.

    ``textures``: grey texture images (``package_textures()``) for textured backdrops and
    products; None or [] uses none.
    """
    if not 16 <= size <= 4096:
        raise InputError(f"size must be between 16 and 4096 px, got {size}")
    if seed < 0 or index < 0:
        raise InputError(f"seed and index must be >= 0, got seed={seed} index={index}")
    tex = textures or []
    rng = np.random.default_rng([seed, index, STREAM])
    colour, alpha, standing = _product(size, rng, tex)
    if rng.random() < P_SECOND:
        c2, a2, _ = _product(size, rng, tex)
        # The second product sits in front: "over" on premultiplied layers.
        colour = c2 + colour * (1.0 - a2[..., None])
        alpha = a2 + alpha * (1.0 - a2)
    if rng.random() < P_DEFOCUS:
        sigma = float(rng.uniform(0.4, 1.6)) * size / 256.0 + 0.2
        colour, alpha = _blur(colour, sigma), np.clip(_blur(alpha, sigma), 0.0, 1.0)
    bg = matte_background(str(rng.choice(BG_KINDS, p=BG_WEIGHTS)), size, rng, tex)
    if rng.random() < P_SHADOW:
        bg = bg * (1.0 - shadow(alpha, standing, rng))[..., None]
    out = bg * (1.0 - alpha[..., None]) + colour
    rgb = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return rgb, alpha.astype(np.float32)


def render_set(
    seed: int, start: int, n: int, size: int, textures: list[np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Images start..start+n-1 as (N, size, size, 3) uint8 RGB and (N, size, size) uint8 alpha."""
    rgb = np.empty((n, size, size, 3), np.uint8)
    alpha = np.empty((n, size, size), np.uint8)
    for k in range(n):
        img, a = render_matte(seed, start + k, size, textures)
        rgb[k], alpha[k] = img, np.clip(a * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return rgb, alpha
