"""Batch mode: `OptimizedSwap.apply` equals the same calls one by one and the reference's
`apply`, in results and final state; malformed arrays change nothing."""

from __future__ import annotations

import numpy as np
import pytest
from optcalls import random_calls

from optimized import OptimizedSwap
from reference.api import Call, SwapContractError, decode_ops, encode_calls, run_call
from reference.model import ReferenceSwap


@pytest.mark.parametrize("seed", range(6))
def test_apply_equals_steps_and_reference(seed):
    cluster_size = (4, 8, 16)[seed % 3]
    calls = list(random_calls(seed, 600, cluster_size=cluster_size, max_swapfiles=3))
    ops = encode_calls(calls)
    batch = OptimizedSwap(cluster_size=cluster_size, max_swapfiles=3)
    stepped = OptimizedSwap(cluster_size=cluster_size, max_swapfiles=3)
    ref = ReferenceSwap(cluster_size=cluster_size, max_swapfiles=3)
    results = batch.apply(ops)
    assert isinstance(results, np.ndarray) and results.dtype == np.int64
    # Step through the decoded calls: the encoding folds some misuse (page=-1 is None).
    assert results.tolist() == [run_call(stepped, call) for call in decode_ops(ops)]
    assert results.tolist() == ref.apply(ops)
    assert batch.snapshot("allocator") == stepped.snapshot("allocator") == ref.snapshot("allocator")
    batch.check_invariants()


def test_apply_grows_arrays_inside_a_batch():
    """One batch that needs a bigger pool, folio table, overflow rows and shadow cells."""
    calls = [Call("swapon", {"size": 3000})]
    for folio in range(1, 200):
        calls += [Call("folio_new", {"folio": folio, "order": 0}), Call("folio_alloc_swap", {"folio": folio})]
        calls += [Call("folio_dup_swap", {"folio": folio})] * 16
        calls.append(Call("swap_cache_del_folio", {"folio": folio, "shadow": (1 << 60) + folio}))
    ops = encode_calls(calls)
    opt = OptimizedSwap(cluster_size=16)
    ref = ReferenceSwap(cluster_size=16)
    assert opt.apply(ops).tolist() == ref.apply(ops)
    assert opt.snapshot("allocator") == ref.snapshot("allocator")
    opt.check_invariants()


@pytest.mark.parametrize("ops", [[99], [6, 1, 0, 27], [6, 1], [0, 10, -1, 0, 2, 3]])
def test_malformed_array_is_unknown_op_and_changes_nothing(ops):
    sw = OptimizedSwap(cluster_size=8)
    assert sw.swapon(40) == 0
    before = sw.snapshot("allocator")
    with pytest.raises(SwapContractError) as err:
        sw.apply(ops)
    assert err.value.code == "unknown-op"
    assert sw.snapshot("allocator") == before


def test_values_beyond_int64_fall_back_to_per_call_apply():
    ops = [6, 1 << 70, 0, 25]
    assert list(OptimizedSwap().apply(ops)) == ReferenceSwap().apply(ops)
