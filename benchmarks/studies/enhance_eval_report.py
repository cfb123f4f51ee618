"""enhance_eval's Markdown report: the clean tables, per-degradation means, every pair."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ptx.benchmarks.studies.enhance_eval import HARM_DB, METHODS


def _cell(sc: dict[str, float]) -> str:
    return f"{sc['psnr']:.2f} / {sc['ssim']:.3f} / {sc['de2000']:.2f}"


def _clean_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| photo | model PSNR / SSIM / ΔE00 | classical | mean RGB in → out |",
        "|---|---|---|---|",
    ]
    for r in rows:
        rgb_in, rgb_out = (tuple(round(v) for v in r[k]) for k in ("mean_rgb_in", "mean_rgb_out"))
        rgb = f"{rgb_in} → {rgb_out}"
        lines.append(f"| {r['photo']} | {_cell(r['model'])} | {_cell(r['classical'])} | {rgb} |")
    return lines


def markdown(result: dict[str, Any], model: str) -> str:
    """The clean table, the per-degradation means, every pair, and the summary, as Markdown."""
    lines = [f"# Enhancer evaluation: {model}", "", "## Clean photos: output vs input", ""]
    lines += _clean_lines(result["clean"])
    for key, title in (
        ("other_clean", "Other package photos, clean (not in the targets): output vs input"),
        ("detail_clean", "Clean photos sharpened or halved unfiltered (not in the targets)"),
    ):
        if key in result:
            table = result[key]
            lines += ["", f"## {title}", ""] + _clean_lines(table["rows"])
            worst = f"worst {table['worst_db']:.2f} dB"
            lines += ["", f"Median {table['median_db']:.2f} dB, {worst}."]
    if "catalogue_clean" in result:
        cat = result["catalogue_clean"]
        lines += [
            "",
            "## Fresh catalogue renders, clean (not in the targets): output vs input",
            "",
            f"{cat['images']} renders (seed {cat['seed']}): median {cat['median_db']:.2f} dB, "
            f"worst {cat['worst_db']:.2f} dB, {cat['share_harmed']:.0%} under {HARM_DB:g} dB.",
        ]
    pairs = result["pairs"]
    head = "| {} | " + " | ".join(f"{m} PSNR / SSIM / ΔE00" for m in METHODS) + " |"
    rule = "|---|" + "---|" * len(METHODS)
    if pairs:
        lines += ["", "## Mean per degradation (over photos)", "", head.format("degradation"), rule]
        for name in dict.fromkeys(r["degradation"] for r in pairs):
            rows = [r for r in pairs if r["degradation"] == name]
            mean = {
                m: {k: float(np.mean([r[m][k] for r in rows])) for k in rows[0][m]} for m in METHODS
            }
            lines.append(f"| {name} | " + " | ".join(_cell(mean[m]) for m in METHODS) + " |")
        lines += ["", "## Every photo x degradation", "", head.format("photo x degradation"), rule]
        for r in pairs:
            cells = " | ".join(_cell(r[m]) for m in METHODS)
            lines.append(f"| {r['photo']} x {r['degradation']} | {cells} |")
    lines += [
        "",
        "## Summary (targets of issue 14)",
        "",
        "```",
        json.dumps(result["summary"], indent=2),
        "```",
    ]
    return "\n".join(lines) + "\n"
