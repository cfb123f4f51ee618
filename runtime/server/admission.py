"""Admission by decoded bytes, not request count, and the slow-client guards.

An image request's cost is estimated from its header alone (width x height, before
any pixel is decoded): the decoded RGB, the model's input and output tensors, an
activation estimate (``activation_factor`` x the input tensor) and the encoded
result. One request over the per-request budget is a 413; one that would take the
admitted total over the global budget is a 503 with Retry-After, and waits for
nothing. Request bodies being received count against their own global cap, and a
body must arrive within ``body_timeout_s`` (408); a connection that has not sent a
request's headers within ``header_timeout_s`` is closed (:func:`protocol_class`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future

import numpy as np

from ptx.runtime.server.http import HTTPError

RETRY_AFTER_S = "1"
MB = 1024 * 1024


def image_cost(h: int, w: int, dtype: np.dtype, activation_factor: float) -> int:
    """Estimated peak bytes of serving one ``h`` x ``w`` image (RGB in and out)."""
    pixels = int(h) * int(w)
    tensor = 3 * np.dtype(dtype).itemsize * pixels
    return int(2 * 3 * pixels + tensor * (2 + activation_factor))


class Budget:
    """A per-request limit and a global pool of bytes (thread-safe)."""

    def __init__(self, per_request: int, total: int, what: str) -> None:
        self.per_request = per_request
        self.total = total
        self.what = what
        self.used = 0
        self._lock = threading.Lock()

    def reserve(self, nbytes: int) -> None:
        """Take ``nbytes``: 413 over the per-request limit, 503 when the pool is short."""
        if nbytes > self.per_request:
            raise HTTPError(
                413,
                f"{self.what} needs about {nbytes / MB:.0f} MiB, over the "
                f"{self.per_request / MB:.0f} MiB per-request budget; send a smaller image",
            )
        with self._lock:
            if self.used + nbytes > self.total:
                raise HTTPError(
                    503,
                    f"server busy: {self.what} needs about {nbytes / MB:.0f} MiB and "
                    f"{(self.total - self.used) / MB:.0f} MiB is free; retry later",
                    {"Retry-After": RETRY_AFTER_S},
                )
            self.used += nbytes

    def release(self, nbytes: int) -> None:
        """Give back what :meth:`reserve` took."""
        with self._lock:
            self.used -= nbytes

    def ticket(self, nbytes: int) -> Ticket:
        """Reserve ``nbytes`` and return the one-time handle that gives them back."""
        self.reserve(nbytes)
        return Ticket(self, nbytes)

    @contextlib.contextmanager
    def hold(self, nbytes: int) -> Iterator[None]:
        """Reserve ``nbytes`` for the block."""
        self.reserve(nbytes)
        try:
            yield
        finally:
            self.release(nbytes)


class Ticket:
    """Bytes reserved for one request; released once, by the route or by the worker."""

    def __init__(self, budget: Budget, nbytes: int) -> None:
        self.budget = budget
        self.nbytes = nbytes
        self.handed = False
        self._lock = threading.Lock()
        self._done = False

    def release(self) -> None:
        """Give the bytes back (idempotent, any thread)."""
        with self._lock:
            if self._done:
                return
            self._done = True
        self.budget.release(self.nbytes)

    def hand_over(self, future: Future) -> None:
        """The client gave up but the work runs on: release when ``future`` is done."""
        self.handed = True
        future.add_done_callback(lambda _: self.release())

    def close(self) -> None:
        """The route is done: release unless running work took the ticket over."""
        if not self.handed:
            self.release()


class BodyGuard:
    """Wraps an ASGI ``receive``: a deadline for the whole body and a global byte cap."""

    def __init__(self, receive, budget: Budget, timeout_s: float) -> None:
        self.receive = receive
        self.budget = budget
        self.deadline = time.monotonic() + timeout_s
        self.timeout_s = timeout_s
        self.held = 0
        self.done = False

    async def __call__(self) -> dict:
        if self.done:
            return await self.receive()
        left = self.deadline - time.monotonic()
        try:
            message = await asyncio.wait_for(self.receive(), max(left, 0.0))
        except asyncio.TimeoutError:
            self.done = True
            raise HTTPError(
                408, f"request body not received within {self.timeout_s:g} s; send it faster"
            ) from None
        if message["type"] == "http.request":
            size = len(message.get("body", b""))
            if size:
                self.budget.reserve(size)
                self.held += size
            self.done = not message.get("more_body", False)
        else:
            self.done = True
        return message

    def release(self) -> None:
        """Give the body's bytes back (the request is answered)."""
        self.budget.release(self.held)
        self.held = 0


def protocol_class(header_timeout_s: float):
    """uvicorn's h11 protocol, closing connections that send no request headers in time."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderDeadlineProtocol(H11Protocol):
        """Closes a connection idle or dribbling its headers past the deadline."""

        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def _arm(self) -> None:
            self.loop.call_later(header_timeout_s, self._deadline, self.cycle)

        def _deadline(self, armed_cycle) -> None:
            if self.transport.is_closing() or self.cycle is not armed_cycle:
                return  # a new request's headers arrived since
            if self.cycle is None or self.cycle.response_complete:
                self.transport.close()

    return HeaderDeadlineProtocol
