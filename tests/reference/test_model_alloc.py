"""Scenario tests for the slot allocator: semantics 2.0 (building blocks), 2.1
(`folio_alloc_swap`) and the allocator parts of 2.11 (discard, reclaim, device kinds).

Geometry is tiny on purpose (cluster size 4, a few clusters) so every expected offset, list
and counter below can be worked out by hand from the semantics."""

from __future__ import annotations

import pytest
from refkit import (
    accounting_holds,
    avail,
    cache,
    clusters,
    flags,
    hint,
    lists,
    offsets_of,
    percpu,
    swap_out,
)

from reference.api import ENOMEM, Entry

# ---------------------------------------------------------------------------------------------
# 2.9 consequences / 2.0.6: where the first allocations land
# ---------------------------------------------------------------------------------------------


def test_first_order0_alloc_on_fresh_ssd_returns_offset_1(new):
    """2.9 consequences, 2.0.7 step 4: cluster 0 starts NONFULL (header), so offset 1 comes first."""
    sw = new()
    assert sw.swapon(12) == 0
    assert cache(sw, 1) == Entry(0, 1)
    assert percpu(sw)[0] == [0, 2]
    assert sw.swap_count(Entry(0, 1)) == 0
    assert sw.swap_cache_folio(Entry(0, 1)) == 1
    assert sw.device(0).inuse == 1
    assert sw.nr_swap_pages() == 10


def test_first_order0_alloc_with_page_discard_takes_first_free_cluster(new):
    """2.9 consequences, 2.0.7 step 3: with discard="pages" the free list is tried first."""
    sw = new()
    assert sw.swapon(12, discard="pages") == 0
    assert cache(sw, 1) == Entry(0, 4)
    assert cache(sw, 2) == Entry(0, 5)


def test_discard_once_allocates_like_no_discard(new):
    """2.9 step 6: "once" clears PAGE_DISCARD, so the allocator behaves as without discard."""
    sw = new()
    assert sw.swapon(12, discard="once") == 0
    assert cache(sw, 1) == Entry(0, 1)


def test_first_large_alloc_takes_first_free_cluster(new):
    """2.9 consequences, 2.0.5: order > 0 cannot use the header cluster (order 0, count > 0)."""
    sw = new()
    assert sw.swapon(12) == 0
    assert cache(sw, 1, order=1) == Entry(0, 4)
    assert cache(sw, 2, order=1) == Entry(0, 6)
    assert clusters(sw)[1] == [4, "full", 1]
    assert sw.swap_cache_folio(Entry(0, 5)) == 1


def test_pmd_order_alloc_uses_whole_free_clusters(new):
    """2.1 consequences: order PMD_ORDER only ever uses free clusters, one per folio."""
    sw = new()
    assert sw.swapon(12) == 0
    assert swap_out(sw, 1, order=2) == Entry(0, 4)
    assert swap_out(sw, 2, order=2) == Entry(0, 8)
    sw.folio_new(3, 2)
    assert sw.folio_alloc_swap(3) == -ENOMEM
    assert sw.folio_entry(3) is None
    assert flags(sw) == ["nonfull", "full", "full"]
    # vm_swap_full() held, so step 6 re-queued the head full cluster (nothing to reclaim).
    assert lists(sw)["full"] == [2, 1]
    assert sw.nr_swap_pages() == 3


# ---------------------------------------------------------------------------------------------
# 2.0.6 next-fit from the hint
# ---------------------------------------------------------------------------------------------


def test_order0_allocations_fill_clusters_in_order(new):
    """2.0.6 next-fit from the hint, 2.0.7 step 5: clusters fill one after another."""
    sw = new()
    assert sw.swapon(12) == 0
    assert offsets_of(sw, 1, 11) == list(range(1, 12))
    assert sw.device(0).inuse == 11
    assert sw.nr_swap_pages() == 0
    sw.folio_new(99, 0)
    assert sw.folio_alloc_swap(99) == -ENOMEM
    assert sw.folio_entry(99) is None


def test_next_fit_skips_hole_before_hint(new):
    """2.0.6 note (i) next-fit from the hint: a hole before the hint is not reused at once."""
    sw = new(cluster_size=8)
    assert sw.swapon(16) == 0
    assert cache(sw, 1) == Entry(0, 1)
    assert cache(sw, 2) == Entry(0, 2)
    assert sw.folio_free_swap(1) is True
    assert cache(sw, 3) == Entry(0, 3)
    assert sw.swap_count(Entry(0, 1)) == 0
    assert sw.swap_cache_folio(Entry(0, 1)) == 0


def test_hole_reused_when_cluster_rescanned_from_list(new):
    """2.0.6 note (i): a full cluster that regains a slot goes NONFULL and is scanned from its base."""
    sw = new()
    assert sw.swapon(8) == 0
    assert offsets_of(sw, 1, 3) == [1, 2, 3]
    sw.swap_put_entries_direct(Entry(0, 2), 1)
    assert lists(sw)["nonfull"][0] == [0]
    assert swap_out(sw, 10) == Entry(0, 2)


def test_hint_cleared_when_cluster_exhausted(new):
    """2.0.6 step 2d: next is 0 once the cluster is full, so the next allocation takes the slow path."""
    sw = new()
    assert sw.swapon(12) == 0
    offsets_of(sw, 1, 3)
    assert percpu(sw)[0] in ([0, 0], None)
    assert swap_out(sw, 4) == Entry(0, 4)
    assert percpu(sw)[0] == [0, 5]


def test_charge_failure_frees_slots_but_keeps_hint(new):
    """2.1 step 5: charge_fails undoes the allocation as a batch free; the hint is not rewound."""
    sw = new()
    assert sw.swapon(12) == 0
    sw.folio_new(1, 0)
    assert sw.folio_alloc_swap(1, charge_fails=True) == -ENOMEM
    assert sw.folio_entry(1) is None
    assert sw.nr_swap_pages() == 11
    assert sw.device(0).inuse == 0
    assert clusters(sw)[0] == [1, "nonfull", 0]
    assert percpu(sw)[0] == [0, 2]
    assert sw.folio_alloc_swap(1) == 0
    assert sw.folio_entry(1) == Entry(0, 2)


def test_large_charge_failure_returns_cluster_to_free_tail(new):
    """2.1 step 5, 2.0.4 free_cluster: an emptied cluster goes to the free list tail, order 0."""
    sw = new()
    assert sw.swapon(12) == 0
    sw.folio_new(1, 1)
    assert sw.folio_alloc_swap(1, charge_fails=True) == -ENOMEM
    assert lists(sw)["free"] == [2, 1]
    assert clusters(sw)[1] == [0, "free", 0]
    assert sw.nr_swap_pages() == 11


# ---------------------------------------------------------------------------------------------
# 2.0.4 cluster list transitions
# ---------------------------------------------------------------------------------------------


def test_swapon_cluster_lists(new):
    """2.9 step 5: clusters with unusable slots start on nonfull[0], empty ones on the free list."""
    sw = new()
    assert sw.swapon(16, bad=(9,)) == 0
    assert clusters(sw) == [[1, "nonfull", 0], [0, "free", 0], [1, "nonfull", 0], [0, "free", 0]]
    ls = lists(sw)
    assert ls["nonfull"][0] == [0, 2]
    assert ls["free"] == [1, 3]
    assert ls["full"] == [] and ls["discard"] == []
    assert all(x == [] for x in ls["frag"])


def test_cluster_goes_free_frag_full_nonfull_free(new):
    """2.0.4: free -> frag (being carved) -> full -> nonfull (freed into) -> free (empty)."""
    sw = new()
    assert sw.swapon(8) == 0
    assert flags(sw) == ["nonfull", "free"]
    swap_out(sw, 1)
    assert flags(sw) == ["frag", "free"]
    assert lists(sw)["frag"][0] == [0]
    offsets_of(sw, 2, 2)
    assert flags(sw) == ["full", "free"]
    assert swap_out(sw, 4) == Entry(0, 4)
    assert flags(sw) == ["full", "frag"]
    offsets_of(sw, 5, 3)
    assert flags(sw) == ["full", "full"]
    assert lists(sw)["full"] == [0, 1]
    sw.swap_put_entries_direct(Entry(0, 5), 1)
    assert clusters(sw)[1] == [3, "nonfull", 0]
    assert lists(sw)["nonfull"][0] == [1]
    assert lists(sw)["full"] == [0]
    sw.swap_put_entries_direct(Entry(0, 6), 2)
    sw.swap_put_entries_direct(Entry(0, 4), 1)
    assert clusters(sw)[1] == [0, "free", 0]
    assert lists(sw)["free"] == [1]
    assert lists(sw)["nonfull"][0] == []


def test_nonfull_cluster_allocated_from_moves_to_frag(new):
    """2.0.4 relocate_cluster: a NONFULL cluster that is allocated from ends on frag[order]."""
    sw = new(cluster_size=8)
    assert sw.swapon(16) == 0
    cache(sw, 1)
    cache(sw, 2)
    sw.folio_free_swap(1)
    assert clusters(sw)[0] == [2, "nonfull", 0]
    cache(sw, 3)
    assert clusters(sw)[0] == [3, "frag", 0]
    assert lists(sw)["frag"][0] == [0]


def test_large_cluster_order_reset_when_freed(new):
    """2.0.4 __free_cluster: order goes back to 0; 3.2.8 large folios sit in clusters of their order."""
    sw = new()
    assert sw.swapon(12) == 0
    e = swap_out(sw, 1, order=1)
    assert clusters(sw)[1] == [2, "frag", 1]
    assert lists(sw)["frag"][1] == [1]
    sw.swap_put_entries_direct(e, 2)
    assert clusters(sw)[1] == [0, "free", 0]
    assert lists(sw)["free"] == [2, 1]


def test_freed_large_slots_make_cluster_nonfull_of_its_order(new):
    """2.0.4 partial_free_cluster: goes to nonfull[cluster order]; 2.0.7 step 4 reuses it."""
    sw = new()
    assert sw.swapon(12) == 0
    a = swap_out(sw, 1, order=1)
    assert swap_out(sw, 2, order=1) == Entry(0, 6)
    assert clusters(sw)[1] == [4, "full", 1]
    sw.swap_put_entries_direct(a, 2)
    assert clusters(sw)[1] == [2, "nonfull", 1]
    assert lists(sw)["nonfull"][1] == [1]
    assert swap_out(sw, 3, order=1) == Entry(0, 4)
    assert clusters(sw)[1] == [4, "full", 1]


# ---------------------------------------------------------------------------------------------
# 2.0.7 slow path: order stealing, reclaim, large folios
# ---------------------------------------------------------------------------------------------


def test_order0_steals_from_large_order_frag_cluster(new):
    """2.0.7 step 9 order stealing: order 0 takes a free slot of a frag[1] cluster."""
    sw = new()
    assert sw.swapon(8) == 0
    assert swap_out(sw, 1, order=1) == Entry(0, 4)
    assert offsets_of(sw, 2, 3) == [1, 2, 3]
    # nonfull[0], free and frag[0] are empty now; cluster 1 is on frag[1].
    assert swap_out(sw, 5) == Entry(0, 6)
    assert clusters(sw)[1] == [3, "frag", 1]
    assert percpu(sw)[0] == [0, 7]
    assert swap_out(sw, 6) == Entry(0, 7)
    assert clusters(sw)[1] == [4, "full", 1]
    assert sw.nr_swap_pages() == 0


def test_order1_does_not_steal(new):
    """2.0.7 step 8: order > 0 fails when no cluster of its order or free cluster is usable."""
    sw = new()
    assert sw.swapon(12) == 0
    assert swap_out(sw, 1, order=2) == Entry(0, 4)
    assert swap_out(sw, 2, order=1) == Entry(0, 8)
    assert swap_out(sw, 3, order=1) == Entry(0, 10)
    sw.folio_new(4, 1)
    assert sw.folio_alloc_swap(4) == -ENOMEM
    assert cache(sw, 5) == Entry(0, 1)


def test_scan_reclaims_cached_count0_slot_when_swap_full(new):
    """2.0.6 step 2a/2b: with vm_swap_full() a CACHED count-0 slot is reclaimed and reused."""
    sw = new()
    assert sw.swapon(8) == 0
    assert cache(sw, 1) == Entry(0, 1)
    assert offsets_of(sw, 2, 6) == [2, 3, 4, 5, 6, 7]
    sw.swap_put_entries_direct(Entry(0, 2), 1)
    assert sw.nr_swap_pages() == 1  # 1 * 2 < 7: swap is full
    assert cache(sw, 10) == Entry(0, 1)
    assert sw.folio_entry(1) is None
    assert sw.swap_cache_folio(Entry(0, 1)) == 10
    assert sw.swap_count(Entry(0, 2)) == 0
    assert clusters(sw)[0] == [3, "frag", 0]
    assert sw.nr_swap_pages() == 1


def test_scan_skips_cached_count0_slot_when_swap_not_full(new):
    """2.0.6 step 2a: without vm_swap_full() a CACHED count-0 slot rejects the range."""
    sw = new()
    assert sw.swapon(16) == 0
    assert cache(sw, 1) == Entry(0, 1)
    assert offsets_of(sw, 2, 6) == [2, 3, 4, 5, 6, 7]
    sw.swap_put_entries_direct(Entry(0, 2), 1)
    assert sw.nr_swap_pages() == 9
    assert cache(sw, 10) == Entry(0, 2)
    assert sw.folio_entry(1) == Entry(0, 1)


def test_scan_reclaim_blocked_by_locked_folio(new):
    """2.0.6 step 2b, 2.6.2: a locked folio is not reclaimed; the scan moves to the next range."""
    sw = new()
    assert sw.swapon(8) == 0
    cache(sw, 1)
    offsets_of(sw, 2, 6)
    sw.swap_put_entries_direct(Entry(0, 2), 1)
    sw.folio_set(1, locked=True)
    assert cache(sw, 10) == Entry(0, 2)
    assert sw.folio_entry(1) == Entry(0, 1)
    assert sw.nr_swap_pages() == 0


def test_slow_path_reclaims_one_full_cluster_when_swap_full(new):
    """2.0.7 step 6, 2.11.2: a failing order-1 allocation still reclaims the head full cluster."""
    sw = new()
    assert sw.swapon(12) == 0
    assert [cache(sw, f).offset for f in (1, 2, 3)] == [1, 2, 3]
    assert swap_out(sw, 4, order=1) == Entry(0, 4)
    assert swap_out(sw, 5, order=1) == Entry(0, 6)
    assert offsets_of(sw, 6, 2) == [8, 9]
    assert lists(sw)["full"] == [0, 1]
    assert sw.nr_swap_pages() == 2
    sw.folio_new(9, 1)
    assert sw.folio_alloc_swap(9) == -ENOMEM
    assert [sw.folio_entry(f) for f in (1, 2, 3)] == [None, None, None]
    assert clusters(sw)[0] == [1, "nonfull", 0]
    assert lists(sw)["full"] == [1]
    assert sw.nr_swap_pages() == 5


def test_slow_path_does_not_reclaim_when_swap_not_full(new):
    """2.0.7 step 6: no full-cluster reclaim unless vm_swap_full()."""
    sw = new()
    assert sw.swapon(12) == 0
    for f in (1, 2, 3):
        cache(sw, f)
    assert offsets_of(sw, 4, 8) == list(range(4, 12))
    sw.swap_put_entries_direct(Entry(0, 5), 3)
    sw.swap_put_entries_direct(Entry(0, 9), 3)
    assert lists(sw)["nonfull"][0] == [1, 2]
    assert sw.nr_swap_pages() == 6
    sw.folio_new(20, 1)
    assert sw.folio_alloc_swap(20) == -ENOMEM
    assert [sw.folio_entry(f).offset for f in (1, 2, 3)] == [1, 2, 3]
    assert lists(sw)["full"] == [0]
    assert sw.nr_swap_pages() == 6


# ---------------------------------------------------------------------------------------------
# 2.1 device selection: priorities, rotation, large folios
# ---------------------------------------------------------------------------------------------


def test_equal_priority_devices_alternate_per_exhausted_cluster(new):
    """2.1 device selection, 6.#10: equal-priority SSDs alternate per cluster, not per slot."""
    sw = new()
    assert sw.swapon(12) == 0
    assert sw.swapon(12) == 1
    got = [swap_out(sw, f) for f in range(1, 15)]
    assert got == [
        Entry(0, 1), Entry(0, 2), Entry(0, 3),
        Entry(1, 1), Entry(1, 2), Entry(1, 3),
        Entry(0, 4), Entry(0, 5), Entry(0, 6), Entry(0, 7),
        Entry(1, 4), Entry(1, 5), Entry(1, 6), Entry(1, 7),
    ]  # fmt: skip
    assert accounting_holds(sw)


def test_slow_path_rotates_tried_device_to_group_tail(new):
    """2.1 step 3: the device tried is moved to the tail of its priority group."""
    sw = new()
    for _ in range(3):
        sw.swapon(12)
    assert avail(sw) == [0, 1, 2]
    swap_out(sw, 1)
    assert avail(sw) == [1, 2, 0]
    swap_out(sw, 2)  # fast path: no rotation
    assert avail(sw) == [1, 2, 0]


def test_higher_priority_device_used_first_until_full(new):
    """2.1 step 3: the avail list is walked by priority; a full device leaves it (2.0.1)."""
    sw = new()
    assert sw.swapon(8, priority=5) == 0
    assert sw.swapon(4, priority=10) == 1
    assert [swap_out(sw, f) for f in (1, 2, 3, 4)] == [Entry(1, 1), Entry(1, 2), Entry(1, 3), Entry(0, 1)]
    assert sw.device(1).on_avail is False
    assert avail(sw) == [0]


def test_fast_path_ignores_priority(new):
    """2.1 consequences: the percpu cluster keeps serving even after a better device appears."""
    sw = new()
    assert sw.swapon(12) == 0
    assert swap_out(sw, 1) == Entry(0, 1)
    assert sw.swapon(12, priority=10) == 1
    assert swap_out(sw, 2) == Entry(0, 2)
    assert swap_out(sw, 3) == Entry(0, 3)
    assert swap_out(sw, 4) == Entry(1, 1)


def test_large_folio_never_falls_back_to_second_device(new):
    """2.1 step 3: a large folio stops after the first device tried, success or not."""
    sw = new()
    assert sw.swapon(4, priority=10) == 0
    assert sw.swapon(8, priority=5) == 1
    sw.folio_new(1, 1)
    before = sw.snapshot("allocator")
    assert sw.folio_alloc_swap(1) == -ENOMEM
    assert sw.snapshot("allocator") == before
    assert sw.folio_entry(1) is None
    assert sw.device(1).inuse == 0


def test_large_folio_tries_next_equal_priority_device_on_next_call(new):
    """2.1 step 3: the failed device was rotated to the tail, so the next call tries the other."""
    sw = new()
    assert sw.swapon(4) == 0
    assert sw.swapon(8) == 1
    sw.folio_new(1, 1)
    assert sw.folio_alloc_swap(1) == -ENOMEM
    assert avail(sw) == [1, 0]
    assert sw.folio_alloc_swap(1) == 0
    assert sw.folio_entry(1) == Entry(1, 4)


def test_swap_file_refuses_large_folios(new):
    """2.0.7 step 1, 2.11 SWP_BLKDEV: a non-blkdev device refuses order > 0 without a change."""
    sw = new()
    assert sw.swapon(12, blkdev=False) == 0
    sw.folio_new(1, 1)
    before = sw.snapshot("allocator")
    assert sw.folio_alloc_swap(1) == -ENOMEM
    assert sw.snapshot("allocator") == before
    assert cache(sw, 2) == Entry(0, 1)


# ---------------------------------------------------------------------------------------------
# 2.11 rotational devices
# ---------------------------------------------------------------------------------------------


def test_rotational_device_uses_device_hint_not_percpu(new):
    """2.11 SOLIDSTATE vs rotational: the per-device next hint is used, the percpu hint is not written."""
    sw = new()
    assert sw.swapon(12, solidstate=False) == 0
    assert swap_out(sw, 1) == Entry(0, 1)
    assert hint(sw) == [2, 0, 0]
    assert percpu(sw) == [None, None, None]
    assert swap_out(sw, 2) == Entry(0, 2)
    assert hint(sw)[0] == 3


def test_ssd_device_hint_stays_zero(new):
    """2.11: solid-state devices keep the per-device hint at zero and use the percpu hint."""
    sw = new()
    assert sw.swapon(12) == 0
    swap_out(sw, 1)
    assert hint(sw) == [0, 0, 0]
    assert percpu(sw)[0] == [0, 2]


def test_equal_priority_rotational_devices_alternate_per_slot(new):
    """2.11 + 2.1 step 3: HDDs always take the slow path, so rotation alternates every slot."""
    sw = new()
    assert sw.swapon(12, solidstate=False) == 0
    assert sw.swapon(12, solidstate=False) == 1
    got = [swap_out(sw, f) for f in range(1, 5)]
    assert got == [Entry(0, 1), Entry(1, 1), Entry(0, 2), Entry(1, 2)]


# ---------------------------------------------------------------------------------------------
# 2.11 discard
# ---------------------------------------------------------------------------------------------


def _page_discard_with_cluster1_on_discard_list(new):
    """cluster size 4, size 8, discard pages: cluster 0 full, cluster 1 empty on the discard list."""
    sw = new()
    assert sw.swapon(8, discard="pages") == 0
    assert offsets_of(sw, 1, 7) == [4, 5, 6, 7, 1, 2, 3]
    sw.swap_put_entries_direct(Entry(0, 4), 4)
    return sw


def test_page_discard_freed_cluster_waits_on_discard_list(new):
    """2.11 SWP_PAGE_DISCARD, 2.0.4 free_cluster: an emptied cluster goes to the discard list."""
    sw = _page_discard_with_cluster1_on_discard_list(new)
    assert clusters(sw)[1] == [0, "discard", 0]
    assert lists(sw)["discard"] == [1]
    assert lists(sw)["free"] == []
    assert sw.nr_swap_pages() == 4
    assert sw.swap_discard_work(0) == 0
    assert clusters(sw)[1] == [0, "free", 0]
    assert lists(sw)["discard"] == []
    assert lists(sw)["free"] == [1]


def test_order0_sync_discard_and_retry(new):
    """2.1 step 4, 2.11.1: order 0 fails everywhere, runs swap_sync_discard and retries."""
    sw = _page_discard_with_cluster1_on_discard_list(new)
    assert cache(sw, 20) == Entry(0, 4)
    assert lists(sw)["discard"] == []
    assert clusters(sw)[1] == [1, "frag", 0]


def test_large_alloc_does_not_sync_discard(new):
    """2.1 step 4, 4.#11: order > 0 fails while the free space sits on the discard list."""
    sw = _page_discard_with_cluster1_on_discard_list(new)
    sw.folio_new(20, 1)
    assert sw.folio_alloc_swap(20) == -ENOMEM
    assert lists(sw)["discard"] == [1]
    sw.swap_discard_work(0)
    assert sw.folio_alloc_swap(20) == 0
    assert sw.folio_entry(20) == Entry(0, 4)


def test_discarding_cluster_not_used_by_fast_path(new):
    """2.0.5: a DISCARD cluster is not usable, so the percpu hint into it is abandoned."""
    sw = new()
    assert sw.swapon(12, discard="pages") == 0
    e = swap_out(sw, 1)
    assert e == Entry(0, 4)
    sw.swap_put_entries_direct(e, 1)
    assert lists(sw)["discard"] == [1]
    assert swap_out(sw, 2) == Entry(0, 8)
    sw.swap_discard_work(0)
    assert lists(sw)["free"] == [1]


def test_sync_discard_uses_first_active_device(new):
    """2.11.1: swap_sync_discard discards only the first active device with pending clusters."""
    sw = new()
    assert sw.swapon(8, discard="pages", priority=5) == 0
    assert sw.swapon(8, discard="pages", priority=5) == 1
    got = [swap_out(sw, f) for f in range(1, 15)]
    assert got[:5] == [Entry(0, 4), Entry(0, 5), Entry(0, 6), Entry(0, 7), Entry(1, 4)]
    assert sw.nr_swap_pages() == 0
    for t in (0, 1):
        sw.swap_put_entries_direct(Entry(t, 4), 4)
    assert lists(sw, 0)["discard"] == [1] and lists(sw, 1)["discard"] == [1]
    assert sw.nr_swap_pages() == 8
    cache(sw, 50)
    assert sw.folio_entry(50) == Entry(0, 4)
    assert lists(sw, 1)["discard"] == [1]


# ---------------------------------------------------------------------------------------------
# 2.11.2 full-cluster reclaim work
# ---------------------------------------------------------------------------------------------


def test_reclaim_work_drops_cached_count0_folios_of_full_cluster(new):
    """2.11.2 swap_reclaim_work: cached count-0 slots of a full cluster are reclaimed."""
    sw = new()
    assert sw.swapon(8) == 0
    for f in (1, 2, 3):
        cache(sw, f)
    assert lists(sw)["full"] == [0]
    assert sw.swap_reclaim_work(0) == 0
    assert [sw.folio_entry(f) for f in (1, 2, 3)] == [None, None, None]
    assert clusters(sw)[0] == [1, "nonfull", 0]
    assert lists(sw)["full"] == []
    assert sw.nr_swap_pages() == 7


def test_reclaim_work_skips_locked_and_referenced(new):
    """2.11.2 + 2.6.2: locked folios and slots with count > 0 stay."""
    sw = new()
    assert sw.swapon(8) == 0
    for f in (1, 2, 3):
        cache(sw, f)
    sw.folio_set(2, locked=True)
    sw.folio_dup_swap(3)
    sw.swap_reclaim_work(0)
    assert sw.folio_entry(1) is None
    assert sw.folio_entry(2) == Entry(0, 2)
    assert sw.folio_entry(3) == Entry(0, 3)
    assert clusters(sw)[0] == [3, "nonfull", 0]


def test_reclaim_work_requeues_cluster_when_nothing_freed(new):
    """2.11.2: a cluster with nothing reclaimable goes back to the tail of the full list."""
    sw = new()
    assert sw.swapon(12) == 0
    for f in (1, 2, 3):
        cache(sw, f)
        sw.folio_set(f, locked=True)
    offsets_of(sw, 10, 4)
    assert lists(sw)["full"] == [0, 1]
    sw.swap_reclaim_work(0)
    assert lists(sw)["full"] == [1, 0]
    assert [sw.folio_entry(f).offset for f in (1, 2, 3)] == [1, 2, 3]


def test_reclaim_work_budget_is_inuse_over_cluster_size(new):
    """2.11.2: forced budget max(1, inuse // CLUSTER) clusters from the head of the full list."""
    sw = new()
    assert sw.swapon(12) == 0
    for f in range(1, 12):
        cache(sw, f)
    assert lists(sw)["full"] == [0, 1, 2]
    sw.swap_reclaim_work(0)  # inuse 11 -> budget 2
    assert [sw.folio_entry(f) for f in range(1, 8)] == [None] * 7
    assert [sw.folio_entry(f).offset for f in range(8, 12)] == [8, 9, 10, 11]
    ls = lists(sw)
    assert ls["nonfull"][0] == [0]
    assert ls["free"] == [1]
    assert ls["full"] == [2]
    assert sw.nr_swap_pages() == 7


def test_reclaim_work_without_full_clusters_changes_nothing(new):
    """2.11.2: an empty full list ends the work at once."""
    sw = new()
    assert sw.swapon(12) == 0
    cache(sw, 1)
    before = sw.snapshot("allocator")
    sw.swap_reclaim_work(0)
    sw.swap_discard_work(0)
    assert sw.snapshot("allocator") == before


@pytest.mark.parametrize("order", [0, 1])
def test_allocation_is_aligned_and_inside_one_cluster(new, order):
    """2.1 effects, 3.2.1: a folio's range is aligned to its size and inside one cluster."""
    sw = new(cluster_size=8)
    assert sw.swapon(40) == 0
    nr = 1 << order
    for f in range(1, 10):
        e = swap_out(sw, f, order)
        assert e.offset % nr == 0
        assert e.offset // 8 == (e.offset + nr - 1) // 8
    assert accounting_holds(sw)
