"""Per-model counters in the shape of Triton's statistics extension (GET .../stats)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

_DURATIONS = ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output")


class ModelStats:
    """Thread-safe request/batch counters; ``to_dict`` gives Triton's model_stats entry."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._durations = {k: [0, 0] for k in _DURATIONS}  # key -> [count, ns]
        self._batches: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        self.inference_count = 0  # samples (batch items) inferred
        self.execution_count = 0  # engine runs
        self.last_inference_ms = 0

    def request_done(self, ok: bool, ns: int) -> None:
        """Count one finished request (success or failure) and its end-to-end time."""
        with self._lock:
            entry = self._durations["success" if ok else "fail"]
            entry[0] += 1
            entry[1] += ns

    def batch_done(
        self, requests: int, samples: int, queue_ns: int, input_ns: int, infer_ns: int, out_ns: int
    ) -> None:
        """Count one engine run that served ``requests`` requests holding ``samples`` samples."""
        with self._lock:
            self.inference_count += samples
            self.execution_count += 1
            self.last_inference_ms = int(time.time() * 1000)
            d = self._durations
            d["queue"][0] += requests
            d["queue"][1] += queue_ns
            for key, ns in (
                ("compute_input", input_ns),
                ("compute_infer", infer_ns),
                ("compute_output", out_ns),
            ):
                d[key][0] += requests
                d[key][1] += ns * requests  # each request waited for the whole batch
            b = self._batches[samples]
            b[0] += 1
            b[1] += input_ns
            b[2] += infer_ns
            b[3] += out_ns

    def to_dict(self) -> dict:
        """Triton's ``model_stats`` entry for this model."""
        with self._lock:
            stats = {k: {"count": c, "ns": ns} for k, (c, ns) in self._durations.items()}
            stats["cache_hit"] = {"count": 0, "ns": 0}
            stats["cache_miss"] = {"count": 0, "ns": 0}
            batches = [
                {
                    "batch_size": size,
                    "compute_input": {"count": n, "ns": i},
                    "compute_infer": {"count": n, "ns": c},
                    "compute_output": {"count": n, "ns": o},
                }
                for size, (n, i, c, o) in sorted(self._batches.items())
            ]
            return {
                "name": self.name,
                "version": "1",
                "last_inference": self.last_inference_ms,
                "inference_count": self.inference_count,
                "execution_count": self.execution_count,
                "inference_stats": stats,
                "batch_stats": batches,
            }
