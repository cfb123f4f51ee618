"""The `ptx` command: a click group that only wires sub-commands.

Sub-commands live beside the code they drive and are imported on first use, so
`ptx --help` works on a bare install (no torch, no TensorRT).
"""

from __future__ import annotations

import importlib
import sys

import click

from ptx import __version__
from ptx.errors import PtxError

# name -> "module:attribute"; each module imports only click at the top.
COMMANDS = {
    "data": "ptx.training.cli.data:data",
    "train": "ptx.training.cli.train:train",
    "eval": "ptx.training.cli.eval:eval_group",
    "export": "ptx.export.cli.export:export_cmd",
    "convert": "ptx.export.cli.convert:convert",
    "build": "ptx.export.cli.build:build",
    "inspect": "ptx.export.cli.inspect:inspect_cmd",
    "triton": "ptx.export.cli.triton:triton",
    "kserve": "ptx.export.cli.kserve:kserve_cmd",
    "run": "ptx.runtime.cli.run:run",
    "serve": "ptx.runtime.cli.serve:serve",
    "batch": "ptx.runtime.cli.batch:batch_cmd",
    "doctor": "ptx.runtime.cli.doctor:doctor_cmd",
    "bench": "ptx.benchmarks.cli.bench:bench",
    "demo": "ptx.demo.cli:demo_cmd",
    "compose": "ptx.studio.cli:compose",
}


class LazyGroup(click.Group):
    """A group whose sub-commands are imported when used, and that turns PtxError into one line."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module, attr = self.lazy[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PtxError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ptx")
def main() -> None:
    """Train, export, build and serve product-photo image models."""
    from ptx.io import png_level  # here, not at the top: `ptx --help` stays light

    png_level()  # a bad PTX_PNG_LEVEL: one line before any work, not one failure per file


def register(name: str, target: str) -> None:
    """Wire another sub-command (``module:attribute``) into `ptx`."""
    main.lazy[name] = target


if __name__ == "__main__":  # pragma: no cover
    main()
