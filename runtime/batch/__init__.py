"""`ptx batch`: a catalogue-scale folder run on Ray Data (local Ray, or a cluster by address).

Ray is an optional extra (``pip install 'ptx[batch]'``), imported only when a run starts.
"""

from ptx.runtime.batch.job import TASKS, BatchSummary, run_batch
from ptx.runtime.batch.manifest import MANIFEST_NAME, Manifest
from ptx.runtime.batch.sources import plan_batch

__all__ = ["MANIFEST_NAME", "TASKS", "BatchSummary", "Manifest", "plan_batch", "run_batch"]
