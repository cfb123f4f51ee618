"""Prometheus metrics of one server (its own registry, so several servers can share a process)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Seconds: from well under a millisecond (tiny models, health checks) to the longest timeout.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128)
LATER_MAX = 512  # observations held for the next scrape before the hot path applies them

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """The server's counters, histograms and gauges (label ``model`` is a served name or '')."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._later: deque[tuple[Callable[[object], None], object]] = deque()
        r = self.registry
        # process_resident_memory_bytes and friends: a load test reads memory growth from here.
        ProcessCollector(registry=r)
        self.requests = Counter(
            "ptx_requests", "Requests by model, route and status (HTTP code or gRPC status)",
            ["model", "route", "code"], registry=r,
        )  # fmt: skip
        self.failures = Counter(
            "ptx_request_failures", "Requests answered 4xx/5xx or a gRPC error status",
            ["model", "route", "code"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "ptx_request_seconds", "End-to-end request latency", ["model", "route"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.queue = Histogram(
            "ptx_queue_seconds", "Time a request waited for its batch to start", ["model"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.compute = Histogram(
            "ptx_compute_seconds", "Engine run time per batch", ["model"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.batch_size = Histogram(
            "ptx_batch_size", "Samples per engine run", ["model"], buckets=BATCH_BUCKETS,
            registry=r,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "ptx_queue_depth", "Requests waiting for a worker", ["model"], registry=r
        )
        self.forming = Gauge(
            "ptx_batch_forming", "Requests held in a batch that waits to fill (max-delay)",
            ["model"], registry=r,
        )  # fmt: skip
        self.in_flight = Gauge(
            "ptx_requests_in_flight", "Inference requests accepted and not yet answered",
            ["model"], registry=r,
        )  # fmt: skip
        self.rejected = Counter(
            "ptx_rejected", "Requests refused before inference (overload, timeout)",
            ["model", "reason"], registry=r,
        )  # fmt: skip

    def later(self, record: Callable[[object], None], value: object) -> None:
        """``record(value)`` at the next scrape, not now (past LATER_MAX held: the oldest one).

        For a hot path (the native gRPC one): a Prometheus update costs microseconds of
        cold Python on the request's critical path; a deque append does not. Every
        exposition applies what waits first, so a scrape always sees every answered call.
        Past the cap each call applies one held observation, so the deque stays bounded
        without one unlucky call applying all 512 (1-3 ms, seen at p99.8 of gRPC calls).
        """
        self._later.append((record, value))  # deque.append/popleft: safe across threads
        if len(self._later) > LATER_MAX:
            try:
                held, v = self._later.popleft()
            except IndexError:  # a scrape drained it meanwhile
                return
            held(v)

    def flush(self) -> None:
        """Apply the observations ``later`` holds."""
        while True:
            try:
                record, value = self._later.popleft()
            except IndexError:
                return
            record(value)

    def observe_request(self, model: str, route: str, code: int, seconds: float) -> None:
        """Count one answered HTTP request."""
        self.requests.labels(model, route, str(code)).inc()
        if code >= 400:
            self.failures.labels(model, route, str(code)).inc()
        self.latency.labels(model, route).observe(seconds)

    def observe_grpc(self, model: str, route: str, status: str, seconds: float) -> None:
        """Count one answered gRPC call; ``status`` is its gRPC status name (OK, UNAVAILABLE...)."""
        self.requests.labels(model, route, status).inc()
        if status != "OK":
            self.failures.labels(model, route, status).inc()
        self.latency.labels(model, route).observe(seconds)

    def observe_batch(
        self, model: str, samples: int, queue_s: list[float], compute_s: float
    ) -> None:
        """Record one engine run: its size, its compute time and each request's queue wait."""
        self.batch_size.labels(model).observe(samples)
        self.compute.labels(model).observe(compute_s)
        hist = self.queue.labels(model)
        for q in queue_s:
            hist.observe(q)

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        self.flush()
        return generate_latest(self.registry)
