"""The batcher's inline path: a lone, known-short request runs on the event loop's thread."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from ptx.errors import ModelError
from ptx.runtime.engine import Engine
from ptx.runtime.server.batcher import INLINE_MAX_S, Batcher, Overloaded, signature
from ptx.runtime.server.metrics import Metrics
from ptx.runtime.server.stats import ModelStats
from ptx.tensors import TensorInfo

grpcclient = pytest.importorskip("tritonclient.grpc")


class _Where(Engine):
    """out = x * 2; records the thread of every run; sleeps ``pause`` s; fails on x < 0."""

    backend = "fake"

    def __init__(self, pause: float = 0.0) -> None:
        super().__init__("where.onnx", None)
        self._inputs = [TensorInfo("x", np.dtype(np.float32), ("batch", "n"))]
        self._outputs = [TensorInfo("y", np.dtype(np.float32), ("batch", "n"))]
        self.pause = pause
        self.threads: list[str] = []
        self.busy = threading.Lock()
        self.overlapped = False

    def run(self, feeds):
        if not self.busy.acquire(blocking=False):
            self.overlapped = True  # two runs at once on one engine: never allowed
            self.busy.acquire()
        try:
            self.threads.append(threading.current_thread().name)
            time.sleep(self.pause)
            if (feeds["x"] < 0).any():
                raise IndexError("label id out of range")
            return {"y": feeds["x"] * 2}
        finally:
            self.busy.release()


def _batcher(engine: Engine, patient: bool = True) -> Batcher:
    b = Batcher("m", [engine], 8, 0.0, 16, ModelStats("m"), Metrics())
    if patient:  # no stalled CI box can make a fake run "too long" for the loop
        b.inline_max_ns = 10**10
    return b


def _x(n: int = 4, value: float = 1.0) -> dict[str, np.ndarray]:
    return {"x": np.full((1, n), value, np.float32)}


WORKER = "ptx-serve-m-0"


def _settled(b: Batcher) -> None:
    """Wait until the worker has counted its run done (it sets the result just before)."""
    deadline = time.monotonic() + 30
    while b._running and time.monotonic() < deadline:
        time.sleep(0.001)
    assert not b._running


def test_a_lone_known_short_request_runs_on_the_loop_and_is_counted():
    eng = _Where()
    b = _batcher(eng)

    async def go():
        first = await asyncio.wrap_future(b.submit(_x()))  # unknown: the worker runs it
        _settled(b)
        second = b.submit(_x(value=3.0))  # same signature, known short: runs right here
        assert second.done()
        other = await asyncio.wrap_future(b.submit(_x(n=5)))  # a new signature: the worker
        return first, second.result(), other, threading.current_thread().name

    first, second, other, loop = asyncio.run(go())
    b.close()
    assert eng.threads == [WORKER, loop, WORKER] and loop != WORKER
    assert float(first.outputs["y"][0, 0]) == 2.0 and float(second.outputs["y"][0, 0]) == 6.0
    assert other.outputs["y"].shape == (1, 5) and second.batch == 1
    stats = b.stats.to_dict()
    assert stats["inference_count"] == 3 and stats["execution_count"] == 3


def test_inline_is_refused_when_it_could_stall_the_loop_or_miss_a_batch():
    slow = _Where(pause=INLINE_MAX_S * 3)  # every run is known to take too long
    b = _batcher(slow, patient=False)

    async def slow_runs():
        for _ in range(3):
            await asyncio.wrap_future(b.submit(_x()))

    asyncio.run(slow_runs())
    assert slow.threads == [WORKER] * 3
    b.close()

    eng = _Where()
    b = _batcher(eng)

    async def busy():
        await asyncio.wrap_future(b.submit(_x()))
        b.enter()
        b.enter()  # another request is on its way: it may join a batch, so queue
        try:
            await asyncio.wrap_future(b.submit(_x()))
        finally:
            b.leave()
            b.leave()
        _settled(b)
        assert b.run_inline(_x()) is not None  # alone again: inline

    asyncio.run(busy())
    b.submit(_x()).result(10)  # not on an event loop: always the worker
    assert eng.threads[:2] == [WORKER, WORKER] and eng.threads[2] != WORKER
    assert eng.threads[3] == WORKER
    b.close()
    with pytest.raises(Overloaded, match="shutting down"):
        b.submit(_x())
    assert b.run_inline(_x()) is None
    assert not eng.overlapped and not slow.overlapped


def test_an_inline_failure_comes_back_in_the_future():
    eng = _Where()
    b = _batcher(eng)

    async def go():
        await asyncio.wrap_future(b.submit(_x()))
        _settled(b)
        bad = b.submit(_x(value=-1.0))  # ran inline; the error is the future's, as queued
        assert bad.done()
        with pytest.raises(ModelError, match="IndexError: label id out of range"):
            bad.result()
        with pytest.raises(ModelError, match="out of range"):
            b.run_inline(_x(value=-2.0))
        return threading.current_thread().name

    loop = asyncio.run(go())
    assert eng.threads == [WORKER, loop, loop]
    b.close()


def test_run_lone_takes_runs_too_long_for_the_loop_but_only_when_known_and_lone():
    slow = _Where(pause=INLINE_MAX_S * 3)  # too long for the event loop, not for a gRPC thread
    b = _batcher(slow, patient=False)
    feeds = _x()
    key = signature(feeds)
    assert b.run_lone(feeds, key, 1) is None  # never ran: unknown, so the batcher's way
    b.submit(feeds).result(10)  # the worker runs it once: now its duration is known
    _settled(b)
    out = b.run_lone(feeds, key, 1)
    assert out is not None and float(out["y"][0, 0]) == 2.0
    assert slow.threads == [WORKER, threading.current_thread().name]
    assert b.active == 0 and b.stats.to_dict()["execution_count"] == 2
    b.enter()  # another request accepted: a batch may form, so not alone
    assert b.run_lone(feeds, key, 1) is None
    b.leave()
    b.lone_max_ns = 0  # known to take longer than allowed
    assert b.run_lone(feeds, key, 1) is None
    b.close()
    assert not slow.overlapped


def _spy_threads(model) -> list[str]:
    """Record the thread name of each engine run; the inline window made wide for slow boxes."""
    ran_on: list[str] = []
    engine = model.batcher.engines[0]
    run = engine.run

    def spy(feeds):
        ran_on.append(threading.current_thread().name)
        return run(feeds)

    engine.run = spy
    model.batcher.inline_max_ns = 10**10  # a stalled CI box must not route to the worker
    model.batcher.lone_max_ns = 10**10
    return ran_on


def test_grpc_infers_run_inline_once_known(model_files, srv):
    server = srv.start({"affine": model_files["affine"]}, grpc_port=0)
    try:
        model = server.server.config.app.state.ptx.models["affine"]
        ran_on = _spy_threads(model)
        c = grpcclient.InferenceServerClient(server.grpc_url)
        x = np.random.default_rng(4).random((1, 3, 6, 6), dtype=np.float32)
        for _ in range(4):
            tensor = grpcclient.InferInput("image", list(x.shape), "FP32")
            tensor.set_data_from_numpy(x)
            y = c.infer("affine", [tensor]).as_numpy("out")
            np.testing.assert_allclose(y, x * 0.5 + 0.25, rtol=1e-6)
            _settled(model.batcher)
        c.close()
        assert len(ran_on) == 4 and ran_on[0].startswith("ptx-serve-affine")
        assert not any(name.startswith("ptx-serve-") for name in ran_on[1:]), ran_on
        stats = model.stats.to_dict()
        assert stats["inference_stats"]["success"]["count"] == 4
    finally:
        server.stop()


def test_http_v2_infers_run_inline_too(model_files, srv):
    import httpx

    server = srv.start({"affine": model_files["affine"]})
    try:
        model = server.server.config.app.state.ptx.models["affine"]
        ran_on = _spy_threads(model)
        x = np.random.default_rng(5).random((1, 3, 4, 4), dtype=np.float32)
        with httpx.Client(base_url=server.url) as http:
            for _ in range(3):
                r = http.post("/v2/models/affine/infer", content=srv.infer_json("image", x))
                assert r.status_code == 200, r.text
                y = np.asarray(r.json()["outputs"][0]["data"], np.float32).reshape(x.shape)
                np.testing.assert_allclose(y, x * 0.5 + 0.25, rtol=1e-6)
                _settled(model.batcher)
        assert len(ran_on) == 3 and ran_on[0].startswith("ptx-serve-affine")
        assert not any(name.startswith("ptx-serve-") for name in ran_on[1:]), ran_on
    finally:
        server.stop()
