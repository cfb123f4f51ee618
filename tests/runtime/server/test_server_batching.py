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


def test_queue_full_is_503_with_retry_after_and_slow_is_504(model_files, srv):
    """A withheld request keeps the batcher waiting for it, so queued work cannot drain."""
    server = srv.start(
        {"affine": model_files["affine"]},
        instances=1,
        queue=2,
        max_batch=8,
        max_delay_us=20_000_000,
        timeout_s=4.0,  # long enough that queued requests outlive a slow poll on a busy CI box
    )
    url = server.url
    try:
        held = srv.SlowClient(
            server.port, "/v2/models/affine/infer", srv.infer_json("image", np.ones((1, 3, 1, 1)))
        )
        # Shapes differ, so nothing merges: A waits in the batch, B and C fill the queue.
        xs = [np.full((1, 3, k, k), k / 10, np.float32) for k in (2, 3, 4)]
        with ThreadPoolExecutor(3) as pool:
            futures = []
            for i, x in enumerate(xs):
                futures.append(pool.submit(_post, url, x, srv))

                # the first one is taken into the forming batch; the others wait in the queue
                def depth(want=i) -> bool:
                    text = httpx.get(url + "/metrics").text
                    return srv.metric(text, "ptx_queue_depth", model="affine") == want

                srv.wait_for(depth, what=f"queue depth {i}")
            # the health probe answers while inference is stuck
            assert httpx.get(url + "/v2/health/ready", timeout=5).status_code == 200
            full = _post(url, np.zeros((1, 3, 5, 5), np.float32), srv)
            assert full.status_code == 503
            assert full.headers["retry-after"] == "1"
            assert "queue full" in full.json()["error"]
            late = [f.result() for f in futures]
        for r in late:
            assert r.status_code == 504, r.text
            assert "within 4 s" in r.json()["error"]
        status, body = held.finish()
        assert status == 200, body
        np.testing.assert_allclose(json.loads(body)["outputs"][0]["data"], [0.75] * 3)
        fresh = _post(url, np.zeros((1, 3, 2, 2), np.float32), srv)
        assert fresh.status_code == 200
        text = httpx.get(url + "/metrics").text
        assert srv.metric(text, "ptx_rejected_total", model="affine", reason="overload") == 1
        assert srv.metric(text, "ptx_rejected_total", model="affine", reason="timeout") == 3
        assert srv.metric(text, "ptx_requests_total", model="affine", code="503") == 1
        assert srv.metric(text, "ptx_requests_total", model="affine", code="504") == 3
        stats = httpx.get(url + "/v2/models/affine/stats").json()["model_stats"][0]
        assert stats["inference_stats"]["fail"]["count"] == 4
        assert stats["inference_stats"]["success"]["count"] == 2
    finally:
        server.stop()
