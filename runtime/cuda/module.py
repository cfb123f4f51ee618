"""Load compiled kernels (cubin or PTX) and launch them with checked return codes."""

from __future__ import annotations

from typing import Any

import numpy as np

from ptx.runtime.cuda.api import call_driver, last_error


class Module:
    """A loaded cubin / PTX image in the current context, and its kernels by name."""

    def __init__(self, image: bytes) -> None:
        # cuModuleLoadData wants PTX NUL-terminated; cubins are taken as they are.
        data = image if image[:4] == b"\x7fELF" else image.rstrip(b"\0") + b"\0"
        self._image = np.frombuffer(data, dtype=np.uint8)  # kept alive beside the module
        self.handle = call_driver("cuModuleLoadData", self._image.ctypes.data)
        self._functions: dict[str, Any] = {}

    def function(self, name: str) -> Any:
        """The CUfunction ``name`` (an ``extern "C"`` entry point)."""
        if name not in self._functions:
            self._functions[name] = call_driver("cuModuleGetFunction", self.handle, name.encode())
        return self._functions[name]

    def launch(
        self,
        name: str,
        grid: tuple[int, int, int],
        block: tuple[int, int, int],
        args: list[tuple[int | float, type]],
        stream: int = 0,
        shared_bytes: int = 0,
    ) -> None:
        """Launch ``name`` with (value, NumPy scalar type) arguments; checks the launch."""
        holders = [np.array([value], dtype=kind) for value, kind in args]
        pointers = np.array([h.ctypes.data for h in holders], dtype=np.uint64)
        call_driver(
            "cuLaunchKernel", self.function(name), *grid, *block, shared_bytes, stream,
            pointers.ctypes.data, 0,
        )  # fmt: skip
        last_error(f"launch of {name}")

    def close(self) -> None:
        """Unload the module."""
        if self.handle is not None:
            handle, self.handle = self.handle, None
            call_driver("cuModuleUnload", handle)
