"""Task pipelines over an Engine: decode → pre-process → run → post-process → write."""

from ptx.runtime.pipelines.batching import RunSummary

__all__ = ["RunSummary"]
