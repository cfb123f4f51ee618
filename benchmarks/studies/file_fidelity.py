"""What a folder run does to the files of good photos: colour profiles, JPEG quality, alpha.

The six evaluation photos (enhance_eval.PHOTOS), written as a catalogue would hand them
over, go through ``ptx run enhance``'s own folder path (enhance_path: decode, model,
encode, write) and each output is compared with what its input shows:

- Display P3 and Adobe RGB PNGs (tagged, as phones and studios deliver): the output, read as
  sRGB as every viewer reads an untagged file, against the sRGB photo;
- JPEGs at quality 95 with 4:4:4 chroma (a studio export) and quality 75 with 4:2:0 (a
  marketplace upload): output against input pixels, and the output's size over the input's;
- a cut-out (the photo inside a soft-edged ellipse, transparent around it, PNG): whether
  the alpha came back, and the colour error on its soft edge.

With a model that leaves a clean photo alone (the shipped one does, enhance_eval), every
loss here is the file handling's, not the model's.

    python -m ptx.benchmarks.studies.file_fidelity [--model M] [--max-side 512]
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any

import click
import numpy as np

from ptx.benchmarks.harness.icc_profiles import matrix_profile
from ptx.benchmarks.harness.report import results_dir
from ptx.benchmarks.harness.script import run_script
from ptx.benchmarks.studies.enhance_eval import PHOTOS, capped_psnr, load_photos
from ptx.io import atomic_write_text
from ptx.runtime.pipelines.enhance import SHIPPED_MODEL, enhance_path

JPEGS = {"jpeg-q95-444": {"quality": 95, "subsampling": 0},
         "jpeg-q75-420": {"quality": 75, "subsampling": 2}}  # fmt: skip
PROFILES = ("display-p3", "adobe-rgb")


def _in_profile(rgb: np.ndarray, space: str):
    """``rgb`` (sRGB) converted into ``space``, as a Pillow image, and the profile's bytes."""
    from PIL import Image, ImageCms

    icc = matrix_profile(space)
    to_space = ImageCms.buildTransform(
        ImageCms.createProfile("sRGB"), ImageCms.ImageCmsProfile(io.BytesIO(icc)), "RGB", "RGB"
    )
    return ImageCms.applyTransform(Image.fromarray(rgb), to_space), icc


def _soft_alpha(h: int, w: int) -> np.ndarray:
    """An ellipse filling most of the frame, opaque inside, an 8 px soft edge, clear outside."""
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((yy - h / 2) / (0.42 * h), (xx - w / 2) / (0.42 * w))
    return np.clip((1.0 - r) * min(h, w) * 0.42 / 8.0 * 255.0, 0, 255).astype(np.uint8)


def write_inputs(photos: dict[str, np.ndarray], folder: Path) -> dict[str, dict[str, Any]]:
    """Every case of every photo as a file in ``folder``; what each output is scored against."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    cases: dict[str, dict[str, Any]] = {}
    for name, rgb in photos.items():
        for space in PROFILES:
            img, icc = _in_profile(rgb, space)
            img.save(folder / f"{name}.{space}.png", icc_profile=icc)
            cases[f"{name}.{space}.png"] = {"kind": space, "photo": name, "ref": rgb}
        for kind, opts in JPEGS.items():
            path = folder / f"{name}.{kind}.jpg"
            Image.fromarray(rgb).save(path, **opts)
            with Image.open(path) as stored:
                ref = np.asarray(stored.convert("RGB"))
            size = path.stat().st_size
            cases[path.name] = {"kind": kind, "photo": name, "ref": ref, "bytes": size}
        alpha = _soft_alpha(*rgb.shape[:2])
        Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(folder / f"{name}.cutout.png")
        cases[f"{name}.cutout.png"] = {"kind": "cutout", "photo": name, "ref": rgb, "alpha": alpha}
    return cases


def score(cases: dict[str, dict[str, Any]], out: Path) -> list[dict[str, Any]]:
    """One row per output file: dB against what its input shows, and the case's own figure."""
    from PIL import Image

    rows = []
    for file, case in cases.items():
        with Image.open(out / file) as img:
            mode, got = img.mode, np.asarray(img.convert("RGBA" if img.mode == "RGBA" else "RGB"))
        row: dict[str, Any] = {"file": file, "kind": case["kind"], "photo": case["photo"]}
        if case["kind"] == "cutout":
            alpha = case["alpha"]
            row["alpha_kept"] = mode == "RGBA" and np.array_equal(got[..., 3], alpha)
            edge = (alpha >= 64) & (alpha < 255)
            rgb = got[..., :3]
            row["edge_error"] = float(np.abs(rgb[edge].astype(int) - case["ref"][edge]).mean())
            row["db"] = capped_psnr(rgb[alpha == 255], case["ref"][alpha == 255])
        else:
            row["db"] = capped_psnr(got, case["ref"])
            if "bytes" in case:
                row["size_ratio"] = (out / file).stat().st_size / case["bytes"]
        rows.append(row)
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per kind: mean and worst dB (and mean size ratio, alpha kept, edge error)."""
    out: dict[str, dict[str, float]] = {}
    for kind in dict.fromkeys(r["kind"] for r in rows):
        mine = [r for r in rows if r["kind"] == kind]
        db = [r["db"] for r in mine]
        s = {"files": len(mine), "mean_db": float(np.mean(db)), "worst_db": float(min(db))}
        for key in ("size_ratio", "edge_error"):
            if key in mine[0]:
                s[f"mean_{key}"] = float(np.mean([r[key] for r in mine]))
        if "alpha_kept" in mine[0]:
            s["alpha_kept"] = float(np.mean([r["alpha_kept"] for r in mine]))
        out[kind] = s
    return out


def markdown(summary: dict[str, dict[str, float]], model: str) -> str:
    """The per-kind table as Markdown."""
    lines = [f"# File fidelity of a folder run: {model}", "",
             "| input | files | mean / worst dB | size out / in | alpha kept | edge error |",
             "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for kind, s in summary.items():
        size = f"{s['mean_size_ratio']:.2f}x" if "mean_size_ratio" in s else ""
        kept = f"{s['alpha_kept']:.0%}" if "alpha_kept" in s else ""
        edge = f"{s['mean_edge_error']:.1f} levels" if "mean_edge_error" in s else ""
        db = f"{s['mean_db']:.1f} / {s['worst_db']:.1f}"
        lines.append(f"| {kind} | {s['files']} | {db} | {size} | {kept} | {edge} |")
    return "\n".join(lines) + "\n"


def run(model: str | Path, max_side: int = 512) -> dict[str, Any]:
    """Write the inputs, run ``ptx run enhance``'s folder path on them, score the outputs."""
    with tempfile.TemporaryDirectory(prefix="ptx-fidelity-") as tmp:
        src, out = Path(tmp) / "in", Path(tmp) / "out"
        cases = write_inputs(load_photos(PHOTOS, max_side), src)
        enhance_path(str(model), src, out, progress=False)
        rows = score(cases, out)
    return {"model": str(model), "rows": rows, "summary": summarise(rows)}


@click.command()
@click.option("--model", default=str(SHIPPED_MODEL), show_default=True, help="Enhance ONNX.")
@click.option("--max-side", type=click.IntRange(min=16), default=512, show_default=True)
@click.option("--out", help="Results folder (default: $PTX_RESULTS_DIR or ./bench-results).")
def main(model: str, max_side: int, out: str | None) -> None:
    """Run the file-fidelity study and write its Markdown and JSON."""
    result = run(model, max_side)
    text = markdown(result["summary"], Path(model).name)
    folder = results_dir(out)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "file_fidelity.md", text)
    atomic_write_text(folder / "file_fidelity.json", json.dumps(result, indent=2))
    click.echo(text)


if __name__ == "__main__":
    run_script(main)
