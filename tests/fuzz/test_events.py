"""Event labels computed from reference snapshots around one call."""

from __future__ import annotations

from fuzz.events import ALLOCATOR_LABELS, labels_for
from reference.api import ENOMEM, Call, Entry, run_call
from reference.model import ReferenceSwap


class Recorder:
    """Runs calls on a reference model and returns the labels of each."""

    def __init__(self, cluster_size: int = 4) -> None:
        self.impl = ReferenceSwap(cluster_size=cluster_size)

    def __call__(self, name: str, **kwargs) -> list[str]:
        call = Call(name, kwargs)
        before = self.impl.snapshot("allocator")
        result = run_call(self.impl, call)
        return labels_for(
            call, result, before, self.impl.snapshot("allocator"), cluster_size=self.impl.cluster_size
        )


def test_allocation_moves_clusters_and_fills_the_device():
    run = Recorder()
    run("swapon", size=8)
    run("folio_new", folio=1, order=2)
    assert "cluster free->full" in run("folio_alloc_swap", folio=1)  # a whole cluster
    run("folio_new", folio=2, order=0)
    labels = run("folio_alloc_swap", folio=2)
    assert "cluster nonfull->frag" in labels  # the header cluster, carved from
    for folio in (3, 4):
        run("folio_new", folio=folio, order=0)
        labels = run("folio_alloc_swap", folio=folio)
    assert "cluster frag->full" in labels
    assert "device full" in labels and "device off avail" in labels
    run("folio_new", folio=5, order=1)
    assert "large folio fallback" in run("folio_alloc_swap", folio=5)
    assert "cluster full->free" in run("folio_free_swap", folio=1)


def test_counts_crossing_into_and_out_of_overflow_storage():
    run = Recorder()
    run("swapon", size=8)
    entry = run.impl.swap_alloc_hibernation_slot(0)
    for _ in range(13):
        assert run("swap_dup_entry_direct", entry=entry) == []
    assert run("swap_dup_entry_direct", entry=entry) == ["overflow 14->15"]
    assert run("swap_put_entries_direct", entry=entry, nr=1) == ["overflow 15->14"]


def test_hibernation_and_order_stealing():
    run = Recorder()
    run("swapon", size=8)
    run("folio_new", folio=1, order=1)
    run("folio_alloc_swap", folio=1)  # cluster 1 now has order 1
    run("folio_dup_swap", folio=1)  # referenced: the scan cannot reclaim it
    for _ in range(3):
        run("swap_alloc_hibernation_slot", type=0)
    assert run.impl.swap_count(Entry(0, 3)) == 1  # cluster 0 is full
    labels = run("swap_alloc_hibernation_slot", type=0)
    assert labels == ["hibernation alloc", "order stealing"]
    assert run("swap_alloc_hibernation_slot", type=5) == ["hibernation alloc failed"]
    assert "hibernation free" in run("swap_free_hibernation_slot", entry=Entry(0, 1))


def test_reclaim_in_scan():
    run = Recorder()
    run("swapon", size=8)
    run("folio_new", folio=1, order=1)
    run("folio_alloc_swap", folio=1)  # cached, count 0: reclaimable once swap is full
    for _ in range(3):
        run("swap_alloc_hibernation_slot", type=0)
    labels = run("swap_alloc_hibernation_slot", type=0)
    assert "reclaim in scan" in labels and "cluster frag->free" in labels
    assert run.impl.folio_entry(1) is None


def test_swapoff_labels_and_nothing_for_a_contract_error():
    run = Recorder()
    run("swapon", size=8)
    assert run("swapoff_end", type=0) == []  # not swapping off: a contract error
    run("swapoff_begin", type=0)
    assert run("swapoff_abort", type=0) == ["swapoff abort"]
    run("swapoff_begin", type=0)
    assert run("swapoff_end", type=0) == ["swapoff done"]


def test_charge_failure_is_not_a_fallback():
    run = Recorder()
    run("swapon", size=8)
    run("folio_new", folio=1, order=1)
    labels = run("folio_alloc_swap", folio=1, charge_fails=True)
    assert "charge failure" in labels and "large folio fallback" not in labels
    assert run.impl.folio_entry(1) is None and -ENOMEM < 0


def test_required_labels_are_distinct_and_named_like_the_computed_ones():
    assert len(set(ALLOCATOR_LABELS)) == len(ALLOCATOR_LABELS)
    assert all(
        label.startswith(
            (
                "cluster ",
                "order ",
                "overflow ",
                "reclaim ",
                "sync ",
                "device ",
                "large ",
                "hibernation ",
                "swapoff ",
            )
        )
        for label in ALLOCATOR_LABELS
    )
