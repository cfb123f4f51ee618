"""Image decoding shared by every stage: bytes or files to uint8 sRGB (no torch here).

Only JPEG, PNG, WebP, BMP, TIFF and GIF (first frame) are opened, on every path (folders,
the server's routes), so a network-facing route never reaches a rarely-fuzzed parser or
one that shells out (EPS through Ghostscript). EXIF orientation and an embedded ICC
profile are applied (ptx.colour), transparency is composited on white and, on request,
handed over (ptx.alpha); a pixel limit guards against decompression bombs.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np

from ptx.alpha import alpha_of
from ptx.colour import to_srgb
from ptx.errors import ImageError, InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")  # Pillow format names allowed
_FORMATS_TEXT = "JPEG, PNG, WebP, BMP, TIFF, GIF"
DEFAULT_MAX_PIXELS = 50_000_000  # decompression-bomb guard; PTX_MAX_PIXELS overrides
_TO_RGBA = ("P", "PA", "LA", "La", "RGBa")  # modes _to_rgb composites by way of RGBA


def max_pixels() -> int:
    """The decompression-bomb limit in pixels (env PTX_MAX_PIXELS overrides 50 MP)."""
    raw = os.environ.get("PTX_MAX_PIXELS")
    if raw is None:
        return DEFAULT_MAX_PIXELS
    try:
        return int(raw)
    except ValueError as exc:
        raise InputError(f"PTX_MAX_PIXELS must be an integer, got '{raw}'") from exc


def _to_rgb(img) -> np.ndarray:
    """Convert any Pillow mode (RGBA, LA, P, L, I;16, I, F, CMYK, YCbCr) to uint8 RGB."""
    from PIL import Image

    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(img)
        # I;16 is 16-bit by definition (a dark 16-bit scan must stay dark); plain "I" may
        # hold 8- or 16-bit data, so its range decides. Integer maths, in place: a 50 MP
        # 16-bit scan must not become gigabytes of float64 copies.
        if mode.startswith("I;16") or arr.max(initial=0) > 255:
            wide = np.clip(arr, 0, 65535).astype(np.uint32)
            wide *= 255
            wide += 32767  # round half up: (p * 255 + 32767) // 65535
            wide //= 65535
            grey = wide.astype(np.uint8)
        else:
            grey = np.clip(arr, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if mode == "F":
        arr = np.nan_to_num(np.asarray(img, dtype=np.float32))
        scale = 255.0 if arr.max(initial=0) <= 1.0 else 1.0  # 0..1 floats or 0..255 floats
        grey = np.clip(arr * scale + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if mode == "P":
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Product cut-outs are shown on white; composite rather than drop alpha (which
        # would reveal whatever colour the transparent pixels happen to store).
        rgba = img if img.mode == "RGBA" else img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    # convert("RGB") of an RGB image is a copy (most JPEGs): 0.1-0.5 ms a 512x512 image
    return np.asarray(img if mode == "RGB" else img.convert("RGB"))


def image_header(data: bytes, name: str = "<bytes>") -> tuple[int, int, str]:
    """(width, height, format) from the header alone, allowed formats only; ImageError otherwise."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ImageError(f"{name}: empty file (0 bytes)")
    Image.MAX_IMAGE_PIXELS = None  # ptx's own pixel limits apply, not Pillow's bomb error
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as img:
            return img.size[0], img.size[1], str(img.format)
    except UnidentifiedImageError as exc:
        raise ImageError(f"{name}: not an image in an allowed format ({_FORMATS_TEXT})") from exc
    except Exception as exc:  # crafted headers raise all sorts (struct.error, ValueError...)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageError(f"{name}: unreadable image header ({reason})") from exc


def decode_image(data: bytes, name: str = "<bytes>", limit: int | None = None) -> np.ndarray:
    """Decode image bytes to uint8 sRGB HWC, EXIF orientation and ICC profile applied.

    Transparency is composited on white. Raises ImageError (one line: what and where) for
    empty, corrupt, truncated, non-image or over-limit input.
    """
    return _decode(data, name, limit, with_alpha=False)[0]


def decode_image_alpha(
    data: bytes, name: str = "<bytes>", limit: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """decode_image's RGB and the image's uint8 H x W alpha (None when it is opaque)."""
    return _decode(data, name, limit, with_alpha=True)


def _decode(
    data: bytes, name: str, limit: int | None, with_alpha: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    from PIL import Image, ImageOps, UnidentifiedImageError

    limit = max_pixels() if limit is None else limit
    if not data:
        raise ImageError(f"{name}: empty file (0 bytes)")
    alpha = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = None  # our own limit below is the one that applies
            img = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
            w, h = img.size
            if w * h > limit:
                raise ImageError(
                    f"{name}: {w}x{h} = {w * h / 1e6:.1f} MP is over the "
                    f"{limit / 1e6:.0f} MP limit (set PTX_MAX_PIXELS to raise it)"
                )
            img.load()
            ImageOps.exif_transpose(img, in_place=True)  # returning a copy costs one more
            img = to_srgb(img, name)
            if with_alpha and img.mode in _TO_RGBA:
                img = img.convert("RGBA")  # once, for the alpha and the composite alike
            if with_alpha:
                alpha = alpha_of(img)
            rgb = _to_rgb(img)
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageError(f"{name}: not an image in an allowed format ({_FORMATS_TEXT})") from exc
    except Exception as exc:
        # Pillow's decoders raise OSError, SyntaxError, ValueError, but also struct.error,
        # IndexError, EOFError... on crafted input; a folder run must skip, not crash.
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageError(
            f"{name}: corrupt or truncated image ({reason}); re-save or remove the file"
        ) from exc
    if rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < 1:
        raise ImageError(f"{name}: decoded to an unusable shape {rgb.shape}")
    return np.ascontiguousarray(rgb), alpha


def _file_bytes(p: Path) -> bytes:
    if not p.exists():
        raise ImageError(f"{p}: no such file")
    if p.is_dir():
        raise ImageError(f"{p}: is a folder, not an image")
    try:
        return p.read_bytes()
    except OSError as exc:
        reason = exc.strerror or exc
        raise ImageError(f"{p}: cannot read ({reason}); check its permissions") from exc


def read_image(path: str | Path, limit: int | None = None) -> np.ndarray:
    """Read an image file as uint8 RGB HWC (see decode_image)."""
    return decode_image(_file_bytes(Path(path)), str(path), limit)


def read_image_alpha(
    path: str | Path, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read an image file as uint8 RGB HWC and its alpha (see decode_image_alpha)."""
    return decode_image_alpha(_file_bytes(Path(path)), str(path), limit)
