"""ptx.export: torch to ONNX, precision, validation, ONNX to TensorRT, Triton repositories."""
