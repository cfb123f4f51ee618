"""The Engine interface every backend implements (NumPy in, NumPy out)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptx.errors import InputError
from ptx.spec import ModelSpec


@dataclass(frozen=True)
class TensorInfo:
    """An engine's input or output: name, NumPy dtype, shape (str or None = dynamic)."""

    name: str
    dtype: np.dtype
    shape: tuple[int | str | None, ...]

    def is_dynamic(self, axis: int) -> bool:
        """True when ``axis`` has no fixed size."""
        return not isinstance(self.shape[axis], int)


class Engine(ABC):
    """A loaded model ready to run. Backends: onnxruntime (CPU/CUDA), tensorrt."""

    backend: str = "?"

    def __init__(self, path: str | Path, spec: ModelSpec | None) -> None:
        self.path = Path(path)
        self.spec = spec

    @property
    @abstractmethod
    def inputs(self) -> list[TensorInfo]:
        """The model's inputs in declaration order."""

    @property
    @abstractmethod
    def outputs(self) -> list[TensorInfo]:
        """The model's outputs in declaration order."""

    @abstractmethod
    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch: input name -> array, returns output name -> array."""

    def __call__(self, *args: np.ndarray, **feeds: np.ndarray) -> dict[str, np.ndarray]:
        """Positional arrays bind to inputs in order; keywords bind by name."""
        names = [t.name for t in self.inputs]
        if len(args) > len(names):
            raise InputError(f"{len(args)} arrays given, model has {len(names)} inputs")
        feeds = {**dict(zip(names, args, strict=False)), **feeds}
        return self.run(feeds)

    def check_feeds(self, feeds: dict[str, np.ndarray]) -> None:
        """Raise InputError naming the input when names, ranks or fixed dims do not match."""
        expected = {t.name: t for t in self.inputs}
        missing = set(expected) - set(feeds)
        extra = set(feeds) - set(expected)
        if missing or extra:
            raise InputError(
                f"{self.path.name}: inputs {sorted(expected)} expected, got {sorted(feeds)}"
            )
        for name, arr in feeds.items():
            info = expected[name]
            if arr.ndim != len(info.shape):
                raise InputError(
                    f"{self.path.name}: input '{name}' needs rank {len(info.shape)} "
                    f"{list(info.shape)}, got shape {list(arr.shape)}"
                )
            for axis, (want, got) in enumerate(zip(info.shape, arr.shape, strict=True)):
                if isinstance(want, int) and want != got:
                    raise InputError(
                        f"{self.path.name}: input '{name}' axis {axis} must be {want}, got {got} "
                        f"(shape {list(arr.shape)})"
                    )

    def describe(self) -> str:
        """One line: backend and IO."""
        io = ", ".join(f"{t.name}{list(t.shape)}" for t in self.inputs)
        return f"{self.path.name} [{self.backend}] inputs: {io}"
