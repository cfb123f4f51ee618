"""TensorRT backend: ``.plan`` files through ptx.formats.tensorrt (tensorrt or tensorrt_rtx).

Importing this needs neither TensorRT nor CUDA; both load when an engine is made.
"""

from ptx.runtime.backends.tensorrt.compat import (
    check_gpu,
    check_plan,
    parse_capability,
    targets_allow,
)
from ptx.runtime.backends.tensorrt.engine import TensorRTEngine
from ptx.runtime.backends.tensorrt.shapes import (
    Chunk,
    Profile,
    plan_chunks,
    select_profile,
    validate_shapes,
)

__all__ = [
    "Chunk",
    "Profile",
    "TensorRTEngine",
    "check_gpu",
    "check_plan",
    "parse_capability",
    "plan_chunks",
    "select_profile",
    "targets_allow",
    "validate_shapes",
]
