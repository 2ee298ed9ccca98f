"""Numba's on-disk cache, invalidated by the files a kernel module inlines from.

Numba keys a cached function on the content of its *own* source file only (the
"source stamp" of its cache locator): a kernel that inlines a formula from another
module (``@njit(inline="always")`` helpers, structref methods) keeps loading the old
machine code after that formula is edited, until ``__pycache__`` is cleared.

:func:`depends_on` fixes that for one kernel module: its functions get a locator
whose stamp is the hash of the module's file *and* of the files it names, so editing
any of them makes the index stale and the kernels compile again. Only the modules
registered here are affected (the locators decline every other file). Import this
module only from Numba kernel modules: it imports Numba.
"""

from __future__ import annotations

import functools
import hashlib
import os

from numba.core import caching

__all__ = ["depends_on"]

_DEPENDENCIES: dict[str, tuple[str, ...]] = {}


@functools.lru_cache(maxsize=None)
def _content_hash(path, st_mtime, st_size):
    # (mtime, size) in the key: a file edited while the process runs is hashed again
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).digest()


def _stamp(path):
    st = os.stat(path)
    return _content_hash(path, st.st_mtime, st.st_size)


class _DependentStamp:
    """Mixin for Numba's source-file locators: the stamp also covers the registered
    dependencies of the function's file."""

    def get_source_stamp(self):
        own = super().get_source_stamp()
        deps = _DEPENDENCIES[os.path.realpath(self._py_file)]
        return (own,) + tuple(_stamp(path) for path in deps)

    @classmethod
    def from_function(cls, py_func, py_file):
        if os.path.realpath(py_file) not in _DEPENDENCIES:
            return None
        return super().from_function(py_func, py_file)


class _UserProvidedLocator(_DependentStamp, caching.UserProvidedCacheLocator):
    pass


class _InTreeLocator(_DependentStamp, caching.InTreeCacheLocator):
    pass


class _UserWideLocator(_DependentStamp, caching.UserWideCacheLocator):
    pass


_LOCATORS = [_UserProvidedLocator, _InTreeLocator, _UserWideLocator]


def depends_on(module_file, *files):
    """Tie the Numba cache of the functions defined in ``module_file`` to ``files``
    too. Call it before the module's first ``@njit(cache=True)`` decorator runs."""
    _DEPENDENCIES[os.path.realpath(module_file)] = tuple(os.path.realpath(f) for f in files)
    # the locator list is Numba's (0.68) internal; a Numba without it keeps its own
    # behaviour (only the kernel's file watched) rather than failing the import
    locators = getattr(getattr(caching, "CacheImpl", None), "_locator_classes", None)
    if isinstance(locators, list) and locators[:len(_LOCATORS)] != _LOCATORS:
        # in front of Numba's own (same order: a user NUMBA_CACHE_DIR first), which
        # still serve every file not registered here
        locators[:0] = _LOCATORS
