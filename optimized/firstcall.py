"""One compile per machine: a process's first call of each kernel holds a file lock.

Numba compiles a kernel at its first call in a process, or loads it from its on-disk cache
(`optimized/__pycache__`, or `NUMBA_CACHE_DIR`) when an earlier process compiled it.
Processes started together on one machine (pytest-xdist workers, campaign workers, Dask
workers) would otherwise each compile the same kernels at the same time on an empty cache.
With the lock one of them compiles a kernel while the others wait, and then they load it
from the cache: a few tenths of a second instead of the compile.  The lock is released when
the call returns, or when its process dies, so a killed worker never blocks the others.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from numba.core import config

LOCK_NAME = "swapdiff-compile.lock"
K = TypeVar("K")


def lock_path() -> str:
    """The lock file, in the directory numba's cache of these kernels lives in."""
    base = config.CACHE_DIR or os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__")
    return os.path.join(base, LOCK_NAME)


@contextlib.contextmanager
def compile_lock() -> Iterator[None]:
    """Hold the machine-wide compile lock (nothing, where its file cannot be created)."""
    path = lock_path()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        yield  # a read-only tree: numba then caches elsewhere, or compiles in every process
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def lock_first_calls(table: dict[K, Callable[..., Any]]) -> dict[K, Callable[..., Any]]:
    """Replace each kernel in `table` by a stand-in that makes its first call under
    `compile_lock()` and then puts the kernel itself back, so later calls cost nothing more.
    Without the JIT (NUMBA_DISABLE_JIT) nothing compiles and `table` is left as it is."""
    if config.DISABLE_JIT:
        return table
    for key, kernel in list(table.items()):
        table[key] = _first_call(table, key, kernel)
    return table


def _first_call(table: dict[K, Callable[..., Any]], key: K, kernel: Callable[..., Any]) -> Callable[..., Any]:
    def first_call(*args: Any) -> Any:
        with compile_lock():
            result = kernel(*args)
        table[key] = kernel
        return result

    return first_call
