"""Score a VAE: held-out reconstruction PSNR/SSIM, of the exported pair through ptx.runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ptx.errors import InputError
from ptx.runtime.pipelines.vae import open_pair
from ptx.runtime.pipelines.vae import reconstruct as run_reconstruct
from ptx.training.common.metrics import psnr, ssim
from ptx.training.data.files import split_files
from ptx.training.vae.data import load_square, spread


def reconstruction_scores(originals: np.ndarray, recons: np.ndarray) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of reconstructions against the originals."""
    if len(originals) == 0:
        return {}
    return {
        "val_psnr": float(np.mean([psnr(a, b) for a, b in zip(recons, originals, strict=True)])),
        "val_ssim": float(np.mean([ssim(a, b) for a, b in zip(recons, originals, strict=True)])),
        "held_out_images": float(len(originals)),
    }


def evaluate_vae(
    encoder: str | Path,
    decoder: str | Path,
    data: str | Path,
    max_images: int = 256,
    seed: int = 0,
    val_fraction: float = 0.05,
) -> dict[str, float]:
    """Held-out reconstruction PSNR/SSIM of an exported encoder/decoder through ptx.runtime.

    The held-out images are training's (labels.csv split, else the same seeded split),
    fitted to the encoder by its spec's rule, as training fitted them.
    """
    if max_images < 1:
        raise InputError(f"--max-images must be >= 1, got {max_images}")
    pair = open_pair(decoder, encoder)
    enc_spec = pair.encoder.spec if pair.encoder is not None else None
    conv = (enc_spec.image if enc_spec is not None else None) or pair.conv
    _, val_files = split_files(Path(data), val_fraction, seed)
    if not val_files:
        raise InputError(f"{data}: no held-out images (needs 2+ images or a split column)")
    originals = load_square(spread(val_files, max_images), pair.size, False, "val", conv)
    if not len(originals):
        raise InputError(f"{data}: no readable held-out images")
    recons = np.stack(run_reconstruct(pair, list(originals)))
    scores = reconstruction_scores(originals, recons)
    scores.update(latent_size=float(pair.latent), image_size=float(pair.size))
    return scores
