"""Train the VAE (encoder + decoder) on an image folder into two checkpoint folders.

``out/encoder`` ("vae-encoder") and ``out/decoder`` ("vae-decoder") are standard
checkpoints, so `ptx export --checkpoint out/encoder` works unchanged. The loss per
image is the summed squared error plus ``beta`` times the KL divergence to N(0, I)
(a Gaussian decoder with sigma = sqrt(beta / 2)), with the KL weight warmed up
from 0 over the first ``kl_warmup`` of the run, so the decoder learns to
reconstruct before the prior pulls the codes together. Held-out reconstruction
PSNR/SSIM (decoding the mean) go into both specs. The common TrainLoop runs it
(schedule, thread tuning, Ctrl-C-safe atomic checkpoints, resume); images are
fitted and normalised by the specs' image conventions.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ptx.errors import InputError
from ptx.spec import ModelSpec
from ptx.training.common import registry
from ptx.training.common.checkpoint import load_checkpoint, load_state, save_checkpoint
from ptx.training.common.loop import LoopState, TrainLoop
from ptx.training.common.schedule import lr_at
from ptx.training.common.threads import ThreadTuner
from ptx.training.data.files import split_files
from ptx.training.vae.data import load_square, make_batch, spread
from ptx.training.vae.evaluate import reconstruction_scores

ENCODER, DECODER = "encoder", "decoder"
EPS_SEED = 7_919  # latent noise of step k comes from (seed, EPS_SEED, k): resumes replay it


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


def reconstruct(
    enc: Any, dec: Any, images: np.ndarray, specs: tuple[ModelSpec, ModelSpec], chunk: int = 64
) -> np.ndarray:
    """uint8 reconstructions (decoding the posterior mean) of uint8 NHWC images."""
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(images), chunk):
            x = torch.from_numpy(specs[0].image.to_model(images[i : i + chunk]))
            out.append(np.stack(specs[1].image.to_pixels(dec(enc(x)[0]).numpy())))
    return np.concatenate(out) if out else images[:0]


def fit_prior(
    enc: Any, images: np.ndarray, spec: ModelSpec, max_images: int = 2048
) -> dict[str, list]:
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
                enc(torch.from_numpy(spec.image.to_model(pick[i : i + 128])))[0].numpy()
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


# -- checkpoints -------------------------------------------------------------------------
def _save(out: Path, enc: Any, dec: Any, specs: tuple[Any, Any], state: dict[str, Any]) -> None:
    """Decoder, then encoder with the resume state naming the decoder's hash."""
    save_checkpoint(out / DECODER, dec, specs[1])
    state = {**state, "decoder_sha256": specs[1].source_hash}
    save_checkpoint(out / ENCODER, enc, specs[0], state)


def _start(out: Path, resume: bool, config: dict | None) -> tuple[Any, Any, Any, Any, dict | None]:
    """(encoder, decoder, encoder spec, decoder spec, resume state)."""
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


def _log_images(
    tb: Any, enc: Any, dec: Any, specs: tuple[ModelSpec, ModelSpec], val: np.ndarray, step: int,
    seed: int,
) -> None:  # fmt: skip
    """TensorBoard: held-out originals over their reconstructions, and prior samples."""
    import torch

    if len(val):
        pair = np.concatenate([val[:8], reconstruct(enc, dec, val[:8], specs)], axis=1)
        tb.add_images("val/original_over_reconstruction", pair, step, dataformats="NHWC")
    z = torch.randn(8, enc.latent, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        samples = np.stack(specs[1].image.to_pixels(dec(z).numpy()))
    tb.add_images("samples/prior", samples, step, dataformats="NHWC")


def _checkpoint(
    out: Path,
    enc: Any,
    dec: Any,
    specs: tuple[ModelSpec, ModelSpec],
    state: dict[str, Any],
    tb: Any,
    val: np.ndarray,
    train: np.ndarray,
    metrics: dict[str, float] | None = None,
) -> None:
    """Score held-out images, log them, fit the sampling prior, and save both folders."""
    was = enc.training
    enc.eval()
    dec.eval()
    step = state["step"]
    scores = metrics or reconstruction_scores(val, reconstruct(enc, dec, val, specs))
    for key in ("val_psnr", "val_ssim"):
        if key in scores:
            tb.add_scalar(f"val/{key[4:]}", scores[key], step)
    _log_images(tb, enc, dec, specs, val, step, state["seed"])
    tb.flush()
    for spec in specs:
        spec.metrics = dict(scores)
    specs[1].config["prior"] = fit_prior(enc, train, specs[0])
    _save(out, enc, dec, specs, state)
    enc.train(was)
    dec.train(was)


# -- the run -----------------------------------------------------------------------------
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

    data, out = Path(data), Path(out)
    if steps < 0 or batch < 1 or beta < 0 or not 0 <= kl_warmup <= 1:
        raise InputError(
            f"need steps >= 0, batch >= 1, beta >= 0, 0 <= kl_warmup <= 1; "
            f"got {steps}, {batch}, {beta}, {kl_warmup}"
        )
    torch.manual_seed(seed)
    enc, dec, enc_spec, dec_spec, state = _start(out, resume, config)
    specs = (enc_spec, dec_spec)
    size = int(enc_spec.config["image_size"])
    conv = enc_spec.image
    train_files, val_files = split_files(data, val_fraction, seed)
    train_imgs = load_square(train_files, size, progress, "train", conv)
    if not len(train_imgs):
        raise InputError(f"{data}: no readable training images")
    val_imgs = load_square(spread(val_files, max_val), size, progress, "val", conv)
    params = [*enc.parameters(), *dec.parameters()]
    opt = torch.optim.Adam(params, lr=lr)
    step = 0
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        step, seed = int(state["step"]), int(state.get("seed", seed))
    enc.train()
    dec.train()
    tb = SummaryWriter(str(out / "tb"))
    pixels = 3 * size * size

    def beta_at(progress: float) -> float:
        return beta * min(1.0, progress / kl_warmup) if kl_warmup > 0 else beta

    def step_fn(at: LoopState) -> dict[str, float]:
        x = torch.from_numpy(make_batch(train_imgs, batch, seed, at.step, conv))
        gen = torch.Generator().manual_seed(seed * 1_000_003 + EPS_SEED + at.step)
        eps = torch.randn(batch, enc.latent, generator=gen)
        loss, sq, kl = vae_loss(enc, dec, x, eps, beta_at(at.progress))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 100.0)
        opt.step()
        return {"loss": float(loss.detach()), "sq": float(sq.detach()), "kl": float(kl.detach())}

    def checkpoint(at: LoopState, metrics: dict[str, float] | None) -> None:
        snapshot = {"optimizer": opt.state_dict(), "step": at.step, "seed": seed}
        _checkpoint(out, enc, dec, specs, snapshot, tb, val_imgs, train_imgs, metrics)

    def summarise(at: LoopState) -> dict[str, float]:
        enc.eval()
        dec.eval()
        metrics = reconstruction_scores(val_imgs, reconstruct(enc, dec, val_imgs, specs))
        avg = {k: at.averages.get(k, math.nan) for k in ("sq", "kl")}
        metrics.update(
            steps=float(at.step),
            train_kl=float(avg["kl"]),
            train_mse=float(avg["sq"] / pixels),
            beta=float(beta),
            train_seconds=float(at.seconds),
            steps_per_second=float(at.steps_per_second),
        )
        return {k: v for k, v in metrics.items() if not math.isnan(v)}  # no step ran: no EMA

    def psnr_of(at: LoopState) -> float:
        return -10 * math.log10(max(at.averages["sq"] / pixels, 1e-10))

    result = TrainLoop(
        steps,
        label="train vae",
        time_budget_s=time_budget_s,
        start=step,
        lr=lambda frac: lr_at(frac, lr),
        optimizers=[opt],
        tuner=ThreadTuner.for_training(threads),
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        summarise=summarise,
        progress=progress,
        tb=tb,
        postfix=lambda at: {"psnr": f"{psnr_of(at):.1f}", "kl": f"{at.averages['kl']:.0f}"},
        scalars=lambda at: {
            "loss": at.averages["loss"],
            "kl": at.averages["kl"],
            "mse": at.averages["sq"] / pixels,
            "beta": beta_at(at.progress),
            "lr": at.lr,
        },
    ).run(step_fn)
    tb.close()
    return result.metrics
