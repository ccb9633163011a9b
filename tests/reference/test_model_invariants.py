"""The reference's own invariant check (semantics 3.2): each cluster's count is its non-free
slots (bad, counted or cached), `inuse` is the non-bad ones, wherever in the device they are."""

from __future__ import annotations

import pytest
from refkit import cache, swap_out

from reference.model import ReferenceSwap


def _device_with_slots() -> ReferenceSwap:
    """Three clusters of 4 (header and 2 bad pages in cluster 0, padding in cluster 2), one
    slot swapped out and one cached."""
    sw = ReferenceSwap(cluster_size=4)
    assert sw.swapon(11, bad=(2, 5), blkdev=True) == 0
    swap_out(sw, 1)
    cache(sw, 2)
    sw.check_invariants()
    return sw


def test_counts_of_a_consistent_device_hold() -> None:
    sw = _device_with_slots()
    si = sw.devices[0]
    assert [c.count for c in si.clusters] == [4, 1, 1]  # header 0, bad 2, slots 1 and 3; bad 5; pad 11
    assert si.inuse == 2


@pytest.mark.parametrize("ci", [0, 1, 2])
def test_a_cluster_count_off_by_one_is_caught(ci: int) -> None:
    sw = _device_with_slots()
    sw.devices[0].clusters[ci].count += 1
    with pytest.raises(AssertionError, match=f"type 0 cluster {ci}: count"):
        sw.check_invariants()


def test_a_slot_counted_but_not_in_its_cluster_is_caught() -> None:
    sw = _device_with_slots()
    si = sw.devices[0]
    si.swap_map[9] = 1  # cluster 2, neither counted nor in inuse
    with pytest.raises(AssertionError, match="type 0 cluster 2: count 1 != 2"):
        sw.check_invariants()


def test_inuse_that_counts_a_bad_slot_is_caught() -> None:
    sw = _device_with_slots()
    sw.devices[0].inuse += 1
    with pytest.raises(AssertionError, match="type 0: inuse 3 != 2 used slots"):
        sw.check_invariants()
