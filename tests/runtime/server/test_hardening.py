"""Hardening: admission by decoded bytes, slow clients, failing alone, shutdown, exposure."""

from __future__ import annotations

import json
import socket
import struct
import threading
import zlib

import httpx
import numpy as np
import pytest
from PIL import Image

from ptx.errors import InputError
from ptx.io import encode_image
from ptx.runtime.engine import Engine
from ptx.runtime.server.app import create_app
from ptx.runtime.server.batcher import Batcher
from ptx.runtime.server.config import ServerConfig
from ptx.runtime.server.metrics import Metrics
from ptx.runtime.server.run import BackgroundServer
from ptx.runtime.server.stats import ModelStats
from ptx.tensors import TensorInfo

TOKEN = "s3cret-token-123"


def _png_header(w: int, h: int) -> bytes:
    """A PNG whose header claims ``w`` x ``h`` (no real pixel data behind it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"x") + chunk(b"IEND", b"")


def _start(models, **options):
    app = create_app(ServerConfig(models=models, port=0, **options))
    return app, BackgroundServer(app).start()


def _png(h: int, w: int) -> bytes:
    return encode_image(np.full((h, w, 3), 128, np.uint8), "PNG")


def test_huge_image_in_a_fresh_process_is_413(model_files, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 89_478_485)  # Pillow's default, as at start
    app, s = _start({"affine": model_files["affine"]})
    try:
        r = httpx.post(f"{s.url}/v1/models/affine/enhance", content=_png_header(20000, 10000))
        assert r.status_code == 413, r.text
        assert "MP" in r.json()["error"]
    finally:
        s.stop()


def test_admission_by_decoded_bytes(model_files):
    # 64x64 on an FP32 model: about 0.3 MiB estimated with the default activation factor.
    app, s = _start({"affine": model_files["affine"]}, max_request_mb=0.1, max_inflight_mb=0.1)
    try:
        r = httpx.post(f"{s.url}/v1/models/affine/enhance", content=_png(64, 64))
        assert r.status_code == 413 and "per-request budget" in r.json()["error"], r.text
        ok = httpx.post(f"{s.url}/v1/models/affine/enhance", content=_png(16, 16))
        assert ok.status_code == 200, ok.text
        assert app.state.ptx.memory.used == 0  # released after the answer
    finally:
        s.stop()
    app, s = _start({"affine": model_files["affine"]}, max_request_mb=1, max_inflight_mb=1)
    try:
        app.state.ptx.memory.reserve(900 * 1024)  # others' admitted work
        r = httpx.post(f"{s.url}/v1/models/affine/enhance", content=_png(64, 64))
        assert r.status_code == 503 and r.headers["retry-after"], r.text
    finally:
        s.stop()


@pytest.mark.parametrize(
    "body",
    [
        b'{"inputs": [{"name": "image", "shape": [1, 3, 1, 1], "datatype": "FP32", "data": ['
        + b"9" * 5000
        + b", 0, 0]}]}",
        json.dumps(
            {
                "inputs": [
                    {
                        "name": "image",
                        "shape": [0, 3, 2**31 - 1, 2**31 - 1],
                        "datatype": "FP32",
                        "data": [],
                    }
                ]
            }
        ).encode(),
        json.dumps(
            {"inputs": [{"name": "image", "shape": [0, 3, 4, 4], "datatype": "FP32", "data": []}]}
        ).encode(),
    ],
)
def test_v2_hostile_numbers_and_shapes_are_400(model_files, body):
    app, s = _start({"affine": model_files["affine"]})
    try:
        r = httpx.post(f"{s.url}/v2/models/affine/infer", content=body)
        assert r.status_code == 400, r.text
    finally:
        s.stop()


class _Fake(Engine):
    """A batchable engine: out = x * 2; fails on negative input; optionally blocks."""

    backend = "fake"

    def __init__(self) -> None:
        super().__init__("fake.onnx", None)
        self._inputs = [TensorInfo("x", np.dtype(np.float32), ("batch", 1))]
        self._outputs = [TensorInfo("y", np.dtype(np.float32), ("batch", 1))]
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()
        self.running = False
        self.closed_while_running = False
        self.batches: list[int] = []

    def run(self, feeds):
        self.running = True
        self.started.set()
        self.gate.wait(30)
        self.batches.append(len(feeds["x"]))
        self.running = False
        if (feeds["x"] < 0).any():
            raise IndexError("label id out of range")
        return {"y": feeds["x"] * 2}

    def close(self) -> None:
        self.closed_while_running |= self.running
        super().close()


def _batcher(engine: Engine, queue: int = 16) -> Batcher:
    return Batcher("m", [engine], 8, 0.0, queue, ModelStats("m"), Metrics())


def test_a_failing_request_fails_alone():
    eng = _Fake()
    b = _batcher(eng)
    eng.gate.clear()
    first = b.submit({"x": np.ones((1, 1), np.float32)})
    eng.started.wait(10)
    futures = [b.submit({"x": np.full((1, 1), v, np.float32)}) for v in (1.0, -1.0, 3.0)]
    eng.gate.set()
    assert first.result(10)
    assert float(futures[0].result(10).outputs["y"][0, 0]) == 2.0
    assert float(futures[2].result(10).outputs["y"][0, 0]) == 6.0
    with pytest.raises(Exception, match="out of range"):
        futures[1].result(10)
    assert 3 in eng.batches  # the three were merged, then re-run alone
    b.close()


def test_shutdown_never_closes_a_running_engine():
    eng = _Fake()
    b = _batcher(eng)
    eng.gate.clear()
    fut = b.submit({"x": np.ones((1, 1), np.float32)})
    eng.started.wait(10)
    b.close(timeout_s=0.05)  # the worker is mid-run
    assert not eng.closed
    eng.gate.set()
    fut.result(10)
    b._threads[0].join(10)
    assert eng.closed and not eng.closed_while_running


def test_cancelled_request_frees_its_queue_slot():
    eng = _Fake()
    b = _batcher(eng, queue=1)
    eng.gate.clear()
    b.submit({"x": np.ones((1, 1), np.float32)})
    eng.started.wait(10)
    queued = b.submit({"x": np.ones((1, 2), np.float32)})  # another shape: never merged
    b.cancel(queued)  # what a timed-out request does
    b.submit({"x": np.ones((1, 1), np.float32)})  # before: Overloaded (queue full)
    eng.gate.set()
    b.close()


def test_generate_many_on_an_unbatched_model_does_not_fill_the_queue(model_files):
    app, s = _start({"gen": model_files["gen"]}, max_batch=1, queue=2)
    try:
        r = httpx.post(
            f"{s.url}/v1/models/gen/generate",
            json={"n": 16, "seed": 1},
            headers={"Accept": "application/json"},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert len(r.json()["images"]) == 16
    finally:
        s.stop()


def test_openapi_lists_model_names_only_with_the_token(model_files):
    app, s = _start({"secret-model": model_files["affine"]}, token=TOKEN)
    try:
        bare = httpx.get(f"{s.url}/openapi.json")
        assert bare.status_code == 200 and "secret-model" not in bare.text
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert "secret-model" in httpx.get(f"{s.url}/openapi.json", headers=auth).text
    finally:
        s.stop()


def test_public_address_without_token_refuses_to_start():
    with pytest.raises(InputError, match="without --token"):
        ServerConfig(host="0.0.0.0")
    ServerConfig(host="0.0.0.0", allow_public=True)
    ServerConfig(host="0.0.0.0", token=TOKEN)
    ServerConfig(host="::1")


def _raw(port: int, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(data)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


def test_slow_headers_are_cut_off(model_files):
    app, s = _start({"affine": model_files["affine"]}, header_timeout_s=0.2)
    try:
        sock = _raw(s.port, b"POST /v2/models/affine/infer HTTP/1.1\r\nHost: x\r\n")
        assert _read_all(sock) == b""  # closed by the server, no request ever ran
        sock.close()
        assert httpx.get(f"{s.url}/v2/health/ready").status_code == 200
    finally:
        s.stop()


def test_withheld_body_is_408(model_files):
    app, s = _start({"affine": model_files["affine"]}, body_timeout_s=0.2)
    try:
        head = b"POST /v2/models/affine/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"
        sock = _raw(s.port, head)
        reply = _read_all(sock)
        sock.close()
        assert reply.split(b"\r\n", 1)[0].split()[1] == b"408", reply[:200]
    finally:
        s.stop()


def test_bodies_in_flight_are_capped(model_files, srv):
    app, s = _start({"affine": model_files["affine"]}, max_inflight_body_mb=4096 / 2**20)
    try:
        head = b"POST /v2/models/affine/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n"
        holder = _raw(s.port, head + b" " * 3000)
        srv.wait_for(lambda: app.state.ptx.bodies.used >= 3000, what="the held body")
        r = httpx.post(f"{s.url}/v2/models/affine/infer", content=b" " * 2000)
        assert r.status_code == 503 and r.headers.get("retry-after"), r.text
        holder.close()
        srv.wait_for(lambda: app.state.ptx.bodies.used == 0, what="release")
    finally:
        s.stop()


def test_a_timed_out_image_keeps_its_bytes_until_its_run_ends(model_files, srv):
    app, s = _start({"affine": model_files["affine"]}, timeout_s=0.3, max_batch=1)
    engine = app.state.ptx.models["affine"].batcher.engines[0]
    gate, real = threading.Event(), engine.run
    engine.run = lambda feeds: (gate.wait(30), real(feeds))[1]
    try:
        r = httpx.post(f"{s.url}/v1/models/affine/enhance", content=_png(16, 16), timeout=30)
        assert r.status_code == 504, r.text
        assert app.state.ptx.memory.used > 0  # the worker still holds the decoded image
        gate.set()
        srv.wait_for(lambda: app.state.ptx.memory.used == 0, what="release at the run's end")
    finally:
        gate.set()
        s.stop()


def test_v2_tensors_are_admitted_by_bytes_too(model_files, srv):
    x = np.zeros((1, 3, 64, 64), np.float32)  # 48 KiB in, about 288 KiB estimated
    app, s = _start({"affine": model_files["affine"]}, max_request_mb=0.1, max_inflight_mb=1)
    try:
        r = httpx.post(f"{s.url}/v2/models/affine/infer", content=srv.infer_json("image", x))
        assert r.status_code == 413 and "budget" in r.json()["error"], r.text
        small = srv.infer_json("image", np.zeros((1, 3, 4, 4), np.float32))
        assert httpx.post(f"{s.url}/v2/models/affine/infer", content=small).status_code == 200
        assert app.state.ptx.memory.used == 0
    finally:
        s.stop()


def test_header_deadline_also_applies_after_a_kept_alive_request(model_files):
    app, s = _start({"affine": model_files["affine"]}, header_timeout_s=0.3)
    try:
        sock = _raw(s.port, b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while b'{"live":true}' not in first:
            first += sock.recv(65536)
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n")  # never finished
        assert _read_all(sock) == b""  # cut, not answered
        sock.close()
    finally:
        s.stop()


def test_out_of_range_label_id_is_400_before_batching(model_files):
    app, s = _start({"gen": model_files["gen"]})
    z = np.zeros((2, 8), np.float32)
    doc = {
        "inputs": [
            {"name": "z", "shape": [2, 8], "datatype": "FP32", "data": z.ravel().tolist()},
            {"name": "category", "shape": [2], "datatype": "INT64", "data": [0, 7]},
            {"name": "color", "shape": [2], "datatype": "INT64", "data": [1, 0]},
        ]
    }
    try:
        r = httpx.post(f"{s.url}/v2/models/gen/infer", json=doc)
        assert r.status_code == 400 and "label id 7" in r.json()["error"], r.text
        doc["inputs"][1]["data"] = [0, 2]
        assert httpx.post(f"{s.url}/v2/models/gen/infer", json=doc).status_code == 200
    finally:
        s.stop()


def test_serve_command_refuses_a_public_bind_without_token_in_one_line(model_files):
    from click.testing import CliRunner

    from ptx.runtime.cli.serve import serve

    args = ["--model", f"m={model_files['affine']}", "--host", "0.0.0.0"]
    result = CliRunner().invoke(serve, args)
    assert result.exit_code != 0
    assert "without --token" in str(result.exception) and "--allow-public" in str(result.exception)
    help_text = CliRunner().invoke(serve, ["--help"]).output
    for flag in ("--allow-public", "--max-request-mb", "--max-inflight-mb", "--header-timeout-s",
                 "--body-timeout-s", "--max-connections", "--max-inflight-body-mb"):  # fmt: skip
        assert flag in help_text
