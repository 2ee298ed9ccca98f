"""Many independent problems at once on joblib (worker processes on one machine, a Dask
cluster through ``joblib.parallel_config(backend="dask")``).

:func:`map_problems` maps a solver over problems with per-problem seeds and capped
worker threads; :func:`sinkhorn_many` first groups OT problems that share a cost matrix
into batched Sinkhorn calls. For Dask futures (shared data scattered once, streaming
results, retries) see :mod:`numopt.distributed`.
"""

from ._api import map_problems, sinkhorn_many

__all__ = ["map_problems", "sinkhorn_many"]
