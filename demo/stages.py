"""The demo's workspace and its enhancer stages: synthesise, train, export, FP16, build, evaluate.

Each stage returns ``(detail, data)``: one line for people and a JSON-able dict
for report.json. The generative families' stages are in generative.py.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

import ptx.runtime
from ptx.export.precision.convert import convert_fp16
from ptx.export.pytorch.export import export_checkpoint
from ptx.export.trt import build_engine
from ptx.formats import tensorrt as trt_flavour
from ptx.io import read_image
from ptx.runtime import load
from ptx.runtime.pipelines.enhance import enhance_arrays
from ptx.training.data.catalogue import write_catalogue
from ptx.training.enhance.evaluate import EvalResult, evaluate, real_photos, save_grid
from ptx.training.enhance.train import train_enhance

StageResult = tuple[str, dict[str, Any]]
SHIPPED_ENHANCER = Path(ptx.runtime.__file__).parent / "models" / "enhance.onnx"


@dataclass
class DemoConfig:
    """Sizes and budgets; the defaults fit `make demo` in about 15 minutes on 2 cores."""

    n_images: int = 2400
    size: int = 160
    train_seconds: float = 210.0
    max_steps: int = 100_000
    seed: int = 0
    batch: int = 4
    build_engine: bool = True
    generative: bool = True  # issue 5's families: VAE, style (and the GAN)
    small_size: int = 64  # the VAE and GAN train at 64x64
    vae_seconds: float = 60.0
    style_seconds: float = 45.0
    gan_seconds: float = 240.0
    studio: bool = True  # issue 18: cut-out, try-on, compose, personalised variants
    cutout_images: int = 600
    cutout_size: int = 160
    cutout_seconds: float = 150.0
    tryon_seconds: float = 120.0

    @classmethod
    def quick(cls) -> DemoConfig:
        """A tiny configuration for tests."""
        return cls(
            n_images=70, size=48, train_seconds=15.0, max_steps=6, small_size=32,
            vae_seconds=6.0, style_seconds=6.0, gan_seconds=6.0,
            cutout_images=12, cutout_size=48, cutout_seconds=6.0, tryon_seconds=6.0,
        )  # fmt: skip


@dataclass
class Stage:
    """One step of the demo and what it reported."""

    name: str
    seconds: float
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


class Demo:
    """The demo's folder, config and the stages run so far (each timed, each printed)."""

    def __init__(self, out: Path, cfg: DemoConfig) -> None:
        self.out = out
        self.cfg = cfg
        self.stages: list[Stage] = []
        self.models = out / "models"
        self.results: dict[str, EvalResult] = {}  # the enhancer's scores, by image set

    def stage(self, name: str, fn: Callable[[], StageResult]) -> dict[str, Any]:
        """Run one stage, print its line, and keep its result for the report."""
        click.echo(f"[demo] {name} ...", err=True)
        t0 = time.perf_counter()
        detail, data = fn()
        detail = detail.replace(f"{self.out}/", "")  # the report lives in out/: relative paths
        st = Stage(name, time.perf_counter() - t0, detail, data)
        self.stages.append(st)
        click.echo(f"[demo] {name}: {detail} ({st.seconds:.1f} s)", err=True)
        return data

    def test_paths(self, folder: str) -> list[Path]:
        """Test-split image paths of a catalogue folder, from its labels.csv."""
        root = self.out / folder
        with open(root / "labels.csv", newline="") as f:
            return [root / r["path"] for r in csv.DictReader(f) if r.get("split") == "test"]

    def export(self, ckpt: Path, name: str) -> str:
        """Export a checkpoint folder to models/NAME as `ptx export` does; its summary line."""
        return export_checkpoint(ckpt, self.models / name).summary()

    # -- the enhancer ---------------------------------------------------------------
    def synthesise(self) -> StageResult:
        """Write the synthetic catalogue."""
        summary = write_catalogue(
            self.out / "data", self.cfg.n_images, self.cfg.size, seed=self.cfg.seed
        )
        return f"{summary.images} catalogue images at {self.cfg.size} px", {
            "images": summary.images
        }

    def train(self) -> StageResult:
        """Train the enhancer within the time budget."""
        metrics = train_enhance(
            self.out / "data",
            self.out / "checkpoints" / "enhance",
            steps=self.cfg.max_steps,
            seed=self.cfg.seed,
            time_budget_s=self.cfg.train_seconds,
        )
        parts = [f"{k}={v:.4g}" for k, v in metrics.items() if isinstance(v, float | int)]
        return ", ".join(parts), dict(metrics)

    def export_onnx(self) -> StageResult:
        """Export the checkpoint to ONNX with the parity check."""
        report = export_checkpoint(
            self.out / "checkpoints" / "enhance", self.models / "enhance.onnx"
        )
        return report.summary(), report.to_dict()

    def fp16(self) -> StageResult:
        """Write the mixed-precision ONNX and check it against FP32."""
        report = convert_fp16(self.models / "enhance.onnx", self.models / "enhance-fp16.onnx")
        return report.summary(), report.to_dict()

    def build(self) -> StageResult:
        """Build the TensorRT plan from the FP16 ONNX when a builder is installed."""
        if not self.cfg.build_engine:
            return "skipped (disabled)", {"built": False}
        if not trt_flavour.installed():
            return "skipped: no TensorRT builder (pip install tensorrt-rtx-cu13)", {"built": False}
        report = build_engine(self.models / "enhance-fp16.onnx", self.models / "enhance.plan")
        return report.summary(), {"built": True, **report.to_dict()}

    def evaluate(self) -> StageResult:
        """Run the ONNX model through ptx.runtime on held-out and real photos."""

        def runner(path: Path) -> Callable[[list], list]:
            engine = load(path)
            return lambda images: enhance_arrays(engine, images, batch=1)

        run = runner(self.models / "enhance.onnx")
        held_out = evaluate(self._held_out(), run, seed=self.cfg.seed + 1000)
        real = evaluate(real_photos(), run, seed=self.cfg.seed + 2000)
        # the enhancer ptx ships, on the same draws: what the demo's short training compares to
        shipped = evaluate(real_photos(), runner(SHIPPED_ENHANCER), seed=self.cfg.seed + 2000)
        save_grid(real, self.out / "grid-real.png")
        save_grid(held_out, self.out / "grid-catalogue.png", tile=192)
        self.results = {
            "held-out catalogue": held_out,
            "real photos": real,
            "real photos, the shipped enhancer": shipped,
        }
        psnr = {m: real.mean(m)[0] for m in ("degraded", "classical", "model")}
        detail = (
            f"real photos PSNR: degraded {psnr['degraded']:.2f}, classical "
            f"{psnr['classical']:.2f}, model {psnr['model']:.2f} dB "
            f"(shipped enhancer {shipped.mean('model')[0]:.2f} dB)"
        )
        return detail, {k: v.to_dict() for k, v in self.results.items()}

    def _held_out(self, limit: int = 24) -> dict:
        """The catalogue's test split (labels.csv), read back from disk."""
        return {p.stem: read_image(p) for p in self.test_paths("data")[:limit]}
