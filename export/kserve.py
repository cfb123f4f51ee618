"""A KServe InferenceService manifest (YAML) that serves a `ptx triton` repository on Triton.

The manifest names KServe's Triton runtime (model format ``triton``, protocol v2),
the storage URI the user uploaded the repository to, resources per replica and the
replica range. ptx writes the YAML itself (no PyYAML): a small block-style emitter
whose strings are JSON-quoted, which is valid YAML 1.2.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ptx.errors import InputError
from ptx.io import atomic_write_text

API_VERSION = "serving.kserve.io/v1beta1"
# KServe's storage initializer understands these schemes (storage.py); anything else fails
# inside the cluster long after `kubectl apply`, so it is refused here with one line.
STORAGE_SCHEMES = ("gs", "s3", "pvc", "hdfs", "webhdfs", "http", "https", "oci", "hf")
# An InferenceService name is a DNS-1035 label (it becomes a Service and a host name).
NAME_RE = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
QUANTITY_RE = re.compile(r"[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?")


@dataclass
class KServeReport:
    """Where the manifest went, what it serves and from where."""

    manifest: str
    name: str
    storage_uri: str
    models: list[str] = field(default_factory=list)
    min_replicas: int = 1
    max_replicas: int = 1

    def to_dict(self) -> dict:
        """JSON-able dict."""
        return asdict(self)


def service_name(name: str | None, repo: Path) -> str:
    """The InferenceService name: ``name`` checked, else one derived from the repository folder."""
    if name is None:
        name = re.sub(r"[^a-z0-9-]+", "-", repo.resolve().name.lower()).strip("-")
        name = re.sub(r"^[^a-z]+", "", name)[:63].rstrip("-") or "ptx-models"
    if not NAME_RE.fullmatch(name):
        raise InputError(
            f"--name {name[:80]!r}: an InferenceService name is 1-63 lower-case letters, "
            "digits or '-', starting with a letter and not ending with '-'"
        )
    return name


def check_storage_uri(uri: str) -> str:
    """``uri`` when its scheme is one KServe's storage initializer fetches, else InputError."""
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme not in STORAGE_SCHEMES or not uri.split("://", 1)[1].strip("/"):
        raise InputError(
            f"--storage-uri {uri!r}: use where you uploaded the repository, as "
            f"{', '.join(s + '://' for s in STORAGE_SCHEMES)}...  (e.g. s3://bucket/ptx-repo)"
        )
    return uri


def repository_models(repo: str | Path) -> list[str]:
    """The model entries of a Triton repository (folders holding a config.pbtxt)."""
    root = Path(repo)
    if not root.is_dir():
        raise InputError(f"{root}: no such repository folder; write one with `ptx triton`")
    models = sorted(p.parent.name for p in root.glob("*/config.pbtxt"))
    if not models:
        raise InputError(f"{root}: no model entries (no */config.pbtxt); run `ptx triton` first")
    return models


def _quantity(value: str, what: str) -> str:
    if not QUANTITY_RE.fullmatch(str(value)):
        raise InputError(f"--{what} {value!r}: a Kubernetes quantity such as 2, 500m or 4Gi")
    return str(value)


def inference_service(
    name: str,
    storage_uri: str,
    min_replicas: int = 1,
    max_replicas: int = 1,
    cpu: str = "2",
    memory: str = "4Gi",
    gpus: int = 0,
    runtime: str | None = None,
) -> dict[str, Any]:
    """The InferenceService as a dict: Triton runtime, v2 protocol, resources, replica range."""
    if min_replicas < 0 or max_replicas < max(1, min_replicas):
        raise InputError(
            f"replicas: need 0 <= --min-replicas <= --max-replicas and --max-replicas >= 1, "
            f"got {min_replicas} and {max_replicas}"
        )
    if gpus < 0:
        raise InputError(f"--gpus must be >= 0, got {gpus}")
    resources = {"cpu": _quantity(cpu, "cpu"), "memory": _quantity(memory, "memory")}
    if gpus:
        resources["nvidia.com/gpu"] = str(gpus)
    model: dict[str, Any] = {
        "modelFormat": {"name": "triton"},
        "protocolVersion": "v2",
        "storageUri": check_storage_uri(storage_uri),
        "resources": {"requests": dict(resources), "limits": dict(resources)},
    }
    if runtime:
        model["runtime"] = runtime
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "ptx"}},
        "spec": {
            "predictor": {
                "minReplicas": min_replicas,
                "maxReplicas": max_replicas,
                "model": model,
            }
        },
    }


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(str(value))  # a JSON string is a YAML double-quoted scalar


def to_yaml(value: Any, indent: int = 0) -> str:
    """Block-style YAML for dicts, lists and scalars (strings always quoted)."""
    pad = "  " * indent
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{key}:\n{to_yaml(item, indent + 1)}")
            else:
                lines.append(f"{pad}{key}: {_scalar(item) if item != {} else '{}'}")
    elif isinstance(value, list):
        for item in value:
            text = to_yaml(item, indent + 1).lstrip() if isinstance(item, dict) else _scalar(item)
            lines.append(f"{pad}- {text}")
    else:
        lines.append(pad + _scalar(value))
    return "\n".join(lines)


def write_kserve(
    repo: str | Path,
    storage_uri: str,
    out: str | Path | None = None,
    name: str | None = None,
    **resources: Any,
) -> KServeReport:
    """Write the InferenceService YAML for ``repo`` (default: beside it, NAME.kserve.yaml)."""
    repo = Path(repo)
    models = repository_models(repo)
    name = service_name(name, repo)
    isvc = inference_service(name, storage_uri, **resources)
    path = Path(out) if out is not None else repo.resolve().parent / f"{name}.kserve.yaml"
    if path.resolve().parent == repo.resolve():
        raise InputError(f"{path}: not inside the repository (Triton would see it); pick --out")
    header = f"# ptx kserve: Triton serving {', '.join(models)} from {storage_uri}\n"
    atomic_write_text(path, header + to_yaml(isvc) + "\n")
    predictor = isvc["spec"]["predictor"]
    return KServeReport(
        manifest=str(path),
        name=name,
        storage_uri=storage_uri,
        models=models,
        min_replicas=predictor["minReplicas"],
        max_replicas=predictor["maxReplicas"],
    )
