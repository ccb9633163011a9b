"""Incremental state digests against their definition, `reference.digest.snapshot_digest`.

Both implementations keep a digest without building a snapshot (the reference incrementally
beside its dicts, the optimized one inside its kernels, per op of a batch too); after every op
of long random world traces it must equal the digest recomputed from the snapshot, at both
snapshot levels.  The NUMBA_DISABLE_JIT lane runs the same tests on the kernels as Python.
"""

from __future__ import annotations

import itertools
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz.modes.fast import episode_calls
from optimized import OptimizedSwap
from reference import digest
from reference.api import LINK_END, LINK_HEAD, SNAPSHOT_LEVELS, Entry, encode_calls, run_call
from reference.model import ReferenceSwap

NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"
TRACE_CALLS = 600 if NOJIT else 3000
PROFILES = ["default", "mthp", "fork", "swapoff", "hibernate", "kbuild", "usemem"]


def _trace(seed: int, profile: str):
    calls, geo = episode_calls(ReferenceSwap, seed=seed, count=TRACE_CALLS, profile=profile)
    return calls, {"cluster_size": geo.cluster_size, "max_swapfiles": geo.max_swapfiles}


@pytest.mark.parametrize("impl_cls", [ReferenceSwap, OptimizedSwap], ids=["reference", "optimized"])
@pytest.mark.parametrize("seed,profile", list(enumerate(PROFILES)))
def test_incremental_digest_equals_snapshot_digest_after_every_op(impl_cls, seed, profile):
    calls, kw = _trace(seed, profile)
    impl = impl_cls(**kw)
    seen = set()
    for i, call in enumerate(calls):
        run_call(impl, call)
        for level in SNAPSHOT_LEVELS:
            kept = impl.state_digest(level)
            assert kept == digest.snapshot_digest(impl.snapshot(level)), (i, str(call), level)
            seen.add(kept)
    # The traces change state all the time: a digest stuck at one value would pass the
    # equality above without checking anything.
    assert len(seen) > len(calls) // 4


@pytest.mark.parametrize("seed,profile", [(11, "default"), (12, "mthp"), (13, "swapoff")])
def test_batch_digests_are_the_digests_after_each_op(seed, profile):
    calls, kw = _trace(seed, profile)
    ops = encode_calls(calls)
    for level in SNAPSHOT_LEVELS:
        results, digests = OptimizedSwap(**kw).apply(ops, digests=level)
        ref_results, ref_digests = ReferenceSwap(**kw).apply(ops, digests=level)
        stepwise = OptimizedSwap(**kw)
        expected = []
        for call in calls:
            run_call(stepwise, call)
            expected.append(stepwise.state_digest(level))
        assert [int(d) for d in digests] == expected
        assert list(ref_digests) == expected  # the two implementations agree on these traces
        assert [int(r) for r in results] == list(ref_results)


def test_digest_sees_a_corrupted_count_and_list_order():
    swap = OptimizedSwap(cluster_size=4, max_swapfiles=2)
    swap.swapon(33)
    for fid in (1, 2):
        swap.folio_new(fid, 0)
        swap.folio_alloc_swap(fid)
    before = {level: swap.state_digest(level) for level in SNAPSHOT_LEVELS}
    state = swap.debug_state()
    entry = swap.folio_entry(1)
    # One more swap count on folio 1's slot, written behind the kernels' back.
    cs = swap.cluster_size
    base = int(state["G"][_cbase_index(0)]) * cs
    state["SL"][base + entry.offset] += 1 << 2
    for level in SNAPSHOT_LEVELS:
        changed = swap.state_digest(level)
        assert changed != before[level]
        assert changed == digest.snapshot_digest(swap.snapshot(level))


def _cbase_index(t: int) -> int:
    from optimized import kernels as k

    return int(k.G_DEV + t * k.DS + k.D_CBASE)


def test_reference_digest_follows_swapoff_and_a_new_device_on_the_same_type():
    swap = ReferenceSwap(cluster_size=4, max_swapfiles=1)
    empty = swap.state_digest()
    assert swap.swapon(17) == 0
    swap.folio_new(1, 0)
    swap.folio_alloc_swap(1)
    swap.folio_free_swap(1)
    swap.folio_drop(1)
    assert swap.swapoff_begin(0) == 0 and swap.swapoff_end(0) == 0
    assert swap.state_digest() == empty == digest.snapshot_digest(swap.snapshot())
    assert swap.swapon(9, priority=3) == 0
    swap.swap_alloc_hibernation_slot(0)
    for level in SNAPSHOT_LEVELS:
        assert swap.state_digest(level) == digest.snapshot_digest(swap.snapshot(level))
    assert swap.swap_count(Entry(0, 1)) == 1


@given(st.lists(st.tuples(st.sampled_from(["append", "insert", "pop", "remove"]), st.integers(0, 20))))
def test_link_list_keeps_the_link_hashes_of_its_order(operations):
    owner = digest.StateDigest(model=None)
    prefix = (digest.R_LINK, 0, digest.LIST_FREE)
    tracked = digest.LinkList(owner, prefix, [])
    plain: list[int] = []
    for op, value in operations:
        if op == "append":
            tracked.append(value)
            plain.append(value)
        elif op == "insert":
            tracked.insert(value % (len(plain) + 1), value)
            plain.insert(value % (len(plain) + 1), value)
        elif plain and op == "pop":
            index = value % len(plain)
            assert tracked.pop(index) == plain.pop(index)
        elif plain:
            item = plain[value % len(plain)]
            tracked.remove(item)
            plain.remove(item)
        assert list(tracked) == plain
        chain = [LINK_HEAD, *plain, LINK_END]
        expected = sum(hash((*prefix, a, b)) for a, b in itertools.pairwise(chain))
        assert tracked.links == owner.links == expected


def test_tracking_containers_refuse_untracked_writes():
    swap = ReferenceSwap(cluster_size=4, max_swapfiles=1)
    swap.swapon(17)
    si = swap.devices[0]
    with pytest.raises(TypeError):
        si.swap_map.update({1: 1})
    with pytest.raises(TypeError):
        si.free_clusters.extend([1])
    with pytest.raises(TypeError):
        swap.folios.pop(1)


@pytest.mark.parametrize("profile", ["default", "swapoff"])
def test_a_deep_copy_keeps_its_own_digest_current(profile):
    """Checkpoints (fuzz.checkpoint) deep-copy the reference: the copy's tracking containers
    report to the copy's digest, never count a link twice, and leave the original alone."""
    import copy

    calls, kw = _trace(7, profile)
    half = len(calls) // 2
    original = ReferenceSwap(**kw)
    for call in calls[:half]:
        run_call(original, call)
        original.state_digest("allocator")  # read after every call, as the harness does
    copied = copy.deepcopy(original)
    frozen = original.snapshot("allocator").to_json()
    for level in SNAPSHOT_LEVELS:
        assert copied.state_digest(level) == original.state_digest(level)
    for call in calls[half:]:
        run_call(copied, call)
        assert copied.state_digest("allocator") == digest.snapshot_digest(copied.snapshot("allocator"))
    assert original.snapshot("allocator").to_json() == frozen
    assert original.state_digest("allocator") == digest.snapshot_digest(original.snapshot("allocator"))
    straight = ReferenceSwap(**kw)
    for call in calls:
        run_call(straight, call)
        straight.state_digest("allocator")
    assert copied.snapshot("allocator").to_json() == straight.snapshot("allocator").to_json()
