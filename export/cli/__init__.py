"""export/cli."""
