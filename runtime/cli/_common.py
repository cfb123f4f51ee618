"""What the `ptx run` commands share: the foreign-model flags, the backend choice, skip lists."""

from __future__ import annotations

import click

from ptx.errors import InputError
from ptx.runtime.backends import BACKENDS
from ptx.runtime.backends.auto.precision import PRECISIONS
from ptx.spec import ImageConvention
from ptx.tensors import parse_named_shape

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
