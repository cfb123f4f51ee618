"""The demo's generative stages: the small catalogue, then the VAE, style transfer and the GAN.

Each trains its family within the config's time budget, exports it as `ptx export`
does, scores it, and draws a sheet with ``ptx.image.grid``.
"""

from __future__ import annotations

from ptx.demo.stages import Demo, StageResult
from ptx.image import grid
from ptx.io import read_image, write_image
from ptx.runtime import load
from ptx.runtime.pipelines.generate import generate
from ptx.runtime.pipelines.stylize import stylize_arrays
from ptx.runtime.pipelines.vae import interpolate, open_pair
from ptx.training.data.catalogue import write_catalogue
from ptx.training.gan.train import train_gan
from ptx.training.style.evaluate import evaluate_style
from ptx.training.style.train import train_style
from ptx.training.vae.evaluate import evaluate_vae
from ptx.training.vae.train import train_vae

STRIP_STEPS = 8  # frames of the VAE interpolation strip
GAN_PER_ROW = 10  # generated images per category row


def synthesise_small(demo: Demo) -> StageResult:
    """A small catalogue for the VAE and the GAN (same seed, so the same products)."""
    cfg = demo.cfg
    summary = write_catalogue(demo.out / "data-small", cfg.n_images, cfg.small_size, seed=cfg.seed)
    return f"{summary.images} catalogue images at {cfg.small_size} px", {"images": summary.images}


def vae(demo: Demo) -> StageResult:
    """Train the VAE, export encoder + decoder, score it, and draw an interpolation strip."""
    cfg, ckpt = demo.cfg, demo.out / "checkpoints" / "vae"
    train_vae(
        demo.out / "data-small", ckpt, steps=cfg.max_steps, seed=cfg.seed,
        time_budget_s=cfg.vae_seconds, progress=True,
    )  # fmt: skip
    demo.export(ckpt / "encoder", "vae-encoder.onnx")
    demo.export(ckpt / "decoder", "vae-decoder.onnx")
    enc, dec = demo.models / "vae-encoder.onnx", demo.models / "vae-decoder.onnx"
    scores = evaluate_vae(enc, dec, demo.out / "data-small", max_images=128)
    a, b = (read_image(p) for p in demo.test_paths("data-small")[:2])
    frames = interpolate(open_pair(dec, enc), a, b, steps=STRIP_STEPS)
    write_image(demo.out / "vae-strip.png", grid(frames, ncol=len(frames)))
    return f"held-out reconstruction PSNR {scores['val_psnr']:.2f} dB; strip vae-strip.png", scores


def style(demo: Demo) -> StageResult:
    """Train fast style transfer on the built-in ad style, export, score, restyle products."""
    cfg, ckpt = demo.cfg, demo.out / "checkpoints" / "style"
    train_style(
        demo.out / "data", "ad", ckpt, steps=cfg.max_steps, seed=cfg.seed,
        time_budget_s=cfg.style_seconds, progress=True,
    )  # fmt: skip
    demo.export(ckpt, "style.onnx")
    scores = evaluate_style(demo.models / "style.onnx", "ad", demo.out / "data", max_images=8)
    products = [read_image(p) for p in demo.test_paths("data")[:6]]
    styled = stylize_arrays(load(demo.models / "style.onnx"), products)
    # products on the top row, the same products restyled below them
    write_image(demo.out / "style-sheet.png", grid(products + styled, ncol=len(products)))
    cut = scores["gram_reduction"]
    return f"Gram loss reduced {100 * cut:.1f}%; sheet style-sheet.png", scores


def gan(demo: Demo) -> StageResult:
    """Train the conditional GAN, export it, and generate one row per category."""
    cfg, ckpt = demo.cfg, demo.out / "checkpoints" / "gan"
    metrics = train_gan(
        demo.out / "data-small", ckpt, steps=cfg.max_steps, seed=cfg.seed,
        time_budget_s=cfg.gan_seconds, progress=True,
    )  # fmt: skip
    demo.export(ckpt, "gan.onnx")
    engine = load(demo.models / "gan.onnx")
    rows = []
    for category in engine.spec.labels["category"]:
        images, _ = generate(engine, {"category": category}, n=GAN_PER_ROW, seed=cfg.seed)
        rows += images
    write_image(demo.out / "gan-grid.png", grid(rows, ncol=GAN_PER_ROW))
    return f"{metrics['steps']:.0f} steps; one row per category in gan-grid.png", dict(metrics)
