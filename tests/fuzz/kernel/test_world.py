"""The kernel lane's model side on its own (no kernel): the translation rules of world.py."""

from __future__ import annotations

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
    assert w.fault(0, write=False) is not None and w.reads == 0  # the cached folio, no read
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
    w.shm_fault(0)
    assert w.shm[0][0] == "c" and w.ref.device(0).inuse == 2 and w.reads == 0
    w.shm_punch(1, 2)
    assert w.ref.device(0).inuse == 0 and w.shm[1:] == [None, None]
    assert [w.shm_resident(p) for p in range(3)] == [1, 0, 0]
    w.ref.check_invariants()
