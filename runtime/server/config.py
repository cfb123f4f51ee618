"""What `ptx serve` was asked to do: models, address, batching, limits."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from ptx.errors import InputError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEVICE_RE = re.compile(r"^(cpu|cuda(:[0-9]+)?)$")
GRPC_FRONTENDS = ("auto", "native", "python")  # auto: native once built (`make grpc-native`)


@dataclass
class ServerConfig:
    """Every `ptx serve` setting; defaults are the CLI's."""

    models: dict[str, Path] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 8000
    grpc_port: int | None = None  # KServe v2 gRPC beside HTTP (0 = any free port)
    grpc_frontend: str = "auto"  # native (C++), python (grpc.aio), auto: native once built
    max_batch: int = 8
    max_delay_us: int = 2000
    instances: int = 1
    queue: int = 64
    timeout_s: float = 30.0
    max_body_mb: float = 32.0
    max_pixels: int = 50_000_000
    token: str | None = None
    backend: str = "auto"
    device: str | None = None  # cpu, cuda, cuda:N; None: cuda for a .plan, cpu otherwise
    precision: str = "auto"  # auto, fp32, bf16, fp16 (ptx.runtime.load's precision)
    # The auto trial's input shapes (--trial-shape): the served size, not the spec's opt.
    trial_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    threads: int | None = None  # intra-op threads per instance (default: cores / instances)
    max_images: int = 64  # most images one generate request may ask for
    # Admission by decoded bytes (decoded pixels, model tensors and an activation estimate).
    max_request_mb: float = 2048.0  # one image request's estimate; over it: 413
    max_inflight_mb: float = 4096.0  # all admitted image requests together; over it: 503
    activation_factor: float = 4.0  # activations as a multiple of the input tensor's bytes
    # Slow clients: a connection must send its headers, and a request its body, in time.
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 1000  # open connections + running requests (uvicorn's cap); 503 over
    max_inflight_body_mb: float = 512.0  # request bodies being received at once; 503 over
    allow_public: bool = False  # a non-loopback host without --token only with this set

    def __post_init__(self) -> None:
        checks = (
            (self.max_batch >= 1, f"--max-batch must be >= 1, got {self.max_batch}"),
            (self.max_delay_us >= 0, f"--max-delay-us must be >= 0, got {self.max_delay_us}"),
            (self.instances >= 1, f"--instances must be >= 1, got {self.instances}"),
            (self.queue >= 1, f"--queue must be >= 1, got {self.queue}"),
            (self.timeout_s > 0, f"--timeout-s must be > 0, got {self.timeout_s}"),
            (self.max_body_mb > 0, f"--max-body-mb must be > 0, got {self.max_body_mb}"),
            (self.max_pixels >= 1, f"--max-pixels must be >= 1, got {self.max_pixels}"),
            (0 <= self.port <= 65535, f"--port must be 0..65535, got {self.port}"),
            (
                self.grpc_port is None or 0 <= self.grpc_port <= 65535,
                f"--grpc-port must be 0..65535, got {self.grpc_port}",
            ),
            (
                self.grpc_port is None or self.grpc_port == 0 or self.grpc_port != self.port,
                f"--grpc-port {self.grpc_port} is the HTTP --port too; give each its own",
            ),
            (
                self.grpc_frontend in GRPC_FRONTENDS,
                f"--grpc-frontend must be one of {', '.join(GRPC_FRONTENDS)}, "
                f"got '{self.grpc_frontend}'",
            ),
            (self.token is None or len(self.token) >= 8, "--token must be at least 8 characters"),
            (self.max_request_mb > 0, f"--max-request-mb must be > 0, got {self.max_request_mb}"),
            (
                self.max_inflight_mb > 0,
                f"--max-inflight-mb must be > 0, got {self.max_inflight_mb}",
            ),
            (
                self.device is None or bool(DEVICE_RE.match(self.device)),
                f"--device must be cpu, cuda or cuda:N, got '{self.device}'",
            ),
            (self.activation_factor >= 0, "activation_factor must be >= 0"),
            (self.header_timeout_s > 0, "--header-timeout-s must be > 0"),
            (self.body_timeout_s > 0, "--body-timeout-s must be > 0"),
            (self.max_connections >= 1, "--max-connections must be >= 1"),
            (self.max_inflight_body_mb > 0, "--max-inflight-body-mb must be > 0"),
            (
                self.token is not None or self.allow_public or is_loopback(self.host),
                f"refusing to serve on {self.host} without --token: anyone who can reach it "
                f"could use it; give --token, bind 127.0.0.1, or say --allow-public",
            ),
        )
        for ok, message in checks:
            if not ok:
                raise InputError(message)

    @property
    def max_body_bytes(self) -> int:
        """The body limit in bytes."""
        return int(self.max_body_mb * 1024 * 1024)


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_model_arg(text: str) -> tuple[str, Path]:
    """``NAME=path`` (or a bare path, named after its stem) → (name, path)."""
    name, sep, path = text.partition("=")
    if not sep:
        name, path = Path(text).stem, text
    if not NAME_RE.match(name):
        raise InputError(
            f"--model '{text}': name '{name}' must be 1-64 letters, digits, '_', '.' or '-'"
        )
    if not path:
        raise InputError(f"--model '{text}': give a path after '=' (NAME=model.onnx)")
    if name == "stats":  # /v2/models/stats is the all-models statistics route
        raise InputError(f"--model '{text}': 'stats' is a reserved name; pick another")
    return name, Path(path)


def parse_models(args: list[str] | tuple[str, ...]) -> dict[str, Path]:
    """Every ``--model`` argument, refusing none or a name given twice."""
    if not args:
        raise InputError("give at least one --model NAME=path.onnx")
    models: dict[str, Path] = {}
    for arg in args:
        name, path = parse_model_arg(arg)
        if name in models:
            raise InputError(f"--model: name '{name}' is given twice; names must be unique")
        models[name] = path
    return models
