"""`ptx demo`: synthesise -> train -> export -> FP16 -> build -> run -> report, end to end."""

from __future__ import annotations

import time
from pathlib import Path

import click


@click.command("demo")
@click.option("--out", type=click.Path(path_type=Path), default=Path("demo-out"), show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--train-seconds", type=float, default=None, help="Training time budget.")
@click.option("--quick", is_flag=True, help="Tiny sizes (for tests); the figures mean nothing.")
def demo_cmd(out: Path, seed: int, train_seconds: float | None, quick: bool) -> None:
    """Synthesise data, train the enhancer, export, build, run, and write a report."""
    # The demo drives every family's training (torch): kept out of `ptx --help`.
    from ptx.demo.run import run_demo
    from ptx.demo.stages import DemoConfig

    cfg = DemoConfig.quick() if quick else DemoConfig()
    cfg.seed = seed
    if train_seconds is not None:
        cfg.train_seconds = train_seconds
    t0 = time.perf_counter()
    report = run_demo(out, cfg)
    click.echo(f"report: {report} ({(time.perf_counter() - t0) / 60:.1f} min)")
