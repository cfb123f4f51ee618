"""User models for export: `FILE.py:factory` or `package.module:factory`, weights, `--input` decls.

A factory is any callable that takes no arguments and returns a ``torch.nn.Module``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ptx.errors import InputError, require
from ptx.tensors import INT_DTYPES, SPEC_DTYPES, dtype, parse_shape

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_INPUT_HELP = "expected NAME:DIMS[:DTYPE[:HIGH]], e.g. x:1x3x256x256 or label:1:int64:10"
_TARGET_HELP = "use path/to/file.py:factory or package.module:factory"


@dataclass(frozen=True)
class InputDecl:
    """One model input for export: name, example shape, dtype, and for integers the value bound."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    high: int | None = None  # integer inputs are drawn from 0..high-1 (labels, indices)


def _input_dtype(text: str, name: str) -> str:
    """The spec dtype ``name`` means (aliases such as ``half`` allowed), or one InputError."""
    try:
        dt = dtype(name).name
    except InputError:
        dt = None
    if dt not in SPEC_DTYPES:
        raise InputError(
            f"--input '{text}': unknown dtype '{name}' for a model input "
            f"(use one of {', '.join(SPEC_DTYPES)})"
        )
    return dt


def parse_input(text: str) -> InputDecl:
    """Parse `x:1x3x256x256`, `label:1:int64` or `label:1:int64:10` into an InputDecl.

    DIMS and DTYPE use ptx.tensors' vocabulary (``1x3x8x8``, ``float16`` or ``half``); an
    empty DIMS is a scalar.
    """
    parts = text.strip().split(":")
    if len(parts) < 2 or len(parts) > 4:
        raise InputError(f"--input '{text}': {_INPUT_HELP}")
    name, dims = parts[0], parts[1]
    if not _NAME.match(name):
        raise InputError(f"--input '{text}': '{name}' is not a valid input name; {_INPUT_HELP}")
    try:
        shape = parse_shape(dims, f"--input '{text}': dims") if dims else ()
    except InputError as exc:
        raise InputError(f"{exc}; {_INPUT_HELP}") from None
    dt = _input_dtype(text, parts[2]) if len(parts) > 2 else "float32"
    high = None
    if len(parts) == 4:
        if dt not in INT_DTYPES:
            raise InputError(f"--input '{text}': a value bound only applies to integer dtypes")
        try:
            high = int(parts[3])
        except ValueError:
            high = 0
        if high < 1:
            raise InputError(f"--input '{text}': HIGH must be an integer >= 1 (values 0..HIGH-1)")
    return InputDecl(name, shape, dt, high)


def _import_file(path: Path) -> Any:
    """Import a .py file under a unique module name (two user files may share a stem)."""
    if not path.is_file():
        raise InputError(f"model file {path} does not exist; {_TARGET_HELP}")
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    name = f"ptx_user_model_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"{path}: cannot be imported as a Python module; {_TARGET_HELP}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up here
    # The file's folder goes on sys.path while it runs, so it can import its siblings.
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise InputError(f"{path}: importing it failed: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.path.remove(str(path.resolve().parent))
    return module


def _import_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise InputError(f"cannot import module '{name}': {exc}; {_TARGET_HELP}") from exc
    except Exception as exc:
        raise InputError(
            f"module '{name}': importing it failed: {type(exc).__name__}: {exc}"
        ) from exc


def load_factory(target: str) -> Callable[[], Any]:
    """The callable named by `path/to/file.py:factory` or `package.module:factory`."""
    where, sep, attr = target.rpartition(":")
    if not sep or not where or not attr:
        raise InputError(f"--model '{target}' names no factory; {_TARGET_HELP}")
    is_file = where.endswith(".py") or "/" in where or "\\" in where
    module = _import_file(Path(where)) if is_file else _import_module(where)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            found = sorted(
                k for k, v in vars(module).items() if callable(v) and not k.startswith("_")
            )
            raise InputError(
                f"{where} has no '{attr}' (callables there: {', '.join(found) or 'none'})"
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise InputError(f"{where}:{attr} is a {type(obj).__name__}, not a callable factory")
    return obj


def _read_state(weights: Path) -> dict[str, Any]:
    """A flat name -> tensor dict from .safetensors or a torch state dict (.pt/.pth/.bin)."""
    torch = require("torch", "export", "loading model weights")
    if not weights.is_file():
        raise InputError(f"weights file {weights} does not exist")
    try:
        if weights.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(weights))
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(
            f"{weights}: cannot read weights ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
            "give a .safetensors file or a torch state dict saved with torch.save"
        ) from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # Lightning-style checkpoints nest the weights
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise InputError(f"{weights}: not a state dict (name -> tensor); save model.state_dict()")
    return state


def _few(keys: list[str], n: int = 4) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f", ... {len(keys) - n} more" if len(keys) > n else "")


def load_weights(module: Any, weights: Path) -> None:
    """Load weights strictly, with one line naming missing, unexpected or mis-shaped keys."""
    state = _read_state(weights)
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} key(s) ({_few(missing)})")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} key(s) ({_few(unexpected)})")
    shaped = [
        f"{k} {list(state[k].shape)} vs model {list(own[k].shape)}"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if shaped:
        problems.append(f"{len(shaped)} shape mismatch(es) ({_few(shaped, 2)})")
    if problems:
        raise InputError(
            f"{weights} does not fit the model: {'; '.join(problems)}; "
            "check that the factory builds the architecture these weights were saved from"
        )
    module.load_state_dict(state, strict=True)


def build_user_model(target: str, weights: Path | None = None) -> Any:
    """Call the factory, check it returned an nn.Module, load weights, and set eval mode."""
    torch = require("torch", "export", "exporting a PyTorch model")
    factory = load_factory(target)
    try:
        module = factory()
    except Exception as exc:
        raise InputError(f"factory '{target}' raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(module, torch.nn.Module):
        raise InputError(
            f"factory '{target}' returned a {type(module).__name__}, not a torch.nn.Module"
        )
    if weights is not None:
        load_weights(module, Path(weights))
    return module.eval()
