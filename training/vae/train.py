"""Train the VAE (encoder + decoder) on an image folder into two checkpoint folders.

``out/encoder`` ("vae-encoder") and ``out/decoder`` ("vae-decoder") are standard
checkpoints, so `ptx export --checkpoint out/encoder` works unchanged. The loss per
image is the summed squared error plus ``beta`` times the KL divergence to N(0, I)
(a Gaussian decoder with sigma = sqrt(beta / 2)), with the KL weight warmed up
from 0 over the first ``kl_warmup`` of the run, so the decoder learns to
reconstruct before the prior pulls the codes together. Held-out reconstruction
PSNR/SSIM (decoding the mean) go into both specs. Loop conventions (schedule,
thread tuning, Ctrl-C-safe atomic checkpoints, resume) are train_enhance's.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from ptx.errors import InputError
from ptx.training.data.folders import fit_square
from ptx.training.enhance.data import load_images, split_files, to_nchw
from ptx.training.enhance.train import (
    ThreadTuner,
    deferred_interrupt,
    lr_at,
    schedule_position,
)

ENCODER, DECODER = "encoder", "decoder"
EPS_SEED = 7_919  # latent noise of step k comes from (seed, EPS_SEED, k): resumes replay it


def spread(files: list[Path], n: int) -> list[Path]:
    """At most ``n`` files evenly spaced over the (sorted) list: every category, not the first."""
    if len(files) <= n:
        return list(files)
    return [files[i * len(files) // n] for i in range(n)]


def load_square(files: list[Path], size: int, progress: bool, what: str) -> np.ndarray:
    """(N, size, size, 3) uint8: each readable file resized and centre-cropped to a square."""
    imgs = [fit_square(im, size) for im in load_images(files, size, progress, what)]
    if not imgs:
        return np.zeros((0, size, size, 3), dtype=np.uint8)
    return np.stack(imgs)


def make_batch(images: np.ndarray, batch: int, seed: int, step: int) -> np.ndarray:
    """A float32 NCHW batch for ``step`` (random images, random horizontal flips)."""
    rng = np.random.default_rng([seed, step])
    x = images[rng.integers(0, len(images), size=batch)]
    flip = rng.random(batch) < 0.5
    x[flip] = x[flip, :, ::-1]
    return to_nchw(x)


def kl_divergence(mean: Any, logvar: Any) -> Any:
    """Per-image KL(N(mean, exp(logvar)) || N(0, I)) in nats, summed over the latent."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def vae_loss(enc: Any, dec: Any, x: Any, eps: Any, beta: float) -> tuple[Any, Any, Any]:
    """(loss, summed squared error, KL), each the batch mean; ``eps`` is the sampling noise."""
    mean, logvar = enc(x)
    z = mean + (0.5 * logvar).exp() * eps
    sq = (dec(z) - x).pow(2).flatten(1).sum(dim=1)
    kl = kl_divergence(mean, logvar)
    return (sq + beta * kl).mean(), sq.mean(), kl.mean()


def reconstruct(enc: Any, dec: Any, images: np.ndarray, chunk: int = 64) -> np.ndarray:
    """uint8 reconstructions (decoding the posterior mean) of uint8 NHWC images."""
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(images), chunk):
            x = torch.from_numpy(to_nchw(images[i : i + chunk]))
            y = dec(enc(x)[0]).clamp(0, 1).mul(255).add(0.5).to(torch.uint8)
            out.append(y.permute(0, 2, 3, 1).numpy())
    return np.concatenate(out) if out else images[:0]


def fit_prior(enc: Any, images: np.ndarray, max_images: int = 2048) -> dict[str, list]:
    """A full-covariance Gaussian fitted to the posterior means of training images.

    With a small KL weight the codes do not fill N(0, I), so decoding N(0, I) draws
    gives pale blends; decoding draws from this fit gives products (ex-post density
    estimation, Ghosh et al., ICLR 2020). Stored as mean and Cholesky factor.
    """
    import torch

    pick = images[:: max(1, len(images) // max_images)][:max_images]
    with torch.no_grad():
        mu = np.concatenate(
            [
                enc(torch.from_numpy(to_nchw(pick[i : i + 128])))[0].numpy()
                for i in range(0, len(pick), 128)
            ]
        ).astype(np.float64)
    k = mu.shape[1]
    cov = np.cov(mu.T) if len(mu) > 1 else np.eye(k)
    chol = np.linalg.cholesky(cov + 1e-4 * np.eye(k))
    return {
        "mean": [round(float(v), 5) for v in mu.mean(axis=0)],
        "chol": [[round(float(v), 5) for v in row[: i + 1]] for i, row in enumerate(chol)],
    }


def reconstruction_scores(originals: np.ndarray, recons: np.ndarray) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of reconstructions against the originals."""
    from ptx.training.common.metrics import psnr, ssim

    if len(originals) == 0:
        return {}
    return {
        "val_psnr": float(np.mean([psnr(a, b) for a, b in zip(recons, originals, strict=True)])),
        "val_ssim": float(np.mean([ssim(a, b) for a, b in zip(recons, originals, strict=True)])),
        "held_out_images": float(len(originals)),
    }


# -- checkpoints -------------------------------------------------------------------------
def _save(out: Path, enc: Any, dec: Any, specs: tuple[Any, Any], state: dict[str, Any]) -> None:
    """Decoder, then encoder with the resume state naming the decoder's hash; Ctrl-C held off."""
    from ptx.training.common.checkpoint import save_checkpoint

    with deferred_interrupt():
        save_checkpoint(out / DECODER, dec, specs[1])
        state = {**state, "decoder_sha256": specs[1].source_hash}
        save_checkpoint(out / ENCODER, enc, specs[0], state)


def _start(out: Path, resume: bool, config: dict | None) -> tuple[Any, Any, Any, Any, dict | None]:
    """(encoder, decoder, encoder spec, decoder spec, resume state)."""
    from ptx.training.common import registry
    from ptx.training.common.checkpoint import load_checkpoint, load_state

    if not resume:
        fe, fd = registry.get("vae-encoder"), registry.get("vae-decoder")
        cfg = fe.config(**(config or {}))
        return fe.build(cfg), fd.build(cfg), fe.make_spec(cfg), fd.make_spec(cfg), None
    if not (out / ENCODER / "spec.json").is_file():
        raise InputError(f"{out}: nothing to resume (no {ENCODER}/spec.json); drop --resume")
    enc, enc_spec = load_checkpoint(out / ENCODER, family="vae-encoder")
    dec, dec_spec = load_checkpoint(out / DECODER, family="vae-decoder")
    state = load_state(out / ENCODER)
    if state is None:
        raise InputError(f"{out}/{ENCODER}: no resume state (state.pt); drop --resume")
    if state.get("decoder_sha256") != dec_spec.source_hash:
        raise InputError(
            f"{out}: {DECODER}/ is not the decoder saved with {ENCODER}/ (was one replaced?); "
            "restore the pair or train afresh without --resume"
        )
    return enc, dec, enc_spec, dec_spec, state


def _log_images(tb: Any, enc: Any, dec: Any, val: np.ndarray, step: int, seed: int) -> None:
    """TensorBoard: held-out originals over their reconstructions, and prior samples."""
    import torch

    if len(val):
        pair = np.concatenate([val[:8], reconstruct(enc, dec, val[:8])], axis=1)
        tb.add_images("val/original_over_reconstruction", pair, step, dataformats="NHWC")
    k = enc.latent
    z = torch.randn(8, k, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        tb.add_images("samples/prior", dec(z), step)


# -- the loop ----------------------------------------------------------------------------
def train_vae(
    data: Path,
    out: Path,
    steps: int,
    batch: int = 16,
    lr: float = 2e-3,
    beta: float = 0.02,
    kl_warmup: float = 0.2,
    seed: int = 0,
    resume: bool = False,
    val_fraction: float = 0.05,
    progress: bool = True,
    config: dict | None = None,
    time_budget_s: float | None = None,
    checkpoint_every: int = 500,
    max_val: int = 256,
    threads: int | None = None,
) -> dict[str, float]:
    """Train (or resume) a VAE into ``out/encoder`` and ``out/decoder``; returns final metrics."""
    import torch
    from torch.utils.tensorboard import SummaryWriter
    from tqdm import tqdm

    data, out = Path(data), Path(out)
    if steps < 0 or batch < 1 or beta < 0 or not 0 <= kl_warmup <= 1:
        raise InputError(
            f"need steps >= 0, batch >= 1, beta >= 0, 0 <= kl_warmup <= 1; "
            f"got {steps}, {batch}, {beta}, {kl_warmup}"
        )
    torch.manual_seed(seed)
    enc, dec, enc_spec, dec_spec, state = _start(out, resume, config)
    size = int(enc_spec.config["image_size"])
    train_files, val_files = split_files(data, val_fraction, seed)
    train_imgs = load_square(train_files, size, progress, "train")
    if not len(train_imgs):
        raise InputError(f"{data}: no readable training images")
    val_imgs = load_square(spread(val_files, max_val), size, progress, "val")
    params = [*enc.parameters(), *dec.parameters()]
    opt = torch.optim.Adam(params, lr=lr)
    step = 0
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        step, seed = int(state["step"]), int(state.get("seed", seed))
    enc.train()
    dec.train()
    tuner = ThreadTuner.for_training(threads)
    tb = SummaryWriter(str(out / "tb"))
    t0 = time.perf_counter()
    start_step, ema = step, {"loss": math.nan, "sq": math.nan, "kl": math.nan}
    bar = tqdm(total=steps, initial=step, desc="train vae", disable=not progress)
    try:
        while step < steps:
            elapsed = time.perf_counter() - t0
            if time_budget_s is not None and elapsed >= time_budget_s:
                break
            frac = schedule_position(step, steps, elapsed, time_budget_s)
            cur_lr = lr_at(frac, lr)
            for g in opt.param_groups:
                g["lr"] = cur_lr
            cur_beta = beta * min(1.0, frac / kl_warmup) if kl_warmup > 0 else beta
            n_threads = tuner.threads_for(step)
            torch.set_num_threads(n_threads)
            t_step = time.perf_counter()
            x = torch.from_numpy(make_batch(train_imgs, batch, seed, step))
            gen = torch.Generator().manual_seed(seed * 1_000_003 + EPS_SEED + step)
            eps = torch.randn(batch, enc.latent, generator=gen)
            loss, sq, kl = vae_loss(enc, dec, x, eps, cur_beta)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 100.0)
            opt.step()
            tuner.record(step, n_threads, time.perf_counter() - t_step)
            step += 1
            for key, v in (("loss", loss), ("sq", sq), ("kl", kl)):
                v = float(v.detach())
                ema[key] = v if math.isnan(ema[key]) else 0.95 * ema[key] + 0.05 * v
            bar.update(1)
            if step % 10 == 0:
                mse = ema["sq"] / (3 * size * size)
                bar.set_postfix(
                    psnr=f"{-10 * math.log10(max(mse, 1e-10)):.1f}", kl=f"{ema['kl']:.0f}"
                )
                tb.add_scalar("train/loss", ema["loss"], step)
                tb.add_scalar("train/kl", ema["kl"], step)
                tb.add_scalar("train/mse", mse, step)
                tb.add_scalar("train/beta", cur_beta, step)
                tb.add_scalar("train/lr", cur_lr, step)
            if step % checkpoint_every == 0 and step < steps:
                _checkpoint(
                    out, enc, dec, (enc_spec, dec_spec), opt, step, seed, tb, val_imgs, train_imgs
                )
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    enc.eval()
    dec.eval()
    metrics = reconstruction_scores(val_imgs, reconstruct(enc, dec, val_imgs))
    metrics.update(
        steps=float(step),
        train_kl=float(ema["kl"]),
        train_mse=float(ema["sq"] / (3 * size * size)),
        beta=float(beta),
        train_seconds=float(seconds),
        steps_per_second=float((step - start_step) / max(seconds, 1e-9)),
    )
    metrics = {k: v for k, v in metrics.items() if not math.isnan(v)}  # no step ran: no EMA
    _checkpoint(
        out, enc, dec, (enc_spec, dec_spec), opt, step, seed, tb, val_imgs, train_imgs, metrics
    )
    tb.close()
    return metrics


def _checkpoint(
    out: Path,
    enc: Any,
    dec: Any,
    specs: tuple[Any, Any],
    opt: Any,
    step: int,
    seed: int,
    tb: Any,
    val: np.ndarray,
    train: np.ndarray,
    metrics: dict[str, float] | None = None,
) -> None:
    """Score held-out images, log them, fit the sampling prior, and save both folders."""
    was = enc.training
    enc.eval()
    dec.eval()
    scores = metrics or reconstruction_scores(val, reconstruct(enc, dec, val))
    for key in ("val_psnr", "val_ssim"):
        if key in scores:
            tb.add_scalar(f"val/{key[4:]}", scores[key], step)
    _log_images(tb, enc, dec, val, step, seed)
    tb.flush()
    for spec in specs:
        spec.metrics = dict(scores)
    specs[1].config["prior"] = fit_prior(enc, train)
    state = {"optimizer": opt.state_dict(), "step": step, "seed": seed}
    _save(out, enc, dec, specs, state)
    enc.train(was)
    dec.train(was)


def evaluate_vae(
    encoder: str | Path,
    decoder: str | Path,
    data: str | Path,
    max_images: int = 256,
    seed: int = 0,
    val_fraction: float = 0.05,
) -> dict[str, float]:
    """Held-out reconstruction PSNR/SSIM of an exported encoder/decoder through ptx.runtime.

    The held-out images are training's (labels.csv split, else the same seeded split).
    """
    from ptx.runtime.pipelines.vae import open_pair
    from ptx.runtime.pipelines.vae import reconstruct as run_reconstruct

    if max_images < 1:
        raise InputError(f"--max-images must be >= 1, got {max_images}")
    pair = open_pair(decoder, encoder)
    _, val_files = split_files(Path(data), val_fraction, seed)
    if not val_files:
        raise InputError(f"{data}: no held-out images (needs 2+ images or a split column)")
    originals = load_square(spread(val_files, max_images), pair.size, False, "val")
    if not len(originals):
        raise InputError(f"{data}: no readable held-out images")
    recons = np.stack(run_reconstruct(pair, list(originals)))
    scores = reconstruction_scores(originals, recons)
    scores.update(latent_size=float(pair.latent), image_size=float(pair.size))
    return scores
