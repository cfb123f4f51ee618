"""`ptx bench compare`: several bench reports side by side, ratios against the first."""

from __future__ import annotations

import json

import click

from ptx.benchmarks.harness.compare import compare_reports, compare_text


@click.command("compare")
@click.argument("reports", nargs=-1, required=True)
@click.option("--plot", "plot_path", help="Write latency/throughput vs batch PNG of every series.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison rows as JSON.")
def compare_cmd(reports: tuple[str, ...], plot_path: str | None, as_json: bool) -> None:
    """Compare ptx bench JSON reports; ratios are against the first."""
    rows = compare_reports(list(reports), plot_path)
    if as_json:
        click.echo(json.dumps(rows, indent=1))
    else:
        click.echo(compare_text(rows))
    if plot_path:
        click.echo(f"wrote {plot_path}", err=True)
