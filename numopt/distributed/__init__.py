"""Dask-only helpers (the ``distributed`` extra: ``pip install "numopt[distributed]"``).

Importing this module does not import dask; its functions do, and raise an
``ImportError`` naming the extra when dask.distributed is missing. For problems that
need no shared data, :func:`numopt.parallel.map_problems` inside
``joblib.parallel_config(backend="dask")`` runs on the same cluster.
"""

from ._api import map_problems

__all__ = ["map_problems"]
