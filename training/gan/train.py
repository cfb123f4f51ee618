"""Train the "gan" family: hinge loss, projection discriminator, EMA generator, seeded.

One step = one discriminator and one generator update on the same fake batch
(the generator's forward pass is shared; fake labels are the real batch's, so
they follow the data's label distribution). Adam(0.0, 0.9) with constant
learning rates, as in the SN-GAN / projection-GAN papers. The checkpoint's
weights are the EMA generator's, with batch-norm statistics re-estimated on
it ("standing statistics"): they are what export and the metrics use. The
raw generator, discriminator and both optimizers go into ``state.pt``.

The common TrainLoop runs it: tqdm progress, TensorBoard scalars, atomic
Ctrl-C-safe checkpoints (with a sample grid), a time budget, and a measured
thread count. Real images become tensors, and samples pixels, through the
spec's image convention.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from ptx.errors import InputError
from ptx.image import grid
from ptx.io import write_image
from ptx.spec import ImageConvention
from ptx.training.common import registry
from ptx.training.common.checkpoint import load_checkpoint, load_state, read_spec, save_checkpoint
from ptx.training.common.loop import LoopState, TrainLoop
from ptx.training.common.threads import ThreadTuner
from ptx.training.data.folders import CLASS_KEYS
from ptx.training.gan import model as gan_model
from ptx.training.gan.data import LabelledSet, load_labelled

FAMILY = "gan"
SAMPLES = "samples.png"  # the latest label grid, beside the checkpoint
GRID_SEED = 1234  # fixed z for the sample grids, so grids of successive checkpoints compare
STANDING_BATCHES = 8
DIVERSITY_RAMP = 500  # steps over which the mode-seeking weight grows from 0: shapes first


# -- pieces ----------------------------------------------------------------------------
def ema_update(ema: Any, model: Any, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model, parameters only (BN stats are re-estimated)."""
    import torch

    with torch.no_grad():
        for pe, p in zip(ema.parameters(), model.parameters(), strict=True):
            pe.lerp_(p, 1.0 - decay)


def ema_decay_at(step: int, decay: float) -> float:
    """The EMA decay for ``step``: ramps up so the early average is not the random init."""
    return min(decay, (1.0 + step) / (10.0 + step))


def standing_stats(gen: Any, label_sets: dict[str, np.ndarray], batch: int, seed: int) -> None:
    """Re-estimate every batch norm's statistics on the generator's own activations."""
    import torch

    bns = [m for m in gen.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    rng = np.random.default_rng(seed)
    n = len(next(iter(label_sets.values())))
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the batches below
    gen.train()
    with torch.no_grad():
        for _ in range(STANDING_BATCHES):
            idx = rng.integers(0, n, size=batch)
            z = torch.from_numpy(rng.standard_normal((batch, gen.latent), dtype=np.float32))
            gen(z, *(torch.from_numpy(v[idx]) for v in label_sets.values()))
    for bn in bns:
        bn.momentum = 0.1
    gen.eval()


def label_grid(
    gen: Any, vocab: dict[str, list[str]], conv: ImageConvention, per_cell: int = 1
) -> np.ndarray:
    """uint8 grid: one row per category, one column per colour, from fixed z."""
    import torch

    nc, nk = len(vocab["category"]), len(vocab["color"])
    c = np.repeat(np.arange(nc), nk * per_cell)
    k = np.tile(np.repeat(np.arange(nk), per_cell), nc)
    z = np.random.default_rng(GRID_SEED).standard_normal((len(c), gen.latent), dtype=np.float32)
    was_training = gen.training
    gen.eval()
    with torch.no_grad():
        x = gen(torch.from_numpy(z), torch.from_numpy(c), torch.from_numpy(k))
    gen.train(was_training)
    return grid(conv.to_pixels(x.numpy()), nk * per_cell)


def _batch(data: LabelledSet, idx: np.ndarray, flip: np.ndarray, conv: ImageConvention) -> Any:
    """Real images as the spec's model values, channels_last, some mirrored (same labels)."""
    import torch

    u8 = data.images[idx]
    u8[flip] = u8[flip, :, ::-1]
    return torch.from_numpy(conv.to_model(u8)).contiguous(memory_format=torch.channels_last)


def mode_seeking(fake: Any, z: Any) -> Any:
    """Image distance over z distance between the batch's two halves (same labels; MSGAN)."""
    half = fake.shape[0] // 2
    dx = (fake[:half] - fake[half : 2 * half]).abs().mean()
    return dx / (z[:half] - z[half : 2 * half]).abs().mean()


def train_step(
    gen: Any,
    disc: Any,
    opts: tuple[Any, Any],
    real: Any,
    labels: tuple,
    aux: float,
    diversity: float,
) -> dict[str, float]:
    """One hinge-loss D step and one G step on the same fake batch; the losses.

    The fakes' second half repeats the first half's labels with fresh z, so the
    mode-seeking term (Mao et al., CVPR 2019) can reward z for changing the image.
    """
    import torch
    import torch.nn.functional as F

    opt_g, opt_d = opts
    half = real.shape[0] // 2
    fake_labels = tuple(torch.cat([t[:half], t[:half], t[2 * half :]]) for t in labels)
    z = torch.randn(real.shape[0], gen.latent)
    fake = gen(z, *fake_labels)
    d_real, rc, rk = disc(real, *labels)
    d_fake, _, _ = disc(fake.detach(), *fake_labels)
    loss_d = F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()
    if aux:
        loss_d = loss_d + aux * (F.cross_entropy(rc, labels[0]) + F.cross_entropy(rk, labels[1]))
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()

    disc.requires_grad_(False)  # the G step needs no D weight gradients
    g_out, fc, fk = disc(fake, *fake_labels)
    loss_g = -g_out.mean()
    if aux:
        loss_g = loss_g + aux * (
            F.cross_entropy(fc, fake_labels[0]) + F.cross_entropy(fk, fake_labels[1])
        )
    ms = mode_seeking(fake, z)
    if diversity:
        loss_g = loss_g + diversity / (ms + 1e-5)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    disc.requires_grad_(True)
    return {
        "loss_d": float(loss_d.detach()),
        "loss_g": float(loss_g.detach()),
        "d_real": float(d_real.detach().mean()),
        "d_fake": float(d_fake.detach().mean()),
        "mode_seeking": float(ms.detach()),
    }


# -- start / resume --------------------------------------------------------------------
def _start(out: Path, resume: bool, config: dict, vocab: dict[str, list[str]]) -> dict[str, Any]:
    """Generator, EMA generator, discriminator, spec and resume state (None when fresh)."""
    if not resume:
        fam = registry.get(FAMILY)
        cfg = fam.config(**{**config, "categories": vocab["category"], "colors": vocab["color"]})
        gen = fam.build(cfg)
        return {
            "gen": gen,
            "ema": copy.deepcopy(gen),
            "disc": gan_model.build_discriminator(cfg),
            "spec": fam.make_spec(cfg),
            "state": None,
        }
    if not (out / "spec.json").is_file():
        raise InputError(f"{out}: nothing to resume (no spec.json); drop --resume to start")
    ema, spec = load_checkpoint(out, family=FAMILY)
    state = load_state(out)
    if state is None or "generator" not in state:
        raise InputError(f"{out}: checkpoint has no GAN resume state (state.pt); drop --resume")
    if any(spec.labels.get(k) != vocab[k] for k in CLASS_KEYS):
        raise InputError(
            f"{out}: the checkpoint's label vocabularies differ from the data's; "
            "resume on the same data or start a new --out"
        )
    gen = gan_model.build(spec.config)
    gen.load_state_dict(state["generator"])
    disc = gan_model.build_discriminator(spec.config)
    disc.load_state_dict(state["discriminator"])
    return {"gen": gen, "ema": ema, "disc": disc, "spec": spec, "state": state}


def _snapshot(run: dict, opts: tuple, step: int, seed: int, rng: np.random.Generator) -> dict:
    import torch

    return {
        "generator": run["gen"].state_dict(),
        "discriminator": run["disc"].state_dict(),
        "opt_g": opts[0].state_dict(),
        "opt_d": opts[1].state_dict(),
        "step": step,
        "seed": seed,
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": rng.bit_generator.state,
    }


def _checkpoint(run: dict, state: dict, data: LabelledSet, out: Path, tb: Any, batch: int) -> None:
    """Standing stats on the EMA generator, a sample grid, then an atomic save."""
    step = state["step"]
    standing_stats(run["ema"], data.ids, max(batch, 32), seed=step)
    picture = label_grid(run["ema"], data.vocab, run["spec"].image)
    tb.add_image("samples/category_x_color", picture, step, dataformats="HWC")
    tb.flush()
    write_image(out / SAMPLES, picture)
    save_checkpoint(out, run["ema"], run["spec"], state)


# -- the run ---------------------------------------------------------------------------
def train_gan(
    data: Path,
    out: Path,
    steps: int = 2000,
    batch: int = 32,
    lr: float = 2e-4,
    seed: int = 0,
    resume: bool = False,
    time_budget_s: float | None = None,
    progress: bool = True,
    config: dict | None = None,
    lr_d: float | None = None,
    ema: float = 0.995,
    aux: float = 0.5,
    diversity: float = 0.25,
    checkpoint_every: int = 250,
    threads: int | None = None,
) -> dict[str, float]:
    """Train (or resume) a conditional GAN into checkpoint folder ``out``; returns run figures.

    ``lr_d`` defaults to 2 x ``lr`` (two time-scale update rule); ``aux`` weights
    the discriminator's auxiliary label classifiers (0 = projection only);
    ``diversity`` weights the mode-seeking term (0 = off).
    """
    import torch
    from torch.utils.tensorboard import SummaryWriter

    data, out = Path(data), Path(out)
    if steps < 0 or batch < 2 or lr <= 0 or not 0.0 <= ema < 1.0:
        raise InputError(
            f"need steps >= 0, batch >= 2, lr > 0, 0 <= ema < 1; got {steps}, {batch}, {lr}, {ema}"
        )
    config = {**(config or {})}
    torch.manual_seed(seed)
    size = int(config.get("size", gan_model.DEFAULT_CONFIG["size"]))
    if resume and (out / "spec.json").is_file():
        size = int(read_spec(out).config.get("size", size))
    train = load_labelled(data, size, split="train", progress=progress)
    run = _start(out, resume, config, train.vocab)
    conv = run["spec"].image
    gen, disc = run["gen"].train(), run["disc"].train()
    for m in (gen, disc, run["ema"]):
        m.to(memory_format=torch.channels_last)
    opt_g = torch.optim.Adam(gen.parameters(), lr=lr, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr_d or 2 * lr, betas=(0.0, 0.9))
    step, rng = 0, np.random.default_rng(seed)
    if run["state"] is not None:
        st = run["state"]
        opt_g.load_state_dict(st["opt_g"])
        opt_d.load_state_dict(st["opt_d"])
        step, seed = int(st["step"]), int(st.get("seed", seed))
        torch.set_rng_state(st["torch_rng"])
        rng.bit_generator.state = st["numpy_rng"]
    tb = SummaryWriter(str(out / "tb"))

    def step_fn(at: LoopState) -> dict[str, float]:
        idx = rng.integers(0, len(train), size=batch)
        real = _batch(train, idx, rng.random(batch) < 0.5, conv)
        labels = tuple(torch.from_numpy(train.ids[k][idx]) for k in CLASS_KEYS)
        ms_weight = diversity * min(1.0, at.step / DIVERSITY_RAMP)
        losses = train_step(gen, disc, (opt_g, opt_d), real, labels, aux, ms_weight)
        ema_update(run["ema"], gen, ema_decay_at(at.step, ema))
        return losses

    def checkpoint(at: LoopState, metrics: dict[str, float] | None) -> None:
        _checkpoint(run, _snapshot(run, (opt_g, opt_d), at.step, seed, rng), train, out, tb, batch)

    def summarise(at: LoopState) -> dict[str, float]:
        metrics = {
            "steps": float(at.step),
            "images_seen": float(at.step * batch),
            "train_images": float(len(train)),
            "train_seconds": float(at.seconds),
            "steps_per_second": float(at.steps_per_second),
            "generator_params": float(gan_model.param_count(gen)),
            **{f"train_{k}": float(v) for k, v in at.averages.items()},
        }
        run["spec"].metrics = metrics
        return metrics

    result = TrainLoop(
        steps,
        label="train gan",
        time_budget_s=time_budget_s,
        start=step,
        tuner=ThreadTuner.for_training(threads, fewer=1),
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        summarise=summarise,
        progress=progress,
        tb=tb,
        postfix=lambda at: {
            "d": f"{at.averages['loss_d']:.3f}",
            "g": f"{at.averages['loss_g']:.3f}",
            "thr": at.threads,
        },
    ).run(step_fn)
    tb.close()
    return result.metrics
