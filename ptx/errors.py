"""Errors that reach the user as one clear line and a non-zero exit."""

from __future__ import annotations

import importlib


class PtxError(Exception):
    """Base class: the message says what went wrong, where, and what to do."""

    exit_code = 2


class InputError(PtxError):
    """Bad user input: a flag, a shape, a path that does not exist."""


class ImageError(PtxError):
    """An image that cannot be decoded, is truncated, or is too large."""


class ModelError(PtxError):
    """A model file that is missing, corrupt, or of the wrong kind."""


class SpecError(PtxError):
    """A ModelSpec that is malformed or from a newer ptx."""


class ExportError(PtxError):
    """Export failed or its parity check did not pass."""


class BuildError(PtxError):
    """A TensorRT engine build failed."""


class MissingDependency(PtxError):
    """An optional package is needed for this command."""

    def __init__(self, package: str, extra: str | None, purpose: str, install: str = "") -> None:
        how = install or (f"pip install 'ptx[{extra}]'" if extra else f"pip install {package}")
        super().__init__(f"{purpose} needs the '{package}' package: {how}")
        self.package = package
        self.extra = extra


def require(module: str, extra: str, purpose: str):
    """Import an optional module or raise MissingDependency with an install hint."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependency(module.split(".")[0], extra, purpose) from exc
