"""Where ``backend="auto"`` keeps its decisions: one JSON file per model, keyed by trial.

A decision lives beside the model (``m.onnx.ptx-backend.json``), else in the
user cache folder when that folder is read-only; the file names the model's
sha256 and holds one entry per trial key (shape, threads, backend versions,
CPU), so a changed model, library or machine is measured again.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ptx.errors import InputError
from ptx.io import atomic_write_text, sha256_file

log = logging.getLogger("ptx.runtime")

CACHE_SUFFIX = ".ptx-backend.json"
CACHE_FORMAT = 1
_digests: dict[tuple, str] = {}


@dataclass
class Choice:
    """What ``auto`` picked for one model and shape, and why."""

    backend: str
    reason: str
    precision: str = "fp32"
    parity: dict[str, str] = field(default_factory=dict)  # rung -> gate figure vs FP32
    precision_note: str = ""  # why the reduced precisions were or were not taken
    fingerprint: dict[str, object] = field(default_factory=dict)  # the CPU it was measured on
    p25_ms: dict[str, float] = field(default_factory=dict)  # what decided
    medians_ms: dict[str, float] = field(default_factory=dict)
    rounds: int = 0
    shapes: dict[str, list[int]] = field(default_factory=dict)
    trial_s: float = 0.0
    cached: bool = False
    cache_file: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return asdict(self)

    def line(self) -> str:
        """One line for a summary: backend, why, and whether the trial was cached."""
        how = "cached trial" if self.cached else f"trial {self.trial_s:.1f} s"
        rung = self.backend if self.precision == "fp32" else f"{self.backend}:{self.precision}"
        gate = f"; parity {self.parity[rung]}" if rung in self.parity else ""
        note = f"; {self.precision_note}" if self.precision_note else ""
        return (
            f"backend {self.backend}, precision {self.precision} "
            f"(auto: {self.reason}{gate}{note}; {how})"
        )


def cache_root() -> Path:
    """ptx's user cache folder: $PTX_CACHE_DIR, else $XDG_CACHE_HOME/ptx, else ~/.cache/ptx."""
    if os.environ.get("PTX_CACHE_DIR"):
        return Path(os.environ["PTX_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ptx"


def model_digest(path: str | Path) -> str:
    """sha256 of the model file, remembered per (path, size, mtime) within this process."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _digests:
        _digests[key] = sha256_file(p)
    return _digests[key]


def trial_key(shapes: str, threads: int, versions: dict[str, str], cpu: str) -> str:
    """Cache key of one decision: what makes a measured ranking valid."""
    vs = ",".join(f"{k}={v}" for k, v in sorted(versions.items()))
    return f"{shapes}|threads={threads}|{vs}|cpu={cpu}"


# The models ptx ships (runtime/models/): their folder is the installed package, never a cache.
SHIPPED_MODELS = Path(__file__).resolve().parents[2] / "models"


def cache_files(path: Path, sha: str) -> list[Path]:
    """Where a decision may live: beside the model (not a shipped one), then the user cache."""
    user = cache_root() / "backend" / f"{sha[:16]}{CACHE_SUFFIX}"
    if Path(path).resolve().parent == SHIPPED_MODELS:
        return [user]
    return [path.with_name(path.name + CACHE_SUFFIX), user]


def read_choice(path: Path, sha: str, key: str) -> Choice | None:
    """The cached decision for ``key``, if a cache file for this exact model holds one."""
    for f in cache_files(path, sha):
        try:
            doc = json.loads(f.read_text())
            entry = doc["choices"][key] if doc.get("model_sha256") == sha else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # missing, unreadable or another model's file: look further, then measure
        if entry:
            try:
                return Choice(**{**entry, "cached": True, "cache_file": str(f)})
            except TypeError:
                continue
    return None


def write_choice(path: Path, sha: str, key: str, choice: Choice) -> Path | None:
    """Record ``choice`` atomically beside the model, else in the user cache; None if neither."""
    entry = {k: v for k, v in choice.to_dict().items() if k not in ("cached", "cache_file")}
    for f in cache_files(path, sha):
        try:
            doc = json.loads(f.read_text()) if f.exists() else {}
            if doc.get("model_sha256") != sha or not isinstance(doc.get("choices"), dict):
                doc = {"format": CACHE_FORMAT, "model_sha256": sha, "choices": {}}
        except (OSError, ValueError, AttributeError):
            doc = {"format": CACHE_FORMAT, "model_sha256": sha, "choices": {}}
        doc["choices"][key] = entry
        try:
            atomic_write_text(f, json.dumps(doc, indent=2) + "\n")
        except (OSError, InputError) as exc:  # a read-only folder: try the next place
            why = getattr(exc, "strerror", None) or exc
            log.info("backend choice not cached in %s: %s", f.parent, why)
            continue
        return f
    return None
