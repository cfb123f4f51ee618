"""A small KServe v2 HTTP client for the load generator (ptx serve, Triton, KServe alike).

Standard library HTTP on purpose: one keep-alive connection per closed-loop
client thread, no event loop to share, and nothing to install. Tensors travel
with Triton's binary extension both ways, as perf_analyzer sends them.
"""

from __future__ import annotations

import http.client
import json
import re
from urllib.parse import urlparse

import numpy as np

from ptx.errors import InputError
from ptx.tensors import DTYPES, TensorInfo, from_kserve, from_numpy

_KSERVE = {d.kserve for d in DTYPES.values() if d.kserve}  # the datatypes a tensor can carry

HEADER_LENGTH = "Inference-Header-Content-Length"


class Endpoint:
    """Where a server lives and how to authenticate; opens connections to it."""

    def __init__(self, url: str, token: str | None = None, timeout_s: float = 60.0) -> None:
        parts = urlparse(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "") or not parts.hostname:
            raise InputError(f"--url '{url}': expected http://HOST:PORT (https is not supported)")
        self.url = f"http://{parts.hostname}:{parts.port or 80}"
        self.host, self.port = parts.hostname, parts.port or 80
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.timeout_s = timeout_s

    def connect(self) -> http.client.HTTPConnection:
        """A new keep-alive connection (opened lazily by the first request)."""
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)

    def get(self, path: str) -> tuple[int, bytes]:
        """(status, body) of one GET; an unreachable server is an InputError."""
        conn = self.connect()
        try:
            conn.request("GET", path, headers=self.headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise InputError(f"{self.url}: cannot reach the server ({exc})") from None
        finally:
            conn.close()

    def refuse(self, path: str, status: int, body: bytes) -> None:
        """Raise the one-line InputError for a non-200 answer."""
        if status == 401:
            raise InputError(f"{self.url}{path}: 401 unauthorised; give the server's --token")
        raise InputError(f"{self.url}{path}: HTTP {status} {_message(body)}")


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("error", ""))[:200]
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return body[:200].decode("utf-8", "replace")


def model_io(ep: Endpoint, model: str) -> tuple[list[TensorInfo], list[TensorInfo], dict]:
    """The model's inputs and outputs (-1 = dynamic) and its raw metadata."""
    status, body = ep.get(f"/v2/models/{model}")
    if status == 404:
        served = _served(ep)
        hint = f" (served: {', '.join(served)})" if served else ""
        raise InputError(f"{ep.url}: no model '{model}'{hint}")
    if status != 200:
        ep.refuse(f"/v2/models/{model}", status, body)
    meta = json.loads(body)

    def infos(key: str) -> list[TensorInfo]:
        out = []
        for t in meta.get(key, []):
            if t["datatype"] not in _KSERVE:
                raise InputError(f"model '{model}': {key[:-1]} '{t['name']}' is {t['datatype']}")
            shape = tuple(None if d < 0 else d for d in t["shape"])
            out.append(TensorInfo(t["name"], from_kserve(t["datatype"]).numpy, shape))
        return out

    return infos("inputs"), infos("outputs"), meta


def _served(ep: Endpoint) -> list[str]:
    """Names of the served models, from the all-models statistics route ([] when absent)."""
    try:
        status, body = ep.get("/v2/models/stats")
        entries = json.loads(body).get("model_stats", []) if status == 200 else []
        return [str(m["name"]) for m in entries if isinstance(m, dict) and "name" in m]
    except (InputError, json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return []


def encode_infer(feeds: dict[str, np.ndarray]) -> tuple[bytes, str]:
    """A binary-tensor infer body asking for binary outputs, and its JSON header length."""
    doc = {
        "inputs": [
            {
                "name": name,
                "shape": list(x.shape),
                "datatype": from_numpy(x.dtype).kserve,
                "parameters": {"binary_data_size": x.nbytes},
            }
            for name, x in feeds.items()
        ],
        "parameters": {"binary_data_output": True},
    }
    header = json.dumps(doc).encode()
    tensors = b"".join(np.ascontiguousarray(x).tobytes() for x in feeds.values())
    return header + tensors, str(len(header))


def decode_infer(body: bytes, header_len: str | None) -> dict[str, np.ndarray]:
    """Every output of an infer answer, binary or JSON."""
    n = int(header_len) if header_len else len(body)
    offset, out = n, {}
    for t in json.loads(body[:n])["outputs"]:
        dtype = from_kserve(t["datatype"]).numpy
        if "data" in t:
            out[t["name"]] = np.asarray(t["data"], dtype).reshape(t["shape"])
            continue
        size = t["parameters"]["binary_data_size"]
        out[t["name"]] = np.frombuffer(body[offset : offset + size], dtype).reshape(t["shape"])
        offset += size
    return out


def model_stats(ep: Endpoint, model: str) -> dict | None:
    """The model's statistics entry (Triton's extension), None when the server has none."""
    status, body = ep.get(f"/v2/models/{model}/stats")
    if status != 200:
        return None
    entries = json.loads(body).get("model_stats") or [None]
    return entries[0]


def resident_mib(ep: Endpoint) -> float | None:
    """The server's resident memory from /metrics (process collector), None when not exported."""
    status, body = ep.get("/metrics")
    if status != 200:
        return None
    m = re.search(rb"^process_resident_memory_bytes ([0-9.e+]+)$", body, re.MULTILINE)
    return float(m.group(1)) / 2**20 if m else None
