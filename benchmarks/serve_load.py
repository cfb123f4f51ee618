"""Closed-loop load against a KServe v2 server (`ptx serve` or Triton), as perf_analyzer does.

N clients each send one binary-tensor infer request, wait for the answer, and
send the next, for D seconds after a warm-up. Every answer is checked against
the expected output (computed once per distinct input, in-process), so a lost or
mixed-up response counts as an error; 503s (explicit overload) are counted apart.
The server's queue/compute split comes from the statistics route (before/after
delta), its memory from /proc when its pid is known (``--spawn`` starts one).

    python -m ptx.benchmarks.serve_load --spawn enhance=enhance.onnx --shape 1,3,64,64 \\
        --concurrency 16 --duration 10 [--serve-arg=--max-batch=1] [--json out.json]
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import click
import numpy as np

from ptx.errors import InputError
from ptx.runtime.server.protocol import datatype_of

DISTINCT_INPUTS = 8  # different tensors in rotation, each with its precomputed answer


@dataclass
class ClientTally:
    """One client's latencies (ms) and failures."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    overloaded: int = 0
    wrong: int = 0
    first_error: str | None = None


def infer_body(name: str, x: np.ndarray) -> tuple[bytes, str]:
    """A binary-tensor infer body asking for binary outputs, and its JSON header length."""
    doc = {
        "inputs": [
            {
                "name": name,
                "shape": list(x.shape),
                "datatype": datatype_of(x.dtype),
                "parameters": {"binary_data_size": x.nbytes},
            }
        ],
        "parameters": {"binary_data_output": True},
    }
    header = json.dumps(doc).encode()
    return header + x.tobytes(), str(len(header))


def read_output(body: bytes, header_len: str | None) -> np.ndarray:
    """The first output of a binary (or JSON) infer response."""
    n = int(header_len) if header_len else len(body)
    out = json.loads(body[:n])["outputs"][0]
    dtype = np.dtype({"FP32": np.float32, "FP16": np.float16}.get(out["datatype"], np.float32))
    if "data" in out:
        return np.asarray(out["data"], dtype).reshape(out["shape"])
    size = out["parameters"]["binary_data_size"]
    return np.frombuffer(body[n : n + size], dtype).reshape(out["shape"])


def _client(url, path, bodies, expected, stop: threading.Event, tally: ClientTally, offset: int):
    parts = urlparse(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    i = offset
    while not stop.is_set():
        body, hlen = bodies[i % len(bodies)]
        start = time.perf_counter()
        try:
            conn.request("POST", path, body, {"Inference-Header-Content-Length": hlen})
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            tally.errors += 1
            tally.first_error = tally.first_error or f"{type(exc).__name__}: {exc}"
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
            continue
        ms = (time.perf_counter() - start) * 1e3
        if resp.status == 503:
            tally.overloaded += 1
        elif resp.status != 200:
            tally.errors += 1
            tally.first_error = tally.first_error or f"HTTP {resp.status}: {data[:200]!r}"
        else:
            y = read_output(data, resp.getheader("Inference-Header-Content-Length"))
            if not np.allclose(y, expected[i % len(bodies)], rtol=1e-3, atol=1e-3):
                tally.wrong += 1
            tally.latencies_ms.append(ms)
        i += 1
    conn.close()


def closed_loop(
    url, model, inputs, expected, concurrency, duration_s, warmup_s
) -> list[ClientTally]:
    """Run ``concurrency`` clients for warm-up then ``duration_s``; the measured tallies."""
    path = f"/v2/models/{model}/infer"
    name = next(iter(inputs[0]))
    bodies = [infer_body(name, x[name]) for x in inputs]

    def phase(seconds: float) -> list[ClientTally]:
        stop = threading.Event()
        tallies = [ClientTally() for _ in range(concurrency)]
        threads = [
            threading.Thread(target=_client, args=(url, path, bodies, expected, stop, t, k))
            for k, t in enumerate(tallies)
        ]
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join()
        return tallies

    if warmup_s > 0:
        phase(warmup_s)
    return phase(duration_s)


def server_stats(url: str, model: str) -> dict:
    """The model's Triton statistics entry."""
    parts = urlparse(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("GET", f"/v2/models/{model}/stats")
    doc = json.loads(conn.getresponse().read())
    conn.close()
    return doc["model_stats"][0]


def rss_mib(pid: int | None) -> float | None:
    """Resident memory of ``pid`` in MiB (Linux /proc), None when unknown."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _split(before: dict, after: dict) -> dict:
    """Server-side averages over the run from two stats snapshots."""
    a, b = after["inference_stats"], before["inference_stats"]

    def avg_ms(key: str) -> float | None:
        n = a[key]["count"] - b[key]["count"]
        return (a[key]["ns"] - b[key]["ns"]) / n / 1e6 if n else None

    runs = after["execution_count"] - before["execution_count"]
    samples = after["inference_count"] - before["inference_count"]
    return {
        "queue_ms": avg_ms("queue"),
        "compute_infer_ms": avg_ms("compute_infer"),
        "compute_input_ms": avg_ms("compute_input"),
        "compute_output_ms": avg_ms("compute_output"),
        "request_ms": avg_ms("success"),
        "executions": runs,
        "mean_batch": samples / runs if runs else None,
    }


def summarise(tallies: list[ClientTally], duration_s: float) -> dict:
    """Throughput and latency percentiles (ms) over every client's answered requests."""
    from ptx.benchmarks.stats import mean, median, percentile

    lat = [ms for t in tallies for ms in t.latencies_ms]
    return {
        "requests": len(lat),
        "throughput_per_s": len(lat) / duration_s,
        "latency_ms": {
            "p50": median(lat) if lat else None,
            "p90": percentile(lat, 90) if lat else None,
            "p95": percentile(lat, 95) if lat else None,
            "p99": percentile(lat, 99) if lat else None,
            "mean": mean(lat) if lat else None,
        },
        "errors": sum(t.errors for t in tallies),
        "wrong_results": sum(t.wrong for t in tallies),
        "overloaded_503": sum(t.overloaded for t in tallies),
        "first_error": next((t.first_error for t in tallies if t.first_error), None),
    }


def make_inputs(model_path: str | Path, shape: tuple[int, ...], seed: int = 0):
    """DISTINCT_INPUTS random feeds and their outputs from the in-process runtime."""
    from ptx.runtime import load

    # The server's own options (spin off), so the in-process p50 is a like-for-like floor.
    engine = load(model_path, backend="onnxruntime", spin=False)
    info = engine.inputs[0]
    rng = np.random.default_rng(seed)
    inputs = [{info.name: rng.random(shape).astype(info.dtype)} for _ in range(DISTINCT_INPUTS)]
    expected = [next(iter(engine.run(x).values())) for x in inputs]
    return engine, inputs, expected


def in_process_p50(engine, feeds: dict, duration_s: float) -> float:
    """Median ms of engine.run on ``feeds`` in this process (the server's floor)."""
    from ptx.benchmarks.stats import median

    times, end = [], time.perf_counter() + duration_s
    while time.perf_counter() < end:
        t = time.perf_counter()
        engine.run(feeds)
        times.append((time.perf_counter() - t) * 1e3)
    return median(times)


def spawn_server(spec: str, args: list[str], timeout_s: float = 60.0):
    """Start `ptx serve --model spec` on a free loopback port; (process, url)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = "import sys; from ptx.runtime.server.cli import serve; serve(sys.argv[1:])"
    cmd = [sys.executable, "-c", code, "--model", spec, "--port", str(port), "--log-level",
           "warning", *args]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise InputError(f"ptx serve exited with {proc.returncode}; see its message above")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v2/health/ready")
            if conn.getresponse().status == 200:
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise InputError(f"ptx serve did not become ready within {timeout_s:g} s")


def run_load(url, model, model_path, shape, concurrency, duration_s, warmup_s, pid=None) -> dict:
    """One closed-loop measurement with the server split, memory and the in-process floor."""
    engine, inputs, expected = make_inputs(model_path, shape)
    rss_idle = rss_mib(pid)
    closed_loop(url, model, inputs, expected, concurrency, warmup_s, 0.0)
    rss_warm = rss_mib(pid)  # growth from here on would be a leak
    before = server_stats(url, model)
    tallies = closed_loop(url, model, inputs, expected, concurrency, duration_s, 0.0)
    after = server_stats(url, model)
    rss_end = rss_mib(pid)
    report = summarise(tallies, duration_s)
    report.update(
        {
            "concurrency": concurrency,
            "duration_s": duration_s,
            "warmup_s": warmup_s,
            "shape": list(shape),
            "server": _split(before, after),
            "server_rss_mib": {"idle": rss_idle, "warm": rss_warm, "end": rss_end},
            "in_process_p50_ms": in_process_p50(engine, inputs[0], min(3.0, duration_s)),
        }
    )
    return report


@click.command()
@click.option("--url", default=None, help="a running server (else --spawn starts one)")
@click.option("--spawn", default=None, help="NAME=path.onnx: start `ptx serve` for the run")
@click.option("--serve-arg", "serve_args", multiple=True, help="extra `ptx serve` flag (repeat)")
@click.option("--model-name", default=None, help="served model name [from --spawn]")
@click.option("--model", "model_path", default=None, help="the ONNX the server runs [--spawn]")
@click.option("--shape", default="1,3,64,64", show_default=True, help="input shape per request")
@click.option("--concurrency", default=16, show_default=True, help="closed-loop clients")
@click.option("--duration", default=10.0, show_default=True, help="measured seconds")
@click.option("--warmup", default=2.0, show_default=True, help="warm-up seconds")
@click.option("--pid", type=int, default=None, help="server pid for memory [--spawn's]")
@click.option("--json", "json_out", default=None, help="write the report as JSON (- = stdout)")
def main(
    url, spawn, serve_args, model_name, model_path, shape, concurrency, duration, warmup, pid,
    json_out,
) -> None:  # fmt: skip
    """Closed-loop load test of a KServe v2 server; prints throughput and latency."""
    try:
        dims = tuple(int(d) for d in shape.split(","))
    except ValueError:
        raise InputError(f"--shape needs comma-separated integers, got '{shape}'") from None
    proc = None
    if spawn:
        model_name = model_name or spawn.partition("=")[0]
        model_path = model_path or spawn.partition("=")[2]
        proc, url = spawn_server(spawn, list(serve_args))
        pid = proc.pid
    if not (url and model_name and model_path):
        raise InputError("give --spawn NAME=path.onnx, or --url, --model-name and --model")
    try:
        report = run_load(url, model_name, model_path, dims, concurrency, duration, warmup, pid)
        report["serve_args"] = list(serve_args)
    finally:
        if proc is not None:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
    if json_out:
        text = json.dumps(report, indent=2)
        if json_out == "-":
            click.echo(text)
            return
        from ptx.io import atomic_write_text

        atomic_write_text(json_out, text + "\n")
    click.echo(line(report))


def line(r: dict) -> str:
    """A human summary of one report."""
    lat, s, rss = r["latency_ms"], r["server"], r["server_rss_mib"]

    def f(v, spec=".2f"):
        return "-" if v is None else format(v, spec)

    return (
        f"c={r['concurrency']}: {r['throughput_per_s']:.1f} req/s, p50 {f(lat['p50'])} "
        f"p90 {f(lat['p90'])} p95 {f(lat['p95'])} p99 {f(lat['p99'])} ms; errors {r['errors']}, "
        f"wrong {r['wrong_results']}, 503 {r['overloaded_503']}; server queue "
        f"{f(s['queue_ms'])} ms, compute {f(s['compute_infer_ms'])} ms, mean batch "
        f"{f(s['mean_batch'])}; RSS idle/warm/end {f(rss['idle'], '.0f')}/"
        f"{f(rss['warm'], '.0f')}/{f(rss['end'], '.0f')} MiB; in-process p50 "
        f"{r['in_process_p50_ms']:.2f} ms"
    )


if __name__ == "__main__":  # pragma: no cover
    main()
