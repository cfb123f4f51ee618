"""What an enhanced photo costs (issue 14): time per megapixel, big photos in tiles, seams.

Three parts, each in the results folder as ``enhance_cost-<host>.{json,md}``:

- **Cost per MP**: the model alone (``Engine.run`` on a prepared input) and the whole
  in-memory pipeline (convert, model, convert back) at 0.25 .. 4 MP (4:3), sizes
  interleaved in rotating order (ptx.timing), medians; ms per MP and its growth.
- **Seams**: a photo small enough to run whole runs whole and in tiles (a small tile
  budget forces several); max / mean / 99.9th-percentile absolute difference, the same
  in the seam bands and elsewhere, and a crop across a seam (``enhance_seam-<host>.png``:
  whole | tiled | difference x8).
- **Large photo**: a 4000x3000 JPEG through `ptx run enhance` in a child process,
  tiled (the default budget) and, with ``--untiled``, whole; peak RSS of each.

    python -m ptx.benchmarks.studies.enhance_cost [--model M.onnx] [--backend auto] [--untiled]
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import click
import numpy as np

from ptx import runtime
from ptx.benchmarks.harness import stats
from ptx.benchmarks.harness.env import capture, host_name
from ptx.benchmarks.harness.report import results_dir
from ptx.benchmarks.harness.script import run_script
from ptx.errors import InputError
from ptx.image import resize_bilinear
from ptx.io import atomic_write_bytes, atomic_write_text, encode_image, write_image
from ptx.runtime.backends import quiet_pool
from ptx.runtime.pipelines.enhance import (
    SHIPPED_MODEL,
    enhance_arrays,
    image_convention,
    image_input,
    tile_sides,
)
from ptx.runtime.pipelines.enhance_tiles import DEFAULT_OVERLAP, tile_grid
from ptx.timing import time_interleaved
from ptx.training.data.catalogue import render_product

MEGAPIXELS = (0.25, 0.5, 1.0, 2.0, 4.0)
NOISE_LEVELS = 16.0  # per channel, 0..255: ~9 levels in the grey image the gate reads


def sample_photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A real photo (scikit-image's astronaut, evaluation only) or a catalogue render,
    resized to h x w, dimmed and with sensor-like noise: something to correct (noise well
    above the enhancer's noise gate, so the seam check compares real changes)."""
    try:
        from skimage import data

        base = data.astronaut()
    except ImportError:  # scikit-image is optional: ptx's own render instead
        base = render_product(seed, 0, 512)[0]
    img = resize_bilinear(base, h, w).astype(np.float32)
    rng = np.random.default_rng(seed)
    img = ((img / 255.0) ** 1.3) * 215.0 + rng.normal(0.0, NOISE_LEVELS, img.shape)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def size_for(mp: float) -> tuple[int, int]:
    """(h, w) of a 4:3 photo of ``mp`` megapixels, sides multiples of 8."""
    w = round(math.sqrt(mp * 1e6 * 4 / 3) / 8) * 8
    return round(w * 3 / 4 / 8) * 8, w


def cost_per_mp(load_engine, rounds: int) -> list[dict]:
    """Model-only and pipeline ms per photo at each size in MEGAPIXELS, interleaved.

    One engine per size (``load_engine()``): a backend that specialises to a shape
    (OpenVINO) would otherwise pay its reshape inside whichever side follows a size change.
    """
    sides, photos = {}, {}
    for mp in MEGAPIXELS:
        engine = load_engine()
        conv, info = image_convention(engine), image_input(engine)
        h, w = size_for(mp)
        img = sample_photo(h, w)
        x = conv.to_model([img], info.dtype)
        photos[mp] = (h, w)
        sides[f"model {mp}"] = lambda e=engine, x=x, n=info.name: e.run({n: x})
        sides[f"pipeline {mp}"] = lambda e=engine, img=img: enhance_arrays(e, [img], max_pixels=0)
    times = time_interleaved(sides, budget_s=None, max_rounds=rounds, warmup=True)
    rows = []
    for mp, (h, w) in photos.items():
        real_mp = h * w / 1e6
        model = stats.median(times[f"model {mp}"]) * 1e3
        pipe = stats.median(times[f"pipeline {mp}"]) * 1e3
        rows.append(
            {"megapixels": real_mp, "size": [h, w], "model_ms": model, "pipeline_ms": pipe,
             "model_ms_per_mp": model / real_mp, "pipeline_ms_per_mp": pipe / real_mp}
        )  # fmt: skip
    base = rows[0]["model_ms_per_mp"]
    for r in rows:
        r["growth_vs_smallest"] = r["model_ms_per_mp"] / base
    return rows


def seams(engine, out: Path, host: str, size=(1200, 1600), budget: int = 500_000) -> dict:
    """Tiled vs whole on one photo; the crop PNG across the first vertical seam."""
    img = sample_photo(*size, seed=1)
    whole = enhance_arrays(engine, [img], max_pixels=0)[0].astype(np.int16)
    tiled = enhance_arrays(engine, [img], max_pixels=budget)[0].astype(np.int16)
    diff = np.abs(tiled - whole)
    rows, cols = tile_grid(*size, budget, DEFAULT_OVERLAP, tile_sides(engine))
    band = np.zeros(size, dtype=bool)
    for (_, a1), (b0, _) in zip(cols, cols[1:], strict=False):
        band[:, b0:a1] = True
    for (_, a1), (b0, _) in zip(rows, rows[1:], strict=False):
        band[b0:a1, :] = True
    per_px = diff.max(axis=2)
    # centred where the first row and column seams cross (four tiles meet there)
    seam_x = (cols[1][0] + cols[0][1]) // 2 if len(cols) > 1 else size[1] // 2
    seam_y = (rows[1][0] + rows[0][1]) // 2 if len(rows) > 1 else size[0] // 2
    y0, x0 = max(0, seam_y - 128), max(0, seam_x - 128)
    crop = [a[y0 : y0 + 256, x0 : x0 + 256] for a in (whole, tiled, np.minimum(diff * 8, 255))]
    sheet = np.concatenate([c.astype(np.uint8) for c in crop], axis=1)
    png = out / f"enhance_seam-{host}.png"
    atomic_write_bytes(png, encode_image(sheet, "PNG"))
    change = np.abs(whole - img.astype(np.int16))
    return {
        "size": list(size), "budget": budget, "tiles": [len(rows), len(cols)],
        "max_abs": int(diff.max()), "mean_abs": float(diff.mean()),
        "p999_abs": float(np.percentile(diff, 99.9)),
        "seam_band_mean": float(per_px[band].mean()), "elsewhere_mean": float(per_px[~band].mean()),
        "seam_band_max": int(per_px[band].max()), "elsewhere_max": int(per_px[~band].max()),
        "model_change_mean": float(change.mean()), "crop_png": png.name,
        "crop": {"x": x0, "y": y0, "seam_x": seam_x, "seam_y": seam_y},
    }  # fmt: skip


# `ptx run enhance` itself, in a fresh process that reports its own peak RSS at exit:
# VmHWM of its own memory map (Linux), not ru_maxrss, which keeps the high-water mark
# of the parent's image it was forked from across exec.
_CHILD = """
import resource, sys
from ptx.cli import main
try:
    main(["run", "enhance", *sys.argv[1:]], standalone_mode=False)
finally:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        with open("/proc/self/status") as f:
            kb = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    except (OSError, StopIteration):
        pass
    print("PTX_PEAK_RSS_MB=%.1f" % (kb / 1024))
"""


def large_photo(
    model: Path,
    backend: str,
    work: Path,
    untiled: bool,
    size: tuple[int, int] = (3000, 4000),
    budget: str = "auto",
) -> list[dict]:
    """A 4000x3000 JPEG through `ptx run enhance` in a child process: seconds, peak RSS.

    ``budget``: the tile budget in pixels, or "auto" (the pipeline's default).
    """
    src = work / "large" / f"photo_{size[1]}x{size[0]}.jpg"
    write_image(src, sample_photo(*size, seed=2), quality=92)
    runs = []
    tiled = f"tiled ({'default budget' if budget == 'auto' else budget + ' pixels'})"
    for label, mp in [(tiled, budget)] + ([("whole", "0")] if untiled else []):
        args = [
            "--model",
            str(model),
            "--backend",
            backend,
            "--input",
            str(src.parent),
            "--out",
            str(work / label),
            "--json",
            "--no-progress",
        ]
        args += [] if mp == "auto" else ["--max-pixels", mp]
        res = subprocess.run(
            [sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, check=False
        )  # fmt: skip
        lines = res.stdout.strip().splitlines()
        if res.returncode != 0 or not lines or not lines[-1].startswith("PTX_PEAK_RSS_MB="):
            runs.append({"run": label, "error": (res.stderr.strip().splitlines() or ["?"])[-1:]})
            continue
        summary = json.loads("\n".join(lines[:-1]))
        runs.append(
            {"run": label, "images": summary["images"], "failed": summary["failed"],
             "seconds": summary["seconds"], "backend": summary["backend"],
             "peak_rss_mb": float(lines[-1].split("=", 1)[1])}
        )  # fmt: skip
    return runs


def markdown(doc: dict) -> str:
    """The study's tables as markdown."""
    env = doc["env"]
    lines = [
        f"# Enhance cost per megapixel, tiles and seams on `{doc['host']}`",
        "",
        f"- Model `{doc['model']}`, backend `{doc['backend']}` (ran on {doc['resolved']}); "
        f"CPU: {env['cpu']} ({env['cpu_cores']} usable cores); {doc['rounds']} interleaved "
        "rounds, medians",
        f"- Command: `{doc['command']}`",
        "",
        "## Cost per megapixel",
        "",
        "| MP | size | model ms | model ms/MP | growth of ms/MP vs smallest | "
        "pipeline ms | pipeline ms/MP |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in doc["cost"]:
        lines.append(
            f"| {r['megapixels']:.2f} | {r['size'][1]}x{r['size'][0]} | {r['model_ms']:.0f} | "
            f"{r['model_ms_per_mp']:.0f} | {r['growth_vs_smallest']:.2f}x | "
            f"{r['pipeline_ms']:.0f} | {r['pipeline_ms_per_mp']:.0f} |"
        )
    s = doc.get("seams")
    if s:
        lines += [
            "",
            "## Tiled vs whole (seams)",
            "",
            f"{s['size'][1]}x{s['size'][0]} photo, tile budget {s['budget']} pixels "
            f"({s['tiles'][0]}x{s['tiles'][1]} tiles); 8-bit levels; the model itself changes "
            f"pixels by {s['model_change_mean']:.1f} on average.",
            "",
            "| max abs diff | mean abs diff | 99.9th pct | seam bands: mean / max | "
            "elsewhere: mean / max |",
            "|---:|---:|---:|---|---|",
            f"| {s['max_abs']} | {s['mean_abs']:.2f} | {s['p999_abs']:.1f} | "
            f"{s['seam_band_mean']:.2f} / {s['seam_band_max']} | "
            f"{s['elsewhere_mean']:.2f} / {s['elsewhere_max']} |",
            "",
            f"![whole / tiled / difference x8, 256x256 around the seams' crossing at "
            f"x={s['crop']['seam_x']}, y={s['crop'].get('seam_y', '-')}]"
            f"({s['crop_png']})",
        ]
    if doc.get("large"):
        lines += ["", "## A 4000x3000 photo (`ptx run enhance`)", ""]
        lines += ["| run | ran on | seconds | peak RSS MB |", "|---|---|---:|---:|"]
        for r in doc["large"]:
            if "error" in r:
                lines.append(f"| {r['run']} | failed: {' '.join(r['error'])} | - | - |")
            else:
                lines.append(
                    f"| {r['run']} | {r['backend']} | {r['seconds']:.1f} | {r['peak_rss_mb']:.0f} |"
                )
    return "\n".join(lines) + "\n"


def run(
    model: str | Path = SHIPPED_MODEL,
    backend: str = "auto",
    rounds: int = 3,
    untiled: bool = False,
    parts: tuple[str, ...] = ("cost", "seams", "large"),
    out: str | Path | None = None,
    command: str = "python -m ptx.benchmarks.studies.enhance_cost",
) -> dict:
    """Measure the parts asked for; write ``out``/enhance_cost-<host>.{json,md}."""
    if not Path(model).is_file():
        raise InputError(f"{model}: no such model")

    def load_engine():
        return runtime.load(model, backend=backend, **quiet_pool(backend))

    engine = load_engine()
    dest = results_dir(out)
    host = host_name()
    doc = {
        "host": host, "model": str(model), "backend": backend, "resolved": engine.backend,
        "rounds": rounds, "command": command, "env": capture(), "cost": [],
    }  # fmt: skip
    if "cost" in parts:
        doc["cost"] = cost_per_mp(load_engine, rounds)
    if "seams" in parts:
        doc["seams"] = seams(engine, dest, host)
    if "large" in parts:
        with tempfile.TemporaryDirectory(prefix="ptx-enhance-cost-") as tmp:
            doc["large"] = large_photo(Path(model), backend, Path(tmp), untiled)
    stem = f"enhance_cost-{host}"
    atomic_write_text(dest / f"{stem}.json", json.dumps(doc, indent=1) + "\n")
    atomic_write_text(dest / f"{stem}.md", markdown(doc))
    return doc


@click.command()
@click.option("--model", default=str(SHIPPED_MODEL), show_default=True, help="enhance ONNX model")
@click.option("--backend", default="auto", show_default=True)
@click.option("--rounds", type=int, default=3, show_default=True, help="interleaved rounds")
@click.option("--untiled", is_flag=True, help="also run the 4000x3000 photo whole (memory)")
@click.option("--only", "parts", multiple=True, type=click.Choice(["cost", "seams", "large"]))
@click.option("--out", help="results folder [default: $PTX_RESULTS_DIR or ./bench-results]")
def main(model, backend, rounds, untiled, parts, out) -> None:
    """Print the cost per MP, the tiled-vs-whole seam figures and the 4000x3000 run."""
    if rounds < 1:
        raise InputError("--rounds must be >= 1")
    doc = run(
        model, backend, rounds, untiled, tuple(parts) or ("cost", "seams", "large"), out,
        "python -m ptx.benchmarks.studies.enhance_cost " + " ".join(sys.argv[1:]),
    )  # fmt: skip
    click.echo(markdown(doc))


if __name__ == "__main__":  # pragma: no cover
    run_script(main)
