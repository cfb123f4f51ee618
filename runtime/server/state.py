"""What every route shares: the config, the served models, the metrics, readiness."""

from __future__ import annotations

from dataclasses import dataclass, field

from ptx.runtime.server.admission import MB, Budget
from ptx.runtime.server.config import ServerConfig
from ptx.runtime.server.http import HTTPError
from ptx.runtime.server.metrics import Metrics
from ptx.runtime.server.models import ServedModel


@dataclass
class ServerState:
    """The server's shared state (one per app)."""

    config: ServerConfig
    models: dict[str, ServedModel]
    metrics: Metrics
    draining: bool = False  # set on SIGTERM: not ready, in-flight work still finishes
    cache: dict = field(default_factory=dict)  # per-model route set-up, computed once
    memory: Budget = field(init=False)  # decoded bytes of admitted image requests
    bodies: Budget = field(init=False)  # request body bytes being received

    def __post_init__(self) -> None:
        cfg = self.config
        self.memory = Budget(
            int(cfg.max_request_mb * MB), int(cfg.max_inflight_mb * MB), "this image"
        )
        body_cap = int(cfg.max_inflight_body_mb * MB)
        self.bodies = Budget(body_cap, body_cap, "request bodies in flight")

    def model(self, name: str, version: str | None = None) -> ServedModel:
        """The served model ``name`` (404 with the list of names when there is none)."""
        found = self.models.get(name)
        if found is None:
            names = ", ".join(sorted(self.models)) or "none"
            raise HTTPError(404, f"unknown model '{name[:64]}' (served: {names})")
        if version not in (None, "", "1"):
            raise HTTPError(404, f"model '{name}' has no version '{version[:16]}' (only '1')")
        return found

    def cached(self, key: tuple, make):
        """``make()`` once per key (route set-up that depends only on the model)."""
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]
