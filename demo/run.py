"""`ptx demo`'s library entry: every stage in order, then the report."""

from __future__ import annotations

from pathlib import Path

from ptx.demo import generative, studio
from ptx.demo.report import write_report
from ptx.demo.stages import Demo, DemoConfig


def run_demo(out: Path, cfg: DemoConfig) -> Path:
    """Synthesise -> train -> export -> FP16 -> build -> evaluate (-> generative -> studio)."""
    demo = Demo(Path(out), cfg)
    demo.stage("synthesise catalogue", demo.synthesise)
    demo.stage("train enhancer", demo.train)
    demo.stage("export ONNX (FP32)", demo.export_onnx)
    demo.stage("FP16 ONNX", demo.fp16)
    demo.stage("TensorRT build", demo.build)
    demo.stage("evaluate through ptx.runtime", demo.evaluate)
    if cfg.generative:
        demo.stage("synthesise small catalogue", lambda: generative.synthesise_small(demo))
        demo.stage("VAE", lambda: generative.vae(demo))
        demo.stage("style transfer", lambda: generative.style(demo))
        demo.stage("conditional GAN", lambda: generative.gan(demo))
    if cfg.studio:
        demo.stage("cut-out model", lambda: studio.cutout(demo))
        demo.stage("compose display / compare / ad", lambda: studio.compose(demo))
        demo.stage("try-on model", lambda: studio.tryon(demo))
        if cfg.generative:
            demo.stage("personalised variants", lambda: studio.personalised(demo))
    return write_report(demo)
