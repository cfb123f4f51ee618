"""Cut products out of photos with a cutout model: a soft alpha per image, RGBA files.

The network runs with the image's long side at the spec's ``work_side`` (the size it
trained at: larger photos are scaled down, smaller ones up)
and its alpha is resized back to the photo's own size. Images keep their own
sizes; each runs on its own (a cut-out is one photo at a time in practice).
A spec with ``flip_average`` runs the photo and its mirror image as one batch of
two and averages the two alphas (the mirror unflipped): the net is not exactly
mirror-symmetric, and the average is right more often than either alone. A spec with
``refine: grabcut`` refines the alpha with one graph cut seeded by it (cutout_refine).
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ptx.errors import ImageError, InputError, ModelError
from ptx.image import resize_bilinear
from ptx.io import atomic_write_bytes, read_image
from ptx.runtime import load
from ptx.runtime.backends import quiet_pool
from ptx.runtime.engine import Engine
from ptx.runtime.pipelines import cutout_refine
from ptx.runtime.pipelines.batching import RunSummary, mark_output, plan_items
from ptx.spec import ImageConvention

SHIPPED_MODEL = Path(__file__).resolve().parent.parent / "models" / "cutout.onnx"  # the default
DEFAULT_WORK_SIDE = 192  # a cutout spec carries its own; this is for a spec without one
DEFAULT_MIN_SIDE = 32
DEFAULT_FLIP = False  # a spec without ``flip_average`` (older models): one pass, as trained


def check_model(engine: Engine) -> Engine:
    """ModelError unless ``engine`` is a cutout model (one image in, one 1-channel map out)."""
    spec = engine.spec
    if spec is not None and "cutout" not in (spec.family, spec.task):
        raise ModelError(
            f"{engine.path.name}: a '{spec.family}' model, not a cut-out model; "
            "pass the cutout model's .onnx"
        )
    if len(engine.inputs) != 1 or len(engine.inputs[0].shape) != 4 or len(engine.outputs) != 1:
        raise ModelError(f"{engine.path.name}: a cut-out model has one 4-D input and one output")
    return engine


def load_cutout(path: str | Path, threads: int | None = None) -> Engine:
    """Load a cutout model (.onnx/.plan) once; refuses a non-cutout spec with ModelError."""
    return check_model(load(path, threads=threads, **quiet_pool("auto")))


def _engine(engine_or_path: Engine | str | Path) -> Engine:
    if isinstance(engine_or_path, Engine):
        return check_model(engine_or_path)
    return load_cutout(engine_or_path)


def work_size(
    h: int, w: int, work_side: int, min_side: int, max_side: int | None = None
) -> tuple[int, int]:
    """The (h, w) the network runs at: long side = work_side, short side >= min_side.

    Small photos are scaled up too: the net is scale-sensitive and sees products at the
    size it trained at (the shipped model found nothing in a 48 x 64 photo run as is, and
    the whole product scaled up to 160). A very long, thin image cannot have both: the
    short side wins, and each side is then clamped to ``max_side`` (the profile's),
    stretching the aspect if it must.
    """
    scale = work_side / max(h, w)
    scale = max(scale, min_side / min(h, w))
    hi = max_side or 1 << 30
    return tuple(min(max(int(round(s * scale)), min_side), hi) for s in (h, w))  # type: ignore[return-value]


def profile_sides(engine: Engine) -> tuple[int, int, int | None]:
    """(work side, min side, max side) from the spec's config and profile."""
    spec = engine.spec
    work = int(spec.config.get("work_side", DEFAULT_WORK_SIDE)) if spec else DEFAULT_WORK_SIDE
    lo, hi = DEFAULT_MIN_SIDE, None
    if spec is not None and spec.profile is not None:
        name = engine.inputs[0].name
        if name in spec.profile.min:
            lo = int(min(spec.profile.min[name][2:]))
        if name in spec.profile.max:
            hi = int(min(spec.profile.max[name][2:]))
    return work, lo, hi


def _pairs_fit(engine: Engine) -> bool:
    """Whether the profile allows a batch of two (image + mirror)."""
    spec, name = engine.spec, engine.inputs[0].name
    if spec is None or spec.profile is None or name not in spec.profile.max:
        return True
    return int(spec.profile.max[name][0]) >= 2


def flip_average(engine: Engine) -> bool:
    """Whether the spec asks for mirror averaging and its profile allows a batch of two."""
    spec = engine.spec
    wanted = spec is not None and bool(spec.config.get("flip_average", DEFAULT_FLIP))
    return wanted and _pairs_fit(engine)


def refines(engine: Engine, refine: bool | None = None) -> bool:
    """Whether the alpha gets GrabCut refinement: ``refine``, else the spec's ``refine`` key.

    Asked for explicitly without OpenCV: MissingDependency. Asked for by the spec only:
    one note on stderr, and the net's alpha as it is.
    """
    if refine is False:
        return False
    spec = engine.spec
    wanted = spec is not None and spec.config.get("refine") in cutout_refine.REFINERS
    if refine:
        cutout_refine.import_cv2()
        return True
    return wanted and cutout_refine.available()


def finish_alpha(img: np.ndarray, alpha: np.ndarray, refine: bool) -> np.ndarray:
    """The net's alpha at the photo's size, GrabCut-refined when ``refine``."""
    return cutout_refine.grabcut_refine(img, alpha) if refine else alpha


def _check_image(img: np.ndarray, i: int) -> None:
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3:
        raise InputError(f"image {i}: expected uint8 HxWx3 RGB, got {getattr(img, 'shape', img)}")
    if img.shape[2] != 3 or min(img.shape[:2]) < 1:
        raise InputError(f"image {i}: expected uint8 HxWx3 RGB, got shape {img.shape}")


def cutout_feeds(
    engine: Engine, img: np.ndarray, work_side: int | None = None, flip: bool | None = None
) -> tuple[dict[str, np.ndarray], tuple[int, int]]:
    """The model's feeds for one RGB image at its working size, and that size (h, w).

    ``work_side``: overrides the spec's (studies comparing sides); None uses the spec's.
    ``flip``: feed the image and its mirror as a batch of two (``alpha_of`` averages
    them); None: as the spec says (``flip_average``).
    """
    work, lo, hi = profile_sides(engine)
    work = work if work_side is None else int(work_side)
    info = engine.inputs[0]
    conv = engine.spec.image if engine.spec and engine.spec.image else ImageConvention()
    h, w = img.shape[:2]
    wh, ww = work_size(h, w, work, lo, hi)
    small = img if (wh, ww) == (h, w) else resize_bilinear(img, wh, ww)
    flip = flip_average(engine) if flip is None else flip
    if flip and not _pairs_fit(engine):
        name = engine.path.name
        raise InputError(f"{name}: its profile allows batch 1 only; cannot flip-average")
    batch = [small, small[:, ::-1]] if flip else [small]
    return {info.name: conv.to_model(batch, info.dtype)}, (wh, ww)


def alpha_of(output: np.ndarray, work: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """The model's output at the working size -> float32 alpha in [0, 1] at the image's size.

    An output of two (image, mirror; ``cutout_feeds`` with flip) is their average.
    """
    out = np.asarray(output, dtype=np.float32)
    if out.size == 2 * work[0] * work[1]:
        pair = out.reshape(2, *work)
        a = 0.5 * (pair[0] + pair[1][:, ::-1])
    else:
        a = out.reshape(work)
    if work != tuple(size):
        a = resize_bilinear(a, *size)
    return np.clip(a, 0.0, 1.0)


def cutout_alpha(
    engine_or_path: Engine | str | Path,
    images: list[np.ndarray],
    work_side: int | None = None,
    flip: bool | None = None,
    refine: bool | None = None,
) -> list[np.ndarray]:
    """uint8 HxWx3 RGB images -> float32 HxW alpha in [0, 1] each, same order and sizes.

    ``work_side``: the long side the net runs at, instead of the spec's (None: the spec's).
    ``flip``: average with the mirror image's alpha, or not, instead of the spec's choice.
    ``refine``: GrabCut refinement on or off instead of the spec's choice (``refines``).
    """
    engine = _engine(engine_or_path)
    for i, img in enumerate(images):
        _check_image(img, i)
    if work_side is not None and work_side < 1:
        raise InputError(f"work side must be at least 1 px, got {work_side}")
    refine = refines(engine, refine)
    out = []
    for img in images:
        feeds, work = cutout_feeds(engine, img, work_side, flip)
        y = next(iter(engine.run(feeds).values()))
        out.append(finish_alpha(img, alpha_of(y, work, img.shape[:2]), refine))
    return out


def to_rgba(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """uint8 HxWx4: the RGB unchanged, A = round(alpha * 255)."""
    a = np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.dstack([rgb, a])


def cutout_rgba(
    engine_or_path: Engine | str | Path, images: list[np.ndarray], refine: bool | None = None
) -> list[np.ndarray]:
    """Like cutout_alpha, but uint8 HxWx4 RGBA images (RGB unchanged)."""
    alphas = cutout_alpha(engine_or_path, images, refine=refine)
    return [to_rgba(img, a) for img, a in zip(images, alphas, strict=True)]


def encode_rgba(rgba: np.ndarray) -> bytes:
    """PNG bytes of a uint8 HxWx4 image."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="PNG")
    return buf.getvalue()


def cutout_path(
    engine_or_path: Engine | str | Path,
    input: str | Path,
    out: str | Path,
    threads: int | None = None,
    progress: bool = True,
    refine: bool | None = None,
) -> RunSummary:
    """Cut out a file or folder (recursive) into ``out`` as RGBA PNGs with the same stems.

    Unreadable images are skipped and listed; every write is atomic. ``refine``: as
    cutout_alpha's.
    """
    items = plan_items(input, out, suffix=".png")
    if isinstance(engine_or_path, Engine):
        engine = check_model(engine_or_path)
    else:
        engine = check_model(load(engine_or_path, threads=threads, **quiet_pool("auto")))
    refine = refines(engine, refine)  # once, before the first photo (a missing OpenCV)
    mark_output(input, out)
    skipped: list[tuple[str, str]] = []
    done = 0
    start = time.perf_counter()
    for item in tqdm(items, unit="img", file=sys.stderr, disable=not progress, leave=False):
        try:
            rgb = read_image(item.source)
            rgba = cutout_rgba(engine, [rgb], refine=refine)[0]
            atomic_write_bytes(item.dest, encode_rgba(rgba))
            done += 1
        except (ImageError, InputError, ModelError) as exc:
            skipped.append((str(item.source), str(exc)))
    seconds = time.perf_counter() - start
    return RunSummary(
        images=done,
        failed=len(skipped),
        seconds=seconds,
        images_per_s=done / seconds if seconds > 0 else 0.0,
        backend=engine.backend,
        out=str(out),
        skipped=skipped,
    )
