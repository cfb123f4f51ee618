"""What the `ptx run` commands share: the foreign-model flags, the backend choice, skip lists,
and the auto trial's shape (given, or the first photo's model shape)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from ptx.errors import InputError, PtxError
from ptx.formats.onnx import graph_io, load_onnx
from ptx.image import padded_size
from ptx.inputs import resolve_shapes
from ptx.runtime import ONNX_SUFFIXES, requested_backend
from ptx.runtime.backends import BACKENDS
from ptx.runtime.backends.auto.precision import PRECISIONS, REDUCED, normalise
from ptx.runtime.engine import Engine
from ptx.runtime.pipelines.batching import plan_items
from ptx.runtime.pipelines.enhance import image_convention, runs_whole, tile_budget, tile_sides
from ptx.runtime.pipelines.enhance_tiles import DEFAULT_OVERLAP, tile_grid
from ptx.spec import ImageConvention, ModelSpec, spec_from_onnx
from ptx.tensors import TensorInfo, parse_named_shape

log = logging.getLogger("ptx.runtime")

MAX_LISTED = 10  # skipped files printed one per line; the rest are counted
BACKEND_NAMES = ["auto", *BACKENDS]
PRECISION_HELP = (
    "auto: on the CPU also try the bf16/fp16 this processor has units for (OpenVINO), kept "
    "only if faster and within the parity gate vs fp32 (measured once, cached), and int8 "
    "where `ptx convert --precision int8` wrote m.int8.onnx; bf16/fp16/int8 run on "
    "OpenVINO; a named backend under auto runs fp32"
)


def precision_option(default: str = "auto"):
    """The --precision flag the run commands, serve and bench share."""
    return click.option(
        "--precision",
        type=click.Choice(list(PRECISIONS)),
        default=default,
        show_default=True,
        help=PRECISION_HELP,
    )


TRIAL_SHAPE_HELP = (
    "NAME:SHAPE the auto trial runs at, e.g. image:1x3x512x512 (repeat per input): the size "
    "you will serve, since the faster backend/precision can differ by size [the spec's opt "
    "shape]; it must lie inside the model's profile"
)


def trial_shape_option():
    """The --trial-shape flag: the input shapes of the ``auto`` backend/precision trial."""
    return click.option("--trial-shape", "trial_shape", multiple=True, help=TRIAL_SHAPE_HELP)


def trial_shapes(items: tuple[str, ...] | list[str]) -> dict[str, tuple[int, ...]]:
    """``("image:1x3x512x512",)`` -> {"image": (1, 3, 512, 512)}; one InputError line if bad."""
    out: dict[str, tuple[int, ...]] = {}
    for item in items:
        named = parse_named_shape(item, "--trial-shape")
        if named.dtype is not None:
            raise InputError(f"--trial-shape '{item}': give NAME:SHAPE only (no dtype)")
        if named.name in out:
            raise InputError(f"--trial-shape: input '{named.name}' is given twice")
        out[named.name] = named.shape
    return out


RUN_TRIAL_SHAPE_HELP = (
    "NAME:SHAPE the auto backend/precision trial runs at, e.g. image:1x3x512x512 (repeat per "
    "input); it must lie inside the model's profile [the first input photo's model shape "
    "(its tile's, past the tile budget) at --batch where that lies inside the profile, else "
    "the spec's opt shape]"
)


def run_trial_shape_option(help: str = RUN_TRIAL_SHAPE_HELP):
    """``ptx run``'s --trial-shape: serve's flag, with the default the command says."""
    return click.option("--trial-shape", "trial_shape", multiple=True, help=help)


def check_trial_shapes(engine: Engine, shapes: dict[str, tuple[int, ...]]) -> None:
    """A named backend runs no trial: a bad --trial-shape is still one InputError line."""
    if shapes and engine.choice is None:
        where = f"--trial-shape for {engine.path.name}"
        resolve_shapes(engine.inputs, engine.spec, shapes, where=where)


@dataclass
class ModelFile:
    """What a pipeline reads of an Engine (path, spec, inputs), from the ONNX file alone."""

    path: Path
    spec: ModelSpec | None
    inputs: list[TensorInfo]


def auto_trial_file(
    model: str | Path, backend: str, device: str, precision: str
) -> ModelFile | None:
    """The model's ModelFile if loading it runs the auto trial (.onnx, CPU, auto), else None."""
    p = Path(model)
    if p.suffix.lower() not in ONNX_SUFFIXES or device != "cpu":
        return None
    if normalise(precision) in REDUCED or requested_backend(p, backend) != "auto":
        return None
    try:
        onnx_model = load_onnx(p, external_data=False)  # IO and metadata only
        inputs, _ = graph_io(onnx_model)
        return ModelFile(p, spec_from_onnx(onnx_model), inputs)
    except PtxError:  # the load says what is wrong with the file, in its own words
        return None


def photo_size(path: Path) -> tuple[int, int]:
    """(h, w) of a photo as it will be decoded (EXIF rotation applied), from its header."""
    from PIL import Image  # Pillow: kept out of `ptx --help`

    with Image.open(path) as img:
        w, h = img.size
        turned = img.getexif().get(0x0112) in (5, 6, 7, 8)  # EXIF orientation: a 90° turn
    return (w, h) if turned else (h, w)


def first_photo_shapes(
    model: ModelFile | None,
    input_: str | Path,
    out: str | Path,
    batch: int,
    conv: ImageConvention,
    work: Callable[[int, int], tuple[int, int]],
) -> dict[str, tuple[int, ...]]:
    """The model shape the first input photo runs at: the default trial shape.

    ``work(h, w)`` is the (h, w) the task feeds for an h x w photo (a tile, a
    working size); the batch is ``batch`` capped at the photo count. Empty (the
    spec's opt shape) when no trial runs, the first photo cannot be read, or its
    shape lies outside the model's profile.
    """
    if model is None or len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
        return {}
    try:
        items = plan_items(input_, out)
        h, w = padded_size(*work(*photo_size(items[0].source)), conv.multiple_of)
    except Exception as exc:  # noqa: BLE001 - crafted headers raise all sorts; the run says
        log.info("trial shape: the spec's (first photo unreadable: %s)", exc)
        return {}
    n = min(batch, len(items))
    shape = (n, h, w, 3) if conv.layout == "NHWC" else (n, 3, h, w)
    shapes = {model.inputs[0].name: shape}
    try:
        resolve_shapes(model.inputs, model.spec, shapes, where=model.path.name)
    except PtxError as exc:
        log.info("trial shape: the spec's (%s)", exc)
        return {}
    return shapes


def batch_shapes(model: ModelFile | None, batch: int) -> dict[str, tuple[int, ...]]:
    """Every input at the spec's opt shape with batch ``batch``; empty if that cannot run."""
    if model is None:
        return {}
    try:
        return resolve_shapes(model.inputs, model.spec, {}, batch, where=model.path.name)
    except PtxError as exc:
        log.info("trial shape: the spec's (%s)", exc)
        return {}


def image_trial_shapes(
    model: ModelFile | None,
    input_: str | Path,
    out: str | Path,
    batch: int = 1,
    conv: ImageConvention | None = None,
    max_pixels: int | None = None,
) -> dict[str, tuple[int, ...]]:
    """enhance/stylize: the first photo's model shape, or its first tile's past the budget."""
    if model is None or len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
        return {}
    budget = tile_budget(model, max_pixels)

    def work(h: int, w: int) -> tuple[int, int]:
        if runs_whole(model, budget, h, w):
            return h, w
        rows, cols = tile_grid(h, w, budget, DEFAULT_OVERLAP, tile_sides(model))  # enhance_tiled's
        return rows[0][1] - rows[0][0], cols[0][1] - cols[0][0]

    return first_photo_shapes(model, input_, out, batch, image_convention(model, conv), work)


def floats(text: str | None, what: str, n: tuple[int, ...]) -> tuple[float, ...] | None:
    """``"0,255"`` -> (0.0, 255.0) when it has one of the counts ``n``; None stays None."""
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) not in n:
        counts = " or ".join(str(k) for k in n)
        raise InputError(f"--{what} needs {counts} comma-separated numbers, got '{text}'")
    return values


def convention(
    range_: str | None, mean: str | None, std: str | None, bgr: bool, nhwc: bool
) -> ImageConvention | None:
    """An ImageConvention from the foreign-model flags, or None to use the model's ModelSpec."""
    if range_ is None and mean is None and std is None and not bgr and not nhwc:
        return None
    return ImageConvention(
        layout="NHWC" if nhwc else "NCHW",
        channel_order="BGR" if bgr else "RGB",
        range=floats(range_, "range", (2,)) or (0.0, 1.0),
        mean=floats(mean, "mean", (1, 3)) or (0.0,),
        std=floats(std, "std", (1, 3)) or (1.0,),
    )


def print_skipped(skipped: list[tuple[str, str]]) -> None:
    """The skipped files on stderr, one ``skipped`` line each up to MAX_LISTED, then a count."""
    for path, reason in skipped[:MAX_LISTED]:
        line = f"skipped: {reason}" if path in reason else f"skipped {path}: {reason}"
        click.echo(line, err=True)
    if len(skipped) > MAX_LISTED:
        click.echo(f"... and {len(skipped) - MAX_LISTED} more skipped", err=True)
