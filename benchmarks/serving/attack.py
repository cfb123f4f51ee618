"""The mixed attack on `ptx serve` (loopback only, bounded in count and time).

Starts `ptx serve` on the enhancer, measures well-behaved clients alone (the
baseline), then again while, from a second process, slow-loris sockets dribble
headers or bodies, clients post decompression-bomb PNGs in a loop and others send
malformed KServe v2 requests. Then SIGTERM. Writes ``<out>/<name>.json`` and ``.md``
and exits non-zero unless: the well-behaved clients got zero errors, their p99
under attack stayed within ``--p99-factor`` of the baseline, the server's peak RSS
stayed under ``--rss-bound-mib``, and it exited 0 on SIGTERM.

    python -m ptx.benchmarks.serving.attack                    # 500/8/4/16, 60 s
    python -m ptx.benchmarks.serving.attack --duration 5 --loris 20 --good 2
"""

from __future__ import annotations

import asyncio
import http.client
import json
import multiprocessing
import os
import signal
import statistics
import struct
import subprocess
import tempfile
import threading
import time
import zlib
from pathlib import Path

import click
import numpy as np

from ptx.benchmarks.harness import report
from ptx.benchmarks.harness.script import run_script
from ptx.benchmarks.serving.load import enhancer_onnx, spawn_server
from ptx.errors import ModelError
from ptx.io import atomic_write_text, encode_image

HOST = "127.0.0.1"
ROUTE = "/v1/models/enhance/enhance"
INFER = "/v2/models/enhance/infer"


# -- the server's memory -------------------------------------------------------------
def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Resident (VmRSS) or peak resident (VmHWM) memory of ``pid`` in MiB; 0 when gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# -- well-behaved clients (threads, keep-alive) ------------------------------------------
def good_clients(port: int, body: bytes, n: int, seconds: float) -> dict:
    """``n`` closed-loop clients posting ``body`` for ``seconds``: latencies and errors."""
    stop = time.monotonic() + seconds
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                conn.request("POST", ROUTE, body, {"Content-Type": "image/png"})
                resp = conn.getresponse()
                resp.read()
                ok, what = resp.status == 200, f"HTTP {resp.status}"
            except (OSError, http.client.HTTPException) as exc:
                ok, what = False, type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=60)
            with lock:
                if ok:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors.append(what)
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 120)
    return summarise(latencies, errors)


def summarise(latencies: list[float], errors: list[str]) -> dict:
    """Count, errors by kind, p50/p99 in ms."""
    ms = sorted(x * 1e3 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))] if ms else None
    kinds: dict[str, int] = {}
    for e in errors:
        kinds[e] = kinds.get(e, 0) + 1
    return {
        "answered": len(ms),
        "errors": len(errors),
        "error_kinds": kinds,
        "p50_ms": round(statistics.median(ms), 2) if ms else None,
        "p99_ms": round(p99, 2) if p99 is not None else None,
    }


# -- the attackers (asyncio, in their own process) ----------------------------------------
async def _status(reader: asyncio.StreamReader, timeout: float) -> int:
    line = await asyncio.wait_for(reader.readline(), timeout)
    parts = line.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


async def _request(port: int, head: bytes, body: bytes, tally: dict, kind: str) -> None:
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(head + body)
        await writer.drain()
        code = await _status(reader, 60)
        writer.close()
    except (OSError, asyncio.TimeoutError):
        code = 0  # reset or closed without an answer
    key = f"{kind}:{code}"
    tally[key] = tally.get(key, 0) + 1


def _head(path: str, length: int, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {length}\r\n{extra}\r\n"
    ).encode()


async def _loris(port: int, i: int, stop: float, tally: dict) -> None:
    """Dribble a header (even i) or a body (odd i) one piece every 2 s; reconnect when cut."""
    while time.monotonic() < stop:
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            tally["loris:refused"] = tally.get("loris:refused", 0) + 1
            await asyncio.sleep(1)
            continue
        tally["loris:opened"] = tally.get("loris:opened", 0) + 1
        first = f"POST {ROUTE} HTTP/1.1\r\nHost: {HOST}\r\n".encode()
        if i % 2:
            first = _head(ROUTE, 1 << 20)
        try:
            writer.write(first)
            while time.monotonic() < stop:
                await asyncio.sleep(2)
                if reader.at_eof():
                    break
                writer.write(b"X-a: b\r\n" if i % 2 == 0 else b"\0")
                await writer.drain()
            else:
                writer.close()
                return
            tally["loris:cut_by_server"] = tally.get("loris:cut_by_server", 0) + 1
        except OSError:
            tally["loris:cut_by_server"] = tally.get("loris:cut_by_server", 0) + 1
        writer.close()


def malformed_bodies() -> list[tuple[bytes, bytes]]:
    """(extra head lines, body) of malformed v2 requests: each must be a 4xx."""
    t = {"name": "input", "datatype": "FP32"}
    return [
        (b"", b'{"inputs": [{"name": "x", "shape": [1], "data": [' + b"9" * 5000 + b"]}]}"),
        (b"", json.dumps({"inputs": [{**t, "shape": [0, 2**40, 2**40], "data": []}]}).encode()),
        (b"", json.dumps({"inputs": [{**t, "shape": [1, -3], "data": []}]}).encode()),
        (b"", b"[" * 100_000),
        (b"", os.urandom(2048)),
        (b"Inference-Header-Content-Length: 99999\r\n", b'{"inputs": []}' + b"\0" * 64),
        (b"Content-Encoding: gzip\r\n", b"not gzip at all"),
    ]


async def _malformed(port: int, stop: float, tally: dict) -> None:
    bodies, i = malformed_bodies(), 0
    while time.monotonic() < stop:
        extra, body = bodies[i % len(bodies)]
        head = _head(INFER, len(body), extra.decode())
        await _request(port, head, body, tally, "malformed")
        i += 1


async def _bomber(port: int, bombs: list[bytes], stop: float, tally: dict) -> None:
    i = 0
    while time.monotonic() < stop:
        body = bombs[i % len(bombs)]
        head = _head(ROUTE, len(body), "Content-Type: image/png\r\n")
        await _request(port, head, body, tally, "bomb")
        i += 1


def attack_process(port: int, seconds: float, loris: int, bombers: int, malformed: int,
                   bomb_files: list[str], out: str) -> None:  # fmt: skip
    """The attackers, for ``seconds``; their tally is written to ``out`` (JSON)."""
    bombs = [Path(f).read_bytes() for f in bomb_files]
    tally: dict[str, int] = {}

    async def run() -> None:
        stop = time.monotonic() + seconds
        tasks = [_loris(port, i, stop, tally) for i in range(loris)]
        tasks += [_bomber(port, bombs, stop, tally) for _ in range(bombers)]
        tasks += [_malformed(port, stop, tally) for _ in range(malformed)]
        await asyncio.gather(*tasks)

    asyncio.run(run())
    Path(out).write_text(json.dumps(tally, sort_keys=True))


def make_bombs(folder: Path) -> list[Path]:
    """A solid-colour 7071x7071 PNG (~150 KB; 50 MP decoded) and a 20000x20000 PNG header."""
    from PIL import Image

    solid = folder / "bomb-7071.png"
    Image.new("RGB", (7071, 7071), (200, 30, 30)).save(solid, compress_level=9)
    fake = folder / "bomb-header-400mp.png"
    with Image.new("RGB", (8, 8)) as im:
        im.save(fake)
    data = bytearray(fake.read_bytes())
    data[16:24] = struct.pack(">II", 20000, 20000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    fake.write_bytes(bytes(data))
    return [solid, fake]


# -- the run ------------------------------------------------------------------------
def run_attack(model: Path, size: int, good: int, loris: int, bombers: int, malformed: int,
               baseline_s: float, duration_s: float, work: Path) -> dict:  # fmt: skip
    """Baseline, then the attack with the same clients; the measurements as a dict."""
    bombs = make_bombs(work)
    pixels = np.random.default_rng(0).integers(0, 255, (size, size, 3), np.uint8)
    body = encode_image(pixels, "PNG")
    proc, url = spawn_server(f"enhance={model}", ["--max-batch", "8"])
    port = int(url.rsplit(":", 1)[1])
    try:
        good_clients(port, body, good, min(2.0, baseline_s))  # warm-up
        rss_warm = rss_mib(proc.pid)
        base = good_clients(port, body, good, baseline_s)
        tally_file = work / "tally.json"
        ctx = multiprocessing.get_context("spawn")
        attacker = ctx.Process(
            target=attack_process,
            args=(port, duration_s, loris, bombers, malformed, [str(b) for b in bombs],
                  str(tally_file)),
        )  # fmt: skip
        samples: list[float] = []
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.5):
                samples.append(rss_mib(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        attacker.start()
        time.sleep(min(1.0, duration_s / 4))  # let the sockets pile up first
        under = good_clients(port, body, good, max(0.5, duration_s - 1.0))
        attacker.join(duration_s + 120)
        done.set()
        peak = rss_mib(proc.pid, "VmHWM")
        tally = json.loads(tally_file.read_text()) if tally_file.is_file() else {}
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            code = proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    return {
        "settings": {"good": good, "loris": loris, "bombers": bombers, "malformed": malformed,
                     "baseline_s": baseline_s, "duration_s": duration_s, "size": size},
        "baseline": base,
        "attack": under,
        "attackers": tally,
        "server": {"rss_warm_mib": round(rss_warm, 1), "rss_peak_mib": round(peak, 1),
                   "rss_samples_mib": [round(s, 1) for s in samples],
                   "exit_code_on_sigterm": code},
    }  # fmt: skip


def verdict(doc: dict, p99_factor: float, rss_bound_mib: float) -> list[str]:
    """The criteria that failed (empty when the server held)."""
    base, under, server = doc["baseline"], doc["attack"], doc["server"]
    bad = []
    if base["errors"] or under["errors"]:
        bad.append(f"well-behaved errors: {base['error_kinds']} / {under['error_kinds']}")
    if base["p99_ms"] and under["p99_ms"] and under["p99_ms"] > p99_factor * base["p99_ms"]:
        bad.append(f"p99 {under['p99_ms']} ms > {p99_factor} x baseline {base['p99_ms']} ms")
    if not under["answered"]:
        bad.append("no well-behaved request was answered under attack")
    if server["rss_peak_mib"] > rss_bound_mib:
        bad.append(f"server peak RSS {server['rss_peak_mib']} MiB > {rss_bound_mib} MiB")
    if server["exit_code_on_sigterm"] != 0:
        bad.append(f"exit code {server['exit_code_on_sigterm']} on SIGTERM")
    return bad


def markdown(doc: dict) -> str:
    """A short Markdown summary."""
    s, b, a, srv = doc["settings"], doc["baseline"], doc["attack"], doc["server"]
    rows = [
        f"Mixed attack: {s['loris']} slow-loris sockets, {s['bombers']} bomb posters, "
        f"{s['malformed']} malformed-v2 clients, {s['good']} well-behaved clients "
        f"({s['size']}x{s['size']} PNG), {s['duration_s']:g} s (baseline {s['baseline_s']:g} s).",
        "",
        "| clients | answered | errors | p50 ms | p99 ms |",
        "|---|---|---|---|---|",
        f"| alone | {b['answered']} | {b['errors']} | {b['p50_ms']} | {b['p99_ms']} |",
        f"| under attack | {a['answered']} | {a['errors']} | {a['p50_ms']} | {a['p99_ms']} |",
        "",
        f"Server RSS: {srv['rss_warm_mib']} MiB warm, {srv['rss_peak_mib']} MiB peak; "
        f"exit code on SIGTERM {srv['exit_code_on_sigterm']}.",
        "Attackers: " + ", ".join(f"{k} {v}" for k, v in sorted(doc["attackers"].items())),
        "Verdict: " + ("; ".join(doc["failed"]) or "held (every criterion met)"),
    ]
    return "\n".join(rows) + "\n"


@click.command()
@click.option("--model", type=click.Path(dir_okay=False), help="enhancer ONNX [family default]")
@click.option("--size", default=256, show_default=True, help="well-behaved image side")
@click.option("--good", default=16, show_default=True, help="well-behaved clients")
@click.option("--loris", default=500, show_default=True, help="slow-loris sockets")
@click.option("--bombers", default=8, show_default=True, help="decompression-bomb posters")
@click.option("--malformed", default=4, show_default=True, help="malformed-v2 clients")
@click.option("--baseline", default=20.0, show_default=True, help="seconds without the attack")
@click.option("--duration", default=60.0, show_default=True, help="seconds of attack")
@click.option("--p99-factor", default=3.0, show_default=True, help="allowed p99 growth")
@click.option("--rss-bound-mib", default=2048.0, show_default=True, help="server RSS bound")
@click.option("--out", help="results folder [default: $PTX_RESULTS_DIR or ./bench-results]")
@click.option("--name", default="serve-attack", show_default=True, help="results file stem")
def main(model, size, good, loris, bombers, malformed, baseline, duration, p99_factor,
         rss_bound_mib, out, name) -> None:  # fmt: skip
    """Attack `ptx serve` on loopback and check that well-behaved clients never notice."""
    if min(good, duration, baseline) <= 0 or min(loris, bombers, malformed) < 0:
        raise ModelError("--good, --duration, --baseline > 0; attacker counts >= 0")
    if loris + good + bombers + malformed > 900:
        raise ModelError("at most 900 sockets in all (the server's default cap is 1000)")
    with tempfile.TemporaryDirectory(prefix="ptx-serve-attack-") as tmp:
        work = Path(tmp)
        path = Path(model) if model else enhancer_onnx(work)
        doc = run_attack(path, size, good, loris, bombers, malformed, baseline, duration, work)
    doc["bounds"] = {"p99_factor": p99_factor, "rss_bound_mib": rss_bound_mib}
    doc["failed"] = verdict(doc, p99_factor, rss_bound_mib)
    folder = report.results_dir(out)
    atomic_write_text(folder / f"{name}.json", json.dumps(doc, indent=2) + "\n")
    atomic_write_text(folder / f"{name}.md", markdown(doc))
    click.echo(markdown(doc))
    if doc["failed"]:
        raise ModelError("the attack got through: " + "; ".join(doc["failed"]))


if __name__ == "__main__":  # pragma: no cover
    run_script(main)
