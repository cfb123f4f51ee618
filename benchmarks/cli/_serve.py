"""`ptx bench --url`: the serving sweep behind the bench command's --url flag."""

from __future__ import annotations

import json

import click

from ptx.benchmarks.harness.bench import Outputs, write_outputs
from ptx.benchmarks.harness.inputs import parse_batches
from ptx.benchmarks.harness.report import notes
from ptx.benchmarks.serving.bench import (
    ServeTarget,
    concurrency_levels,
    failures,
    run_serve_bench,
)
from ptx.benchmarks.serving.report import serve_summary, serve_table
from ptx.errors import InputError, ModelError
from ptx.tensors import parse_named_shape


def bench_server(opts: dict) -> None:
    """`ptx bench --url`: closed-loop load on a server, written as the harness writes."""
    flags = {"engine": "--engine", "checkpoint": "--checkpoint", "torch_ref": "--torch"}
    clash = [flag for key, flag in flags.items() if opts[key]]
    if clash:
        raise InputError(f"--url loads a server; {', '.join(clash)} cannot go with it")
    if not opts["model_name"]:
        raise InputError("--url needs --model-name NAME (the served model to load)")
    batches = parse_batches(opts["batch"])
    if len(batches) > 1:
        raise InputError("--url takes one --batch (images per request); sweep --concurrency")
    doc = run_serve_bench(
        ServeTarget(opts["url"], opts["model_name"], opts["token"], opts["model"]),
        concurrency_levels(opts["concurrency"]),
        [parse_named_shape(s) for s in opts["shapes"]],
        batches[0],
        warmup_s=opts["warmup"],
        duration_s=opts["duration"],
        cov_threshold=opts["cov_threshold"] / 100.0,
        per_iteration=not opts["no_iterations"],
    )
    write_outputs(doc, Outputs(opts["json_path"], opts["csv_path"], opts["plot_path"]))
    if opts["json_path"] == "-":
        click.echo(json.dumps(doc, indent=1))
        for line in notes(doc):  # stdout holds the JSON: the assumed sizes go to stderr
            click.echo(line, err=True)
    else:
        for run in doc["runs"]:
            click.echo(serve_summary(run) + "\n")
        click.echo(serve_table(doc["runs"]))
    problem = failures(doc)
    if problem:
        raise ModelError(problem)
