"""ptx: product-photo image models from PyTorch to fast inference."""

__version__ = "0.1.0"
