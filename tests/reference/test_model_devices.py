"""Scenario tests for devices: semantics 2.0.1/2.0.2 (avail-list membership), 2.9 (swapon
validation, bad pages, padding, priorities) and 2.10 (split swapoff, DESIGN decision 9)."""

from __future__ import annotations

import pytest
from refkit import accounting_holds, avail, cache, clusters, lists, percpu, slot_rows, swap_out

from reference.api import EBUSY, EINVAL, ENOMEM, EPERM, Entry

# ---------------------------------------------------------------------------------------------
# 2.9 swapon
# ---------------------------------------------------------------------------------------------


def test_swapon_accounting(new):
    """2.9 steps 3, 8: pages = max - 1 - #bad; both totals grow by pages."""
    sw = new()
    assert sw.swapon(12, bad=(2, 7)) == 0
    assert sw.device(0).pages == 9
    assert sw.nr_swap_pages() == 9
    assert sw.total_swap_pages() == 9
    assert sw.swapon(8) == 1
    assert sw.nr_swap_pages() == 16
    assert sw.total_swap_pages() == 16
    assert accounting_holds(sw)


def test_swapon_padding_counts_in_last_cluster(new):
    """2.9 step 4: padding past max is non-free in its cluster but not subtracted from pages."""
    sw = new()
    assert sw.swapon(6) == 0
    assert sw.device(0).pages == 5
    assert clusters(sw) == [[1, "nonfull", 0], [2, "nonfull", 0]]
    assert lists(sw)["nonfull"][0] == [0, 1]
    assert lists(sw)["free"] == []


def test_padding_is_never_allocated(new):
    """2.9 step 4, 3.2.11: slots past max are BAD padding; the device fills at max - 1."""
    sw = new()
    assert sw.swapon(6) == 0
    assert [swap_out(sw, f).offset for f in range(1, 6)] == [1, 2, 3, 4, 5]
    assert sw.nr_swap_pages() == 0
    sw.folio_new(9, 0)
    assert sw.folio_alloc_swap(9) == -ENOMEM


def test_padding_cluster_refuses_large_folios(new):
    """2.0.5: the padded last cluster has order 0 and count > 0, so order 1 cannot use it."""
    sw = new()
    assert sw.swapon(6) == 0
    sw.folio_new(1, 1)
    assert sw.folio_alloc_swap(1) == -ENOMEM


def test_bad_pages_are_skipped_by_the_allocator(new):
    """2.9 step 4, 2.0.6 step 2a: a BAD slot rejects its candidate range."""
    sw = new()
    assert sw.swapon(12, bad=(5,)) == 0
    assert lists(sw)["nonfull"][0] == [0, 1]
    got = [swap_out(sw, f).offset for f in range(1, 7)]
    assert got == [1, 2, 3, 4, 6, 7]
    assert slot_rows(sw)[5] == ["bad", 0, 0, 0]


def test_bad_pages_only_cluster(new):
    """2.9 step 5: a cluster made only of bad slots is NONFULL with count == CLUSTER (3.2.7)."""
    sw = new()
    assert sw.swapon(12, bad=(4, 5, 6, 7)) == 0
    assert clusters(sw)[1] == [4, "nonfull", 0]
    assert sw.device(0).pages == 7
    assert [swap_out(sw, f).offset for f in range(1, 5)] == [1, 2, 3, 8]


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"size": 0}, "size"),
        ({"size": 1}, "header only"),
        ({"size": 3, "bad": (1, 2)}, "every slot bad"),
        ({"size": 12, "bad": (0,)}, "bad page 0"),
        ({"size": 12, "bad": (12,)}, "bad page >= size"),
        ({"size": 12, "bad": (3, 3)}, "duplicate bad page (P3)"),
        ({"size": 12, "priority": -1}, "explicit priority below 0"),
        ({"size": 12, "priority": 32768}, "priority above 0x7fff"),
        ({"size": 12, "discard": "always"}, "discard kind"),
        ({"size": 12, "bad": (3,), "blkdev": False}, "bad pages on a swap file (read_swap_header)"),
        ({"size": 700, "bad": tuple(range(1, 639))}, "more than MAX_SWAP_BADPAGES = 637 bad pages"),
    ],
)
def test_swapon_invalid_values(new, kwargs, why):
    """2.9 steps 1-4, DESIGN 8: invalid values return -EINVAL and change nothing."""
    sw = new()
    sw.swapon(8)
    before = sw.snapshot("allocator")
    kwargs = dict(kwargs)
    size = kwargs.pop("size")
    assert sw.swapon(size, **kwargs) == -EINVAL, why
    assert sw.snapshot("allocator") == before


def test_swapon_eperm_when_every_type_used(new):
    """2.9 step 1: no free type -> -EPERM, checked after priority/discard, before size."""
    sw = new(max_swapfiles=2)
    assert sw.swapon(8) == 0
    assert sw.swapon(8) == 1
    before = sw.snapshot("allocator")
    assert sw.swapon(8) == -EPERM
    assert sw.swapon(0) == -EPERM
    assert sw.swapon(8, priority=40000) == -EINVAL
    assert sw.swapon(8, discard="bogus") == -EINVAL
    assert sw.snapshot("allocator") == before


def test_swapon_priority_boundaries(new):
    """2.9 step 7: explicit priorities 0 and 32767 are valid; None means -1."""
    sw = new()
    assert sw.swapon(8, priority=0) == 0
    assert sw.swapon(8, priority=32767) == 1
    assert sw.swapon(8) == 2
    assert [sw.device(t).priority for t in range(3)] == [0, 32767, -1]


def test_avail_list_orders_by_priority_then_fifo(new):
    """1.2 swap_avail_head: higher priority first; FIFO among equal priorities."""
    sw = new()
    sw.swapon(8, priority=5)
    sw.swapon(8, priority=10)
    sw.swapon(8)
    sw.swapon(8, priority=10)
    assert avail(sw) == [1, 3, 0, 2]
    assert swap_out(sw, 1) == Entry(1, 1)
    assert avail(sw) == [3, 1, 0, 2]


def test_lowest_free_type_is_reused(new):
    """2.9 step 1: the lowest type with no device is reused after a swapoff."""
    sw = new()
    for _ in range(3):
        sw.swapon(8)
    assert sw.swapoff_begin(1) == 0
    assert sw.swapoff_end(1) == 0
    assert sw.device(1) is None
    assert sw.swapon(12) == 1
    assert sw.device(1).max == 12
    assert avail(sw) == [0, 2, 1]


# ---------------------------------------------------------------------------------------------
# 2.0.1 / 2.0.2 avail-list membership
# ---------------------------------------------------------------------------------------------


def test_full_device_leaves_avail_and_returns_at_group_tail(new):
    """2.0.1: leaves the avail list when inuse == pages; 2.0.2: back at the tail of its group."""
    sw = new()
    for _ in range(3):
        sw.swapon(4)
    got = [sw.swap_alloc_hibernation_slot(0) for _ in range(3)]
    assert [e.offset for e in got] == [1, 2, 3]
    assert sw.device(0).on_avail is False
    assert avail(sw) == [1, 2]
    sw.swap_free_hibernation_slot(got[1])
    assert sw.device(0).on_avail is True
    assert avail(sw) == [1, 2, 0]


def test_device_returns_to_front_of_higher_priority_group(new):
    """2.0.2: re-insertion respects priority order."""
    sw = new()
    sw.swapon(4, priority=10)
    sw.swapon(8, priority=5)
    sw.swapon(8, priority=5)
    es = [swap_out(sw, f) for f in (1, 2, 3)]
    assert {e.type for e in es} == {0}
    assert avail(sw) == [1, 2]
    sw.swap_put_entries_direct(es[0], 1)
    assert avail(sw) == [0, 1, 2]


# ---------------------------------------------------------------------------------------------
# 2.10 split swapoff
# ---------------------------------------------------------------------------------------------


def _two_used(sw):
    assert sw.swapon(12) == 0
    return [swap_out(sw, 1), swap_out(sw, 2)]


def test_swapoff_begin_takes_device_out_of_totals(new):
    """2.10 step 2: WRITEOK off, off the avail list, nr and total lose `pages`."""
    sw = new()
    _two_used(sw)
    assert sw.nr_swap_pages() == 9
    assert sw.swapoff_begin(0) == 0
    d = sw.device(0)
    assert (d.writeok, d.on_avail, d.swapping_off) == (False, False, True)
    assert sw.nr_swap_pages() == -2
    assert sw.total_swap_pages() == 0
    assert avail(sw) == []


def test_swapoff_end_busy_until_every_slot_freed(new):
    """2.10 step 3, DESIGN 9: -EBUSY while inuse > 0; frees still add to nr_swap_pages."""
    sw = new()
    a, b = _two_used(sw)
    sw.swapoff_begin(0)
    assert sw.swapoff_end(0) == -EBUSY
    assert sw.swap_cache_alloc_folio(a, 10) == 10
    sw.folio_put_swap(10)
    assert sw.folio_free_swap(10) is True
    assert sw.nr_swap_pages() == -1
    assert sw.swapoff_end(0) == -EBUSY
    sw.swap_put_entries_direct(b, 1)
    assert sw.nr_swap_pages() == 0
    assert sw.swapoff_end(0) == 0
    assert sw.device(0) is None
    assert (sw.nr_swap_pages(), sw.total_swap_pages()) == (0, 0)


def test_swapoff_abort_restores_everything(new):
    """2.10 step 4: the failure path restores WRITEOK, the lists and the totals."""
    sw = new()
    _two_used(sw)
    before = sw.snapshot("allocator")
    sw.swapoff_begin(0)
    assert sw.swapoff_abort(0) == 0
    assert sw.snapshot("allocator") == before
    assert accounting_holds(sw)


def test_swapoff_abort_of_full_device_reinserts_it(new):
    """2.10 step 4: a full device goes back on the avail list anyway."""
    sw = new()
    sw.swapon(4)
    for f in (1, 2, 3):
        swap_out(sw, f)
    assert sw.device(0).on_avail is False
    sw.swapoff_begin(0)
    sw.swapoff_abort(0)
    assert sw.device(0).on_avail is True
    assert avail(sw) == [0]
    sw.folio_new(9, 0)
    assert sw.folio_alloc_swap(9) == -ENOMEM


def test_swapoff_begin_rejects_inactive_or_repeated(new):
    """2.10 step 1: -EINVAL unless the device is active and writable; nothing changes."""
    sw = new()
    sw.swapon(8)
    assert sw.swapoff_begin(1) == -EINVAL
    assert sw.swapoff_begin(-1) == -EINVAL
    assert sw.swapoff_begin(0) == 0
    before = sw.snapshot("allocator")
    assert sw.swapoff_begin(0) == -EINVAL
    assert sw.snapshot("allocator") == before


def test_allocation_avoids_device_being_swapped_off(new):
    """2.10 step 2, MODEL fast path: the stale percpu hint fails at WRITEOK; the slow path picks another."""
    sw = new()
    sw.swapon(12)
    sw.swapon(12)
    assert swap_out(sw, 1) == Entry(0, 1)
    sw.swapoff_begin(0)
    assert swap_out(sw, 2) == Entry(1, 1)
    assert percpu(sw)[0] == [1, 2]
    assert sw.device(0).inuse == 1


def test_hibernation_alloc_refused_during_swapoff(new):
    """DESIGN 10, 2.8: a device being swapped off gives None."""
    sw = new()
    sw.swapon(12)
    sw.swapoff_begin(0)
    assert sw.swap_alloc_hibernation_slot(0) is None
    assert sw.device(0).inuse == 0


def test_frees_during_swapoff_skip_discard_list(new):
    """2.10 step 2: frees no longer move clusters to the discard list."""
    sw = new()
    sw.swapon(12, discard="pages")
    e = swap_out(sw, 1)
    assert e == Entry(0, 4)
    sw.swapoff_begin(0)
    sw.swap_put_entries_direct(e, 1)
    assert clusters(sw)[1] == [0, "free", 0]
    assert lists(sw)["discard"] == []
    assert sw.swapoff_end(0) == 0


def test_swapoff_end_clears_percpu_hints(new):
    """2.10 step 5: percpu hints pointing at the device are cleared."""
    sw = new()
    sw.swapon(12)
    e = swap_out(sw, 1)
    cache(sw, 2, order=1)
    sw.folio_free_swap(2)
    sw.swapoff_begin(0)
    sw.swap_put_entries_direct(e, 1)
    assert sw.swapoff_end(0) == 0
    assert percpu(sw) == [None, None, None]
    assert sw.swapon(8) == 0
    assert swap_out(sw, 3) == Entry(0, 1)


def test_swapoff_with_other_device_keeps_accounting(new):
    """3.2.5: nr_swap_pages == sum over writable (pages - inuse) - sum over swapping off (inuse)."""
    sw = new()
    sw.swapon(12)
    sw.swapon(8)
    for f in range(1, 6):
        swap_out(sw, f)
    sw.swapoff_begin(1)
    used0, used1 = sw.device(0).inuse, sw.device(1).inuse
    assert sw.nr_swap_pages() == (11 - used0) - used1
    assert sw.total_swap_pages() == 11


@pytest.mark.parametrize("size", [4, 12])
def test_free_during_swapoff_keeps_device_off_avail(new, size):
    """2.0.2: a free re-inserts a device only if it is WRITEOK; a device being swapped off stays out."""
    sw = new()
    sw.swapon(size)
    es = [swap_out(sw, f) for f in (1, 2, 3)]
    sw.swapoff_begin(0)
    sw.swap_put_entries_direct(es[0], 1)
    assert sw.device(0).on_avail is False
    assert avail(sw) == []
    sw.folio_new(9, 0)
    assert sw.folio_alloc_swap(9) == -ENOMEM
    assert sw.device(0).inuse == 2


def test_swapon_accepts_max_swap_badpages(new):
    """2.9 step 2: exactly MAX_SWAP_BADPAGES (637) bad pages fit the header page."""
    sw = new()
    assert sw.swapon(700, bad=tuple(range(1, 638))) == 0
    assert sw.device(0).pages == 700 - 1 - 637
