"""`ptx run ...` (thin: parse, call one function, print). Never imports torch."""

from __future__ import annotations

import json

import click

from ptx.cli import LazyGroup

MAX_LISTED = 10  # skipped files printed one per line; the rest are counted


def _floats(text: str | None, what: str, n: tuple[int, ...]) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) not in n:
        from ptx.errors import InputError

        counts = " or ".join(str(k) for k in n)
        raise InputError(f"--{what} needs {counts} comma-separated numbers, got '{text}'")
    return values


def _convention(range_, mean, std, bgr, nhwc):
    """An ImageConvention from flags, or None to use the model's ModelSpec."""
    if range_ is None and mean is None and std is None and not bgr and not nhwc:
        return None
    from ptx.spec import ImageConvention

    return ImageConvention(
        layout="NHWC" if nhwc else "NCHW",
        channel_order="BGR" if bgr else "RGB",
        range=_floats(range_, "range", (2,)) or (0.0, 1.0),
        mean=_floats(mean, "mean", (1, 3)) or (0.0,),
        std=_floats(std, "std", (1, 3)) or (1.0,),
    )


@click.group(
    cls=LazyGroup,
    lazy={
        "generate": "ptx.runtime.cli.generate:run_generate_cmd",
        "vae": "ptx.runtime.cli.vae:run_vae_cmd",
        "stylize": "ptx.runtime.cli.vae:run_stylize_cmd",
    },
)
def run() -> None:
    """Run a model over images."""


@run.command("enhance")
@click.option("--model", required=True, type=click.Path(), help="enhance.onnx (or a .plan)")
@click.option("--input", "input_", required=True, type=click.Path(), help="image file or folder")
@click.option("--out", required=True, type=click.Path(), help="output folder (names are kept)")
@click.option("--batch", default=1, show_default=True, help="images per batch (same size only)")
@click.option("--threads", type=int, default=None, help="intra-op threads [physical cores]")
@click.option(
    "--backend",
    type=click.Choice(["auto", "onnxruntime", "openvino", "tensorrt"]),
    default="auto",
    show_default=True,
    help="auto: on the CPU the faster of onnxruntime and openvino (measured once, cached)",
)
@click.option("--range", "range_", default=None, help="foreign model: value range LO,HI [0,1]")
@click.option("--mean", default=None, help="foreign model: mean, 1 or 3 values [0]")
@click.option("--std", default=None, help="foreign model: std, 1 or 3 values [1]")
@click.option("--bgr", is_flag=True, help="foreign model: channels in BGR order")
@click.option("--nhwc", is_flag=True, help="foreign model: NHWC layout")
@click.option("--no-progress", is_flag=True, help="no progress bar")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def enhance_cmd(
    model, input_, out, batch, threads, backend, range_, mean, std, bgr, nhwc, no_progress, as_json
) -> None:
    """Enhance a photo or a folder of photos; prints images, failures, images/s."""
    from ptx.errors import ImageError
    from ptx.runtime import load
    from ptx.runtime.pipelines.enhance import enhance_path

    conv = _convention(range_, mean, std, bgr, nhwc)
    # spin=False: the decode/encode threads need the cores between batches.
    engine = load(model, threads=threads, backend=backend, spin=False)
    summary = enhance_path(engine, input_, out, batch=batch, progress=not no_progress, conv=conv)
    choice = getattr(engine, "choice", None)  # set when auto measured (or recalled) the pick
    if as_json:
        data = summary.to_dict()
        if choice is not None:
            data["backend_choice"] = choice.to_dict()
        click.echo(json.dumps(data, indent=2))
    else:
        for path, reason in summary.skipped[:MAX_LISTED]:
            click.echo(
                f"skipped: {reason}" if path in reason else f"skipped {path}: {reason}", err=True
            )
        if len(summary.skipped) > MAX_LISTED:
            click.echo(f"... and {len(summary.skipped) - MAX_LISTED} more skipped", err=True)
        if choice is not None:
            click.echo(choice.line(), err=True)
        click.echo(summary.line())
    if summary.images == 0:
        first = summary.skipped[0][1] if summary.skipped else "nothing was written"
        raise ImageError(f"every input failed ({summary.failed}); first: {first}")
