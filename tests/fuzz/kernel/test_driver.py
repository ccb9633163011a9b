"""The kernel lane's driver: the helper's one-round-trip observation, kpageflags reads, and
the LRU drainer's CPU placement."""

from __future__ import annotations

import mmap
import os

import pytest

from fuzz.kernel.driver import (
    KPF_ZERO_PAGE,
    PAGE,
    PM_PFN,
    PM_PRESENT,
    Helper,
    LruDrainer,
    address,
    kpageflags,
    page_kinds,
    pagemap_words,
)

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]


def test_kpageflags_reads_each_pfn_in_order_whatever_the_runs(kernel_host_ok) -> None:
    """Written pages are anonymous folios; read-only pages map the shared zero page.  The
    flags come back in the order asked, for ascending runs and for any other order."""
    region = mmap.mmap(-1, 32 * PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        for p in range(32):
            if p % 2:
                assert region[p * PAGE] == 0  # a read fault: the zero page
            else:
                region[p * PAGE] = 1
        words = pagemap_words(os.getpid(), address(region), 32)
        assert all(w & PM_PRESENT for w in words)
        pfns = [w & PM_PFN for w in words]
        fd = os.open("/proc/kpageflags", os.O_RDONLY)
        try:
            for order in (list(range(32)), list(range(31, -1, -1)), sorted(range(32), key=pfns.__getitem__)):
                flags = kpageflags(fd, [pfns[p] for p in order])
                assert [bool(f & KPF_ZERO_PAGE) for f in flags] == [p % 2 == 1 for p in order]
            kinds = page_kinds(words, fd)
            assert [k[0] if k else None for k in kinds] == ["small", "zero"] * 16
        finally:
            os.close(fd)
    finally:
        region.close()


def test_observe_sees_every_process_in_one_call(kernel_host_ok) -> None:
    """A forked child shares the anonymous pages (present in both) but not the shared file
    mapping's ptes (fork copies none for it: faults refill them), which mincore still reports
    resident from the page cache."""
    helper = Helper(8, cpu=0, shm_pages=4)
    try:
        helper.fork(1)
        seen = helper.observe()
        assert sorted(seen) == ["1", "helper"]
        for proc in ("helper", "1"):
            assert seen[proc].anon_in == [1] * 8
            assert all(w & PM_PRESENT for w in seen[proc].anon)
            assert seen[proc].shm_in == [1] * 4
        assert [bool(w & PM_PRESENT) for w in seen["helper"].shm] == [True] * 4
        assert [bool(w & PM_PRESENT) for w in seen["1"].shm] == [False] * 4
        assert seen["helper"].large == seen["1"].large == []
        helper.child_exit(1)
        assert sorted(helper.observe()) == ["helper"]
    finally:
        helper.close()


def test_drainer_keeps_the_lane_on_the_helper_cpu_and_restores_it(kernel_host_ok) -> None:
    home = os.sched_getaffinity(0)
    cpu = min(home)
    drainer = LruDrainer(cpu)
    try:
        assert os.sched_getaffinity(0) == {cpu}
        drainer.drain()  # visits every other CPU, then comes back
        assert os.sched_getaffinity(0) == {cpu}
    finally:
        drainer.close()
    assert os.sched_getaffinity(0) == home
