"""Closed-loop HTTP load, as perf_analyzer drives a server: N clients, each one request in flight.

Every client sends a binary-tensor infer request, waits for the whole answer,
checks it against the reference for that input, and sends the next. A lost,
truncated or mixed-up answer is an error or a wrong result, never a silent
latency sample; a 503 (the server's explicit overload answer) is counted apart.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ptx.benchmarks.harness.measure import Iteration
from ptx.benchmarks.serving.kserve_client import HEADER_LENGTH, Endpoint, decode_infer, encode_infer
from ptx.errors import InputError

Check = Callable[[int, dict[str, np.ndarray]], bool]


@dataclass
class ClientTally:
    """One client's answered requests (perf_counter seconds) and its failures."""

    client: int
    sent: list[tuple[float, float, float]] = field(default_factory=list)  # start, sent, end
    errors: int = 0
    overloaded: int = 0
    wrong: int = 0
    first_error: str | None = None

    def fail(self, what: str) -> None:
        """Count an error, remembering the first one's text."""
        self.errors += 1
        self.first_error = self.first_error or what


@dataclass
class Phase:
    """What one timed phase produced: every client's tally and the phase's start."""

    tallies: list[ClientTally]
    t0: float

    def iterations(self) -> list[Iteration]:
        """Answered requests as harness iterations (stream = client; enqueue = time to send)."""
        out = [
            Iteration(t.client, (a - self.t0) * 1e3, (c - self.t0) * 1e3, (b - a) * 1e3)
            for t in self.tallies
            for a, b, c in t.sent
        ]
        return sorted(out, key=lambda it: it.start_ms)

    def outcome(self) -> dict:
        """Answered, errors, wrong results and 503s over all clients."""
        return {
            "answered": sum(len(t.sent) for t in self.tallies),
            "errors": sum(t.errors for t in self.tallies),
            "wrong_results": sum(t.wrong for t in self.tallies),
            "overloaded_503": sum(t.overloaded for t in self.tallies),
            "first_error": next((t.first_error for t in self.tallies if t.first_error), None),
        }


def infer_path(model: str) -> str:
    """The KServe v2 infer route of ``model``."""
    return f"/v2/models/{model}/infer"


def send_once(ep: Endpoint, model: str, body: tuple[bytes, str]) -> dict[str, np.ndarray]:
    """One request on its own connection; its outputs (an InputError when it fails)."""
    conn = ep.connect()
    try:
        conn.request("POST", infer_path(model), body[0], {HEADER_LENGTH: body[1], **ep.headers})
        resp = conn.getresponse()
        data = resp.read()
    except (OSError, http.client.HTTPException) as exc:
        raise InputError(f"{ep.url}: infer on '{model}' failed ({exc})") from None
    finally:
        conn.close()
    if resp.status != 200:
        raise InputError(
            f"{ep.url}: infer on '{model}' answered HTTP {resp.status}: {data[:300]!r}"
        )
    return decode_infer(data, resp.getheader(HEADER_LENGTH))


def _client(ep: Endpoint, path: str, bodies, check: Check, stop, tally: ClientTally) -> None:
    headers = [{HEADER_LENGTH: hlen, **ep.headers} for _, hlen in bodies]
    conn = ep.connect()
    i = tally.client  # clients start on different inputs, so batches mix them
    while not stop.is_set():
        k = i % len(bodies)
        start = time.perf_counter()
        try:
            conn.request("POST", path, bodies[k][0], headers[k])
            sent = time.perf_counter()
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            tally.fail(f"{type(exc).__name__}: {exc}")
            conn.close()
            conn = ep.connect()
            continue
        end = time.perf_counter()
        if resp.status == 503:
            tally.overloaded += 1
        elif resp.status != 200:
            tally.fail(f"HTTP {resp.status}: {data[:200]!r}")
        else:
            try:
                ok = check(k, decode_infer(data, resp.getheader(HEADER_LENGTH)))
            except (ValueError, KeyError, TypeError) as exc:
                tally.fail(f"unreadable answer: {type(exc).__name__}: {exc}")
            else:
                tally.wrong += not ok
                tally.sent.append((start, sent, end))
        i += 1
    conn.close()


def run_phase(
    ep: Endpoint, model: str, feeds: Sequence[dict], check: Check, clients: int, seconds: float
) -> Phase:
    """``clients`` closed-loop clients for ``seconds``; what they saw."""
    bodies = [encode_infer(f) for f in feeds]
    stop = threading.Event()
    tallies = [ClientTally(k) for k in range(clients)]
    threads = [
        threading.Thread(
            target=_client, args=(ep, infer_path(model), bodies, check, stop, t), daemon=True
        )
        for t in tallies
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(ep.timeout_s + 5)
    return Phase(tallies, t0)
