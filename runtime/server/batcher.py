"""Dynamic batching: merge queued requests of one shape into one engine run, split results back.

One worker thread per engine instance (each its own session) takes work from a
bounded per-model queue. A worker forming a batch takes the oldest request, then
every queued request of the same shape signature until the batch holds
``max_batch`` samples or ``max_delay`` has passed since that oldest request
arrived (as Triton's max_queue_delay); one worker forms a batch at a time, the
others run theirs. It waits only while more requests are on their way (accepted
by the HTTP layer, ``enter``/``leave``, but not yet queued), so a lone client
never pays the delay. A request that times out while queued gives its queue slot
back at once (``cancel``). When a merged batch fails, each of its requests is run
again alone, so one bad request (an out-of-range label id) fails alone. Each worker
closes its own engine when it stops, so shutdown never frees an engine mid-run.

``run_inline`` serves a lone request on the caller's thread (an event loop) instead:
only when nothing else is queued, running or accepted, so no batch could form, and
when a run of exactly that input signature last took at most ``INLINE_MAX_S``, so the
loop never stalls for long. It saves the two thread hand-offs of a queued request
(the worker's wake-up and the loop's), which at concurrency 1 on a small model cost
about as much as the model. An engine runs one request at a time either way (a lock
per engine instance, taken by its worker and by the inline path). ``run_lone`` is its
lean form for a gRPC thread that already knows the request's signature (no Future);
no loop can stall there, so its bound is ``LONE_MAX_S`` (a load spike that slows one
run past 2 ms must not send the next requests the long way).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ptx.errors import InputError, ModelError, PtxError
from ptx.runtime.engine import Engine
from ptx.runtime.server.metrics import Metrics
from ptx.runtime.server.stats import ModelStats

INLINE_MAX_S = 0.002  # longest known engine run a request may do on the event loop
# ... and on a gRPC thread (run_lone), where no loop stalls: only the request's own wait
# (its timeout holds on the batcher's path, not inline) bounds it.
LONE_MAX_S = 0.1
RECENT_MAX = 256  # input signatures whose last run time is kept


class Overloaded(PtxError):
    """The model's queue is full; the client should retry later (HTTP 503)."""


@dataclass
class Result:
    """One request's outputs and where its time went."""

    outputs: dict[str, np.ndarray]
    queue_ns: int
    compute_ns: int
    batch: int  # samples in the engine run that served it


@dataclass
class _Item:
    feeds: dict[str, np.ndarray]
    samples: int
    key: tuple
    future: Future
    enqueued_ns: int
    kind: str = "tensor"


class ImageRunner(Protocol):
    """Runs ``kind="rgb"`` batches (uint8 NHWC in, uint8 NHWC out) on an engine instance."""

    def run(self, engine: Engine, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The batch's outputs, one image per sample."""
        ...

    def close(self, engine: Engine) -> None:
        """Release what was made for ``engine`` (called by its worker as it stops)."""
        ...


def _on_event_loop() -> bool:
    """True on a thread running an asyncio event loop (where a thread hand-off costs twice)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def signature(feeds: dict[str, np.ndarray]) -> tuple:
    """Names, dtypes and whole shapes: what an engine run's duration depends on."""
    return tuple((k, a.dtype.str, a.shape) for k, a in sorted(feeds.items()))


def batchable(engine: Engine) -> bool:
    """True when every input and output has a dynamic leading (batch) axis."""
    tensors = [*engine.inputs, *engine.outputs]
    return all(t.shape and t.is_dynamic(0) for t in tensors)


class Batcher:
    """A model's bounded queue and worker threads, one per engine instance."""

    def __init__(
        self,
        name: str,
        engines: list[Engine],
        max_batch: int,
        max_delay_s: float,
        queue_size: int,
        stats: ModelStats,
        metrics: Metrics,
        images: ImageRunner | None = None,
    ) -> None:
        if not engines:
            raise ModelError(f"model '{name}': no engine instance to run it")
        self.name = name
        self.engines = engines
        self.max_batch = max(1, max_batch)
        self.max_delay_ns = int(max(0.0, max_delay_s) * 1e9)
        self.queue_size = max(1, queue_size)
        self.merge = batchable(engines[0]) and self.max_batch > 1
        self.stats = stats
        self.metrics = metrics
        self.images = images  # runs "rgb" requests (the GPU image pipeline), if any
        self._queue: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._gather = threading.Lock()
        self._closing = False
        self.active = 0  # requests accepted by the HTTP layer and not yet answered
        self._running = 0  # requests in batches being run
        self._locks = [threading.Lock() for _ in engines]  # one run per engine at a time
        self._recent: dict[tuple, int] = {}  # input signature -> ns of its last lone run
        # A worker waiting for a forming batch to fill: only it needs a leave()/inline-end
        # notify; waking a worker that waits for an empty queue costs a lone request a
        # thread wake-up and a GIL hand-off for nothing.
        self._forming_waits = 0
        self.inline_max_ns = int(INLINE_MAX_S * 1e9)
        self.lone_max_ns = int(LONE_MAX_S * 1e9)
        self._depth = metrics.queue_depth.labels(name)
        self._forming = metrics.forming.labels(name)
        # observe_batch's children, looked up once (labels() costs a microsecond each)
        self._sizes = metrics.batch_size.labels(name)
        self._compute = metrics.compute.labels(name)
        self._queued = metrics.queue.labels(name)
        self._threads = [
            threading.Thread(
                target=self._work, args=(i,), name=f"ptx-serve-{name}-{i}", daemon=True
            )
            for i, e in enumerate(engines)
        ]
        for t in self._threads:
            t.start()

    # -- submitting -----------------------------------------------------------
    def enter(self) -> None:
        """A request for this model was accepted (it may soon be submitted)."""
        with self._cond:
            self.active += 1

    def leave(self) -> None:
        """That request was answered (a batch waiting for it stops waiting)."""
        with self._cond:
            self.active -= 1
            if self._forming_waits:
                self._cond.notify()

    def submit(self, feeds: dict[str, np.ndarray], kind: str = "tensor") -> Future:
        """Queue one request; a Future of its Result. Raises Overloaded when the queue is full.

        ``kind="rgb"``: uint8 NHWC images for the image runner; merged only with their kind.
        Called on an event loop's thread (an async handler), a lone known-short tensor
        request runs right here instead (see ``run_inline``); its Future comes back done.
        """
        item = self._item(feeds, kind)
        if kind == "tensor" and _on_event_loop() and self._try_inline(item):
            return item.future
        with self._cond:
            if self._closing:
                raise Overloaded(f"model '{self.name}' is shutting down; retry on another server")
            if len(self._queue) >= self.queue_size:
                raise Overloaded(
                    f"model '{self.name}': queue full ({self.queue_size} waiting); retry later"
                )
            self._queue.append(item)
            self._depth.set(len(self._queue))
            self._cond.notify()
        return item.future

    def samples(self, feeds: dict[str, np.ndarray]) -> int:
        """Samples in one request: its batch size when batches merge, else 1 (InputError)."""
        if not self.merge:
            return 1
        sizes = {a.shape[0] for a in feeds.values()}
        if len(sizes) != 1:
            raise InputError(
                f"model '{self.name}': inputs disagree on the batch size {sorted(sizes)}"
            )
        return sizes.pop()

    def _item(self, feeds: dict[str, np.ndarray], kind: str) -> _Item:
        if kind != "tensor" and self.images is None:
            raise ModelError(f"model '{self.name}': no runner for '{kind}' requests")
        samples = self.samples(feeds)
        key = (kind, *((k, a.dtype.str, a.shape[1:]) for k, a in sorted(feeds.items())))
        return _Item(feeds, samples, key, Future(), time.perf_counter_ns(), kind)

    def run_inline(self, feeds: dict[str, np.ndarray]) -> Result | None:
        """Run a lone, known-short tensor request on this thread; None: submit it instead.

        Raises what the request's future would (its engine error, or InputError).
        """
        item = self._item(feeds, "tensor")
        return item.future.result() if self._try_inline(item) else None

    def run_lone(
        self, feeds: dict[str, np.ndarray], signature: tuple, samples: int
    ) -> dict[str, np.ndarray] | None:
        """``run_inline`` for a request not yet ``enter``ed, its signature and samples known.

        The lean path of a repeated request: accepted (``active``) only while it runs,
        no Future, no queue item. None: nothing was counted or run (enter and submit it).
        Raises the engine's error as the request's future would.
        """
        index = self._claim(signature, False, self.lone_max_ns)
        if index is None:
            return None
        t0 = time.perf_counter_ns()
        try:
            try:
                outputs = self.engines[index].run(feeds)
            except Exception as exc:
                raise exc if isinstance(exc, PtxError) else self._model_error(exc) from None
            t1 = time.perf_counter_ns()
            self._remember(signature, t1 - t0)
        finally:
            self._unclaim(index, entered=False)
        self.stats.batch_done(1, samples, 0, 0, t1 - t0, 0)
        self.metrics.later(self._observe_lone, (samples, t1 - t0))  # off the critical path
        return outputs

    def _observe_lone(self, run: tuple[int, int]) -> None:
        """The metrics of one ``run_lone`` run: (samples, engine ns), no queue wait."""
        self._sizes.observe(run[0])
        self._compute.observe(run[1] / 1e9)
        self._queued.observe(0.0)

    def _try_inline(self, item: _Item) -> bool:
        """Run ``item`` on this thread if it is lone and known-short; False: queue it."""
        index = self._claim(signature(item.feeds), True, self.inline_max_ns)
        if index is None:
            return False
        try:
            item.future.set_running_or_notify_cancel()
            self._run(self.engines[index], [item])
        finally:
            self._unclaim(index, entered=True)
        return True

    def _claim(self, signature: tuple, entered: bool, max_ns: int) -> int | None:
        """A free engine (its lock taken) for a lone run known to take <= max_ns, or None.

        Lone: nothing queued or running, and no other request accepted (``entered``: the
        caller's own is counted already; else it is counted now, until ``_unclaim``).
        """
        with self._cond:
            if self._closing or self._queue or self._running or self.active > entered:
                return None
            known = self._recent.get(signature)
            if known is None or known > max_ns:
                return None
            free = (i for i, lock in enumerate(self._locks) if lock.acquire(blocking=False))
            index = next(free, None)
            if index is not None:
                self.active += not entered
                self._running += 1
            return index

    def _unclaim(self, index: int, entered: bool) -> None:
        """End a ``_claim``ed run: the engine is free, a forming batch may go on."""
        self._locks[index].release()
        with self._cond:
            self._running -= 1
            self.active -= not entered
            if self._forming_waits:
                self._cond.notify()

    def _remember(self, signature: tuple, ns: int) -> None:
        """Keep how long a lone run of ``signature`` took (the inline rule reads it)."""
        if len(self._recent) >= RECENT_MAX:  # many shapes: forget, stay bounded
            self._recent.clear()
        self._recent[signature] = ns

    # -- workers --------------------------------------------------------------
    def _take(self) -> list[_Item] | None:
        """The next batch (None when closed and drained); waits up to max_delay to fill it."""
        with self._cond:
            head = None
            while head is None:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return None
                head = self._queue.popleft()
                if not head.future.set_running_or_notify_cancel():
                    head = None
            group, total = [head], head.samples
            if self.merge:
                deadline = head.enqueued_ns + self.max_delay_ns
                while total < self.max_batch:
                    total = self._collect(head.key, group, total)
                    left = (deadline - time.perf_counter_ns()) / 1e9
                    coming = self.active - len(self._queue) - len(group) - self._running
                    if total >= self.max_batch or left <= 0 or self._closing or coming <= 0:
                        break
                    self._gauge(len(group))  # while waiting, the gauges must say so
                    self._forming_waits += 1
                    try:
                        self._cond.wait(left)
                    finally:
                        self._forming_waits -= 1
            self._gauge(0)
            self._running += len(group)
            return group

    def _gauge(self, forming: int) -> None:
        """Publish the queue depth and the size of the batch being formed (lock held)."""
        self._depth.set(len(self._queue))
        self._forming.set(forming)

    def _collect(self, key: tuple, group: list[_Item], total: int) -> int:
        """Move queued items of signature ``key`` into ``group`` while they fit; new total."""
        keep: deque[_Item] = deque()
        while self._queue:
            item = self._queue.popleft()
            if item.key != key or total + item.samples > self.max_batch:
                keep.append(item)
            elif item.future.set_running_or_notify_cancel():
                group.append(item)
                total += item.samples
        self._queue = keep
        return total

    def cancel(self, future: Future) -> None:
        """Withdraw a request that is still queued (its client gave up): its slot is free."""
        with self._cond:
            future.cancel()
            self._queue = deque(it for it in self._queue if not it.future.cancelled())
            self._depth.set(len(self._queue))

    def _work(self, index: int) -> None:
        engine, lock = self.engines[index], self._locks[index]
        try:
            while True:
                with self._gather:
                    group = self._take()
                if group is None:
                    return
                try:
                    with lock:
                        self._run(engine, group)
                finally:
                    with self._cond:
                        self._running -= len(group)
        finally:
            with lock:  # an inline run on this engine ends first
                if self.images is not None:
                    self.images.close(engine)
                engine.close()  # only here: never while this worker may still be running it

    def _run(self, engine: Engine, group: list[_Item]) -> None:
        t0 = time.perf_counter_ns()
        samples = sum(it.samples for it in group)
        try:
            if len(group) == 1:
                feeds = group[0].feeds
            else:
                feeds = {k: np.concatenate([it.feeds[k] for it in group]) for k in group[0].feeds}
            t1 = time.perf_counter_ns()
            if group[0].kind == "tensor":
                outputs = engine.run(feeds)
            else:
                outputs = self.images.run(engine, feeds)
            t2 = time.perf_counter_ns()
            if len(group) == 1 and group[0].kind == "tensor":
                self._remember(signature(feeds), t2 - t1)
            parts = self._split(outputs, group, samples)
            t3 = time.perf_counter_ns()
        except Exception as exc:  # a backend's own exception must still reach the client
            if len(group) > 1:  # find who failed: each request alone, the rest still served
                for it in group:
                    self._run(engine, [it])
                return
            err = exc if isinstance(exc, PtxError) else self._model_error(exc)
            group[0].future.set_exception(err)
            return
        queue_ns = [t0 - it.enqueued_ns for it in group]
        self._account(samples, queue_ns, t1 - t0, t2 - t1, t3 - t2)
        for it, out, q in zip(group, parts, queue_ns, strict=True):
            it.future.set_result(Result(out, q, t3 - t0, samples))

    def _account(self, samples: int, queue_ns: list[int], in_ns: int, run_ns: int, out_ns: int):
        """Statistics and metrics of one engine run (metrics.observe_batch, children cached)."""
        self.stats.batch_done(len(queue_ns), samples, sum(queue_ns), in_ns, run_ns, out_ns)
        self._sizes.observe(samples)
        self._compute.observe(run_ns / 1e9)
        for q in queue_ns:
            self._queued.observe(q / 1e9)

    def _model_error(self, exc: Exception) -> ModelError:
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        return ModelError(f"model '{self.name}' failed: {type(exc).__name__}: {text}")

    def _split(
        self, outputs: dict[str, np.ndarray], group: list[_Item], samples: int
    ) -> list[dict[str, np.ndarray]]:
        if len(group) == 1:
            return [outputs]
        bounds = np.cumsum([it.samples for it in group])[:-1]
        for name, arr in outputs.items():
            if arr.shape[:1] != (samples,):
                raise ModelError(
                    f"model '{self.name}': output '{name}' has {list(arr.shape)} for a batch of "
                    f"{samples}; serve it with --max-batch 1"
                )
        split = {k: np.split(v, bounds) for k, v in outputs.items()}
        return [{k: split[k][i] for k in outputs} for i in range(len(group))]

    # -- shutdown ---------------------------------------------------------------
    def close(self, timeout_s: float = 30.0) -> None:
        """Finish queued work and stop the workers (each releases its engine as it stops).

        A worker still running after ``timeout_s`` keeps its engine until its run ends.
        """
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
