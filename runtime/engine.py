"""The Engine interface every backend implements (NumPy in, NumPy out).

Input dtypes: a floating array fed to a floating input of another width (the
usual float64 from NumPy, or float32 to an FP16 model) is cast once to the
input's dtype; an integer array is widened when the cast is safe (int32 →
int64). Anything else (float to int, int to float, a narrowing int cast) is an
InputError naming the input. Checks on the hot path are one dtype comparison
per input; the detailed shape checks run only when the backend rejects a feed,
to turn its message into one clear line.
"""

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


def castable(got: np.dtype, want: np.dtype) -> bool:
    """True when the engine casts ``got`` to ``want`` by itself (see the module docstring)."""
    if got == want or (got.kind == "f" and want.kind == "f"):
        return True
    return got.kind in "iu" and want.kind in "iu" and bool(np.can_cast(got, want, "safe"))


def coerce_dtype(name: str, arr: np.ndarray, want: np.dtype) -> np.ndarray:
    """Cast ``arr`` to ``want`` under the rule in the module docstring, or raise InputError."""
    arr = np.asarray(arr)
    if arr.dtype == want:
        return arr
    if castable(arr.dtype, want):
        return arr.astype(want)
    raise InputError(
        f"input '{name}' needs {want.name}, got {arr.dtype.name}: "
        f"convert it (arr.astype(np.{want.name}))"
    )


class Engine(ABC):
    """A loaded model ready to run. Backends: onnxruntime (CPU/CUDA); tensorrt later."""

    backend: str = "?"

    def __init__(self, path: str | Path, spec: ModelSpec | None) -> None:
        self.path = Path(path)
        self.spec = spec
        self.closed = False

    # Backends fill these in once, at load; reading them must cost nothing per call.
    _inputs: list[TensorInfo]
    _outputs: list[TensorInfo]

    @property
    def inputs(self) -> list[TensorInfo]:
        """The model's inputs in declaration order."""
        return self._inputs

    @property
    def outputs(self) -> list[TensorInfo]:
        """The model's outputs in declaration order."""
        return self._outputs

    @abstractmethod
    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch: input name -> array, returns output name -> array."""

    def __call__(self, *args: np.ndarray, **feeds: np.ndarray) -> dict[str, np.ndarray]:
        """Positional arrays bind to inputs in order; keywords bind by name."""
        names = [t.name for t in self.inputs]
        if len(args) > len(names):
            raise InputError(f"{len(args)} arrays given, model has {len(names)} inputs")
        return self.run({**dict(zip(names, args, strict=False)), **feeds})

    def check_feeds(self, feeds: dict[str, np.ndarray]) -> None:
        """Raise InputError naming the input whose name, rank, fixed dims or dtype is wrong."""
        expected = {t.name: t for t in self.inputs}
        if set(expected) != set(feeds):
            raise InputError(
                f"{self.path.name}: inputs {sorted(expected)} expected, got {sorted(feeds)}"
            )
        for name, arr in feeds.items():
            info = expected[name]
            shape = list(np.shape(arr))
            if len(shape) != len(info.shape):
                raise InputError(
                    f"{self.path.name}: input '{name}' needs rank {len(info.shape)} "
                    f"{list(info.shape)}, got shape {shape}"
                )
            for axis, (want, got) in enumerate(zip(info.shape, shape, strict=True)):
                if isinstance(want, int) and want != got:
                    raise InputError(
                        f"{self.path.name}: input '{name}' axis {axis} must be {want}, got {got} "
                        f"(shape {shape})"
                    )
            got = np.asarray(arr).dtype
            if not castable(got, info.dtype):
                raise InputError(
                    f"{self.path.name}: input '{name}' needs {info.dtype.name}, got {got.name}: "
                    f"convert it (arr.astype(np.{info.dtype.name}))"
                )

    def describe(self) -> str:
        """One line: backend and IO."""
        io = ", ".join(f"{t.name}{list(t.shape)}:{t.dtype.name}" for t in self.inputs)
        return f"{self.path.name} [{self.backend}] inputs: {io}"

    def close(self) -> None:
        """Release the backend's resources (the engine is unusable afterwards)."""
        self.closed = True

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
