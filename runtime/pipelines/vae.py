"""VAE pipelines in NumPy: sample, reconstruct, interpolate between two photos (no torch).

The encoder returns the posterior ``mean`` and ``logvar``; the decoder maps ``z``
to an image. Sampling happens here, not in a graph: z is drawn from the seed
(``numpy.random.default_rng(seed)``), so the same seed gives the same images on
every backend. Interpolation decodes points on the path between the two photos'
posterior means: spherical (slerp) by default, since prior samples concentrate
on a shell and straight lines cut through its low-density interior.

A photo meets the encoder's fixed size by the encoder spec's image ``fit`` (training
records ``crop``, and fits its own images the same way). ``pad`` cannot shrink a
photo to a fixed size, so ``pad`` (also what a spec written before ``fit`` existed
reads as) means ``crop`` here, as it always did.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ptx.errors import ImageError, InputError, ModelError
from ptx.image import grid
from ptx.io import read_image
from ptx.runtime import load
from ptx.runtime.engine import Engine
from ptx.runtime.pipelines.batching import Item, plan_items, save_image
from ptx.spec import ImageConvention

MAX_SAMPLES = 4096
MAX_STEPS = 256
CHUNK = 32  # images per engine call


@dataclass
class VaePair:
    """A loaded encoder/decoder pair with the facts both specs must agree on."""

    encoder: Engine | None
    decoder: Engine
    latent: int
    size: int  # square image side the encoder takes and the decoder makes
    conv: ImageConvention  # the decoder's (its output pixels)
    enc_conv: ImageConvention | None = None  # the encoder's (its input), else ``conv``

    @property
    def encoder_conv(self) -> ImageConvention:
        """The convention photos are fitted and normalised by for the encoder."""
        return self.enc_conv or self.conv

    def fit_image(self, rgb: np.ndarray) -> np.ndarray:
        """``rgb`` fitted to the encoder's size by its spec's ``fit`` (module docstring)."""
        conv = self.encoder_conv
        if conv.fit == "pad":
            conv = replace(conv, fit="crop")
        return conv.fit_image(rgb, self.size, self.size)


@dataclass
class VaeSummary:
    """What a VAE run wrote."""

    mode: str
    images: int
    out: str
    strip: str | None = None
    files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def line(self) -> str:
        """The one-line summary the CLI prints."""
        extra = f", strip {self.strip}" if self.strip else ""
        return f"vae {self.mode}: {self.images} images -> {self.out}{extra}"

    def to_dict(self) -> dict:
        """JSON-able dict."""
        d = asdict(self)
        d["skipped"] = [{"path": p, "reason": r} for p, r in self.skipped]
        return d


def _load(engine_or_path: Engine | str | Path) -> Engine:
    if isinstance(engine_or_path, Engine):
        return engine_or_path
    return load(engine_or_path, backend="onnxruntime")


def _latent_of(engine: Engine, what: str, axis_of: str) -> int:
    """The latent size from the spec, else from the named tensor's last fixed axis."""
    if engine.spec is not None and engine.spec.latent_size:
        return int(engine.spec.latent_size)
    tensors = engine.outputs if what == "encoder" else engine.inputs
    for t in tensors:
        if t.name == axis_of and isinstance(t.shape[-1], int):
            return int(t.shape[-1])
    raise ModelError(f"{engine.path.name}: cannot tell the {what}'s latent size (no ptx spec)")


def _check_roles(encoder: Engine | None, decoder: Engine) -> None:
    names = [t.name for t in decoder.inputs]
    if names != ["z"]:
        raise ModelError(
            f"{decoder.path.name}: not a VAE decoder (inputs {names}, expected one input 'z'); "
            "pass vae-decoder.onnx as --decoder"
        )
    if encoder is not None:
        outs = {t.name for t in encoder.outputs}
        if not {"mean", "logvar"} <= outs:
            raise ModelError(
                f"{encoder.path.name}: not a VAE encoder (outputs {sorted(outs)}, expected "
                "'mean' and 'logvar'); pass vae-encoder.onnx as --encoder"
            )


def open_pair(decoder: Engine | str | Path, encoder: Engine | str | Path | None = None) -> VaePair:
    """Load and check a decoder (and encoder): roles, latent sizes and image sizes must match."""
    dec = _load(decoder)
    enc = _load(encoder) if encoder is not None else None
    _check_roles(enc, dec)
    k_dec = _latent_of(dec, "decoder", "z")
    out_shape = dec.outputs[0].shape
    size = int(out_shape[-1]) if isinstance(out_shape[-1], int) else 0
    conv = (dec.spec.image if dec.spec is not None else None) or ImageConvention()
    enc_conv = enc.spec.image if enc is not None and enc.spec is not None else None
    if enc is not None:
        k_enc = _latent_of(enc, "encoder", "mean")
        if k_enc != k_dec:
            raise InputError(
                f"encoder {enc.path.name} has latent size {k_enc} but decoder {dec.path.name} "
                f"has {k_dec}: pass the encoder and decoder of one training run"
            )
        in_shape = enc.inputs[0].shape
        enc_size = int(in_shape[-1]) if isinstance(in_shape[-1], int) else size
        if size and enc_size and enc_size != size:
            raise InputError(
                f"encoder {enc.path.name} takes {enc_size}x{enc_size} images but decoder "
                f"{dec.path.name} makes {size}x{size}: pass a matching pair"
            )
        size = size or enc_size
    if not size:
        raise ModelError(f"{dec.path.name}: the decoder's image size is not fixed")
    return VaePair(enc, dec, k_dec, size, conv, enc_conv)


# -- the three operations -----------------------------------------------------------------
def decode(pair: VaePair, z: np.ndarray) -> list[np.ndarray]:
    """uint8 HWC RGB images of latent vectors ``z`` (N, latent)."""
    z = np.asarray(z, dtype=np.float32)
    if z.ndim != 2 or z.shape[1] != pair.latent:
        raise InputError(f"z must be (N, {pair.latent}), got shape {list(z.shape)}")
    name = pair.decoder.inputs[0].name
    out: list[np.ndarray] = []
    for i in range(0, len(z), CHUNK):
        y = next(iter(pair.decoder.run({name: z[i : i + CHUNK]}).values()))
        out.extend(pair.conv.to_pixels(y))
    return out


def encode(pair: VaePair, images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(mean, logvar), each (N, latent), of uint8 RGB images (fitted to the encoder's size)."""
    if pair.encoder is None:
        raise InputError("encoding needs --encoder (vae-encoder.onnx)")
    info = pair.encoder.inputs[0]
    means, logvars = [], []
    fitted = [pair.fit_image(im) for im in images]
    for i in range(0, len(fitted), CHUNK):
        x = pair.encoder_conv.to_model(fitted[i : i + CHUNK], info.dtype)
        res = pair.encoder.run({info.name: x})
        means.append(np.asarray(res["mean"], dtype=np.float32))
        logvars.append(np.asarray(res["logvar"], dtype=np.float32))
    return np.concatenate(means), np.concatenate(logvars)


def fitted_prior(pair: VaePair) -> tuple[np.ndarray, np.ndarray] | None:
    """(mean, Cholesky factor) of the latent prior fitted at training, if the decoder has one."""
    spec = pair.decoder.spec
    prior = spec.config.get("prior") if spec is not None else None
    if not isinstance(prior, dict):
        return None
    k = pair.latent
    mean = np.asarray(prior.get("mean", []), dtype=np.float64)
    rows = prior.get("chol", [])
    if mean.shape != (k,) or len(rows) != k:
        raise ModelError(f"{pair.decoder.path.name}: its fitted prior is not {k}-dimensional")
    chol = np.zeros((k, k))
    for i, row in enumerate(rows):
        chol[i, : len(row)] = row
    return mean, chol


def sample(
    pair: VaePair, n: int, seed: int = 0, temperature: float = 1.0, prior: str = "auto"
) -> list[np.ndarray]:
    """``n`` images decoded from latents drawn from ``seed``.

    ``prior``: ``fitted`` draws from the Gaussian fitted to the training codes (the
    decoder's spec), ``standard`` from N(0, I); ``auto`` = fitted when the spec has one.
    ``temperature`` scales the draw around the prior's mean.
    """
    if not 1 <= n <= MAX_SAMPLES:
        raise InputError(f"--sample must be between 1 and {MAX_SAMPLES}, got {n}")
    if temperature <= 0:
        raise InputError(f"--temperature must be > 0, got {temperature}")
    if prior not in ("auto", "fitted", "standard"):
        raise InputError(f"--prior must be auto, fitted or standard, got '{prior}'")
    eps = np.random.default_rng(seed).standard_normal((n, pair.latent)) * temperature
    fit = fitted_prior(pair) if prior != "standard" else None
    if prior == "fitted" and fit is None:
        raise InputError(f"{pair.decoder.path.name} has no fitted prior; use --prior standard")
    z = eps if fit is None else fit[0] + eps @ fit[1].T
    return decode(pair, z.astype(np.float32))


def reconstruct(pair: VaePair, images: list[np.ndarray]) -> list[np.ndarray]:
    """Decode each image's posterior mean (the encoder's input size)."""
    return decode(pair, encode(pair, images)[0])


def path_points(a: np.ndarray, b: np.ndarray, steps: int, mode: str = "slerp") -> np.ndarray:
    """``steps`` points from a to b inclusive, linear or spherical (norm interpolated too)."""
    if steps < 2:
        raise InputError(f"--steps must be at least 2 (both ends), got {steps}")
    if mode not in ("lerp", "slerp"):
        raise InputError(f"unknown interpolation '{mode}' (use lerp or slerp)")
    t = np.linspace(0.0, 1.0, steps, dtype=np.float64)[:, None]
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    na, nb = np.linalg.norm(a64), np.linalg.norm(b64)
    cos = float(a64 @ b64 / max(na * nb, 1e-12))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if mode == "lerp" or omega < 1e-4 or na < 1e-8 or nb < 1e-8:
        return ((1 - t) * a64 + t * b64).astype(np.float32)
    ua, ub = a64 / na, b64 / nb
    dirs = (np.sin((1 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
    return (dirs * ((1 - t) * na + t * nb)).astype(np.float32)


def interpolate(
    pair: VaePair, a: np.ndarray, b: np.ndarray, steps: int = 8, mode: str = "slerp"
) -> list[np.ndarray]:
    """``steps`` images along the latent path between photos ``a`` and ``b`` (both ends)."""
    if steps > MAX_STEPS:
        raise InputError(f"--steps must be at most {MAX_STEPS}, got {steps}")
    mean, _ = encode(pair, [a, b])
    return decode(pair, path_points(mean[0], mean[1], steps, mode))


def make_strip(images: list[np.ndarray], columns: int | None = None, gap: int = 2) -> np.ndarray:
    """Tile same-size images into one white-gapped sheet (one row unless ``columns``)."""
    if not images:
        raise InputError("no images to tile")
    return grid(images, ncol=max(1, min(columns or len(images), len(images))), pad=gap)


def write_images(images: list[np.ndarray], out: Path, stem: str) -> list[str]:
    """Write ``stem_000.png``... atomically into ``out``; their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        p = out / f"{stem}_{i:03d}.png"
        save_image(p, img)
        paths.append(str(p))
    return paths


# -- one call per CLI mode ----------------------------------------------------------------
def _read_many(items: list[Item]) -> tuple[list[Item], list[np.ndarray], list[tuple[str, str]]]:
    """The planned items that decode, their images, and the skipped ones with reasons."""
    kept, images, skipped = [], [], []
    for item in items:
        try:
            images.append(read_image(item.source))
            kept.append(item)
        except ImageError as exc:
            skipped.append((str(item.source), str(exc)))
    return kept, images, skipped


def _refuse_overwrite(inputs: list[Path], dests: list[Path]) -> None:
    """One line, before anything is written, when an output path is one of the inputs."""
    keys = {str(p.resolve()).casefold(): p for p in inputs}
    for dest in dests:
        hit = keys.get(str(Path(dest).resolve()).casefold())
        if hit is not None:
            raise InputError(f"{hit}: an output would overwrite this input; pick another path")


def run_vae(
    decoder: Engine | str | Path,
    out: str | Path,
    encoder: Engine | str | Path | None = None,
    interpolate_between: tuple[str | Path, str | Path] | None = None,
    steps: int = 8,
    reconstruct_dir: str | Path | None = None,
    n_samples: int | None = None,
    seed: int = 0,
    strip: str | Path | None = None,
    mode: str = "slerp",
    prior: str = "auto",
) -> VaeSummary:
    """Interpolate, reconstruct or sample (exactly one) into ``out``, plus an optional strip."""
    chosen = [x is not None for x in (interpolate_between, reconstruct_dir, n_samples)]
    if sum(chosen) != 1:
        raise InputError("choose exactly one of --interpolate A B, --reconstruct DIR, --sample N")
    if (interpolate_between is not None or reconstruct_dir is not None) and encoder is None:
        raise InputError("--interpolate and --reconstruct need --encoder (vae-encoder.onnx)")
    out = Path(out)
    planned: list[Item] = []
    if reconstruct_dir is not None:
        planned = plan_items(reconstruct_dir, out, suffix=".png")
        inputs = [it.source for it in planned]
        dests = [it.dest for it in planned]
    elif interpolate_between is not None:
        inputs = [Path(p) for p in interpolate_between]
        dests = [out / f"interp_{i:03d}.png" for i in range(steps)]
    else:
        inputs, dests = [], []
    _refuse_overwrite(inputs, dests + ([Path(strip)] if strip is not None else []))
    pair = open_pair(decoder, encoder)
    skipped: list[tuple[str, str]] = []
    if interpolate_between is not None:
        a, b = (read_image(p) for p in interpolate_between)
        images = interpolate(pair, a, b, steps, mode)
        files = write_images(images, out, "interp")
        sheet = make_strip([pair.fit_image(a), *images, pair.fit_image(b)])
        what = "interpolate"
    elif reconstruct_dir is not None:
        kept, originals, skipped = _read_many(planned)
        if not originals:
            first = skipped[0][1]
            raise InputError(f"{reconstruct_dir}: every image failed to decode; first: {first}")
        images = reconstruct(pair, originals)
        files = []
        for item, img in zip(kept, images, strict=True):
            save_image(item.dest, img)
            files.append(str(item.dest))
        shown = min(8, len(images))
        fitted = [pair.fit_image(im) for im in originals[:shown]]
        sheet = make_strip(fitted + images[:shown], columns=shown)
        what = "reconstruct"
    else:
        images = sample(pair, int(n_samples), seed, prior=prior)
        files = write_images(images, out, "sample")
        sheet = make_strip(images, columns=min(8, len(images)))
        what = "sample"
    if strip is not None:
        save_image(Path(strip), sheet)
    return VaeSummary(what, len(images), str(out), str(strip) if strip else None, files, skipped)
