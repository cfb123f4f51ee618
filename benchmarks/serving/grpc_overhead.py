"""`ptx serve` over gRPC and HTTP against the same model in-process: p50 at concurrency 1.

Starts `ptx serve --grpc-port` on the enhancer (the family's default configuration at
random init, exported as `ptx export` does, or ``--model``) in its own process, and
loads the same ONNX here with the backend the server reports (its ORT options too).
Then, in alternating rounds so all three see the same machine state: ``engine.run``
in-process, Triton's ``tritonclient.grpc`` (raw tensors), a lean gRPC client (a
ModelInferRequest serialised once, sent as bytes through a bare grpc channel, the
answer read with np.frombuffer: what a C++ client or perf_analyzer costs) and
``tritonclient.http`` (binary tensors) against the server, one 64x64 request at a
time; and both gRPC clients against an echo server with no ptx (the transport floor).
Every served answer is checked against the in-process one. Writes
``<out>/<name>.json`` and ``.md``.

    python -m ptx.benchmarks.serving.grpc_overhead [--size 64] [--seconds 10] [--out DIR]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np

from ptx import runtime
from ptx.benchmarks.harness import env as env_mod
from ptx.benchmarks.harness import report, stats
from ptx.benchmarks.harness.script import run_script
from ptx.benchmarks.serving.load import enhancer_onnx, spawn_server, stop_server
from ptx.benchmarks.serving.triton_server import free_port
from ptx.errors import ModelError
from ptx.io import atomic_write_text
from ptx.runtime.backends import quiet_pool
from ptx.runtime.cpu import physical_cores

GRPC_TARGET = 1.3  # p50 over gRPC / in-process p50 (issue 17)
ROUNDS = 5
# The transport floor: a grpc.aio server in its own process answering ModelInfer with a
# ready response of the same size, no ptx in it: what gRPC and tritonclient cost alone.
ECHO_SERVER = """
import asyncio, sys
import grpc
from tritonclient.grpc import service_pb2 as pb, service_pb2_grpc as pbg
name, shape = sys.argv[1], [int(d) for d in sys.argv[2].split(",")]
answer = pb.ModelInferResponse(model_name="enhance", model_version="1")
answer.outputs.add(name=name, datatype="FP32", shape=shape)
n = 4
for d in shape:
    n *= d
answer.raw_output_contents.append(bytes(n))
class Echo(pbg.GRPCInferenceServiceServicer):
    async def ModelInfer(self, request, context):
        return answer
async def main():
    server = grpc.aio.server()
    pbg.add_GRPCInferenceServiceServicer_to_server(Echo(), server)
    print(server.add_insecure_port("127.0.0.1:0"), flush=True)
    await server.start()
    await server.wait_for_termination()
asyncio.run(main())
"""


def _client_calls(url: str, grpc_url: str, feeds: dict, out: str) -> tuple[dict, list]:
    import tritonclient.grpc as grpcclient  # optional: the serve extra
    import tritonclient.http as httpclient

    clients = [grpcclient.InferenceServerClient(grpc_url)]
    clients.append(httpclient.InferenceServerClient(url.removeprefix("http://")))
    calls = {}
    for label, module, client in zip(
        ("grpc", "http"), (grpcclient, httpclient), clients, strict=True
    ):

        def call(m=module, c=client):
            inputs = []
            for name, arr in feeds.items():
                tensor = m.InferInput(name, list(arr.shape), "FP32")
                tensor.set_data_from_numpy(arr)
                inputs.append(tensor)
            return c.infer("enhance", inputs, outputs=[m.InferRequestedOutput(out)]).as_numpy(out)

        calls[label] = call
    return calls, clients


def _lean_call(grpc_url: str, feeds: dict, out: str):
    """A call sending one pre-serialised ModelInferRequest through a bare channel; its closer."""
    import grpc  # optional: the serve extra
    from tritonclient.grpc import service_pb2 as pb

    request = pb.ModelInferRequest(model_name="enhance")
    for name, arr in feeds.items():
        request.inputs.add(name=name, datatype="FP32", shape=list(arr.shape))
        request.raw_input_contents.append(np.ascontiguousarray(arr, "<f4").tobytes())
    request.outputs.add(name=out)
    payload = request.SerializeToString()
    channel = grpc.insecure_channel(grpc_url, options=[("grpc.max_receive_message_length", -1)])
    infer = channel.unary_unary(
        "/inference.GRPCInferenceService/ModelInfer",
        request_serializer=None,  # the bytes go as they are
        response_deserializer=pb.ModelInferResponse.FromString,
    )

    def call():
        answer = infer(payload)
        shape = list(answer.outputs[0].shape)
        return np.frombuffer(answer.raw_output_contents[0], "<f4").reshape(shape)

    return call, channel


def alternate(calls: dict[str, Callable[[], object]], seconds: float, rounds: int) -> dict:
    """ms per call of each, at concurrency 1, ``rounds`` alternating rounds of seconds/rounds."""
    times: dict[str, list[float]] = {k: [] for k in calls}
    for fn in calls.values():
        for _ in range(10):  # warm-up: connections, arenas, the auto trial's caches
            fn()
    for _ in range(rounds):
        for label, fn in calls.items():
            end = time.perf_counter() + seconds / rounds
            while time.perf_counter() < end:
                t = time.perf_counter()
                fn()
                times[label].append((time.perf_counter() - t) * 1e3)
    return times


def measure(model: Path, size: int, seconds: float, backend: str = "onnxruntime") -> dict:
    """p50s and ratios, every served answer checked."""
    grpc_port = free_port()
    proc, url = spawn_server(
        f"enhance={model}", ["--grpc-port", str(grpc_port), "--backend", backend]
    )
    clients, echo = [], None
    try:
        import tritonclient.http as httpclient

        meta = httpclient.InferenceServerClient(url.removeprefix("http://"))
        served = meta.get_model_metadata("enhance")["parameters"]
        meta.close()
        # The engine the server runs, loaded as ptx.runtime.server.models loads it (the auto
        # trial is cached beside the model, so both make the same choice, precision too).
        engine = runtime.load(
            model, threads=physical_cores(), backend=backend, **quiet_pool(backend)
        )
        local = engine.backend
        if local != served["backend"]:
            raise ModelError(f"in-process {local} but the server runs {served['backend']}")
        name, out = engine.inputs[0].name, engine.outputs[0].name
        x = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
        feeds = {name: x}
        want = engine.run(feeds)[out]
        calls, clients = _client_calls(url, f"127.0.0.1:{grpc_port}", feeds, out)
        calls["grpc lean"], channel = _lean_call(f"127.0.0.1:{grpc_port}", feeds, out)
        clients.append(channel)
        for label, fn in calls.items():
            got = fn()
            if not np.allclose(got, want, atol=1e-4, rtol=1e-4):
                raise ModelError(f"{label} answer differs from in-process")
        shape = ",".join(map(str, want.shape))
        echo = subprocess.Popen(
            [sys.executable, "-c", ECHO_SERVER, out, shape], stdout=subprocess.PIPE, text=True
        )
        echo_url = f"127.0.0.1:{echo.stdout.readline().strip()}"
        floor, floor_clients = _client_calls(url, echo_url, feeds, out)
        clients += floor_clients
        calls["grpc floor"] = floor["grpc"]
        calls["grpc lean floor"], channel = _lean_call(echo_url, feeds, out)
        clients.append(channel)
        times = alternate({"in-process": lambda: engine.run(feeds), **calls}, seconds, ROUNDS)
        engine.close()
    finally:
        for c in clients:
            c.close()
        if echo is not None:
            echo.kill()
            echo.wait()
        stop_server(proc)
    p50 = {k: stats.median(v) for k, v in times.items()}
    return {
        "size": size,
        "backend": local,
        "backend_choice": served.get("backend_choice"),
        "rounds": ROUNDS,
        "seconds": seconds,
        "p50_ms": p50,
        "requests": {k: len(v) for k, v in times.items()},
        "ratio": {k: p50[k] / p50["in-process"] for k in ("grpc", "grpc lean", "http")},
        # in-process + the transport floor: the best ratio any server could show here
        "floor_ratio": (p50["in-process"] + p50["grpc floor"]) / p50["in-process"],
        "lean_floor_ratio": (p50["in-process"] + p50["grpc lean floor"]) / p50["in-process"],
        "ptx_own_ms": p50["grpc"] - p50["in-process"] - p50["grpc floor"],
        "ptx_own_lean_ms": p50["grpc lean"] - p50["in-process"] - p50["grpc lean floor"],
    }


def findings(res: dict) -> list[str]:
    """The figures as sentences."""
    p, r = res["p50_ms"], res["ratio"]
    verdict = "meets" if r["grpc"] <= GRPC_TARGET else "misses"
    lean = "meets" if r["grpc lean"] <= GRPC_TARGET else "misses"
    return [
        f"concurrency 1, {res['size']}x{res['size']} enhancer, {res['rounds']} alternating "
        f"rounds ({res['backend']}): in-process {p['in-process']:.3f} ms, gRPC "
        f"{p['grpc']:.3f} ms = {r['grpc']:.2f}x ({verdict} the {GRPC_TARGET}x target) with "
        f"tritonclient, {p['grpc lean']:.3f} ms = {r['grpc lean']:.2f}x ({lean} it) with a "
        f"lean client (pre-serialised request, bare channel), HTTP {p['http']:.3f} ms = "
        f"{r['http']:.2f}x",
        f"gRPC alone (an echo server with no ptx, same sizes): {p['grpc floor']:.3f} ms with "
        f"tritonclient, {p['grpc lean floor']:.3f} ms lean, so no server could beat "
        f"{res['floor_ratio']:.2f}x / {res['lean_floor_ratio']:.2f}x here; ptx's own share "
        f"of the gRPC p50 (codec, batcher, metrics, beyond the engine and the transport): "
        f"{res['ptx_own_ms']:.3f} ms (tritonclient), {res['ptx_own_lean_ms']:.3f} ms (lean)",
    ]


def write(res: dict, out: Path, name: str, command: str) -> list[Path]:
    """JSON and Markdown under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    env = env_mod.capture()
    doc = report.document([], env, {"grpc_overhead": res, "command": command})
    report.write_json(doc, out / f"{name}.json")
    md = [
        f"# ptx serve: gRPC and HTTP against in-process ({env.get('hostname', '?')})",
        "",
        f"`{command}`, {doc['created']}, {env.get('cpu_cores', '?')} cores shared with other "
        "jobs. tritonclient.grpc (raw tensors) and tritonclient.http (binary tensors), one "
        "request at a time; every answer checked against the in-process one.",
        "",
        "| path | p50 ms | x in-process | requests |",
        "| --- | --- | --- | --- |",
    ]
    for k, v in res["p50_ms"].items():
        md.append(
            f"| {k} | {v:.3f} | {v / res['p50_ms']['in-process']:.2f}x | {res['requests'][k]} |"
        )
    md += ["", *(f"- {line}" for line in findings(res)), ""]
    atomic_write_text(out / f"{name}.md", "\n".join(md))
    return [out / f"{name}.json", out / f"{name}.md"]


def in_suite(out: str | Path | None = None, size: int = 64, seconds: float = 10.0) -> list[str]:
    """The study as `make bench` runs it (the suite calls this): its own page; its findings."""
    with tempfile.TemporaryDirectory(prefix="ptx-grpc-") as tmp:
        res = measure(enhancer_onnx(Path(tmp)), size, seconds)
    cmd = f"python -m ptx.benchmarks.serving.grpc_overhead --size {size} --seconds {seconds:g}"
    write(res, report.results_dir(out), "grpc-overhead", cmd)
    return findings(res)


@click.command()
@click.option("--model", type=click.Path(dir_okay=False), help="enhancer ONNX [family default]")
@click.option("--size", default=64, show_default=True, help="image side per request")
@click.option("--seconds", default=10.0, show_default=True, help="measured seconds per path")
@click.option("--backend", default="onnxruntime", show_default=True, help="ptx serve --backend")
@click.option("--out", help="results folder [default: $PTX_RESULTS_DIR or ./bench-results]")
@click.option("--name", default="grpc-overhead", show_default=True, help="results file stem")
def main(model, size, seconds, backend, out, name) -> None:
    """p50 at concurrency 1 over gRPC and HTTP against in-process; JSON and Markdown."""
    with tempfile.TemporaryDirectory(prefix="ptx-grpc-") as tmp:
        path = Path(model) if model else enhancer_onnx(Path(tmp))
        res = measure(path, size, seconds, backend)
    cmd = "python -m ptx.benchmarks.serving.grpc_overhead " + " ".join(
        f"--{k} {v}" for k, v in (("size", size), ("seconds", seconds), ("backend", backend))
    )
    written = write(res, report.results_dir(out), name, cmd)
    for line in findings(res):
        click.echo(f"- {line}")
    click.echo("wrote " + ", ".join(map(str, written)), err=True)


if __name__ == "__main__":  # pragma: no cover
    run_script(main)
