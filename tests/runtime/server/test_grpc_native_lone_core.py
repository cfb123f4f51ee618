"""The native front end keeps lone ModelInfer calls on one core (ptx_grpc.cc, LoneCore).

Each call's callable records the cores its gRPC thread may run on (Linux reports a
thread's own affinity for pid 0); the extension decides them before the callable runs.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

grpcclient = pytest.importorskip("tritonclient.grpc")
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2,
    reason="needs Linux and at least two cores to choose from",
)

ALL = frozenset(os.sched_getaffinity(0))


class Recorder:
    """A ModelInfer callable noting (thread id, its cores); ``hold`` makes calls meet."""

    def __init__(self, hold: threading.Barrier | None = None) -> None:
        self.seen: list[tuple[int, frozenset]] = []
        self.hold = hold

    def __call__(self, model, version, inputs, raw, outputs, authorization, whole):
        self.seen.append((threading.get_native_id(), frozenset(os.sched_getaffinity(0))))
        if self.hold is not None:
            self.hold.wait(10)  # both calls in flight at once
        return 0, "", [("y", "FP32", (1,), np.ones(1, np.float32))]


def _serve(native, infer, *lone_core: bool):
    handle, port = native.start("127.0.0.1:0", 1 << 20, infer, lambda *a: (12, "no", None),
                                *lone_core)  # fmt: skip
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{port}")
    tensor = grpcclient.InferInput("x", [1], "FP32")
    tensor.set_data_from_numpy(np.ones(1, np.float32))
    return handle, client, lambda: client.infer("m", [tensor]).as_numpy("y")


def test_lone_calls_run_on_one_core_and_calls_beside_others_on_all(native):
    infer = Recorder()
    handle, client, call = _serve(native, infer)
    try:
        for _ in range(8):
            call()
        cores = {cores for _, cores in infer.seen}
        assert len(cores) == 1 and len(next(iter(cores))) == 1, cores  # one core, every call
        assert next(iter(cores)) <= ALL
        infer.seen.clear()
        infer.hold = threading.Barrier(2)
        with ThreadPoolExecutor(2) as pool:
            for f in [pool.submit(call), pool.submit(call)]:
                f.result(timeout=20)
        # the first to start was alone (pinned); the second started beside it (all cores)
        assert sorted(len(cores) for _, cores in infer.seen) == [1, len(ALL)]
    finally:
        client.close()
        native.shutdown(handle, 1.0)


def test_the_pins_are_lifted_each_second_so_a_busy_core_is_left(native):
    infer = Recorder()
    handle, client, call = _serve(native, infer)
    try:
        call()
        time.sleep(1.1)
        call()  # ends past the second: every pinned thread goes back to all cores
        for tid, cores in infer.seen:
            assert len(cores) == 1
            assert frozenset(os.sched_getaffinity(tid)) == ALL
        infer.seen.clear()
        call()  # and the next lone call pins again
        assert len(infer.seen[0][1]) == 1
    finally:
        client.close()
        native.shutdown(handle, 1.0)


def test_lone_core_off_leaves_threads_alone(native):
    infer = Recorder()
    handle, client, call = _serve(native, infer, False)
    try:
        for _ in range(4):
            call()
        assert {cores for _, cores in infer.seen} == {ALL}
    finally:
        client.close()
        native.shutdown(handle, 1.0)
