"""`ptx bench`: measure a model (or load a server with --url), trtexec-style.

Thin: parse, call one library function, print. ``ptx bench compare`` lives in
compare.py and the ``--url`` load sweep in _serve.py.
"""

from __future__ import annotations

import json

import click

from ptx.benchmarks.cli._serve import bench_server
from ptx.benchmarks.cli.compare import compare_cmd
from ptx.benchmarks.harness.backends import Target
from ptx.benchmarks.harness.bench import Controls, GpuSettings, Outputs, run_bench
from ptx.benchmarks.harness.inputs import parse_batches
from ptx.benchmarks.harness.report import notes, summary_text, sweep_table
from ptx.runtime.cli._common import precision_option
from ptx.tensors import parse_named_shape


@click.group("bench", invoke_without_command=True)
@click.option("--model", help="ONNX model (ONNX Runtime); with --url, the ONNX the server runs.")
@click.option("--url", help="Load a KServe v2 server (ptx serve, Triton) at http://HOST:PORT.")
@click.option("--model-name", help="With --url: the served model to load.")
@click.option(
    "--concurrency", default="1", show_default=True, help="With --url: closed-loop clients, 1,8,32."
)
@click.option("--token", envvar="PTX_SERVE_TOKEN", help="With --url: bearer token.")
@click.option("--engine", help="TensorRT plan (needs the GPU runtime).")
@click.option("--checkpoint", help="ptx checkpoint folder (PyTorch eager baseline).")
@click.option("--torch", "torch_ref", help="User model file.py:factory (PyTorch eager).")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda (ONNX Runtime).")
@click.option(
    "--backend",
    default="onnxruntime",
    show_default=True,
    help="For --model: onnxruntime, openvino, or auto (the runtime's timed pick, trialled at "
    "the shapes benchmarked: --shapes and each --batch).",
)
@precision_option()
@click.option("--threads", type=int, help="ONNX Runtime intra-op / torch threads.")
@click.option("--compile", "use_compile", is_flag=True, help="torch.compile the PyTorch model.")
@click.option("--batch", help="Batch size or sweep, e.g. 1,8,32 (overrides the batch axis).")
@click.option("--shapes", multiple=True, help="NAME:SHAPE[:dtype], e.g. x:1x3x256x256 (repeat).")
@click.option("--warmup", type=float, default=0.2, show_default=True, help="Warm-up seconds.")
@click.option(
    "--duration", type=float, default=3.0, show_default=True, help="Minimum timed seconds."
)
@click.option(
    "--iterations",
    type=int,
    default=10,
    show_default=True,
    help="Minimum timed queries per stream.",
)
@click.option(
    "--streams", type=int, default=1, show_default=True, help="Concurrent engines on threads."
)
@click.option("--cuda-graph", is_flag=True, help="GPU: capture a CUDA graph (recorded).")
@click.option("--no-transfers", is_flag=True, help="GPU: skip H2D/D2H copies (recorded).")
@click.option("--spin-wait", is_flag=True, help="GPU: spin instead of blocking sync (recorded).")
@click.option(
    "--cov-threshold",
    type=float,
    default=1.0,
    show_default=True,
    help="Warn when latency CoV exceeds this many percent (trtexec: 1).",
)
@click.option("--json", "json_path", help="Write the JSON report here ('-' prints it).")
@click.option("--csv", "csv_path", help="Write a CSV summary (one row per run).")
@click.option("--plot", "plot_path", help="Write latency/throughput vs batch PNG.")
@click.option("--no-iterations", is_flag=True, help="Leave per-iteration times out of the JSON.")
@click.pass_context
def bench(ctx: click.Context, **opts) -> None:
    """Measure latency and throughput (trtexec-style summary)."""
    if ctx.invoked_subcommand is not None:
        return
    if opts["url"]:
        bench_server(opts)
        return
    target = Target(
        model=opts["model"],
        engine=opts["engine"],
        checkpoint=opts["checkpoint"],
        torch=opts["torch_ref"],
        device=opts["device"],
        backend=opts["backend"],
        precision=opts["precision"],
        threads=opts["threads"],
        compile=opts["use_compile"],
        cuda_graph=opts["cuda_graph"],
        transfers=not opts["no_transfers"],
    )
    controls = Controls(
        warmup_s=opts["warmup"],
        duration_s=opts["duration"],
        iterations=opts["iterations"],
        streams=opts["streams"],
        cov_threshold=opts["cov_threshold"] / 100.0,
        gpu=GpuSettings(opts["cuda_graph"], opts["no_transfers"], opts["spin_wait"]),
    )
    outputs = Outputs(
        opts["json_path"],
        opts["csv_path"],
        opts["plot_path"],
        per_iteration=not opts["no_iterations"],
    )
    doc = run_bench(
        target,
        parse_batches(opts["batch"]),
        [parse_named_shape(s) for s in opts["shapes"]],
        controls,
        outputs,
    )
    if opts["json_path"] == "-":
        click.echo(json.dumps(doc, indent=1))
        for line in notes(doc):  # stdout holds the JSON: the assumed sizes go to stderr
            click.echo(line, err=True)
        return
    for run in doc["runs"]:
        click.echo(summary_text(run) + "\n")
    if len(doc["runs"]) > 1:
        click.echo(sweep_table(doc["runs"]))
    for flag in ("json_path", "csv_path", "plot_path"):
        if opts[flag]:
            click.echo(f"wrote {opts[flag]}", err=True)


bench.add_command(compare_cmd)
