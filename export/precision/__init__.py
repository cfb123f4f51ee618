"""export/precision."""
