"""runtime/backends/auto."""
