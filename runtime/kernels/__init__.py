"""Pre/post-processing CUDA kernels (plain ``extern "C"`` .cu files), NVRTC-compiled.

preprocess.cu: uint8 HWC (RGB/BGR, any size) → resize (bilinear up, area down) →
normalise → NCHW/NHWC → FP16/FP32, letterboxed or reflect-padded to the profile's shape.
postprocess.cu: the reverse (crop, resize back, denormalise, clamp, uint8 HWC).
``reference.py`` is the NumPy definition both are tested against.
"""

from ptx.runtime.kernels.params import (
    PostParams,
    PreParams,
    inverse_params,
    letterbox_params,
    pad_params,
)

__all__ = ["PostParams", "PreParams", "inverse_params", "letterbox_params", "pad_params"]
