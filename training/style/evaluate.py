"""Score style transfer: Gram-loss reduction and content kept, in PyTorch or through ptx.runtime.

The texture net reads tensors in the style model's own convention (what the
model takes and gives), so contents and stylized images are turned into model
values by the spec's image convention before it sees them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ptx.errors import InputError
from ptx.runtime import load
from ptx.runtime.pipelines.stylize import stylize_arrays
from ptx.spec import ImageConvention
from ptx.training.common.metrics import ssim
from ptx.training.data.files import split_files
from ptx.training.style import texture_net as tn
from ptx.training.style.data import load_style, square_images
from ptx.training.style.model import make_spec


def luma(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luminance of uint8 RGB, as uint8 (for structure-only comparisons)."""
    y = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def style_scores(
    net: Any,
    targets: list[Any],
    contents: list[np.ndarray],
    stylized: list[np.ndarray],
    conv: ImageConvention,
) -> dict[str, float]:
    """Gram loss of content and stylized images, its reduction, and content preservation.

    ``gram_reduction`` = 1 - gram(stylized) / gram(content): 0.5 means the stylized
    images are half as far from the style's statistics as the photos were.
    ``content_loss`` is the texture net's content-layer relative error and
    ``luma_ssim`` the SSIM of the luminance (structure kept, colours may change).
    """
    if not contents:
        raise InputError("no images to score")
    g_in, g_out, c_loss, l_ssim = [], [], [], []
    with torch.no_grad():
        for a, b in zip(contents, stylized, strict=True):
            fa = net(torch.from_numpy(conv.to_model(a[None])))
            fb = net(torch.from_numpy(conv.to_model(b[None])))
            g_in.append(float(tn.style_loss(fa, targets)[0]))
            g_out.append(float(tn.style_loss(fb, targets)[0]))
            c_loss.append(float(tn.content_loss(fb, fa, net.content_layer)[0]))
            l_ssim.append(ssim(luma(b)[..., None], luma(a)[..., None]))
    gin, gout = float(np.mean(g_in)), float(np.mean(g_out))
    return {
        "gram_loss_content": gin,
        "gram_loss_stylized": gout,
        "gram_reduction": 1.0 - gout / gin if gin > 0 else 0.0,
        "content_loss": float(np.mean(c_loss)),
        "luma_ssim": float(np.mean(l_ssim)),
        "images": float(len(contents)),
    }


def style_targets(net: Any, style: np.ndarray, conv: ImageConvention) -> list[Any]:
    """The texture net's Gram targets of a uint8 style image (in the model's convention)."""
    return tn.style_targets(net, torch.from_numpy(conv.to_model(style[None])))


def stylize_torch(model: Any, images: list[np.ndarray], conv: ImageConvention) -> list[np.ndarray]:
    """Run the PyTorch model on uint8 images one at a time (any sizes)."""
    out = []
    with torch.no_grad():
        for img in images:
            y = model(torch.from_numpy(conv.to_model(img[None])))
            out.append(conv.to_pixels(y.numpy(), size=img.shape[:2])[0])
    return out


def evaluate_style(
    model: str | Path,
    style_image: str | Path,
    data: str | Path,
    max_images: int = 16,
    size: int = 128,
    seed: int = 0,
    val_fraction: float = 0.05,
    texture_seed: int | None = None,
    vgg_weights: Path | None = None,
) -> dict[str, float]:
    """Gram-loss reduction and content preservation of an exported style model (ptx.runtime).

    The texture net and the style image's scale are the ones recorded at training
    (the ONNX spec's config) unless given.
    """
    if max_images < 1 or size < 16:
        raise InputError(f"need --max-images >= 1 and --size >= 16, got {max_images}, {size}")
    engine = load(model, backend="onnxruntime")
    spec = engine.spec
    cfg = spec.config if spec is not None else {}
    conv = (spec.image if spec is not None else None) or make_spec({}).image
    if texture_seed is None:
        texture_seed = int(cfg.get("texture_seed", 0))
    side = int(cfg.get("style_side", 256))
    _, val_files = split_files(Path(data), val_fraction, seed)
    if not val_files:
        raise InputError(f"{data}: no held-out images (needs 2+ images or a split column)")
    contents = square_images(val_files[:max_images], size)
    if not contents:
        raise InputError(f"{data}: no readable held-out images")
    net = tn.texture_net(texture_seed, vgg_weights)
    targets = style_targets(net, load_style(style_image, side), conv)
    scores = style_scores(net, targets, contents, stylize_arrays(engine, contents), conv)
    scores.update(texture_seed=float(texture_seed), size=float(size))
    return scores
