"""Alpha-aware catalogue renders for the cut-out family: (RGB, exact alpha) pairs (NumPy + Pillow).

The catalogue renderer already knows every pixel's coverage (``render_layers``
returns premultiplied colour and alpha); this module reuses it unchanged and
stages the product differently: a random scale and position (sometimes two
products, sometimes touching the frame), sometimes a free silhouette instead of a
catalogue shape (thin straps and legs, holes, light patches: ``matte_scene``),
optional real texture on the product, an optional defocus that softens colour and
alpha together. Backdrops (``BG_KINDS``): studio sweeps; plain white/grey paper
with light fall-off and sensor noise; scikit-image's grey textures (brick, grass,
gravel: textures only) mapped to colours, sometimes out of focus; flat colours;
gradients with or without a vignette; smooth colour blobs; and scenes that hold
objects of their own (other catalogue products, silhouettes, floor lines and wall
bands; often defocused or faded) which the product stands in front of.

Shadows are background: they darken the backdrop and leave alpha at 0, so a
cut-out never carries the studio's shadow (compose draws its own). Image
``index`` of ``seed`` depends only on ``(seed, index)``.
"""

from __future__ import annotations

import numpy as np

from ptx.errors import InputError
from ptx.training.data.matte_scene import (
    blobs,
    catalogue_product,
    extent,
    paste,
    scene,
    silhouette_product,
)
from ptx.training.data.matte_scene import blur as _blur
from ptx.training.data.matte_scene import colour as _colour
from ptx.training.data.matte_scene import texture as _texture
from ptx.training.data.studio import BACKGROUND_WEIGHTS, BACKGROUNDS, background, shadow

STREAM = 7_771  # keeps these draws apart from the catalogue's default_rng([seed, i])
BG_KINDS = ("studio", "plain", "texture", "flat", "gradient", "blobs", "scene")
BG_WEIGHTS = (0.24, 0.18, 0.1, 0.05, 0.07, 0.06, 0.3)  # plain/studio: most marketplace photos
SCENE_BASES = ("studio", "plain", "texture", "flat", "gradient", "blobs")
SCENE_BASE_WEIGHTS = (0.15, 0.1, 0.35, 0.1, 0.1, 0.2)  # busy scenes are mostly textured
P_SECOND = 0.1  # a second product in the frame (both are foreground)
P_SILHOUETTE = 0.3  # a free silhouette (thin parts, holes, any fill) instead of a catalogue shape
P_TEXTURED = 0.3  # real texture modulating the product's colour
P_DEFOCUS = 0.3  # colour and alpha blurred together (a soft, out-of-focus edge)
P_SHADOW = 0.7
P_TEXTURE_BLUR = 0.4  # grey texture backdrops are sometimes out of focus
SCALE = (0.6, 1.3)  # the product's render size relative to the frame
SHIFT = 0.18  # max offset of the product's centre, of the frame side


def _plain(size: int, rng: np.random.Generator) -> np.ndarray:
    """White or light grey paper with a faint light fall-off and sensor noise."""
    level = rng.uniform(235, 255) if rng.random() < 0.6 else rng.uniform(180, 235)
    y = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    r2 = y[:, None] ** 2 + y[None, :] ** 2
    lum = level * (1.0 - rng.uniform(0.0, 0.06) * r2)
    tint = 1.0 + rng.uniform(-0.015, 0.015, 3).astype(np.float32)
    noise = rng.normal(0.0, rng.uniform(0.0, 3.0), (size, size, 1)).astype(np.float32)
    return np.clip(lum[..., None] * tint + noise, 0, 255).astype(np.float32)


def _gradient(size: int, rng: np.random.Generator) -> np.ndarray:
    """A linear colour gradient, half the time with a vignette."""
    t = np.linspace(0.0, 1.0, size, dtype=np.float32)
    t = t[:, None] if rng.random() < 0.5 else t[None, :]
    a, b = _colour(rng), _colour(rng)
    out = a + (b - a) * np.broadcast_to(t, (size, size))[..., None]
    if rng.random() < 0.5:
        y = np.linspace(-1.0, 1.0, size, dtype=np.float32)
        r2 = y[:, None] ** 2 + y[None, :] ** 2
        out = out * (1.0 - rng.uniform(0.15, 0.5) * r2 / 2.0)[..., None]
    return out.astype(np.float32)


def matte_background(
    kind: str,
    size: int,
    rng: np.random.Generator,
    textures: list[np.ndarray],
    product: int | None = None,
) -> np.ndarray:
    """A size x size x 3 float32 backdrop in 0..255 of one of BG_KINDS.

    ``product``: the product's extent in px; a scene keeps its sharp objects smaller.
    """
    if kind == "texture" and not textures:
        kind = "blobs"  # without scikit-image: still something busy
    if kind == "studio":
        return background(str(rng.choice(BACKGROUNDS, p=BACKGROUND_WEIGHTS)), size, rng)
    if kind == "plain":
        return _plain(size, rng)
    if kind == "texture":
        grey = textures[int(rng.integers(0, len(textures)))]
        tex = _texture(grey, size, rng).astype(np.float32)
        if rng.random() < P_TEXTURE_BLUR:
            tex = _blur(tex, float(rng.uniform(0.5, 2.5)) * size / 160.0)
        return tex
    if kind == "flat":
        return np.broadcast_to(_colour(rng), (size, size, 3)).astype(np.float32)
    if kind == "gradient":
        return _gradient(size, rng)
    if kind == "blobs":
        return blobs(size, rng)
    if kind == "scene":
        base = str(rng.choice(SCENE_BASES, p=SCENE_BASE_WEIGHTS))
        return scene(
            size, rng, textures, lambda: matte_background(base, size, rng, textures), product
        )
    raise ValueError(f"unknown matte background {kind!r}")


def _place(
    colour: np.ndarray, alpha: np.ndarray, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Paste a square render (premultiplied) into a size x size frame at a random offset."""
    src = alpha.shape[0]
    off = (size - src) / 2.0 + rng.uniform(-SHIFT, SHIFT, 2) * size
    return paste(colour, alpha, size, int(round(off[0])), int(round(off[1])))


def _product(
    size: int, rng: np.random.Generator, textures: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, bool]:
    """One product's premultiplied colour and alpha in the frame, and whether it stands."""
    side = int(np.clip(round(size * rng.uniform(*SCALE)), 16, 4096))
    if rng.random() < P_SILHOUETTE:
        colour, alpha = silhouette_product(side, rng, textures)
        standing = bool(rng.random() < 0.5)
    else:
        colour, alpha, standing = catalogue_product(side, rng)
    if textures and rng.random() < P_TEXTURED:
        grey = textures[int(rng.integers(0, len(textures)))]
        t = _texture(grey, side, rng).astype(np.float32).mean(axis=2) / 255.0
        depth = rng.uniform(0.2, 0.6)
        colour = np.minimum(
            colour * (1.0 - depth + 2.0 * depth * t)[..., None], 255.0 * alpha[..., None]
        )
    colour, alpha = _place(colour, alpha, size, rng)
    return colour, alpha, standing


def render_matte(
    seed: int, index: int, size: int, textures: list[np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Matte image ``index`` of ``seed``: uint8 HxWx3 RGB and its exact float32 alpha in 0..1.

    ``textures``: grey texture images (``package_textures()``) for textured backdrops and
    products; None or [] uses none.
    """
    rgb, alpha, _ = render_matte_kind(seed, index, size, textures)
    return rgb, alpha


def render_matte_kind(
    seed: int, index: int, size: int, textures: list[np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """``render_matte`` plus the backdrop's kind (one of BG_KINDS), for per-kind scores."""
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
    kind = str(rng.choice(BG_KINDS, p=BG_WEIGHTS))
    bg = matte_background(kind, size, rng, tex, product=extent(alpha))
    if rng.random() < P_SHADOW:
        bg = bg * (1.0 - shadow(alpha, standing, rng))[..., None]
    out = bg * (1.0 - alpha[..., None]) + colour
    rgb = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return rgb, alpha.astype(np.float32), kind


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
