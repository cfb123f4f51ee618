"""The demo's report: DIR/report.md for people (tables, pictures) and DIR/report.json."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from ptx.demo.stages import Demo
from ptx.io import atomic_write_text
from ptx.training.enhance.evaluate import markdown_table

PICTURES = (  # the generative stages' sheets, shown when the stage wrote them
    ("gan-grid.png", "Conditional GAN, one row per category (colours drawn from the seed)"),
    ("vae-strip.png", "VAE interpolation between two held-out products (8 steps)"),
    ("style-sheet.png", "Fast style transfer: products (top) and restyled (bottom)"),
    ("personalised-grid.png", "Personalised variants for a profile (blue and red, mostly bags)"),
)
STUDIO = (  # the studio stage's pictures
    ("studio/display.png", "Display image: cut out, centred on white at 1000x1000"),
    ("studio/display-combination.png", "Display image: a combination of three products"),
    ("studio/compare.png", "Comparison image with captions from a CSV"),
    ("studio/ad-1200x628.png", "Ad banner 1200x628 (background restyled, product intact)"),
    ("studio/ad-1080x1080.png", "Ad banner 1080x1080"),
    ("tryon-sheet.png", "Try-on, held-out: garment | mannequin | model | renderer's truth"),
)


def generative_pictures(out: Path, pictures=PICTURES) -> list[str]:
    """Report lines for the pictures (of ``pictures``) that exist."""
    lines: list[str] = []
    for name, caption in pictures:
        if (out / name).is_file():
            lines += [f"{caption}:", "", f"![{caption}]({name})", ""]
    return lines


def write_report(demo: Demo) -> Path:
    """DIR/report.md and DIR/report.json; the Markdown path."""
    total = sum(s.seconds for s in demo.stages)
    lines = [
        "# ptx demo: product-photo enhancement, end to end",
        "",
        f"Config: `{json.dumps(asdict(demo.cfg))}`. Total {total / 60:.1f} min.",
        "",
        "| stage | seconds | result |",
        "|---|---|---|",
        *[f"| {s.name} | {s.seconds:.1f} | {s.detail} |" for s in demo.stages],
        "",
        "Each image is degraded 3 times with fixed seeds; rows are the means over the 3 "
        "draws. Degradations: seeded Gaussian + Poisson noise, JPEG q20–60, colour cast, "
        "brightness/contrast (`ptx.training.data.degrade`). Classical baseline: "
        "autocontrast + grey-world white balance + 3x3 median.",
        "",
    ]
    for title, res in demo.results.items():
        lines += [f"## {title}", "", markdown_table(res, "image"), ""]
    lines += [
        "## Before / after",
        "",
        "Real photos (scikit-image), columns: clean, degraded, classical, model:",
        "",
        "![real photos](grid-real.png)",
        "",
        "Held-out synthetic catalogue:",
        "",
        "![catalogue](grid-catalogue.png)",
        "",
    ]
    pictures = generative_pictures(demo.out)
    if pictures:
        lines += ["## Generative models", "", *pictures]
    studio = generative_pictures(demo.out, STUDIO)
    if studio:
        lines += ["## Studio", "", *studio]
    models = sorted(demo.models.glob("*"))
    lines += ["Models: " + ", ".join(f"`models/{p.name}`" for p in models), ""]
    atomic_write_text(demo.out / "report.md", "\n".join(lines))
    payload = {"config": asdict(demo.cfg), "stages": [asdict(s) for s in demo.stages]}
    atomic_write_text(demo.out / "report.json", json.dumps(payload, indent=2, default=str))
    return demo.out / "report.md"
