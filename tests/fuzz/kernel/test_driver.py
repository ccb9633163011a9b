"""The kernel lane's driver: the helper's one-round-trip observation, kpageflags reads, and
the LRU drainer's CPU placement."""

from __future__ import annotations

import mmap
import os

import pytest

from fuzz.kernel import device
from fuzz.kernel.device import KernelHost
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
from fuzz.kernel.lane import mthp_stats_dir, read_mthp_stats

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


def test_an_action_reply_carries_the_observation_after_it(kernel_host_ok) -> None:
    """One round trip: the zap is done before any process looks (the helper's ptes are gone,
    the child's, from fork, are not)."""
    helper = Helper(8, cpu=0, shm_pages=4)
    try:
        helper.fork(1)
        helper.act_send("zap", start=0, n=4)
        reply, seen = helper.act_receive("zap")
        assert reply == 0 and sorted(seen) == ["1", "helper"]
        assert seen["helper"].anon_in == [0] * 4 + [1] * 4
        assert [bool(w & PM_PRESENT) for w in seen["helper"].anon] == [False] * 4 + [True] * 4
        assert seen["1"].anon_in == [1] * 8
        helper.act_send("sread", page=2)  # the page's first byte: its fill word's low byte
        reply, seen = helper.act_receive("sread")
        assert reply == 2 and seen["helper"].shm_in == [1] * 4
    finally:
        helper.close()


def test_ready_means_every_large_folio_is_faulted_in(kernel_host_ok) -> None:
    """`wait_ready` returns after the helper's faults: the per-size counter already shows one
    allocation per aligned block (the lane's first observation relies on it)."""
    if 64 not in device.mthp_switches():
        pytest.fail("this kernel has no 64K anonymous mTHP switch (the lane's --mthp tests need one)")
    with KernelHost(mthp_kb=64):
        stats = mthp_stats_dir(64)
        before = read_mthp_stats(stats)["anon_fault_alloc"]
        helper = Helper(8, cpu=0, large_pages=3 * 16, large_align=16)
        try:
            helper.wait_ready()
            assert read_mthp_stats(stats)["anon_fault_alloc"] - before == 3
            kinds = helper.observe()["helper"].large_kinds
            assert [k[0] for k in kinds if k] == (["head"] + ["tail"] * 15) * 3
        finally:
            helper.close()


def test_a_helper_that_cannot_start_is_an_error_not_a_hang(kernel_host_ok) -> None:
    helper = Helper(8, cpu=os.cpu_count() + 64)  # sched_setaffinity fails: the helper exits
    with pytest.raises(RuntimeError, match="failed to start"):
        helper.wait_ready()
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
