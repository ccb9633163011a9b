"""A candidate for the Dask campaign tests: `HibernationLeak` that can hang once on a Dask worker.

When `$SWAPDIFF_TEST_HANG_DIR/hang` exists, the first instance built inside a Dask worker
claims `$SWAPDIFF_TEST_HANG_DIR/claimed` (exclusive create), writes its process id there and
sleeps: the test then kills that process (a worker lost mid-round) or interrupts the client
(a campaign stopped mid-round).  Every later instance runs normally.
"""

from __future__ import annotations

import os
import time

from tests.fuzz.buggy_impls import HibernationLeak


def _hang_once() -> None:
    directory = os.environ.get("SWAPDIFF_TEST_HANG_DIR")
    if not directory or not os.path.exists(os.path.join(directory, "hang")):
        return
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return  # not a Dask worker: the local pool never hangs
    try:
        fd = os.open(os.path.join(directory, "claimed"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    time.sleep(600)


class HangingLeak(HibernationLeak):
    """`HibernationLeak`, hanging once on a Dask worker when asked to (see the module docstring)."""

    def __init__(self, *args, **kwargs) -> None:
        _hang_once()
        super().__init__(*args, **kwargs)
