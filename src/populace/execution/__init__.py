"""Where minds run: in this process (``local``) or in Ray workers (``ray``).

Results do not depend on the executor. A mind declared with ``shards: K`` is split into K
shards by agent id, each with its own random stream; the local executor runs the same K shards in
this process, the Ray executor in K actors. The split is part of the scenario, where the shards
run is not, so the same seed and cache give bit-identical runs on a laptop and on a cluster.
"""

from populace.execution.base import Executor, executors
from populace.execution.local import LocalExecutor

__all__ = ["Executor", "LocalExecutor", "executors"]
