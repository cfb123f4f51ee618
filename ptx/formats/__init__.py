"""ptx/formats."""
