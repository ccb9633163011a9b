"""Misuse tests (DESIGN decision 11, MODEL.md "Contract checks"): every call outside its
contract raises `SwapContractError` with the documented code and leaves the allocator-level
snapshot unchanged.  A coverage test asserts that every code of `CONTRACT_CODES` is raised."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from refkit import cache, swap_out

from reference import api
from reference.api import (
    CONTRACT_CODES,
    OP_SPECS,
    VALUE_LIMIT,
    Call,
    Entry,
    SwapContractError,
    contract_error_result,
    encode_calls,
)


def world(sw: Any) -> dict:
    """cluster size 4, one device of 12 slots (type 0) with:
    folio 1 cached at (0,1) count 0; slot (0,2) swapped count 2; folio 5 cached at (0,3) count 0
    under writeback; folio 3 (order 1) cached at (0,4) with counts [1, 0]; folio 4 live, not
    cached; a hibernation slot."""
    assert sw.swapon(12) == 0
    cache(sw, 1)
    swapped = swap_out(sw, 2, shadow=5)
    sw.swap_dup_entry_direct(swapped)
    cache(sw, 5)
    sw.folio_set(5, writeback=True)
    cache(sw, 3, order=1)
    sw.folio_dup_swap(3, page=0)
    sw.folio_new(4, 0)
    hib = sw.swap_alloc_hibernation_slot(0)
    assert (swapped, sw.folio_entry(5), sw.folio_entry(3)) == (Entry(0, 2), Entry(0, 3), Entry(0, 4))
    return {"swapped": swapped, "hib": hib}


# (code, description, call) — `call(sw, w)` breaks exactly one precondition.
Case = tuple[str, str, Callable[[Any, dict], Any]]
CASES: list[Case] = [
    ("invalid-argument", "put_entries nr 0", lambda sw, w: sw.swap_put_entries_direct(w["swapped"], 0)),
    ("invalid-argument", "negative shadow", lambda sw, w: sw.swap_cache_del_folio(1, shadow=-1)),
    ("invalid-argument", "shadow at 2**62", lambda sw, w: sw.swap_cache_del_folio(1, shadow=VALUE_LIMIT)),
    ("invalid-type", "query unused type", lambda sw, w: sw.swap_count(Entry(7, 1))),
    ("invalid-type", "type beyond max_swapfiles", lambda sw, w: sw.swap_cache_folio(Entry(24, 1))),
    ("invalid-type", "negative type", lambda sw, w: sw.swap_shadow(Entry(-1, 1))),
    ("invalid-type", "put_entries on unused type", lambda sw, w: sw.swap_put_entries_direct(Entry(3, 1), 1)),
    ("invalid-type", "dup on unused type", lambda sw, w: sw.swap_dup_entry_direct(Entry(3, 1))),
    ("invalid-type", "swapoff_end unused", lambda sw, w: sw.swapoff_end(5)),
    ("invalid-type", "swapoff_abort unused", lambda sw, w: sw.swapoff_abort(5)),
    ("invalid-type", "discard work unused", lambda sw, w: sw.swap_discard_work(9)),
    ("invalid-type", "reclaim work unused", lambda sw, w: sw.swap_reclaim_work(9)),
    ("invalid-type", "swapin unused", lambda sw, w: sw.swapin_folio(Entry(2, 4), 60, 0)),
    ("offset-out-of-range", "query at max", lambda sw, w: sw.swap_count(Entry(0, 12))),
    ("offset-out-of-range", "range end past max", lambda sw, w: sw.swap_put_entries_direct(Entry(0, 10), 3)),
    ("offset-out-of-range", "cache alloc past max", lambda sw, w: sw.swap_cache_alloc_folio(Entry(0, 40), 6)),
    ("offset-out-of-range", "hib free past max", lambda sw, w: sw.swap_free_hibernation_slot(Entry(0, 12))),
    ("bad-slot", "dup header", lambda sw, w: sw.swap_dup_entry_direct(Entry(0, 0))),
    ("bad-slot", "put header", lambda sw, w: sw.swap_put_entries_direct(Entry(0, 0), 1)),
    ("bad-slot", "swapin range with header", lambda sw, w: sw.swapin_folio(Entry(0, 1), 60, 1)),
    ("bad-slot", "hib free header", lambda sw, w: sw.swap_free_hibernation_slot(Entry(0, 0))),
    ("not-swapped", "dup cached count 0", lambda sw, w: sw.swap_dup_entry_direct(Entry(0, 1))),
    ("not-swapped", "dup free slot", lambda sw, w: sw.swap_dup_entry_direct(Entry(0, 11))),
    ("not-swapped", "put free slot", lambda sw, w: sw.swap_put_entries_direct(Entry(0, 11), 1)),
    ("not-swapped", "put range ending on count 0", lambda sw, w: sw.swap_put_entries_direct(Entry(0, 2), 2)),
    ("not-swapped", "hib free of free slot", lambda sw, w: sw.swap_free_hibernation_slot(Entry(0, 11))),
    ("not-hibernation-slot", "hib free count 2", lambda sw, w: sw.swap_free_hibernation_slot(w["swapped"])),
    ("folio-invalid-id", "folio id 0", lambda sw, w: sw.folio_new(0, 0)),
    ("folio-invalid-id", "negative folio id", lambda sw, w: sw.folio_new(-3, 0)),
    ("folio-invalid-id", "folio id 2**62", lambda sw, w: sw.folio_new(VALUE_LIMIT, 0)),
    ("folio-invalid-id", "cache alloc id 0", lambda sw, w: sw.swap_cache_alloc_folio(w["swapped"], 0)),
    ("folio-invalid-id", "swapin id 0", lambda sw, w: sw.swapin_folio(w["swapped"], 0, 0)),
    ("folio-exists", "folio_new live id", lambda sw, w: sw.folio_new(1, 0)),
    ("folio-exists", "cache alloc live id", lambda sw, w: sw.swap_cache_alloc_folio(w["swapped"], 4)),
    ("folio-exists", "swapin live id", lambda sw, w: sw.swapin_folio(w["swapped"], 4, 0)),
    ("folio-unknown", "folio_set", lambda sw, w: sw.folio_set(99, locked=True)),
    ("folio-unknown", "folio_entry", lambda sw, w: sw.folio_entry(99)),
    ("folio-unknown", "folio_drop", lambda sw, w: sw.folio_drop(99)),
    ("folio-unknown", "folio_alloc_swap", lambda sw, w: sw.folio_alloc_swap(99)),
    ("folio-unknown", "folio_dup_swap", lambda sw, w: sw.folio_dup_swap(99)),
    ("folio-unknown", "folio_put_swap", lambda sw, w: sw.folio_put_swap(99)),
    ("folio-unknown", "folio_free_swap", lambda sw, w: sw.folio_free_swap(99)),
    ("folio-unknown", "swap_cache_del_folio", lambda sw, w: sw.swap_cache_del_folio(99)),
    ("folio-invalid-order", "order above PMD_ORDER", lambda sw, w: sw.folio_new(10, 3)),
    ("folio-invalid-order", "negative order", lambda sw, w: sw.folio_new(10, -1)),
    ("folio-invalid-order", "swapin order above PMD", lambda sw, w: sw.swapin_folio(w["swapped"], 60, 3)),
    ("folio-in-swapcache", "alloc of cached folio", lambda sw, w: sw.folio_alloc_swap(1)),
    ("folio-in-swapcache", "drop of cached folio", lambda sw, w: sw.folio_drop(3)),
    ("folio-not-in-swapcache", "dup uncached", lambda sw, w: sw.folio_dup_swap(4)),
    ("folio-not-in-swapcache", "put uncached", lambda sw, w: sw.folio_put_swap(4)),
    ("folio-not-in-swapcache", "del uncached", lambda sw, w: sw.swap_cache_del_folio(4)),
    ("folio-writeback", "del under writeback", lambda sw, w: sw.swap_cache_del_folio(5)),
    ("page-out-of-range", "dup page nr", lambda sw, w: sw.folio_dup_swap(3, page=2)),
    ("page-out-of-range", "put page 1 of order 0", lambda sw, w: sw.folio_put_swap(1, page=1)),
    ("put-count-zero", "put count 0 folio", lambda sw, w: sw.folio_put_swap(1)),
    ("put-count-zero", "whole-folio put with one slot at 0", lambda sw, w: sw.folio_put_swap(3)),
    ("put-count-zero", "put page at 0", lambda sw, w: sw.folio_put_swap(3, page=1)),
    ("not-swapping-off", "swapoff_end active", lambda sw, w: sw.swapoff_end(0)),
    ("not-swapping-off", "swapoff_abort active", lambda sw, w: sw.swapoff_abort(0)),
]


@pytest.mark.parametrize(("code", "what", "call"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_misuse_raises_code_and_changes_nothing(new, code, what, call):
    """DESIGN 11: the documented code is raised and the allocator snapshot is unchanged."""
    sw = new()
    w = world(sw)
    before = sw.snapshot("allocator")
    with pytest.raises(SwapContractError) as err:
        call(sw, w)
    assert err.value.code == code, what
    assert sw.snapshot("allocator") == before


def test_unknown_op_through_apply(new):
    """api op encoding: an op code outside the encoding is the `unknown-op` contract error,
    raised before any op of the array runs."""
    sw = new()
    world(sw)
    before = sw.snapshot("allocator")
    bad_code = max(spec.code for spec in OP_SPECS) + 1
    valid = encode_calls([Call("folio_new", {"folio": 77, "order": 0})])
    for ops in ([bad_code], [*valid, bad_code], [*valid, api.OP_FOLIO_NEW, 78]):
        with pytest.raises(SwapContractError) as err:
            sw.apply(ops)
        assert err.value.code == "unknown-op"
        assert sw.snapshot("allocator") == before


def test_contract_error_inside_apply_is_encoded_and_run_continues(new):
    """api `apply`: a contract error becomes its encoded result and later ops still run."""
    sw = new()
    sw.swapon(12)
    calls = [Call("folio_new", {"folio": 0, "order": 0}), Call("folio_new", {"folio": 7, "order": 0})]
    ops = encode_calls(calls)
    assert list(sw.apply(ops)) == [contract_error_result("folio-invalid-id"), 0]
    assert sw.folio_entry(7) is None


def test_every_contract_code_has_a_misuse_case():
    """DESIGN 11: each code of CONTRACT_CODES is raised by a case above (unknown-op via apply)."""
    covered = {code for code, _, _ in CASES} | {"unknown-op"}
    assert covered == {code for code, _ in CONTRACT_CODES}


def test_check_order_entry_before_folio(new):
    """MODEL contract checks run in argument order: the entry is checked before the new folio id."""
    sw = new()
    world(sw)
    with pytest.raises(SwapContractError) as err:
        sw.swap_cache_alloc_folio(Entry(9, 1), 1)
    assert err.value.code == "invalid-type"
    with pytest.raises(SwapContractError) as err:
        sw.swapin_folio(Entry(0, 1), 1, 1)
    assert err.value.code == "folio-exists"


def test_put_entries_checks_every_slot_before_changing_any(new):
    """MODEL swap_put_entries_direct: per-slot checks all pass before the first put."""
    sw = new()
    w = world(sw)
    with pytest.raises(SwapContractError):
        sw.swap_put_entries_direct(w["swapped"], 2)
    assert sw.swap_count(w["swapped"]) == 2
