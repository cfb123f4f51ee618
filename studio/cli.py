"""`ptx compose display|compare|ad` (thin: parse, build the model steps, call one job, print).

Cheap to import: models are loaded through ptx.runtime inside the commands, and
neither torch nor onnxruntime is imported before a command runs.
"""

from __future__ import annotations

import click

from ptx.errors import InputError
from ptx.studio.compose import Models, compose_ad, compose_compare, compose_display
from ptx.studio.layout import load_layout
from ptx.studio.models import (
    model_alpha,
    model_enhance,
    model_style,
    shipped_cutout,
    shipped_enhancer,
)


def parse_size(text: str | None) -> list[int] | None:
    """'1200x628' -> [1200, 628]; None stays None."""
    if text is None:
        return None
    w, sep, h = text.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit():
        raise InputError(f"--size must be WIDTHxHEIGHT like 1000x1000, got '{text}'")
    return [int(w), int(h)]


def common(fn):
    """The options every compose command shares."""
    options = [
        click.option(
            "--input", "inputs", multiple=True, required=True, type=click.Path(),
            help="product image or folder (repeatable); RGBA PNGs keep their alpha",
        ),
        click.option("--out", required=True, type=click.Path(), help="output file or folder"),
        click.option("--layout", "layout_file", type=click.Path(), help="layout JSON/YAML file"),
        click.option(
            "--cutout-model", type=click.Path(),
            help="ptx cutout model (.onnx/.plan) for products without an alpha channel "
            "[the shipped runtime/models/cutout.onnx]",
        ),
        click.option(
            "--enhance-model", type=click.Path(), default=None,
            help="enhance model [the shipped runtime/models/enhance.onnx]",
        ),
        click.option("--no-enhance", is_flag=True, help="skip the enhance step"),
        click.option(
            "--no-refine", is_flag=True,
            help="cut-out without the GrabCut refinement its spec asks for (faster, rougher edges)",
        ),
        click.option("--threads", type=int, default=None, help="intra-op threads per model"),
        click.option(
            "--format", "fmt", type=click.Choice(["png", "jpg", "webp"]), default="png",
            show_default=True, help="image format when --out is a folder",
        ),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


def models(cutout_model, enhance_model, no_enhance, no_refine, threads) -> Models:
    """The model steps: enhance (unless --no-enhance) and cut-out, the shipped ones by default."""
    enhance = None
    if not no_enhance:
        enhance = model_enhance(enhance_model or shipped_enhancer(), threads)
    refine = False if no_refine else None  # None: as the cut-out model's spec says
    alpha = model_alpha(cutout_model or shipped_cutout(), threads, refine)
    return Models(alpha=alpha, enhance=enhance)


def report(paths) -> None:
    """One line per written file."""
    for p in paths:
        click.echo(f"wrote {p}")


@click.group("compose")
def compose() -> None:
    """Display, comparison and ad images from product photos."""


@compose.command("display")
@common
@click.option(
    "--arrangement", type=click.Choice(["auto", "single", "grid", "combination"]), default=None,
    help="single: one image per product; grid; combination: one group shot [layout: auto]",
)  # fmt: skip
@click.option("--size", default=None, help="WIDTHxHEIGHT [layout: 1000x1000]")
@click.option("--fill", type=float, default=None, help="fraction of the cell the product fills")
@click.option("--background", default=None, help="background colour [layout: white]")
def display_cmd(
    inputs, out, layout_file, cutout_model, enhance_model, no_enhance, no_refine, threads,
    fmt, arrangement, size, fill, background,
) -> None:  # fmt: skip
    """Products centred on a plain background with a contact shadow."""
    layout = load_layout(
        "display", layout_file, arrangement=arrangement, size=parse_size(size), fill=fill,
        background=background,
    )  # fmt: skip
    steps = models(cutout_model, enhance_model, no_enhance, no_refine, threads)
    report(compose_display(inputs, out, layout, steps, fmt))


@compose.command("compare")
@common
@click.option("--captions", type=click.Path(), help="CSV: name, price, attributes (+ image)")
@click.option("--size", default=None, help="WIDTHxHEIGHT [layout: 1600x900]")
def compare_cmd(
    inputs, out, layout_file, cutout_model, enhance_model, no_enhance, no_refine, threads,
    fmt, captions, size,
) -> None:  # fmt: skip
    """Products side by side at one scale on one baseline, with captions."""
    layout = load_layout("compare", layout_file, size=parse_size(size))
    steps = models(cutout_model, enhance_model, no_enhance, no_refine, threads)
    report(compose_compare(inputs, out, layout, steps, captions, fmt))


@compose.command("ad")
@common
@click.option("--style-model", type=click.Path(), help="style model applied to the background only")
@click.option("--background", "background_image", type=click.Path(), help="background image")
@click.option("--headline", default=None, help="headline text [layout]")
@click.option("--cta", default=None, help="call-to-action text [layout]")
@click.option("--size", "sizes", multiple=True, help="WIDTHxHEIGHT (repeatable) [layout]")
def ad_cmd(
    inputs, out, layout_file, cutout_model, enhance_model, no_enhance, no_refine, threads,
    fmt, style_model, background_image, headline, cta, sizes,
) -> None:  # fmt: skip
    """A banner per size: product, (restyled) background, headline and call to action."""
    layout = load_layout(
        "ad", layout_file, headline=headline, cta=cta,
        sizes=[parse_size(s) for s in sizes] or None,
    )  # fmt: skip
    steps = models(cutout_model, enhance_model, no_enhance, no_refine, threads)
    if style_model:
        steps.style = model_style(style_model, threads)
    report(compose_ad(inputs, out, layout, steps, background_image, fmt))
