"""What the export commands share: one way to print a report, and the text `ptx inspect` shows."""

from __future__ import annotations

import json
from typing import Any

import click


def emit(data: dict[str, Any], as_json: bool, line: str) -> None:
    """Print ``data`` as JSON, or ``line`` for people."""
    click.echo(json.dumps(data, indent=2, default=str) if as_json else line)


def describe(info: dict[str, Any]) -> str:
    """The lines `ptx inspect` prints for an inspect_model description (.onnx or .plan)."""
    if info["kind"] == "plan":
        side = info.get("sidecar") or {}
        head = (
            f"{info['path']}: TensorRT plan, {info['bytes']} bytes, "
            f"{side.get('trt_module', '?')} {side.get('trt_version', '?')}, "
            f"targets {', '.join(side.get('compute_capabilities', [])) or '?'}"
        )
        io = side.get("inputs", []) + side.get("outputs", [])
        lines = [head] + [f"  {t['name']}: {t['dtype']} {t['shape']}" for t in io]
        engine = info["engine"]
        lines.append(
            f"  engine: {len(engine.get('layers', []))} layers"
            if engine["read"]
            else f"  engine not read: {engine['reason']}"
        )
        return "\n".join(lines + ([f"  {info['note']}"] if info.get("note") else []))
    p = info["precision"]
    lines = [
        f"{info['path']}: ONNX, {info['nodes']} nodes ({p['fp16']} FP16, {p['fp32']} FP32, "
        f"{p['cast']} Cast), task {(info['spec'] or {}).get('task', 'unknown (no spec)')}"
    ]
    lines += [f"  in  {t['name']}: {t['dtype']} {t['shape']}" for t in info["inputs"]]
    lines += [f"  out {t['name']}: {t['dtype']} {t['shape']}" for t in info["outputs"]]
    lines.append("  ops: " + ", ".join(f"{k} {v}" for k, v in info["ops"].items()))
    return "\n".join(lines)
