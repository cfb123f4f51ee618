"""Run a benchmark script's click command with the `ptx` error convention (one line, exit 2)."""

from __future__ import annotations

import sys

import click

from ptx.errors import PtxError


def run_script(command: click.Command) -> None:
    """Invoke ``command`` on sys.argv; a PtxError becomes 'error: ...' and its exit code."""
    try:
        command.main(standalone_mode=False)
    except PtxError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
