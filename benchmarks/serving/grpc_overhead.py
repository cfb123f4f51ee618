"""`ptx serve` over gRPC and HTTP against the same model in-process: p50 at concurrency 1.

Starts `ptx serve --grpc-port` twice on the enhancer (the family's default configuration
at random init, exported as `ptx export` does, or ``--model``), each in its own process:
``--grpc-frontend python`` (grpc.aio) and ``native`` (C++, built here if needed; left
out with the reason when it cannot be), and loads the same ONNX here with the backend
the server reports (its ORT options too). Then, in interleaved rounds so every path sees
the same machine state, one 64x64 request at a time: ``engine.run`` in-process; against
each server Triton's ``tritonclient.grpc`` (raw tensors) and a lean Python client (a
ModelInferRequest serialised once, sent as bytes through a bare grpc channel, the answer
read with np.frombuffer); against the native one also the lean C++ client built beside
it (native/lean_client.cc: the generated sync stub, as perf_analyzer or a C++ service);
``tritonclient.http`` (binary tensors); and the floors: a grpc.aio echo server and the
native front end answering from a ready array, with no ptx. Every served answer is
checked against the in-process one (the C++ client's through the others). Writes
``<out>/<name>.json`` and ``.md``.

    python -m ptx.benchmarks.serving.grpc_overhead [--size 64] [--seconds 10] [--out DIR]
"""

from __future__ import annotations

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
from ptx.benchmarks.serving.grpc_clients import (
    ECHO_SERVER,
    NATIVE_ECHO,
    CppLean,
    client_calls,
    lean_call,
    start_echo,
)
from ptx.benchmarks.serving.load import enhancer_onnx, spawn_server, stop_server
from ptx.benchmarks.serving.triton_server import free_port
from ptx.errors import ModelError, PtxError
from ptx.io import atomic_write_text
from ptx.runtime.backends import quiet_pool
from ptx.runtime.cpu import physical_cores
from ptx.runtime.server.native import build as native_build

GRPC_TARGET = 1.3  # p50 over gRPC / in-process p50 (issue 17)
ROUNDS = 5
ANY_CORE = "native bare engine c++ lean, any core"


def alternate(
    calls: dict[str, Callable[[], object] | CppLean], seconds: float, rounds: int
) -> dict:
    """ms per call of each, at concurrency 1, ``rounds`` alternating rounds of seconds/rounds."""
    times: dict[str, list[float]] = {k: [] for k in calls}
    for fn in calls.values():
        for _ in range(0 if isinstance(fn, CppLean) else 10):  # warm-up: connections, arenas
            fn()
    for _ in range(rounds):
        for label, fn in calls.items():
            if isinstance(fn, CppLean):
                times[label] += fn.round(seconds / rounds)
                continue
            end = time.perf_counter() + seconds / rounds
            while time.perf_counter() < end:
                t = time.perf_counter()
                fn()
                times[label].append((time.perf_counter() - t) * 1e3)
    return times


def _native_ready() -> str | None:
    """None when the native front end is built (built here if needed), else why not."""
    try:
        native_build.build()
    except PtxError as exc:
        return str(exc)
    return None


def _served(url: str, grpc_url: str, feeds: dict, out: str, prefix: str, clients: list):
    """The paths against one server: tritonclient gRPC, lean gRPC (and HTTP, python side)."""
    calls, opened = client_calls(url, grpc_url, feeds, out)
    clients += opened
    paths = {f"{prefix}grpc": calls["grpc"]}
    paths[f"{prefix}grpc lean"], channel = lean_call(grpc_url, feeds, out)
    clients.append(channel)
    if not prefix:
        paths["http"] = calls["http"]
    return paths


def measure(
    model: Path,
    size: int,
    seconds: float,
    backend: str = "onnxruntime",
    native: bool = False,
    rounds: int = ROUNDS,
    threads: int | None = None,
) -> dict:
    """p50s and ratios, every served answer checked; ``native``: the C++ front end too.

    ``threads``: intra-op threads of every engine measured (server, bare engine and
    in-process alike, so the comparison stays fair) [physical cores, as `ptx serve`].
    """
    threads = threads or physical_cores()
    why_not = _native_ready() if native else "not asked for"
    sides = {"python": ""} if why_not else {"python": "", "native": "native "}
    servers, clients, echoes = {}, [], []
    try:
        for side in sides:
            grpc_port = free_port()
            args = ["--grpc-port", str(grpc_port), "--backend", backend, "--grpc-frontend", side,
                    "--threads", str(threads)]  # fmt: skip
            proc, url = spawn_server(f"enhance={model}", args)
            servers[side] = (proc, url, f"127.0.0.1:{grpc_port}")
        import tritonclient.http as httpclient

        url = servers["python"][1]
        meta = httpclient.InferenceServerClient(url.removeprefix("http://"))
        served = meta.get_model_metadata("enhance")["parameters"]
        meta.close()
        # The engine the server runs, loaded as ptx.runtime.server.models loads it (the auto
        # trial is cached beside the model, so both make the same choice, precision too).
        engine = runtime.load(model, threads=threads, backend=backend, **quiet_pool(backend))
        local = engine.backend
        if local != served["backend"]:
            raise ModelError(f"in-process {local} but the server runs {served['backend']}")
        name, out = engine.inputs[0].name, engine.outputs[0].name
        x = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
        feeds = {name: x}
        want = engine.run(feeds)[out]
        calls: dict = {}
        for side, (_, side_url, grpc_url) in servers.items():
            calls.update(_served(side_url, grpc_url, feeds, out, sides[side], clients))
        for label, fn in calls.items():
            if not np.allclose(fn(), want, atol=1e-4, rtol=1e-4):
                raise ModelError(f"{label} answer differs from in-process")
        if "native" in servers:  # its answers are checked above through the other clients
            calls["native grpc c++ lean"] = CppLean(servers["native"][2], feeds, out)
        shape = ",".join(map(str, want.shape))
        echo, echo_url = start_echo(ECHO_SERVER, out, shape)
        echoes.append(echo)
        floor, floor_clients = client_calls(url, echo_url, feeds, out)
        clients += floor_clients
        calls["grpc floor"] = floor["grpc"]
        calls["grpc lean floor"], channel = lean_call(echo_url, feeds, out)
        clients.append(channel)
        if "native" in servers:
            echo, echo_url = start_echo(NATIVE_ECHO, out, shape)
            echoes.append(echo)
            calls["native floor lean"], channel = lean_call(echo_url, feeds, out)
            clients.append(channel)
            calls["native floor c++ lean"] = CppLean(echo_url, feeds, out)
            bare, bare_url = start_echo(NATIVE_ECHO, out, shape, str(model), local, str(threads))
            echoes.append(bare)
            check, channel = lean_call(bare_url, feeds, out)
            clients.append(channel)
            if not np.allclose(check(), want, atol=1e-4, rtol=1e-4):
                raise ModelError("the bare native engine's answer differs from in-process")
            calls["native bare engine c++ lean"] = CppLean(bare_url, feeds, out)
            # the same with lone calls' threads on any core: what lone_core.h saves
            free, free_url = start_echo(NATIVE_ECHO, out, shape, str(model), local, str(threads),
                                        "0")  # fmt: skip
            echoes.append(free)
            calls[ANY_CORE] = CppLean(free_url, feeds, out)
        times = alternate({"in-process": lambda: engine.run(feeds), **calls}, seconds, rounds)
        engine.close()
    finally:
        for c in clients:
            c.close()
        for echo in echoes:
            echo.kill()
            echo.wait()
        for proc, _, _ in servers.values():
            stop_server(proc)
    p50 = {k: stats.median(v) for k, v in times.items()}
    base = p50["in-process"]
    res = {
        "size": size,
        "backend": local,
        "backend_choice": served.get("backend_choice"),
        "threads": threads,
        "native": why_not or "measured",
        "rounds": rounds,
        "seconds": seconds,
        "p50_ms": p50,
        "requests": {k: len(v) for k, v in times.items()},
        "ratio": {k: v / base for k, v in p50.items() if k != "in-process" and "floor" not in k},
        # in-process + the transport floor: the best ratio any server could show here
        "floor_ratio": (base + p50["grpc floor"]) / base,
        "lean_floor_ratio": (base + p50["grpc lean floor"]) / base,
        "ptx_own_ms": p50["grpc"] - base - p50["grpc floor"],
        "ptx_own_lean_ms": p50["grpc lean"] - base - p50["grpc lean floor"],
    }
    if "native" in servers:
        res["native_floor_ratio"] = {
            c: (base + p50[f"native floor {c}"]) / base for c in ("lean", "c++ lean")
        }
        res["native_own_ms"] = {
            c: p50[f"native grpc {c}"] - base - p50[f"native floor {c}"]
            for c in ("lean", "c++ lean")
        }
        # ptx's logic alone: the same server and client with and without it
        res["native_ptx_ms"] = p50["native grpc c++ lean"] - p50["native bare engine c++ lean"]
        # lone calls kept on one core: the bare engine server without that, minus with it
        res["lone_core_ms"] = p50[ANY_CORE] - p50["native bare engine c++ lean"]
    return res


def findings(res: dict) -> list[str]:
    """The figures as sentences."""
    p, r = res["p50_ms"], res["ratio"]

    def meets(label: str) -> str:
        return "meets" if r[label] <= GRPC_TARGET else "misses"

    lines = [
        f"concurrency 1, {res['size']}x{res['size']} enhancer, {res['rounds']} interleaved "
        f"rounds ({res['backend']}, {res.get('threads', '?')} intra-op threads both sides): "
        f"in-process {p['in-process']:.3f} ms; python front end "
        f"(grpc.aio): gRPC {p['grpc']:.3f} ms = {r['grpc']:.2f}x ({meets('grpc')} the "
        f"{GRPC_TARGET}x target) with tritonclient, {p['grpc lean']:.3f} ms = "
        f"{r['grpc lean']:.2f}x ({meets('grpc lean')} it) with a lean client (pre-serialised "
        f"request, bare channel), HTTP {p['http']:.3f} ms = {r['http']:.2f}x",
    ]
    if "native grpc" in p:
        clients = (("grpc", "tritonclient"), ("grpc lean", "the lean Python client"),
                   ("grpc c++ lean", "the lean C++ client (generated sync stub)"))  # fmt: skip
        lines.append(
            "native front end (C++): "
            + ", ".join(
                f"{p['native ' + k]:.3f} ms = {r['native ' + k]:.2f}x ({meets('native ' + k)} "
                f"it) with {who}"
                for k, who in clients
            )
        )
    else:
        lines.append(f"native front end not measured: {res['native']}")
    floors = (
        f"gRPC alone (echo servers with no ptx, same sizes): grpc.aio echo {p['grpc floor']:.3f}"
        f" ms with tritonclient, {p['grpc lean floor']:.3f} ms lean, so no python front end "
        f"could beat {res['floor_ratio']:.2f}x / {res['lean_floor_ratio']:.2f}x here; ptx's "
        f"own share beyond the engine and that floor: {res['ptx_own_ms']:.3f} ms "
        f"(tritonclient), {res['ptx_own_lean_ms']:.3f} ms (lean)"
    )
    if "native floor lean" in p:
        nf, own = res["native_floor_ratio"], res["native_own_ms"]
        floors += (
            f"; the native front end answering a ready array {p['native floor lean']:.3f} ms "
            f"lean / {p['native floor c++ lean']:.3f} ms C++ (floors {nf['lean']:.2f}x / "
            f"{nf['c++ lean']:.2f}x), ptx's own share there {own['lean']:.3f} / "
            f"{own['c++ lean']:.3f} ms; the native front end running the engine itself with "
            f"no ptx logic {p['native bare engine c++ lean']:.3f} ms = "
            f"{r['native bare engine c++ lean']:.2f}x (C++ client), so ptx's logic costs "
            f"{res['native_ptx_ms']:.3f} ms of the native path; keeping lone calls on one "
            f"core saves it {res['lone_core_ms']:.3f} ms (the bare engine server with its "
            f"threads on any core: {p[ANY_CORE]:.3f} ms = {r[ANY_CORE]:.2f}x)"
        )
    return [*lines, floors]


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
        "jobs. `grpc*`: the python front end (grpc.aio), `native grpc*`: the C++ one; "
        "clients: tritonclient.grpc (raw tensors), `lean` (one pre-serialised request, bare "
        "channel), `c++ lean` (the generated C++ sync stub), tritonclient.http (binary "
        "tensors); `floor`: echo servers with no ptx. One request at a time; every served "
        "answer checked against the in-process one.",
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
        res = measure(enhancer_onnx(Path(tmp)), size, seconds, native=True)
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
@click.option(
    "--rounds", default=ROUNDS, show_default=True,
    help="interleaved rounds (more: a load burst on a shared box spreads over every path)",
)  # fmt: skip
@click.option("--threads", type=int, help="intra-op threads, both sides [physical cores]")
@click.option(
    "--native/--no-native", default=True, show_default=True,
    help="also the native (C++) front end, built first if needed",
)  # fmt: skip
def main(model, size, seconds, backend, out, name, rounds, native, threads) -> None:
    """p50 at concurrency 1 over gRPC and HTTP against in-process; JSON and Markdown."""
    with tempfile.TemporaryDirectory(prefix="ptx-grpc-") as tmp:
        path = Path(model) if model else enhancer_onnx(Path(tmp))
        res = measure(path, size, seconds, backend, native, rounds, threads)
    given = (("model", model),) if model else ()  # the page names the model it measured
    given += (("threads", threads),) if threads else ()
    cmd = "python -m ptx.benchmarks.serving.grpc_overhead " + " ".join(
        f"--{k} {v}"
        for k, v in (
            *given,
            ("size", size),
            ("seconds", seconds),
            ("backend", backend),
            ("rounds", rounds),
        )
    )
    written = write(res, report.results_dir(out), name, cmd)
    for line in findings(res):
        click.echo(f"- {line}")
    click.echo("wrote " + ", ".join(map(str, written)), err=True)


if __name__ == "__main__":  # pragma: no cover
    run_script(main)
