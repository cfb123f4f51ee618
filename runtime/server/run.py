"""Run the app on uvicorn: in the foreground with graceful SIGTERM, or on a background thread."""

from __future__ import annotations

import signal
import socket
import threading
import time

from ptx.errors import InputError
from ptx.runtime.server.admission import protocol_class
from ptx.runtime.server.config import ServerConfig

LOOPBACK = "127.0.0.1"


def _uvicorn_config(app, config: ServerConfig, log_level: str, access_log: bool):
    import uvicorn

    return uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_level=log_level,
        access_log=access_log,
        lifespan="on",
        # In-flight requests get their own timeout to finish before workers stop.
        timeout_graceful_shutdown=int(config.timeout_s) + 5,
        server_header=False,
        # Slow clients: headers within header_timeout_s or the connection is closed (the
        # body's own deadline and the in-flight body cap are the app's, admission.py).
        http=protocol_class(config.header_timeout_s),
        limit_concurrency=config.max_connections,
    )


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn, marking the app not-ready on SIGTERM and exiting 0 after the drain."""

        def __init__(self, config, state) -> None:
            super().__init__(config)
            self.ptx_state = state

        def handle_exit(self, sig, frame) -> None:
            self.ptx_state.draining = True
            super().handle_exit(sig, frame)
            if sig == signal.SIGTERM and sig in self._captured_signals:
                # A finished graceful drain is a clean exit, not a death by signal.
                self._captured_signals.remove(sig)

    return Server


def check_port_free(host: str, port: int, what: str) -> None:
    """One InputError line when ``host:port`` cannot be bound now (taken, or not our address).

    The gRPC port binds inside the app's startup, where a failure would surface as a
    traceback; checking first keeps the common case (a taken port) to one line.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC binds
            probe.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(f"cannot listen for {what} on {host}:{port}: {reason}") from None


def serve_forever(
    app, config: ServerConfig, log_level: str = "info", access_log: bool = False
) -> None:
    """Serve until SIGTERM/SIGINT; in-flight requests finish before the models are released."""
    server = _server_class()(_uvicorn_config(app, config, log_level, access_log), app.state.ptx)
    try:
        server.run()
    except OSError as exc:  # the port is taken, or the address is not ours
        raise InputError(f"cannot listen on {config.host}:{config.port}: {exc.strerror}") from exc
    if not server.started:
        raise InputError(
            f"server on {config.host}:{config.port} did not start (see messages above)"
        )


class BackgroundServer:
    """The app on an ephemeral loopback port in a thread (tests, benchmarks); a context manager."""

    def __init__(self, app, config: ServerConfig | None = None, start_timeout_s: float = 20.0):
        cfg = config or app.state.ptx.config
        # proto must say TCP: asyncio sets TCP_NODELAY only then, else every response
        # written in two parts waits ~40 ms for a delayed ACK.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOOPBACK, 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://{LOOPBACK}:{self.port}"
        uv = _uvicorn_config(app, cfg, "warning", False)
        self.server = _server_class()(uv, app.state.ptx)
        self.thread = threading.Thread(target=self._run, name="ptx-serve", daemon=True)
        self.start_timeout_s = start_timeout_s
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException as exc:  # surfaced by start()
            self.error = exc

    def start(self) -> BackgroundServer:
        """Start and wait until the server accepts connections."""
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout_s
        while not self.server.started:
            if self.error is not None or not self.thread.is_alive():
                raise RuntimeError(f"server thread died: {self.error!r}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start within {self.start_timeout_s} s")
            time.sleep(0.01)
        return self

    @property
    def grpc_url(self) -> str:
        """``127.0.0.1:PORT`` of the KServe v2 gRPC service (a config with grpc_port set)."""
        grpc = getattr(self.server.config.app.state, "grpc", None)
        if grpc is None or grpc.port is None:
            raise RuntimeError("this server has no gRPC port (set ServerConfig.grpc_port)")
        return f"{LOOPBACK}:{grpc.port}"

    def stop(self, timeout_s: float = 30.0) -> None:
        """Graceful stop: finish in-flight requests, release the models, join the thread."""
        self.server.should_exit = True
        self.thread.join(timeout_s)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
