"""ptx.training: synthetic data, degradations, model families and training loops."""
