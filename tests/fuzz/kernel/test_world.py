"""The kernel lane's model side on its own (no kernel): the translation rules of world.py."""

from __future__ import annotations

import pytest

from fuzz.kernel.world import HELPER, ModelWorld
from reference.api import Entry


def _world(npages: int = 4, shm_pages: int = 0) -> ModelWorld:
    w = ModelWorld(npages, shm_pages=shm_pages)
    assert w.swapon(1024, 5, bad=[], solidstate=False, blkdev=False, discard="none") == 0
    return w


def test_a_written_folio_stays_cached_and_a_clean_one_leaves_at_once() -> None:
    w = _world()
    w.pageout(0, 1)
    entry = w.procs[HELPER][0][1]
    assert (w.writes, w.cached(entry), w.ref.swap_count(entry)) == (1, True, 1)
    w.fault(0, write=False)
    assert w.procs[HELPER][0][0] == "r" and w.reads == 0  # the cached folio, no read
    w.pageout(0, 1)
    assert (w.writes, w.cached(entry)) == (1, False)  # clean: reclaimed, not written
    w.fault(0, write=False)
    assert w.reads == 1
    w.ref.check_invariants()


def test_pageout_skips_a_folio_a_child_shares() -> None:
    w = _world()
    w.fork(1)
    w.pageout(0, 4)
    assert w.writes == 0 and all(st[0] == "r" for st in w.procs[HELPER])
    w.child_exit(1)
    w.pageout(0, 4)
    assert w.writes == 4


def test_swapoff_unuses_every_process_and_frees_the_device() -> None:
    w = _world()
    w.pageout(0, 4)
    w.fork(1)
    assert w.ref.swap_count(Entry(0, 1)) == 2
    assert w.swapoff(0) is None
    assert w.ref.device(0) is None and w.reads == 0
    f = w.procs[HELPER][0][1]
    assert w.procs["1"][0] == ("r", f) and w.maps[f] == {HELPER, "1"}


def test_shmem_swap_in_frees_the_slot_and_a_hole_frees_the_rest() -> None:
    w = _world(npages=1, shm_pages=3)
    w.shm_pageout(0, 3)
    assert w.writes == 3 and w.ref.device(0).inuse == 3
    w.shm_read(0)
    assert w.shm[0][0] == "c" and w.ref.device(0).inuse == 2 and w.reads == 0
    w.shm_punch(1, 2)
    assert w.ref.device(0).inuse == 0 and w.shm[1:] == [None, None]
    assert [w.shm_resident(p) for p in range(3)] == [1, 0, 0]
    w.ref.check_invariants()


def _large_world(folios: int = 2, blkdev: bool = True) -> ModelWorld:
    w = ModelWorld(1, large_order=4, large_folios=folios)
    assert w.swapon(1024, 5, bad=[], solidstate=False, blkdev=blkdev, discard="none") == 0
    return w


def test_an_empty_block_faults_in_one_large_folio_and_a_touched_one_order_0() -> None:
    w = _large_world(1)
    f = w.large[0][1]
    assert w.nr(f) == 16 and all(st == ("r", f) for st in w.large) and w.mthp["anon_fault_alloc"] == 1
    w.large_zap(0, 16)
    w.large_fault(5, write=False)  # the zero page: the block is no longer empty
    w.large_fault(6, write=True)
    assert w.large[5] == ("z",) and w.nr(w.large[6][1]) == 1
    assert [w.large_shape(p) for p in (4, 5, 6)] == [None, "zero", "small"]
    w.large_zap(0, 16)
    w.large_fault(9, write=True)
    assert w.large_shape(0) == "head" and w.large_shape(9) == "tail" and w.mthp["anon_fault_alloc"] == 2


def test_a_large_pageout_takes_one_aligned_range_and_a_cached_fault_maps_it_whole() -> None:
    w = _large_world(1)
    w.large_pageout(0, 16)
    assert [st[1].offset for st in w.large] == list(range(512, 528))
    assert (w.writes, w.mthp["swpout"], w.swap_cached_pages()) == (16, 1, 16)
    w.large_fault(7, write=False)
    f = w.large[7][1]
    assert all(st == ("r", f) for st in w.large) and w.reads == 0
    w.ref.check_invariants()


def test_a_swap_file_splits_the_folio_head_first_then_tails_backwards() -> None:
    w = _large_world(1, blkdev=False)
    w.large_pageout(0, 16)
    assert [st[1].offset for st in w.large] == [1, *range(16, 1, -1)]
    assert (w.mthp["swpout"], w.mthp["swpout_fallback"], w.mthp["split"], w.writes) == (0, 1, 1, 16)
    assert all(w.large_shape(p) is None for p in range(16))
    w.ref.check_invariants()


def test_zapping_a_cached_large_folio_frees_its_range_and_swapoff_maps_it_back() -> None:
    w = _large_world(2)
    w.large_pageout(0, 32)
    w.large_zap(0, 16)
    assert w.ref.device(0).inuse == 16  # the second folio only
    assert w.swapoff(0) is None
    f = w.large[16][1]
    assert w.nr(f) == 16 and all(st == ("r", f) for st in w.large[16:]) and w.reads == 0


def _mapped(w: ModelWorld) -> list[int]:
    return [p for p, mapped in enumerate(w.shm_mapped) if mapped]


def test_a_shmem_read_fault_maps_its_windows_cached_pages_not_swapped_ones_or_holes() -> None:
    w = _world(npages=1, shm_pages=40)
    w.shm_pageout(3, 2)
    w.shm_zap(0, 40)
    w.shm_punch(6, 1)
    w.shm_read(5)  # the 16-page window [0, 16): 3 and 4 are swapped, 6 is a hole
    assert _mapped(w) == [0, 1, 2, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    assert w.ref.device(0).inuse == 2 and w.shm_events["fault_around"] == 12
    w.shm_read(33)  # [32, 48) clipped to the 40 pages of the mapping
    assert _mapped(w)[13:] == list(range(32, 40))
    w.shm_read(3)  # the faulting page itself is swapped: fault-around, then the swap-in
    assert w.shm[3][0] == "c" and w.shm_mapped[3] and not w.shm_mapped[4] and w.shm[6] is None
    w.ref.check_invariants()


def test_a_shmem_read_of_a_present_page_does_not_fault() -> None:
    w = _world(npages=1, shm_pages=16)
    w.shm_zap(1, 15)
    w.shm_read(0)  # pte present: no fault, so no fault-around
    assert _mapped(w) == [0] and w.shm_events["fault_around"] == 0


def test_a_shmem_store_maps_only_its_page_and_dirties_it() -> None:
    w = _world(npages=1, shm_pages=16)
    w.shm_zap(0, 16)
    w.shm_write(5)
    assert _mapped(w) == [5]
    w.shm_punch(9, 1)
    w.shm_write(9)  # a write fault on a hole: a new folio, dirty
    w.shm_pageout(0, 16)
    assert w.writes == 2 and [p for p, st in enumerate(w.shm) if st and st[0] == "s"] == [5, 9]


def test_a_clean_shmem_folio_is_dropped_at_pageout_and_a_swapped_in_one_is_dirty() -> None:
    w = _world(npages=1, shm_pages=2)
    w.shm_punch(0, 1)
    w.shm_read(0)  # a hole's read fault: a zero-filled clean folio
    w.shm_pageout(0, 1)
    assert w.shm[0] is None and w.writes == 0 and w.shm_events["clean_dropped"] == 1
    w.shm_pageout(1, 1)
    w.shm_read(1)  # swapped in from the swap cache: dirty again
    w.shm_pageout(1, 1)
    assert w.writes == 2 and w.reads == 0 and w.shm[1][0] == "s"
    w.ref.check_invariants()


# ---- hibernation slots: the /dev/snapshot session as reference calls ----


def _hib_world(solidstate: bool = True) -> ModelWorld:
    w = ModelWorld(4)
    assert w.swapon(1024, 5, bad=[], solidstate=solidstate, blkdev=True, discard="none") == 0
    w.hib_open = True
    w.hib_set_area(0)
    return w


def test_each_slot_is_one_swap_alloc_hibernation_slot_counted_once() -> None:
    w = _hib_world()
    free = w.ref.nr_swap_pages()
    assert w.hib_alloc(3) == [1, 2, 3]  # the header is slot 0; the per-CPU cluster continues
    dev = w.ref.device(0)
    assert (dev.inuse, w.ref.nr_swap_pages()) == (3, free - 3)
    assert [w.ref.swap_count(Entry(0, o)) for o in (1, 2, 3)] == [1, 1, 1]
    assert w.hib == {"taken": 3, "freed": 0, "refused": 0}
    w.ref.check_invariants()


def test_slots_after_a_pageout_follow_it_in_the_same_cluster() -> None:
    w = _hib_world()
    w.pageout(0, 2)  # slots 1 and 2
    assert w.hib_alloc(2) == [3, 4]
    assert w.hib_slots.extents() == [(3, 4)]


def test_free_releases_every_held_slot_in_the_tree_order() -> None:
    w = _hib_world()
    w.hib_alloc(2)  # 1, 2
    w.pageout(0, 1)  # 3
    w.hib_alloc(1)  # 4: a second extent
    w.pageout(1, 1)  # 5
    w.hib_alloc(1)  # 6: a third; the tree rotates [4, 4] to the root
    assert w.hib_slots.extents() == [(1, 2), (4, 4), (6, 6)]
    calls: list[int] = []
    free = w.ref.swap_free_hibernation_slot
    w.ref.swap_free_hibernation_slot = lambda e: calls.append(e.offset) or free(e)  # type: ignore[method-assign]
    w.hib_free()
    assert calls == [4, 6, 1, 2]
    assert w.ref.device(0).inuse == 2 and not w.hib_slots and w.hib["freed"] == 4
    assert w.hib_open and w.hib_area == 0  # FREE_SWAP_PAGES keeps the session and its area
    w.ref.check_invariants()


def test_close_frees_and_ends_the_session() -> None:
    w = _hib_world()
    w.hib_alloc(5)
    w.hib_close()
    assert (w.ref.device(0).inuse, w.hib_open, w.hib_area, w.hib["freed"]) == (0, False, None, 5)


def test_a_full_area_refuses_with_enospc_and_without_an_area_with_enodev() -> None:
    w = ModelWorld(4)
    assert w.swapon(512, 5, bad=[], solidstate=True, blkdev=True, discard="none") == 0
    assert w.hib_alloc(1) == [-19]  # ENODEV: no SNAPSHOT_SET_SWAP_AREA yet
    w.hib_set_area(0)
    got = w.hib_alloc(512)
    assert got[:511] == list(range(1, 512)) and got[511] == -28  # ENOSPC
    assert w.hib == {"taken": 511, "freed": 0, "refused": 1}


def test_the_area_cannot_change_while_slots_are_held() -> None:
    w = _hib_world()
    assert w.swapon(1024, 5, bad=[], solidstate=True, blkdev=True, discard="none") == 1
    w.hib_alloc(1)
    with pytest.raises(AssertionError, match="held"):
        w.hib_set_area(1)
    w.hib_free()
    w.hib_set_area(1)
    assert w.hib_alloc(1) == [1] and w.ref.device(1).inuse == 1
