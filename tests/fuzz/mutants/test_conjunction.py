"""The conjunction mutants (fuzz.mutants.conjunction) apply, stay out of the catalogue, and are
real bugs reachable through the API: for each one a hand trace builds its conjunction call by
call, diverges on the mutant and agrees on the real code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz.mutants.apply import check_mutant, mutated_copy
from fuzz.mutants.catalogue import CATALOGUE
from fuzz.mutants.conjunction import CONJUNCTION, SETS
from fuzz.replay import make_trace, replay_trace
from fuzz.trace import write_trace
from optimized import OptimizedSwap
from reference import ReferenceSwap
from reference.api import Call, Entry
from tests.clikit import cli_env

SMALL = {"cluster_size": 4, "max_swapfiles": 2, "devices": [{"size": 16}]}
WIDE = {"cluster_size": 8, "max_swapfiles": 2, "devices": [{"size": 32}]}


def test_ten_named_mutants_of_their_own_that_apply():
    assert len(CONJUNCTION) == 10 and SETS["conjunction"] is CONJUNCTION
    names = [m.name for m in CONJUNCTION]
    assert len(set(names)) == 10 and not set(names) & {m.name for m in CATALOGUE}
    for mutant in CONJUNCTION:
        assert check_mutant(mutant) is None, mutant.name


# Every conjunction state below is built through the public API on the reference's own
# placement (cluster size 4 unless said otherwise: cluster 0 holds the header at slot 0, so
# the first order-0 slots are 1, 2, 3 and cluster 1 is slots 4-7).


def _new(folio: int, order: int) -> list[Call]:
    return [Call("folio_new", {"folio": folio, "order": order}), Call("folio_alloc_swap", {"folio": folio})]


def _referenced_uncached(folio: int) -> list[Call]:
    """The folio's slots at count 1, out of the swap cache (a page table holds them)."""
    return [
        Call("folio_dup_swap", {"folio": folio, "page": None}),
        Call("swap_cache_del_folio", {"folio": folio, "shadow": 0}),
    ]


def _put(off: int, nr: int = 1) -> Call:
    return Call("swap_put_entries_direct", {"entry": Entry(0, off), "nr": nr})


def _two_nonfull_clusters_then_large_alloc() -> list[Call]:
    """Clusters 1 and 2 of order 1 each with two free slots, only cluster 2's aligned; then an
    order-1 allocation (tests/fuzz/test_features.py builds the same state)."""
    calls = [Call("swapon", {"size": 16})]
    for folio in range(1, 7):
        calls += _new(folio, 1)
    for folio in range(1, 5):
        calls += _referenced_uncached(folio)
    calls += [_put(off) for off in (5, 6, 8, 9)]
    return [*calls, *_new(100, 1)]


def _later_page_at_14_then_whole_dup() -> list[Call]:
    """An order-1 folio whose first page is at 3 and second at 14, in a cluster with no
    overflowed slot; then a whole-folio dup."""
    calls = [Call("swapon", {"size": 16}), *_new(1, 1)]
    calls += [Call("folio_dup_swap", {"folio": 1, "page": 0})] * 3
    calls += [Call("folio_dup_swap", {"folio": 1, "page": 1})] * 14
    return [*calls, Call("folio_dup_swap", {"folio": 1, "page": None})]


def _later_page_at_14_then_failing_whole_dup() -> list[Call]:
    """An order-1 folio whose second page is at 14 (no overflow row yet); a whole-folio dup
    whose row allocation fails must change nothing (-ENOMEM)."""
    calls = [Call("swapon", {"size": 16}), *_new(1, 1)]
    calls += [Call("folio_dup_swap", {"folio": 1, "page": 1})] * 14
    return [*calls, Call("folio_dup_swap", {"folio": 1, "page": None, "alloc_fails": True})]


def _two_overflowed_slots_then_put() -> list[Call]:
    """Both pages of an order-1 folio (slots 2 and 3) at 15, so the cluster's overflow row
    holds two slots; a put on the first; the second's count is read back."""
    calls = [Call("swapon", {"size": 16}), *_new(1, 1)]
    calls += [Call("folio_dup_swap", {"folio": 1, "page": None})] * 15
    calls.append(Call("folio_put_swap", {"folio": 1, "page": 0}))
    return [*calls, Call("swap_count", {"entry": Entry(0, 3)})]


def _cluster_freed_while_swapping_off_a_discard_device() -> list[Call]:
    """An order-2 folio fills cluster 1 of a page-discard device, referenced and uncached;
    swapoff begins; a put frees the whole cluster: it goes to the free list, not discard."""
    calls = [Call("swapon", {"size": 16, "discard": "pages"}), *_new(1, 2), *_referenced_uncached(1)]
    return [*calls, Call("swapoff_begin", {"type": 0}), _put(4, 4)]


def _partial_free_in_an_order_1_cluster() -> list[Call]:
    """Two order-1 folios fill cluster 1 (slots 4-7), referenced and uncached; one slot is
    freed: the cluster leaves the full list for order 1's nonfull list."""
    calls = [Call("swapon", {"size": 16})]
    for folio in (1, 2, 3):  # folio 1 takes slots 2-3 in cluster 0; 2 and 3 fill cluster 1
        calls += [*_new(folio, 1), *_referenced_uncached(folio)]
    return [*calls, _put(5)]


def _direct_put_of_uncached_then_cached_slot() -> list[Call]:
    """Slot 1 referenced and uncached, slot 2 referenced and cached by an unmapped, unlocked
    folio; a two-slot direct put drops both to 0 and must reclaim the cached folio."""
    calls = [Call("swapon", {"size": 16}), *_new(1, 0), *_new(2, 0), *_referenced_uncached(1)]
    calls.append(Call("folio_dup_swap", {"folio": 2, "page": None}))
    return [*calls, _put(1, 2), Call("folio_entry", {"folio": 2})]


def _allocation_filling_a_cluster_before_its_end() -> list[Call]:
    """Slots 1-7 taken by order-0 folios (clusters 0 and 1 full); slot 5 freed; the next
    order-0 allocation takes 5, filling cluster 1 there: no next-offset hint may point into
    the now-full cluster."""
    calls = [Call("swapon", {"size": 16})]
    for folio in range(1, 8):
        calls += _new(folio, 0)
    calls.append(Call("folio_free_swap", {"folio": 5}))
    return [*calls, *_new(8, 0)]


def _swapoff_abort_of_a_full_device() -> list[Call]:
    """An 8-slot device filled (7 order-0 folios), swapoff begun and aborted: the device goes
    back on the avail list though full, as the kernel does."""
    calls = [Call("swapon", {"size": 8})]
    for folio in range(1, 8):
        calls += _new(folio, 0)
    return [*calls, Call("swapoff_begin", {"type": 0}), Call("swapoff_abort", {"type": 0})]


def _order_0_steal_with_frag_and_nonfull_order_1_clusters() -> list[Call]:
    """Cluster size 8, 32 slots: slots 1-7 order 0, clusters 1-3 order 1, all referenced and
    uncached (nothing to reclaim).  Freeing slots 9 and 11 leaves cluster 1 with room but no
    aligned pair: a failing order-1 allocation moves it to frag; freeing slot 25 puts cluster
    3 on order 1's nonfull list.  An order-0 allocation with no free cluster and empty order-0
    lists steals, from the frag cluster first (slot 9)."""
    calls = [Call("swapon", {"size": 32})]
    folio = 0
    for order, count in ((0, 7), (1, 12)):
        for _ in range(count):
            folio += 1
            calls += [*_new(folio, order), *_referenced_uncached(folio)]
    calls += [_put(9), _put(11), *_new(100, 1), _put(25)]
    return [*calls, *_new(101, 0)]


HAND_TRACES = {
    "nonfull-head-only-large": (_two_nonfull_clusters_then_large_alloc, SMALL),
    "dup-overflow-checks-first-page": (_later_page_at_14_then_whole_dup, SMALL),
    "dup-fail-ignored-for-folios": (_later_page_at_14_then_failing_whole_dup, SMALL),
    "overflow-row-released-early": (_two_overflowed_slots_then_put, SMALL),
    "discard-list-while-swapping-off": (_cluster_freed_while_swapping_off_a_discard_device, SMALL),
    "partial-free-large-not-nonfull": (_partial_free_in_an_order_1_cluster, SMALL),
    "direct-put-reclaim-after-batch": (_direct_put_of_uncached_then_cached_slot, SMALL),
    "hint-set-on-filled-cluster": (_allocation_filling_a_cluster_before_its_end, SMALL),
    "swapoff-abort-skips-full-device": (_swapoff_abort_of_a_full_device, SMALL),
    "steal-nonfull-before-frag": (_order_0_steal_with_frag_and_nonfull_order_1_clusters, WIDE),
}


def _replay(trace: Path, pythonpath: list[str]) -> subprocess.CompletedProcess:
    env = cli_env(NUMBA_DISABLE_JIT="1")
    env["PYTHONPATH"] = os.pathsep.join([*pythonpath, env["PYTHONPATH"]])
    return subprocess.run(
        [sys.executable, "-m", "fuzz.cli", "replay", str(trace)],
        env=env,
        cwd=trace.parent,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_every_conjunction_mutant_has_a_hand_trace():
    assert set(HAND_TRACES) == {m.name for m in CONJUNCTION}


@pytest.mark.parametrize("name", sorted(HAND_TRACES))
def test_each_conjunction_is_reachable_and_kills_its_mutant(tmp_path, name):
    build_calls, geometry = HAND_TRACES[name]
    trace = make_trace(
        build_calls(), ReferenceSwap, OptimizedSwap, geometry=geometry, seed=None, profile=None, mode=None
    )
    path = tmp_path / f"{name}.jsonl"
    write_trace(path, trace)
    (mutant,) = [m for m in CONJUNCTION if m.name == name]
    with mutated_copy(mutant) as root:
        killed = _replay(path, [str(root)])
    assert killed.returncode == 1, killed.stdout + killed.stderr
    assert "diverge" in (killed.stdout + killed.stderr).lower()
    # The real code agrees on every call (in process: no mutated copy needed).
    assert replay_trace(trace, ReferenceSwap, OptimizedSwap).divergence is None
