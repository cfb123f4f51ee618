"""Colour management on decode: a photo tagged with an ICC profile becomes sRGB pixels.

Why: ptx's models are trained on sRGB and its outputs are written untagged, which browsers
and catalogue pipelines read as sRGB. Phones shoot Display P3 and studios deliver Adobe RGB,
tagged with their profile; read as if they were sRGB, a clean P3 product photo came back from
`ptx run enhance` at 23-35 dB against what its viewer saw (desaturated), though the model
had changed nothing. So every decode converts a tagged photo to sRGB (relative colorimetric
with black-point compensation, the usual choice for photographs); colours outside sRGB
are clipped, as an sRGB screen shows them anyway. A profile that already acts as sRGB
(within one level on a colour grid) is skipped: no time spent, pixels bit-identical.
A profile lcms cannot read or that does not fit the pixels (a CMYK profile on an RGB
image) is ignored with a warning: the photo is read as sRGB, as browsers show it.
"""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from collections import OrderedDict

import numpy as np

# Pillow modes lcms converts directly; others (P, LA, PA) are first widened to RGB(A).
_WIDEN = {"P": "RGBA", "PA": "RGBA", "LA": "RGBA", "La": "RGBA", "RGBa": "RGBA"}
_COLOUR_MODES = ("RGB", "RGBA", "L", "CMYK")
SRGB_TOLERANCE = 1  # levels: a profile within this of sRGB on the probe grid is sRGB
_SEEN: OrderedDict[bytes, bool] = OrderedDict()  # profile sha256 -> acts as sRGB
_SEEN_MAX = 64
_LOCK = threading.Lock()


class ProfileWarning(UserWarning):
    """An embedded ICC profile was unreadable or did not fit the image, and was ignored."""


def _transform(icc: bytes, mode: str):
    """An lcms transform from ``icc`` (pixels in ``mode``) to sRGB in RGB or RGBA."""
    from PIL import ImageCms

    src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    out_mode = "RGBA" if mode == "RGBA" else "RGB"
    flags = ImageCms.Flags.BLACKPOINTCOMPENSATION
    if mode == "RGBA":
        flags |= ImageCms.Flags.COPY_ALPHA
    return ImageCms.buildTransform(
        src,
        ImageCms.createProfile("sRGB"),
        mode,
        out_mode,
        ImageCms.Intent.RELATIVE_COLORIMETRIC,
        flags,
    )


def acts_as_srgb(icc: bytes, mode: str) -> bool:
    """Whether converting ``mode`` pixels tagged ``icc`` to sRGB moves no probe colour > 1 level.

    Raises what lcms raises for a profile it cannot use. Remembered per profile digest (a
    folder of phone photos shares one profile), never per profile bytes: a server must not
    keep 64 request-sized profiles alive.
    """
    if mode not in ("RGB", "RGBA"):
        return False  # grey and CMYK pixels are never sRGB values as they stand
    key = hashlib.sha256(icc).digest()
    with _LOCK:
        if key in _SEEN:
            _SEEN.move_to_end(key)
            return _SEEN[key]
    verdict = _probe_is_srgb(icc)
    with _LOCK:
        _SEEN[key] = verdict
        while len(_SEEN) > _SEEN_MAX:
            _SEEN.popitem(last=False)
    return verdict


def _probe_is_srgb(icc: bytes) -> bool:
    from PIL import Image, ImageCms

    steps = np.linspace(0, 255, 9).round().astype(np.uint8)
    grid = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), axis=-1).reshape(1, -1, 3)
    greys = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
    probe = np.concatenate([grid, greys], axis=1)
    out = ImageCms.applyTransform(Image.fromarray(probe), _transform(icc, "RGB"))
    diff = np.abs(np.asarray(out, dtype=np.int16) - probe.astype(np.int16))
    return int(diff.max()) <= SRGB_TOLERANCE


def to_srgb(img, name: str = "<bytes>"):
    """``img`` (a loaded Pillow image) with its embedded ICC profile applied: sRGB pixels.

    Returns ``img`` itself when it has no profile, its profile acts as sRGB, or its mode
    carries no colour profile ptx converts (16-bit and float grey); a new RGB or RGBA image
    otherwise. An unusable profile gives a ProfileWarning and ``img`` unchanged.
    """
    from PIL import ImageCms

    icc = img.info.get("icc_profile")
    if not icc:
        return img
    mode = _WIDEN.get(img.mode, img.mode)
    if mode not in _COLOUR_MODES:
        return img
    try:
        if acts_as_srgb(bytes(icc), mode):
            return img
        src = img if img.mode == mode else img.convert(mode)
        return ImageCms.applyTransform(src, _transform(bytes(icc), mode))
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        warnings.warn(
            f"{name}: embedded ICC profile ignored ({reason}); read as sRGB",
            ProfileWarning,
            stacklevel=2,
        )
        return img
