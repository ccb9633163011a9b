"""The rare-state labels (fuzz.events.RARE_LABELS): each computed from reference snapshots."""

from __future__ import annotations

from collections import Counter

from fuzz.events import RARE_LABELS, SHADOW_BIG, error_labels, labels_for
from fuzz.modes.fast import run_episode
from reference import Entry, ReferenceSwap
from reference.api import VALUE_LIMIT, Call


def _device(discard: str = "none", priority: int = -1, pending: tuple[int, ...] = ()) -> dict:
    return {
        "pages": 8,
        "inuse": 4,
        "priority": priority,
        "discard": discard,
        "lists": {"discard": list(pending)},
    }


def test_pcpu_labels_follow_the_hint_before_and_after() -> None:
    call = Call("folio_alloc_swap", {"folio": 7, "charge_fails": False})
    got = {"folios": [[7, 0, [1, 8], False, False, False]], "percpu": [[1, 9]]}
    assert "pcpu switch after failed scan" in labels_for(call, 0, {"percpu": [[0, 5]]}, got)
    assert "pcpu switch from empty hint" in labels_for(call, 0, {"percpu": [[0, 0]]}, got)
    same = labels_for(call, 0, {"percpu": [[1, 4]]}, got)
    assert not {"pcpu switch after failed scan", "pcpu switch from empty hint"} & set(same)
    failed = {"folios": [[7, 0, None, False, False, False]], "percpu": [[0, 0]]}
    assert "pcpu hint reset by failed scan" in labels_for(call, -12, {"percpu": [[0, 5]]}, failed)


def test_sync_discard_labels_need_two_pending_devices_of_one_priority() -> None:
    call = Call("folio_alloc_swap", {"folio": 7, "charge_fails": False})
    before = {
        "devices": {
            "0": _device("pages", 1, (2,)),
            "1": _device("pages", 1, (3,)),
            "2": _device("pages", 0, (1,)),
        },
        "avail": [1, 0, 2],
        "folios": [],
    }
    after = {
        "devices": {"0": _device("pages", 1), "1": _device("pages", 1, (3,)), "2": _device("pages", 0, (1,))},
        "avail": [1, 0, 2],
        "folios": [[7, 0, [0, 8], False, False, False]],
    }
    found = labels_for(call, 0, before, after)
    assert {"sync discard", "sync discard, 2+ pending of one priority", "sync discard, avail rotated"} <= set(
        found
    )
    before["avail"] = after["avail"] = [0, 1, 2]  # the discarded device leads the avail list
    found = labels_for(call, 0, before, after)
    assert "sync discard, 2+ pending of one priority" in found and "sync discard, avail rotated" not in found
    before["devices"]["1"] = _device("pages", 2, (3,))  # no longer of one priority
    assert "sync discard, 2+ pending of one priority" not in labels_for(call, 0, before, after)


def test_large_swapin_over_bad_labels_say_where_the_bad_slot_is() -> None:
    snap = {"devices": {"0": _device()}, "slots": {"0": [[0, "bad", 0, 0, 0], [5, "bad", 0, 0, 0]]}}

    def labels(offset: int, order: int) -> set[str]:
        call = Call("swapin_folio", {"entry": Entry(0, offset), "folio": 9, "order": order})
        return set(error_labels(call, "bad-slot", snap))

    assert labels(6, 3) == {"large swapin, BAD below entry", "large swapin, BAD inside range"}
    assert labels(1, 1) == {"large swapin, BAD below entry"}  # the header starts the range
    assert labels(4, 2) == {"large swapin, BAD inside range"}  # 5 inside [4, 8), none below 4
    assert labels(5, 3) == set()  # the entry itself is BAD: the plain misuse
    readahead = Call("swap_cache_alloc_folio", {"entry": Entry(0, 5), "folio": 9})
    assert labels_for(readahead, 0, snap, snap) == ["readahead over BAD"]


def test_packed_field_labels() -> None:
    def stored(shadow: int, others: int = 0) -> list[str]:
        rows = [[1, "swapped", 1, 0, shadow]] + [
            [2 + i, "swapped", 1, 0, SHADOW_BIG + 7 + i] for i in range(others)
        ]
        call = Call("swap_cache_del_folio", {"folio": 3, "shadow": shadow})
        return labels_for(call, 0, {}, {"slots": {"0": rows}})

    assert stored(SHADOW_BIG) == ["shadow escape stored", "shadow at escape limit"]
    assert stored(SHADOW_BIG - 1) == ["shadow below escape limit"]
    assert stored(VALUE_LIMIT - 1, others=4) == ["shadow escape stored", "big shadows past table size"]
    assert stored(42) == []
    dup = Call("swap_dup_entry_direct", {"entry": Entry(0, 1), "alloc_fails": False})
    slots = lambda n: {"slots": {"0": [[1, "swapped", n, 0, 0]]}}  # noqa: E731
    assert "count 15->16" in labels_for(dup, 0, slots(15), slots(16))
    assert "count far beyond" in labels_for(dup, 0, slots(255), slots(256))
    new = Call("folio_new", {"folio": VALUE_LIMIT - 1, "order": 0})
    live = {"folios": [[VALUE_LIMIT - 1, 0, None, False, False, False]]}
    assert "folio id at limit" in labels_for(new, 0, {"folios": []}, live)


def test_overflow_rows_past_table_size_counts_clusters_with_overflowed_slots() -> None:
    dup = Call("swap_dup_entry_direct", {"entry": Entry(0, 9), "alloc_fails": False})
    before = {"slots": {"0": [[1, "swapped", 15, 0, 0], [5, "swapped", 20, 0, 0], [9, "swapped", 14, 0, 0]]}}
    after = {"slots": {"0": [[1, "swapped", 15, 0, 0], [5, "swapped", 20, 0, 0], [9, "swapped", 15, 0, 0]]}}
    assert "overflow rows past table size" in labels_for(dup, 0, before, after, cluster_size=4)
    assert "overflow rows past table size" not in labels_for(dup, 0, before, after, cluster_size=8)


def test_fast_episodes_reach_every_rare_label() -> None:
    # Fixed seeds of the default profile, labels on: the swarm families and boundary draws
    # together reach every rare state (campaigns report the counts).
    labels: Counter[str] = Counter()
    for seed in SEEDS:
        labels.update(run_episode(ReferenceSwap, ReferenceSwap, seed=seed, steps=1500, labels=True).labels)
    assert [label for label in RARE_LABELS if not labels[label]] == []


SEEDS = tuple(range(16))
