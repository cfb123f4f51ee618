"""export/pytorch."""
