"""Dynamic batching merges concurrent requests; overload answers 503, slowness 504; all counted."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

tritonclient_http = pytest.importorskip("tritonclient.http")

CLIENTS = 8
ROUNDS = 6  # bounded: stop at the first round that merged


def _triton_infer(url: str, x: np.ndarray, barrier: threading.Barrier) -> np.ndarray:
    client = tritonclient_http.InferenceServerClient(url.removeprefix("http://"))
    try:
        tensor = tritonclient_http.InferInput("image", list(x.shape), "FP32")
        tensor.set_data_from_numpy(x)
        barrier.wait(timeout=30)
        return client.infer("affine", [tensor]).as_numpy("out")
    finally:
        client.close()


def test_concurrent_requests_are_merged_and_each_gets_its_own_result(model_files, srv):
    server = srv.start({"affine": model_files["affine"]}, max_batch=CLIENTS, max_delay_us=200_000)
    try:
        merged = False
        rng = np.random.default_rng(0)
        with ThreadPoolExecutor(CLIENTS) as pool:
            for _ in range(ROUNDS):
                xs = [rng.random((1, 3, 4, 6), dtype=np.float32) for _ in range(CLIENTS)]
                barrier = threading.Barrier(CLIENTS)
                futures = [pool.submit(_triton_infer, server.url, x, barrier) for x in xs]
                for x, future in zip(xs, futures, strict=True):
                    np.testing.assert_allclose(future.result(), x * 0.5 + 0.25, rtol=1e-6)
                stats = httpx.get(server.url + "/v2/models/affine/stats").json()
                entry = stats["model_stats"][0]
                if entry["execution_count"] < entry["inference_count"]:
                    merged = True
                    break
        assert merged, f"no two requests were merged in {ROUNDS} rounds: {entry}"
        assert max(b["batch_size"] for b in entry["batch_stats"]) > 1
        text = httpx.get(server.url + "/metrics").text
        count = srv.metric(text, "ptx_batch_size_count", model="affine")
        total = srv.metric(text, "ptx_batch_size_sum", model="affine")
        assert total > count  # mean batch size > 1
        assert total == entry["inference_count"]
    finally:
        server.stop()


def _post(url: str, x: np.ndarray, srv) -> httpx.Response:
    return httpx.post(
        url + "/v2/models/affine/infer", content=srv.infer_json("image", x), timeout=30
    )


def _held(server, srv):
    """A request whose body is withheld: any batch formed meanwhile waits for it."""
    body = srv.infer_json("image", np.ones((1, 3, 1, 1)))
    held = srv.SlowClient(server.port, "/v2/models/affine/infer", body)

    def registered() -> bool:  # else a batch formed before it arrives would not wait for it
        text = httpx.get(server.url + "/metrics").text
        return srv.metric(text, "ptx_requests_in_flight", model="affine") >= 1

    srv.wait_for(registered, timeout_s=30, what="the withheld request to be accepted")
    return held


def test_queue_full_is_503_with_retry_after(model_files, srv):
    """With the batcher waiting on a withheld request, queued work cannot drain: no clock races."""
    server = srv.start(
        {"affine": model_files["affine"]},
        instances=1,
        queue=2,
        max_batch=8,
        max_delay_us=60_000_000,
        body_timeout_s=600.0,  # the withheld body must outlast a slow, loaded run
        timeout_s=60.0,
    )
    url = server.url
    try:
        held = _held(server, srv)
        # Shapes differ, so nothing merges: one waits in the forming batch, two fill the queue.
        xs = [np.full((1, 3, k, k), k / 10, np.float32) for k in (2, 3, 4)]

        def state(forming: int, depth: int):
            def reached() -> bool:
                text = httpx.get(url + "/metrics").text
                return (
                    srv.metric(text, "ptx_batch_forming", model="affine") == forming
                    and srv.metric(text, "ptx_queue_depth", model="affine") == depth
                )

            return reached

        with ThreadPoolExecutor(3) as pool:
            # the first must be taken into the batch before the others queue, else one is refused
            futures = [pool.submit(_post, url, xs[0], srv)]
            srv.wait_for(state(1, 0), timeout_s=30, what="one request in the forming batch")
            futures += [pool.submit(_post, url, x, srv) for x in xs[1:]]
            srv.wait_for(state(1, 2), timeout_s=30, what="queue depth 2")
            # the health probe answers while inference is stuck
            assert httpx.get(url + "/v2/health/ready", timeout=5).status_code == 200
            full = _post(url, np.zeros((1, 3, 5, 5), np.float32), srv)
            assert full.status_code == 503
            assert full.headers["retry-after"] == "1"
            assert "queue full" in full.json()["error"]
            # the withheld client hangs up: the batch stops waiting and everything queued runs
            held.sock.close()
            done = [f.result() for f in futures]
        for x, r in zip(xs, done, strict=True):
            assert r.status_code == 200, r.text
            got = np.asarray(r.json()["outputs"][0]["data"], np.float32)
            np.testing.assert_allclose(got, (x * 0.5 + 0.25).ravel(), rtol=1e-6)
        text = httpx.get(url + "/metrics").text
        assert srv.metric(text, "ptx_rejected_total", model="affine", reason="overload") == 1
        assert srv.metric(text, "ptx_requests_total", model="affine", code="503") == 1
        assert srv.metric(text, "ptx_requests_total", model="affine", code="200") == 3
        assert srv.metric(text, "ptx_queue_depth", model="affine") == 0
    finally:
        server.stop()


def test_slow_inference_is_504_and_the_server_recovers(model_files, srv):
    """Requests stuck behind a withheld one time out; whenever they arrive, each one waits."""
    server = srv.start(
        {"affine": model_files["affine"]},
        instances=1,
        queue=4,
        max_batch=8,
        max_delay_us=20_000_000,
        timeout_s=1.0,
        body_timeout_s=600.0,  # the withheld body must outlast a slow, loaded run
    )
    url = server.url
    try:
        held = _held(server, srv)
        xs = [np.full((1, 3, k, k), k / 10, np.float32) for k in (2, 3)]
        with ThreadPoolExecutor(2) as pool:
            late = list(pool.map(lambda x: _post(url, x, srv), xs))
        for r in late:
            assert r.status_code == 504, r.text
            assert "within 1 s" in r.json()["error"]
        status, body = held.finish()
        assert status == 200, body
        np.testing.assert_allclose(json.loads(body)["outputs"][0]["data"], [0.75] * 3)
        fresh = _post(url, np.zeros((1, 3, 2, 2), np.float32), srv)
        assert fresh.status_code == 200
        text = httpx.get(url + "/metrics").text
        assert srv.metric(text, "ptx_rejected_total", model="affine", reason="timeout") == 2
        assert srv.metric(text, "ptx_requests_total", model="affine", code="504") == 2
        stats = httpx.get(url + "/v2/models/affine/stats").json()["model_stats"][0]
        assert stats["inference_stats"]["fail"]["count"] == 2
        assert stats["inference_stats"]["success"]["count"] == 2
    finally:
        server.stop()
