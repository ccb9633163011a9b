"""Scenario tests for entry management: semantics 2.2 (dup/put), 2.3 (folio_free_swap),
2.4 (removal from the swap cache), 2.5 (swap-in), 2.6 (swap_put_entries_direct), 2.7
(swap_dup_entry_direct), 2.8 (hibernation slots) and 2.12 (queries), with DESIGN decision 3
(count overflow)."""

from __future__ import annotations

import pytest
from refkit import accounting_holds, avail, cache, clusters, lists, percpu, slot_rows, swap_out

from reference.api import ENOMEM, Entry

# ---------------------------------------------------------------------------------------------
# 2.2 folio_dup_swap / folio_put_swap
# ---------------------------------------------------------------------------------------------


def test_put_to_zero_keeps_cached_slot_cached_and_allocated(new):
    """2.2 folio_put_swap: a CACHED slot that reaches 0 stays CACHED(folio, 0), not freed."""
    sw = new()
    sw.swapon(12)
    e = cache(sw, 1)
    assert sw.folio_dup_swap(1) == 0
    assert sw.swap_count(e) == 1
    assert sw.folio_put_swap(1) == 0
    assert sw.swap_count(e) == 0
    assert sw.swap_cache_folio(e) == 1
    assert sw.folio_entry(1) == e
    assert sw.device(0).inuse == 1
    assert sw.nr_swap_pages() == 10
    assert slot_rows(sw)[1] == ["cached", 0, 1, 0]


def test_dup_and_put_of_one_page_touch_only_that_slot(new):
    """2.2: `page` selects one slot of a large folio; None selects all of them."""
    sw = new()
    sw.swapon(12)
    e = cache(sw, 1, order=2)
    assert e == Entry(0, 4)
    sw.folio_dup_swap(1, page=2)
    assert [sw.swap_count(Entry(0, o)) for o in range(4, 8)] == [0, 0, 1, 0]
    sw.folio_dup_swap(1)
    assert [sw.swap_count(Entry(0, o)) for o in range(4, 8)] == [1, 1, 2, 1]
    sw.folio_put_swap(1, page=2)
    sw.folio_put_swap(1)
    assert [sw.swap_count(Entry(0, o)) for o in range(4, 8)] == [0, 0, 0, 0]
    assert [sw.swap_cache_folio(Entry(0, o)) for o in range(4, 8)] == [1, 1, 1, 1]
    assert sw.device(0).inuse == 4


def test_counts_are_unbounded(new):
    """DESIGN 3, 2.2: counts are logical integers, well past the inline limit."""
    sw = new()
    sw.swapon(12)
    e = cache(sw, 1)
    for _ in range(40):
        assert sw.folio_dup_swap(1) == 0
    assert sw.swap_count(e) == 40
    for _ in range(40):
        sw.folio_put_swap(1)
    assert sw.swap_count(e) == 0
    assert sw.swap_cache_folio(e) == 1


def _slot_at(sw, count, folio):
    """A SWAPPED slot with the given count (swap out, then fork-dup)."""
    e = swap_out(sw, folio)
    for _ in range(count - 1):
        assert sw.swap_dup_entry_direct(e) == 0
    assert sw.swap_count(e) == count
    return e


def test_dup_14_to_15_with_alloc_failure_changes_nothing(new):
    """DESIGN 3 / 2.7 P3: the 14 -> 15 dup needs overflow storage; alloc_fails -> -ENOMEM, no change."""
    sw = new()
    sw.swapon(12)
    e = _slot_at(sw, 14, 1)
    before = sw.snapshot("allocator")
    assert sw.swap_dup_entry_direct(e, alloc_fails=True) == -ENOMEM
    assert sw.snapshot("allocator") == before
    assert sw.swap_count(e) == 14
    assert sw.swap_dup_entry_direct(e) == 0
    assert sw.swap_count(e) == 15
    assert sw.swap_dup_entry_direct(e, alloc_fails=True) == 0
    assert sw.swap_count(e) == 16


def test_folio_dup_14_to_15_with_alloc_failure_changes_nothing(new):
    """DESIGN 3 / 2.2 P3 rollback: a failed whole-folio dup leaves every slot as it was."""
    sw = new()
    sw.swapon(12)
    cache(sw, 1, order=1)
    for _ in range(14):
        sw.folio_dup_swap(1, page=1)
    sw.folio_dup_swap(1, page=0)
    before = sw.snapshot("allocator")
    assert sw.folio_dup_swap(1, alloc_fails=True) == -ENOMEM
    assert sw.snapshot("allocator") == before
    assert [sw.swap_count(Entry(0, o)) for o in (4, 5)] == [1, 14]
    assert sw.folio_dup_swap(1) == 0
    assert [sw.swap_count(Entry(0, o)) for o in (4, 5)] == [2, 15]


def test_overflow_storage_is_per_cluster(new):
    """DESIGN 3: once a slot of a cluster is >= 15 the cluster has storage; other clusters do not."""
    sw = new()
    sw.swapon(12)
    a = _slot_at(sw, 15, 1)
    b = _slot_at(sw, 14, 2)
    assert a.offset // 4 == b.offset // 4 == 0
    assert sw.swap_dup_entry_direct(b, alloc_fails=True) == 0
    assert sw.swap_count(b) == 15
    # A slot in another cluster still needs its own storage.
    for f in (3, 4):
        swap_out(sw, f)
    c = _slot_at(sw, 14, 5)
    assert c.offset // 4 == 1
    assert sw.swap_dup_entry_direct(c, alloc_fails=True) == -ENOMEM
    assert sw.swap_count(c) == 14


def test_overflow_storage_gone_when_counts_drop(new):
    """DESIGN 3: storage is needed only while a slot of the cluster is >= 15."""
    sw = new()
    sw.swapon(12)
    e = _slot_at(sw, 15, 1)
    sw.swap_put_entries_direct(e, 1)
    assert sw.swap_count(e) == 14
    assert sw.swap_dup_entry_direct(e, alloc_fails=True) == -ENOMEM
    assert sw.swap_count(e) == 14


# ---------------------------------------------------------------------------------------------
# 2.3 folio_free_swap
# ---------------------------------------------------------------------------------------------


def test_folio_free_swap_frees_unreferenced_folio(new):
    """2.3: all counts 0 -> removed from the cache, slots freed as one batch, True."""
    sw = new()
    sw.swapon(12)
    e = cache(sw, 1, order=1)
    assert sw.folio_free_swap(1) is True
    assert sw.folio_entry(1) is None
    assert sw.swap_cache_folio(e) == 0
    assert sw.nr_swap_pages() == 11
    assert clusters(sw)[1] == [0, "free", 0]
    sw.folio_drop(1)


@pytest.mark.parametrize("blocker", ["referenced", "writeback", "pm_suspended", "not_cached"])
def test_folio_free_swap_refuses(new, blocker):
    """2.3: False and no change when a slot is referenced, under writeback, pm suspended, or not cached."""
    sw = new()
    sw.swapon(12)
    if blocker == "not_cached":
        sw.folio_new(1, 0)
    else:
        cache(sw, 1, order=1)
    if blocker == "referenced":
        sw.folio_dup_swap(1, page=1)
    elif blocker == "writeback":
        sw.folio_set(1, writeback=True)
    elif blocker == "pm_suspended":
        sw.set_pm_suspended_storage(True)
    before = sw.snapshot("allocator")
    assert sw.folio_free_swap(1) is False
    assert sw.snapshot("allocator") == before


def test_folio_free_swap_ignores_lock_and_mapping(new):
    """2.3: the caller holds the folio lock; `locked` (another holder) and `mapped` do not matter."""
    sw = new()
    sw.swapon(12)
    cache(sw, 1)
    sw.folio_set(1, locked=True, mapped=True)
    assert sw.folio_free_swap(1) is True


# ---------------------------------------------------------------------------------------------
# 2.4 swap_cache_del_folio
# ---------------------------------------------------------------------------------------------


def test_del_frees_count0_slots_and_keeps_counts_and_shadow(new):
    """2.4 step 3: count-0 slots are freed one by one; the others keep count and shadow."""
    sw = new()
    sw.swapon(12)
    e = cache(sw, 1, order=1)
    assert e == Entry(0, 4)
    sw.folio_dup_swap(1, page=1)
    assert sw.swap_cache_del_folio(1, shadow=77) == 0
    assert sw.folio_entry(1) is None
    assert sw.swap_count(Entry(0, 4)) == 0
    assert sw.swap_cache_folio(Entry(0, 4)) == 0
    assert sw.swap_count(Entry(0, 5)) == 1
    assert sw.swap_shadow(Entry(0, 5)) == 77
    assert sw.swap_shadow(Entry(0, 4)) == 0
    assert slot_rows(sw)[5] == ["swapped", 1, 0, 77]
    assert 4 not in slot_rows(sw)
    assert sw.device(0).inuse == 1
    assert sw.nr_swap_pages() == 10
    assert clusters(sw)[1] == [1, "nonfull", 1]
    assert lists(sw)["nonfull"][1] == [1]


def test_del_with_all_counts_referenced_frees_nothing(new):
    """2.4 step 3: with every count > 0 no slot is freed; all become SWAPPED with the shadow."""
    sw = new()
    sw.swapon(12)
    cache(sw, 1, order=1)
    sw.folio_dup_swap(1)
    sw.folio_dup_swap(1, page=0)
    sw.swap_cache_del_folio(1, shadow=9)
    assert slot_rows(sw)[4] == ["swapped", 2, 0, 9]
    assert slot_rows(sw)[5] == ["swapped", 1, 0, 9]
    assert sw.device(0).inuse == 2


def test_del_of_unreferenced_folio_frees_all_slots(new):
    """2.4 step 3: no slot with count > 0 -> all `nr` slots freed as one batch."""
    sw = new()
    sw.swapon(12)
    cache(sw, 1, order=2)
    sw.swap_cache_del_folio(1, shadow=5)
    assert sw.device(0).inuse == 0
    assert clusters(sw)[1] == [0, "free", 0]
    assert slot_rows(sw).keys() == {0}


def test_removed_folio_stays_live_until_dropped(new):
    """DESIGN "Folios": a folio removed from the cache stays live, with no entry."""
    sw = new()
    sw.swapon(12)
    cache(sw, 1)
    sw.swap_cache_del_folio(1)
    folios = sw.snapshot("contract").data["folios"]
    assert folios == [[1, 0, None, False, False, False]]
    sw.folio_drop(1)
    assert sw.snapshot("contract").data["folios"] == []


# ---------------------------------------------------------------------------------------------
# 2.5 swap_cache_alloc_folio and swapin_folio
# ---------------------------------------------------------------------------------------------


def test_swap_cache_alloc_folio_adds_new_folio_for_swapped_slot(new):
    """2.5 steps 3-4: a SWAPPED slot gets the new order-0 folio; count kept, no accounting change."""
    sw = new()
    sw.swapon(12)
    e = swap_out(sw, 1, shadow=33)
    sw.swap_dup_entry_direct(e)
    nr = sw.nr_swap_pages()
    assert sw.swap_cache_alloc_folio(e, 50) == 50
    assert sw.swap_cache_folio(e) == 50
    assert sw.swap_count(e) == 2
    assert sw.swap_shadow(e) == 0
    assert sw.folio_entry(50) == e
    assert sw.nr_swap_pages() == nr
    assert [50, 0, [0, 1], False, False, False] in sw.snapshot("contract").data["folios"]


def test_swap_cache_alloc_folio_returns_cached_folio(new):
    """2.5 step 1: a CACHED slot returns its folio and changes nothing (even at count 0)."""
    sw = new()
    sw.swapon(12)
    e = cache(sw, 1)
    before = sw.snapshot("allocator")
    assert sw.swap_cache_alloc_folio(e, 50) == 1
    assert sw.snapshot("allocator") == before
    sw.folio_dup_swap(1)
    assert sw.swap_cache_alloc_folio(e, 50) == 1


@pytest.mark.parametrize("offset", [0, 3, 6])
def test_swap_cache_alloc_folio_refuses_bad_and_free_slots(new, offset):
    """2.5 step 2, 4.#7: the header, a bad page and a free slot are not "swapped": 0, no change."""
    sw = new()
    sw.swapon(12, bad=(3,))
    swap_out(sw, 1)
    before = sw.snapshot("allocator")
    assert sw.swap_cache_alloc_folio(Entry(0, offset), 50) == 0
    assert sw.snapshot("allocator") == before


def test_swapin_folio_large_rounds_entry_down(new):
    """2.5 swapin_folio: the entry is rounded down to the folio size; counts unchanged."""
    sw = new()
    sw.swapon(12)
    e = swap_out(sw, 1, order=2, shadow=4)
    assert e == Entry(0, 4)
    assert sw.swapin_folio(Entry(0, 6), 60, 2) == 60
    assert sw.folio_entry(60) == e
    assert [sw.swap_count(Entry(0, o)) for o in range(4, 8)] == [1, 1, 1, 1]
    assert [sw.swap_cache_folio(Entry(0, o)) for o in range(4, 8)] == [60] * 4
    assert sw.device(0).inuse == 4
    sw.folio_put_swap(60)
    assert sw.folio_free_swap(60) is True
    assert sw.device(0).inuse == 0


def test_swapin_folio_large_fails_on_cached_slot(new):
    """2.5 swapin_folio: -EEXIST on any slot makes a large swap-in return 0, no change."""
    sw = new()
    sw.swapon(12)
    swap_out(sw, 1, order=1)
    assert sw.swap_cache_alloc_folio(Entry(0, 5), 50) == 50
    before = sw.snapshot("allocator")
    assert sw.swapin_folio(Entry(0, 4), 60, 1) == 0
    assert sw.snapshot("allocator") == before


def test_swapin_folio_large_fails_on_free_slot(new):
    """2.5 swap_cache_add_folio: a count-0 slot in the range is -ENOENT, so 0 and no change."""
    sw = new()
    sw.swapon(12)
    swap_out(sw, 1, order=1)
    sw.swap_put_entries_direct(Entry(0, 5), 1)
    before = sw.snapshot("allocator")
    assert sw.swapin_folio(Entry(0, 4), 60, 1) == 0
    assert sw.snapshot("allocator") == before


def test_swapin_order0_returns_cached_folio(new):
    """MODEL swap-in: an order-0 swapin_folio on a cached slot returns that folio, no change."""
    sw = new()
    sw.swapon(12)
    e = swap_out(sw, 1)
    assert sw.swap_cache_alloc_folio(e, 50) == 50
    before = sw.snapshot("allocator")
    assert sw.swapin_folio(e, 60, 0) == 50
    assert sw.snapshot("allocator") == before


def test_swapin_order0_of_swapped_slot(new):
    """2.5: an order-0 swapin_folio caches the single slot with its count."""
    sw = new()
    sw.swapon(12)
    e = swap_out(sw, 1)
    assert sw.swapin_folio(e, 60, 0) == 60
    assert sw.swap_cache_folio(e) == 60
    assert sw.swap_count(e) == 1


# ---------------------------------------------------------------------------------------------
# 2.6 swap_put_entries_direct
# ---------------------------------------------------------------------------------------------


def test_put_direct_frees_swapped_count1_slots(new):
    """2.6 step 2: count-1 uncached slots are freed; higher counts are decremented."""
    sw = new()
    sw.swapon(12)
    a = swap_out(sw, 1)
    b = swap_out(sw, 2)
    sw.swap_dup_entry_direct(b)
    sw.swap_put_entries_direct(a, 2)
    assert sw.swap_count(a) == 0 and a.offset not in slot_rows(sw)
    assert sw.swap_count(b) == 1
    assert sw.device(0).inuse == 1
    assert sw.nr_swap_pages() == 10


def test_put_direct_processes_clusters_in_order(new):
    """2.6 step 2: per-cluster chunks in offset order; emptied clusters reach the free list in order."""
    sw = new()
    sw.swapon(12)
    for f in range(1, 12):
        swap_out(sw, f)
    sw.swap_put_entries_direct(Entry(0, 4), 8)
    assert lists(sw)["free"] == [1, 2]
    assert sw.device(0).inuse == 3
    assert avail(sw) == [0]


def test_put_direct_reclaims_unmapped_cached_folio(new):
    """2.6 step 3, 2.6.2: a cached slot going 1 -> 0 is reclaimed (TTRS_UNMAPPED) when unmapped."""
    sw = new()
    sw.swapon(12)
    e = cache(sw, 1)
    sw.folio_dup_swap(1)
    sw.swap_put_entries_direct(e, 1)
    assert sw.folio_entry(1) is None
    assert sw.swap_cache_folio(e) == 0
    assert sw.device(0).inuse == 0
    assert sw.nr_swap_pages() == 11
    assert [1, 0, None, False, False, False] in sw.snapshot("contract").data["folios"]


@pytest.mark.parametrize("blocker", ["mapped", "locked", "writeback", "pm_suspended"])
def test_put_direct_try_reclaim_blocked(new, blocker):
    """2.6.2: mapped (swap not full), locked, writeback or pm_suspended_storage keep CACHED(folio, 0)."""
    sw = new()
    sw.swapon(12)
    e = cache(sw, 1)
    sw.folio_dup_swap(1)
    if blocker == "pm_suspended":
        sw.set_pm_suspended_storage(True)
    else:
        sw.folio_set(1, **{blocker: True})
    sw.swap_put_entries_direct(e, 1)
    assert sw.folio_entry(1) == e
    assert sw.swap_count(e) == 0
    assert sw.swap_cache_folio(e) == 1
    assert sw.device(0).inuse == 1


def _full_with_mapped_cached(sw, at):
    """cluster size 4, size 16: every slot used, swapped out except a mapped cached folio at `at`."""
    for f in range(1, 16):
        if f == at:
            cache(sw, f)
            sw.folio_dup_swap(f)
            sw.folio_set(f, mapped=True)
        else:
            swap_out(sw, f)
    assert sw.nr_swap_pages() == 0


def test_put_direct_reclaims_mapped_folio_when_swap_full(new):
    """2.6.2 TTRS_FULL: a mapped folio is reclaimed while vm_swap_full()."""
    sw = new()
    sw.swapon(16)
    _full_with_mapped_cached(sw, 7)
    sw.swap_put_entries_direct(Entry(0, 7), 1)
    assert sw.folio_entry(7) is None
    assert sw.nr_swap_pages() == 1


def test_put_direct_reclaim_runs_per_chunk_before_later_chunks(new):
    """2.6 step 3: the reclaim of a chunk reads vm_swap_full() before later chunks are freed."""
    sw = new()
    sw.swapon(16)
    _full_with_mapped_cached(sw, 7)
    sw.swap_put_entries_direct(Entry(0, 7), 9)
    assert sw.folio_entry(7) is None
    assert sw.nr_swap_pages() == 9


def test_put_direct_reclaim_after_earlier_chunks_freed(new):
    """2.6 step 3: a later chunk sees the frees of earlier chunks (swap no longer full)."""
    sw = new()
    sw.swapon(16)
    _full_with_mapped_cached(sw, 12)
    sw.swap_put_entries_direct(Entry(0, 4), 9)
    assert sw.folio_entry(12) == Entry(0, 12)
    assert sw.swap_cache_folio(Entry(0, 12)) == 12
    assert sw.swap_count(Entry(0, 12)) == 0
    assert sw.nr_swap_pages() == 8


def test_put_direct_reclaims_large_folio_once(new):
    """2.6 step 3: the walk skips the rest of a reclaimed large folio."""
    sw = new()
    sw.swapon(12)
    e = cache(sw, 1, order=2)
    sw.folio_dup_swap(1)
    sw.swap_put_entries_direct(e, 4)
    assert sw.folio_entry(1) is None
    assert clusters(sw)[1] == [0, "free", 0]
    assert sw.nr_swap_pages() == 11


def test_put_direct_on_partly_referenced_large_folio_keeps_it(new):
    """2.6.2: a folio with a slot still referenced is not reclaimed."""
    sw = new()
    sw.swapon(12)
    e = cache(sw, 1, order=1)
    sw.folio_dup_swap(1)
    sw.swap_put_entries_direct(e, 1)
    assert sw.folio_entry(1) == e
    assert [sw.swap_count(Entry(0, o)) for o in (4, 5)] == [0, 1]


# ---------------------------------------------------------------------------------------------
# 2.7 swap_dup_entry_direct
# ---------------------------------------------------------------------------------------------


def test_dup_direct_on_swapped_and_cached_slots(new):
    """2.7: +1 on one slot with count >= 1, cached or not; nothing else changes."""
    sw = new()
    sw.swapon(12)
    a = swap_out(sw, 1, shadow=3)
    b = cache(sw, 2)
    sw.folio_dup_swap(2)
    nr = sw.nr_swap_pages()
    assert sw.swap_dup_entry_direct(a) == 0
    assert sw.swap_dup_entry_direct(b) == 0
    assert slot_rows(sw)[a.offset] == ["swapped", 2, 0, 3]
    assert slot_rows(sw)[b.offset] == ["cached", 2, 2, 0]
    assert sw.nr_swap_pages() == nr


# ---------------------------------------------------------------------------------------------
# 2.8 hibernation slots
# ---------------------------------------------------------------------------------------------


def test_hibernation_alloc_lowers_nr_swap_pages_by_one_and_free_restores(new):
    """2.8, 4.#1: exactly one decrement per hibernation slot; its free adds exactly one back."""
    sw = new()
    sw.swapon(12)
    e = sw.swap_alloc_hibernation_slot(0)
    assert e == Entry(0, 1)
    assert sw.nr_swap_pages() == 10
    assert sw.device(0).inuse == 1
    assert slot_rows(sw)[1] == ["swapped", 1, 0, 0]
    assert accounting_holds(sw)
    assert sw.swap_free_hibernation_slot(e) == 0
    assert sw.nr_swap_pages() == 11
    assert sw.device(0).inuse == 0
    assert accounting_holds(sw)


def test_hibernation_allocs_are_consecutive(new):
    """2.8 step 1, 4.#12: consecutive hibernation slots come from the percpu cluster in order."""
    sw = new()
    sw.swapon(12)
    got = [sw.swap_alloc_hibernation_slot(0) for _ in range(6)]
    assert [e.offset for e in got] == [1, 2, 3, 4, 5, 6]
    assert sw.nr_swap_pages() == 5


def test_hibernation_alloc_does_not_rotate_and_takes_over_percpu(new):
    """2.8 steps 2-3: no rotation; on an SSD the slow path overwrites the percpu hint."""
    sw = new()
    sw.swapon(12)
    sw.swapon(12)
    assert swap_out(sw, 1) == Entry(0, 1)
    assert avail(sw) == [1, 0]
    assert sw.swap_alloc_hibernation_slot(1) == Entry(1, 1)
    assert avail(sw) == [1, 0]
    assert percpu(sw)[0] == [1, 2]
    assert swap_out(sw, 2) == Entry(1, 2)


@pytest.mark.parametrize("type", [-1, 1, 24, 99])
def test_hibernation_alloc_invalid_type_returns_none(new, type):
    """2.8: an invalid or unused type gives None and no change."""
    sw = new()
    sw.swapon(12)
    before = sw.snapshot("allocator")
    assert sw.swap_alloc_hibernation_slot(type) is None
    assert sw.snapshot("allocator") == before


def test_hibernation_alloc_on_full_device_returns_none(new):
    """2.8: nothing allocatable -> None."""
    sw = new()
    sw.swapon(4)
    assert [sw.swap_alloc_hibernation_slot(0).offset for _ in range(3)] == [1, 2, 3]
    assert sw.swap_alloc_hibernation_slot(0) is None
    assert sw.nr_swap_pages() == 0


def test_hibernation_free_of_cached_slot_reclaims_folio(new):
    """2.8 free (P3+): decrement, keep the cached slot, then try-reclaim(ANYWAY) frees it."""
    sw = new()
    sw.swapon(12)
    e = sw.swap_alloc_hibernation_slot(0)
    assert sw.swap_cache_alloc_folio(e, 50) == 50
    sw.folio_set(50, mapped=True)
    sw.swap_free_hibernation_slot(e)
    assert sw.folio_entry(50) is None
    assert sw.swap_cache_folio(e) == 0
    assert sw.device(0).inuse == 0
    assert sw.nr_swap_pages() == 11


def test_hibernation_free_of_cached_slot_with_locked_folio(new):
    """2.8 free, 4.#9: a locked readahead folio keeps the slot CACHED(folio, 0) until it leaves."""
    sw = new()
    sw.swapon(12)
    e = sw.swap_alloc_hibernation_slot(0)
    sw.swap_cache_alloc_folio(e, 50)
    sw.folio_set(50, locked=True)
    sw.swap_free_hibernation_slot(e)
    assert slot_rows(sw)[e.offset] == ["cached", 0, 50, 0]
    assert sw.device(0).inuse == 1
    sw.folio_set(50, locked=False)
    assert sw.folio_free_swap(50) is True
    assert sw.device(0).inuse == 0


# ---------------------------------------------------------------------------------------------
# 2.12 queries
# ---------------------------------------------------------------------------------------------


def test_queries_on_bad_free_and_used_slots(new):
    """2.12: BAD and FREE slots read count 0, no folio, shadow 0."""
    sw = new()
    sw.swapon(12, bad=(5,))
    for off in (0, 5, 9):
        e = Entry(0, off)
        assert (sw.swap_count(e), sw.swap_cache_folio(e), sw.swap_shadow(e)) == (0, 0, 0)
    rows = slot_rows(sw)
    assert rows[0][0] == "bad" and rows[5][0] == "bad"


def test_device_record(new):
    """2.12 /proc/swaps: pages, inuse, priority, flags of a device; None for an unused type."""
    sw = new()
    assert sw.swapon(12, priority=7, solidstate=False, blkdev=False, discard="once") == 0
    swap_out(sw, 1)
    d = sw.device(0)
    assert (d.type, d.max, d.pages, d.inuse, d.priority) == (0, 12, 11, 1, 7)
    assert (d.writeok, d.on_avail, d.swapping_off) == (True, True, False)
    assert (d.solidstate, d.blkdev, d.discard) == (False, False, "once")
    assert sw.device(1) is None
    assert sw.nr_swap_pages() == 10
    assert sw.total_swap_pages() == 11
