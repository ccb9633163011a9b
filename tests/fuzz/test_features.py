"""fuzz.features on hand-built reference states: the issue's two conjunctions are features."""

from __future__ import annotations

import pytest

from fuzz.features import WINDOW, FeatureTracker, bucket, count_class, name_of, outcome, pair_name
from reference import ReferenceSwap
from reference.api import ENOMEM, Call, Entry


def run(ref: ReferenceSwap, tracker: FeatureTracker, call: Call) -> list[str]:
    """Run `call` on `ref` under `tracker`; the names of the features that were new."""
    seen = len(tracker.new_features)
    tracker.before(call)
    value = call.invoke(ref)
    tracker.after(call, int(value))
    return [name_of(f) for f in tracker.new_features[seen:]]


def two_nonfull_order1_clusters(second_has_gap: bool) -> ReferenceSwap:
    """Cluster size 4, one device of four clusters: cluster 0 holds the header, clusters 1-3
    are full of order-1 folios; then slots 5 and 6 of cluster 1 come free (room for two pages
    but no aligned pair), and in cluster 2 either 8 and 9 (an aligned pair) or 9 and 10."""
    ref = ReferenceSwap(cluster_size=4, max_swapfiles=2)
    assert ref.swapon(16) == 0
    for folio in range(1, 7):
        ref.folio_new(folio, 1)
        assert ref.folio_alloc_swap(folio) == 0
    assert [ref.folio_entry(f).offset for f in range(1, 7)] == [4, 6, 8, 10, 12, 14]
    for folio in range(1, 5):  # swapped out: each slot at count 1, out of the swap cache
        ref.folio_dup_swap(folio)
        ref.swap_cache_del_folio(folio)
    for off in (5, 6, *((8, 9) if second_has_gap else (9, 10))):
        ref.swap_put_entries_direct(Entry(0, off), 1)
    assert ref.devices[0].nonfull_clusters[1] == [1, 2]
    return ref


@pytest.mark.parametrize("second_has_gap", [True, False])
def test_large_allocation_meeting_two_nonfull_clusters_whose_head_has_no_aligned_gap(second_has_gap):
    ref = two_nonfull_order1_clusters(second_has_gap)
    tracker = FeatureTracker(ref)
    run(ref, tracker, Call("folio_new", {"folio": 100, "order": 1}))
    new = run(ref, tracker, Call("folio_alloc_swap", {"folio": 100}))
    result = "ok" if second_has_gap else str(-ENOMEM)
    # Hint of order 1: the last scan found the cluster full, so the offset is 0.
    assert f"alloc:1:off0:2:room-no-aligned-gap:{result}" in new
    assert f"alloc-lists:1:2:0:0:{result}" in new
    assert f"alloc-device:1:ssd:1:True:{result}" in new


def test_gap_status_of_the_nonfull_head():
    ref = two_nonfull_order1_clusters(True)
    tracker = FeatureTracker(ref)
    si = ref.devices[0]
    assert tracker._gap_status(si, 1, 1) == "room-no-aligned-gap"
    assert tracker._gap_status(si, 2, 1) == "aligned-gap"
    assert tracker._gap_status(si, 1, 2) == "no-room"  # order 2 needs all four slots
    assert tracker._gap_status(si, 1, 0) == "aligned-gap"  # any free slot is an order-0 gap


def dup_state(first: int, later: int, overflowed_neighbour: bool) -> tuple[ReferenceSwap, int]:
    """An order-1 folio in the swap cache whose two pages have counts `first` and `later`,
    and (optionally) another slot of its cluster at 15."""
    ref = ReferenceSwap(cluster_size=4, max_swapfiles=2)
    assert ref.swapon(16) == 0
    ref.folio_new(1, 1)
    ref.folio_alloc_swap(1)
    for page, count in ((0, first), (1, later)):
        for _ in range(count):
            assert ref.folio_dup_swap(1, page) == 0
    if overflowed_neighbour:
        ref.folio_new(2, 1)
        ref.folio_alloc_swap(2)
        assert ref.folio_entry(2).offset // 4 == ref.folio_entry(1).offset // 4
        for _ in range(15):
            ref.folio_dup_swap(2, 0)
    return ref, 1


@pytest.mark.parametrize(
    ("first", "later", "neighbour", "fails", "expected"),
    [
        (3, 14, False, False, "dup:whole:14:later:no-ovf:False"),  # the example
        (14, 3, False, False, "dup:whole:14:first:no-ovf:False"),
        (3, 14, True, True, "dup:whole:14:later:ovf:True"),
        (3, 5, False, False, "dup:whole:2-13:none:-:False"),  # no count at the edge: no scan
    ],
)
def test_whole_folio_dup_names_the_page_at_14_and_the_clusters_overflow(
    first, later, neighbour, fails, expected
):
    ref, folio = dup_state(first, later, neighbour)
    tracker = FeatureTracker(ref)
    new = run(ref, tracker, Call("folio_dup_swap", {"folio": folio, "page": None, "alloc_fails": fails}))
    assert any(name.startswith(expected + ":") for name in new), new


def test_put_features_and_misuse_has_only_the_call_feature():
    ref, folio = dup_state(15, 1, False)
    tracker = FeatureTracker(ref)
    new = run(ref, tracker, Call("folio_put_swap", {"folio": folio, "page": 0}))
    assert "put:page:15:True:ovf:ok" in new
    # A dup of a folio not in the swap cache is misuse: no state feature, the call's own only.
    ref.folio_new(9, 0)
    call = Call("folio_dup_swap", {"folio": 9, "page": None})
    tracker.before(call)
    assert tracker._pre == ()


def test_queries_are_not_features_and_pairs_stay_within_the_window():
    ref = ReferenceSwap(cluster_size=4, max_swapfiles=2)
    tracker = FeatureTracker(ref, window=2)
    run(ref, tracker, Call("swapon", {"size": 16}))
    assert tracker.calls == 1
    run(ref, tracker, Call("nr_swap_pages", {}))
    assert tracker.calls == 1 and len(tracker.new_features) == 1
    for folio in (1, 2, 3):
        run(ref, tracker, Call("folio_new", {"folio": folio, "order": folio - 1}))
    pairs = {pair_name(p) for p in tracker.pairs}
    assert "swapon:ok -> folio_new:ok:0:uncached" in pairs
    assert "swapon:ok -> folio_new:ok:1:uncached" in pairs
    # Three calls later: outside a window of two.
    assert "swapon:ok -> folio_new:ok:2:uncached" not in pairs
    assert tracker.new_pairs and len(tracker.new_pairs) == len(tracker.pairs)


def test_a_shared_set_counts_only_what_is_new_to_it():
    ref = ReferenceSwap(cluster_size=4, max_swapfiles=2)
    first = FeatureTracker(ref)
    run(ref, first, Call("swapon", {"size": 16}))
    other = ReferenceSwap(cluster_size=4, max_swapfiles=2)
    second = FeatureTracker(other, features=first.features, pairs=first.pairs)
    assert run(other, second, Call("swapon", {"size": 16})) == []


def test_classes():
    assert [count_class(c) for c in (0, 1, 2, 13, 14, 15, 16, 300)] == [
        0,
        1,
        "2-13",
        "2-13",
        14,
        15,
        "16+",
        "16+",
    ]
    assert [bucket(n) for n in (0, 1, 2, 3, 9)] == [0, 1, 2, 3, 3]
    assert (outcome(0), outcome(5), outcome(-ENOMEM)) == ("ok", "pos", -ENOMEM)
    assert WINDOW >= 2
