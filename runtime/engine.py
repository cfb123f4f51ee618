"""The Engine interface every backend implements (NumPy in, NumPy out), and its options.

Input dtypes: a floating array fed to a floating input of another width (the
usual float64 from NumPy, or float32 to an FP16 model) is cast once to the
input's dtype; an integer array is widened when the cast is safe (int32 →
int64). Anything else (float to int, int to float, a narrowing int cast) is an
InputError naming the input. Checks on the hot path are one dtype comparison
per input; the detailed shape checks run only when the backend rejects a feed,
to turn its message into one clear line.

Backends declare what they take and what they can do instead of being probed:
``Options`` (a frozen dataclass of typed fields; an option a backend does not
declare is one InputError line naming those it does), ``device_arrays`` (True
when ``run_device`` takes GPU arrays), ``prepare(shapes)`` (ready a shape ahead of
the first call; False when there is nothing to do), ``choice`` (what ``auto``
measured, else None) and ``device``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, get_args, get_type_hints

import numpy as np

from ptx.errors import InputError, ModelError
from ptx.spec import ModelSpec
from ptx.tensors import TensorInfo

if TYPE_CHECKING:  # auto's record; the engine only carries it
    from ptx.runtime.backends.auto.cache import Choice

__all__ = ["Engine", "EngineOptions", "TensorInfo", "castable", "coerce_dtype"]


def unknown_options(unknown: list[str], who: str, takes: list[str]) -> InputError:
    """The one line for options nobody declares: which, for whom, and what is taken."""
    offered = ", ".join(sorted(takes)) or "none"
    return InputError(
        f"unknown engine option(s) {', '.join(sorted(unknown))} for {who} (it takes: {offered})"
    )


@dataclass(frozen=True)
class EngineOptions:
    """A backend's declared options (this base declares none); backends add typed fields."""

    def __post_init__(self) -> None:
        hints = get_type_hints(type(self))
        for f in fields(self):
            allowed = get_args(hints[f.name]) or (hints[f.name],)
            if Any in allowed:
                continue
            value = getattr(self, f.name)
            if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
                names = " or ".join("None" if a is type(None) else a.__name__ for a in allowed)
                raise InputError(f"engine option {f.name}={value!r}: needs {names}")

    @classmethod
    def names(cls) -> list[str]:
        """The option names this backend declares."""
        return [f.name for f in fields(cls)]

    @classmethod
    def declared(cls, options: Mapping[str, object]) -> dict[str, object]:
        """The part of ``options`` this backend declares (``auto`` hands each its own)."""
        known = set(cls.names())
        return {k: v for k, v in options.items() if k in known}

    @classmethod
    def of(
        cls,
        options: Mapping[str, object],
        who: str = "this backend",
        base: EngineOptions | None = None,
    ) -> EngineOptions:
        """``options`` checked against the declaration (on top of ``base``), or one InputError."""
        unknown = sorted(set(options) - set(cls.names()))
        if unknown:
            raise unknown_options(unknown, who, cls.names())
        return replace(base, **options) if base is not None else cls(**options)


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
    """A loaded model ready to run (see the module docstring for what a backend declares)."""

    backend: ClassVar[str] = "?"
    Options: ClassVar[type[EngineOptions]] = EngineOptions
    device_arrays: ClassVar[bool] = False  # True: run_device takes GPU arrays
    device: str = "cpu"
    choice: Choice | None = None  # set by ``auto`` when it measured (or recalled) the pick

    def __init__(self, path: str | Path, spec: ModelSpec | None) -> None:
        self.path = Path(path)
        self.spec = spec
        self.closed = False

    @classmethod
    def resolve_options(
        cls, given: EngineOptions | None, kwargs: Mapping[str, object]
    ) -> EngineOptions:
        """The engine's options: ``given`` (or the defaults) with ``kwargs`` checked on top."""
        if given is not None and not isinstance(given, cls.Options):
            raise InputError(
                f"the {cls.backend} backend takes {cls.Options.__name__}, "
                f"got {type(given).__name__}"
            )
        return cls.Options.of(kwargs, f"the {cls.backend} backend", given)

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

    def run_device(
        self, feeds: dict[str, Any], outputs: dict[str, Any] | None = None, stream: Any = None
    ) -> dict[str, Any]:
        """Run on GPU arrays; only engines with ``device_arrays`` have this path."""
        raise ModelError(
            f"{self.path.name}: the {self.backend} backend has no GPU path; "
            "use a .plan (TensorRT) or onnxruntime-gpu, or the CPU pipeline"
        )

    def prepare(self, shapes: dict[str, tuple[int, ...]]) -> bool:
        """Get ready for inputs of ``shapes`` before the first call; False: nothing to do."""
        return False

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
