"""The optimized model's own state: growth keeps contents, and `check_invariants()` notices
corruption of each structure (through the documented `debug_state()` hook)."""

from __future__ import annotations

import pytest

from optimized import OptimizedSwap
from optimized import kernels as k
from reference.api import Entry
from reference.model import ReferenceSwap


def _world(sw):
    """Two devices, cached, swapped and overflowed slots."""
    assert sw.swapon(64, bad=(9,)) == 0
    assert sw.swapon(40, priority=3, solidstate=False) == 1
    for folio in range(1, 9):
        assert sw.folio_new(folio, folio % 3) == 0
        assert sw.folio_alloc_swap(folio) == 0
        assert sw.folio_dup_swap(folio) == 0
    for _ in range(20):
        assert sw.folio_dup_swap(1) == 0
    assert sw.swap_cache_del_folio(2, shadow=(1 << 61) + 5) == 0
    return sw


def test_world_matches_reference():
    opt, ref = _world(OptimizedSwap(cluster_size=8)), _world(ReferenceSwap(cluster_size=8))
    assert opt.snapshot("allocator") == ref.snapshot("allocator")
    opt.check_invariants()


def test_big_shadows_survive_compaction():
    sw = OptimizedSwap(cluster_size=8)
    assert sw.swapon(400) == 0
    kept = {}
    for folio in range(1, 120):
        assert sw.folio_new(folio, 0) == 0
        assert sw.folio_alloc_swap(folio) == 0
        assert sw.folio_dup_swap(folio) == 0
        entry = sw.folio_entry(folio)
        assert sw.swap_cache_del_folio(folio, shadow=(1 << 57) + folio) == 0
        if folio % 2:
            kept[entry] = (1 << 57) + folio
        else:
            assert sw.swap_put_entries_direct(entry, 1) == 0
    assert {e: sw.swap_shadow(e) for e in kept} == kept
    assert len(sw.debug_state()["BIG"]) < 200  # dead shadows were dropped, not kept forever
    sw.check_invariants()


def test_swapoff_and_swapon_reuse_the_pool_segment():
    sw = OptimizedSwap(cluster_size=16)
    for _ in range(5):
        assert sw.swapon(500) == 0
        pool = len(sw.debug_state()["SL"])
        assert sw.swapoff_begin(0) == 0
        assert sw.swapoff_end(0) == 0
    assert len(sw.debug_state()["SL"]) == pool


def _corrupt_bitmap(st):
    st["BM"][0] ^= 1 << 3


def _corrupt_cluster_count(st):
    st["CL"][0, k.C_COUNT] += 1


def _corrupt_list_link(st):
    st["CL"][1, k.C_PREV] = 5


def _corrupt_nr_swap_pages(st):
    st["G"][k.G_NR] -= 1


def _corrupt_slot_folio(st):
    sl = st["SL"]
    cached = [i for i, w in enumerate(sl) if w & k.TAG_MASK == k.TAG_CACHED]
    sl[cached[0]] = (7000 << k.PAYLOAD_SHIFT) | (sl[cached[0]] & 63)


def _corrupt_overflow(st):
    cl = st["CL"]
    row = next(r for r in cl[:, k.C_EXT] if r >= 0)
    st["EXT"][row, 8] += 3


def _corrupt_inuse(st):
    st["G"][k.G_DEV + k.D_INUSE] += 1


def _corrupt_folio_table(st):
    st["G"][k.G_FLIVE] += 1


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (_corrupt_bitmap, "bitmap"),
        (_corrupt_cluster_count, "count"),
        (_corrupt_list_link, "links"),
        (_corrupt_nr_swap_pages, "nr_swap_pages"),
        (_corrupt_slot_folio, "folio row"),
        (_corrupt_overflow, "overflow"),
        (_corrupt_inuse, "inuse"),
        (_corrupt_folio_table, "folio table"),
    ],
)
def test_corruption_is_caught(corrupt, message):
    sw = _world(OptimizedSwap(cluster_size=8))
    sw.check_invariants()
    corrupt(sw.debug_state())
    with pytest.raises(AssertionError, match=message):
        sw.check_invariants()


def test_arguments_beyond_the_value_limit_match_the_reference():
    for sw in (OptimizedSwap(cluster_size=8), ReferenceSwap(cluster_size=8)):
        assert sw.swapon(40) == 0
    calls = [
        ("folio_new", (1 << 62, 0)),
        ("folio_new", (True, 0)),
        ("swap_count", (Entry(0, 1 << 70),)),
        ("swap_count", ((0, 1),)),
        ("swap_count", ("ab",)),
        ("device", (1 << 70,)),
    ]
    opt, ref = OptimizedSwap(cluster_size=8), ReferenceSwap(cluster_size=8)
    for sw in (opt, ref):
        sw.swapon(40)
    for name, args in calls:
        outcomes = []
        for sw in (opt, ref):
            try:
                outcomes.append(("ok", getattr(sw, name)(*args)))
            except Exception as err:  # comparing the outcome, whatever it is
                outcomes.append((type(err).__name__, getattr(err, "code", None)))
        assert outcomes[0] == outcomes[1], name
